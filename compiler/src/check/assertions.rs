//! Assertions (§11): each claim's workflow, target and condition, with `given(ITEM)` visible.

use writ_evaluator::ir::Operand;
use writ_evaluator::ir::WorkflowId;
use writ_grammar::ast::{EvidenceRequirement, Ident};

use super::lower::collapse;
use super::{Checker, Namespace, Scope, Typed};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// Checks and lowers every assertion's claims (§11): the workflow named, the target, and
    /// the condition, type-checked like a rule's with `given(ITEM)` visible.
    pub(super) fn check_assertions(&mut self) {
        use writ_grammar::ast::ClaimKind as Written;
        let decls = self.symbols.assertions.clone();
        for d in decls {
            let file = d.file;
            let mut claims = Vec::new();
            for claim in &d.decl.claims {
                let kind = match &claim.kind {
                    Written::NeverStart { workflow } => {
                        let wf = self.claim_workflow(file, workflow);
                        let scope = Scope { in_assertion: true, ..Scope::untargeted(file) };
                        let condition =
                            self.conditions(claim.when.as_ref(), claim.unless.as_ref(), scope);
                        match (wf, condition) {
                            (Some(workflow), Some(condition)) => {
                                Some((crate::verify::ClaimKind::NeverStart { workflow }, condition))
                            }
                            _ => None,
                        }
                    }
                    Written::NeverAllow { via, target } => {
                        let wf = via.as_ref().map(|w| self.claim_workflow(file, w));
                        let target = self.target(file, target);
                        let condition = target.as_ref().and_then(|t| {
                            let tools: Vec<usize> = t.tools.iter().map(|x| x.index()).collect();
                            let scope = Scope {
                                tools: Some(&tools),
                                target_text: &t.text,
                                in_assertion: true,
                                ..Scope::untargeted(file)
                            };
                            self.conditions(claim.when.as_ref(), claim.unless.as_ref(), scope)
                        });
                        match (wf, target, condition) {
                            (Some(None), _, _) => None,
                            (via, Some(target), Some(condition)) => Some((
                                crate::verify::ClaimKind::NeverAllow { via: via.flatten(), target },
                                condition,
                            )),
                            _ => None,
                        }
                    }
                };
                if let Some((kind, condition)) = kind {
                    claims.push(crate::verify::Claim {
                        location: at(file, claim.span),
                        text: collapse(self.snippet(file, claim.span)),
                        kind,
                        condition,
                    });
                }
            }
            self.assertions.push(crate::verify::Assertion {
                name: d.decl.name.value.clone(),
                location: at(file, d.decl.span),
                claims,
            });
        }
    }

    /// The workflow a claim names, by its IR index (reported like a test's unknown workflow).
    fn claim_workflow(&mut self, file: usize, name: &Ident) -> Option<WorkflowId> {
        self.find(Namespace::Workflow, file, name.span, &name.name).map(|w| WorkflowId(w as u32))
    }

    /// `given(ITEM)` in an assertion's claim: how many items of the evidence the request
    /// carries (an integer). The item takes no count of its own.
    pub(super) fn given(&mut self, requirement: &EvidenceRequirement, sc: Scope) -> Option<Typed> {
        if let Some(n) = &requirement.count {
            self.report(
                Diagnostic::new(
                    Code::InvalidCount,
                    at(sc.file, n.span),
                    "`given(...)` is a count already: its item takes no count",
                )
                .label("a count inside `given`")
                .help(format!(
                    "compare the count instead: `given({}) >= {}`",
                    requirement.name.name, n.value
                )),
            );
            return None;
        }
        let lowered = self.requirement(sc.file, requirement)?;
        Some(Typed { ty: Ty::Int, operand: Operand::Given(lowered) })
    }
}
