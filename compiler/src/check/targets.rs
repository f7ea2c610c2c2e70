//! Targets (a tool, a glob, `*`, tags) resolved to tool sets, and evidence requirements.

use std::collections::BTreeSet;
use writ_evaluator::ir::{EvidenceId, RoleId, ToolId};

use writ_evaluator::ir::{EvidenceRequirementIr, TargetIr};
use writ_grammar::ast::{EvidenceRequirement, Target, TargetKind};

use super::{Checker, Namespace};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::symbols::at;

impl<'a> Checker<'a> {
    /// The tools whose names `glob` (written `pattern`) matches, in declaration order. Only
    /// the names that start with the pattern's literal prefix are tried.
    fn glob_matches(&self, pattern: &str, glob: &writ_evaluator::Glob) -> Vec<usize> {
        let prefix = &pattern[..pattern.find(['*', '?']).unwrap_or(pattern.len())];
        let from = self.tools_by_name.partition_point(|(name, _)| *name < prefix);
        let mut tools: Vec<usize> = self
            .tools_by_name
            .iter()
            .skip(from)
            .take_while(|(name, _)| name.starts_with(prefix))
            .filter(|(name, _)| glob.is_match(name))
            .map(|&(_, t)| t)
            .collect();
        tools.sort_unstable();
        tools
    }

    /// Resolves a target to the declared tools it matches.
    pub(super) fn target(&mut self, file: usize, target: &Target) -> Option<TargetIr> {
        let all = 0..self.symbols.tools.len();
        let (tools, text): (Vec<usize>, String) = match &target.kind {
            TargetKind::Tool(name) => {
                (vec![self.find(Namespace::Tool, file, name.span, &name.text)?], name.text.clone())
            }
            TargetKind::Glob(pattern) => {
                let glob = writ_evaluator::Glob::new(pattern);
                let tools = self.glob_matches(pattern, &glob);
                if tools.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::TargetMatchesNothing,
                            at(file, target.span),
                            format!("`{pattern}` matches no declared tool"),
                        )
                        .label("matches nothing")
                        .help("a target must name at least one declared tool; check the pattern"),
                    );
                    return None;
                }
                (tools, pattern.clone())
            }
            TargetKind::All => {
                if all.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::TargetMatchesNothing,
                            at(file, target.span),
                            "`*` matches no declared tool",
                        )
                        .label("matches nothing")
                        .help("declare the tools this policy governs with `tool NAME(...)`"),
                    );
                    return None;
                }
                (all.collect(), "*".to_string())
            }
            TargetKind::Tags(tags) => {
                let mut tools = BTreeSet::new();
                let mut ok = true;
                for tag in tags {
                    let tagged: Vec<usize> = all
                        .clone()
                        .filter(|t| {
                            let tags = self.symbols.tools.get(*t).map(|d| &d.decl.tags);
                            tags.into_iter().flatten().any(|g| g.name == tag.name)
                        })
                        .collect();
                    if tagged.is_empty() {
                        ok = false;
                        let known: BTreeSet<&str> = self
                            .symbols
                            .tools
                            .iter()
                            .flat_map(|t| t.decl.tags.iter().map(|g| g.name.as_str()))
                            .collect();
                        self.report(
                            Diagnostic::new(
                                Code::UnknownTag,
                                at(file, tag.span),
                                format!("no declared tool has the tag `{}`", tag.name),
                            )
                            .label("matches no tool")
                            .help(
                                did_you_mean(&tag.name, known.iter().copied()).unwrap_or_else(
                                    || {
                                        format!(
                                            "tag a tool with it: `tool NAME(...) [{}]`",
                                            tag.name
                                        )
                                    },
                                ),
                            ),
                        );
                    }
                    tools.extend(tagged);
                }
                if !ok {
                    return None;
                }
                let text = format!(
                    "[{}]",
                    tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                );
                (tools.into_iter().collect(), text)
            }
            TargetKind::Start => {
                self.report(
                    Diagnostic::new(
                        Code::StartTarget,
                        at(file, target.span),
                        "`start` is not a tool",
                    )
                    .label("targets name tools")
                    .help(
                        "to ask for evidence before a workflow starts, add `require` to its \
                             `start` rule: `start by ROLE require E`",
                    ),
                );
                return None;
            }
        };
        Some(TargetIr { tools: tools.into_iter().map(|t| ToolId(t as u32)).collect(), text })
    }

    pub(super) fn requirements(
        &mut self,
        file: usize,
        reqs: &[EvidenceRequirement],
    ) -> Option<Vec<EvidenceRequirementIr>> {
        let mut out = Vec::new();
        let mut ok = true;
        for r in reqs {
            match self.requirement(file, r) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn requirement(
        &mut self,
        file: usize,
        req: &EvidenceRequirement,
    ) -> Option<EvidenceRequirementIr> {
        let mut ok = true;
        let count = match &req.count {
            None => 1,
            Some(n) if n.value >= 1 && n.value <= i64::from(u32::MAX) => n.value as u32,
            Some(n) => {
                ok = false;
                self.report(
                    Diagnostic::new(
                        Code::InvalidCount,
                        at(file, n.span),
                        if n.value == 0 {
                            "an evidence count must be at least 1".to_string()
                        } else {
                            format!("an evidence count of {} is too large", n.value)
                        },
                    )
                    .label(if n.value == 0 {
                        "zero items can never be missing"
                    } else {
                        "too large"
                    })
                    .help(format!(
                        "write `{}` for one item, or a count from 1 to {}",
                        req.name.name,
                        u32::MAX
                    )),
                );
                0
            }
        };
        let kind = self.find(Namespace::Evidence, file, req.name.span, &req.name.name)?;
        self.usage.evidence.insert(kind);
        let decl = *self.symbols.evidence.get(kind)?;
        let declared = at(decl.file, decl.decl.name.span);
        let by = match &req.by {
            None => None,
            Some(role) => {
                if decl.decl.by_human.is_none() {
                    ok = false;
                    self.report(
                        Diagnostic::new(
                            Code::ByWithoutHuman,
                            at(file, role.span),
                            format!(
                                "`{}` items carry no giver, so they cannot be asked `by {}`",
                                req.name.name, role.name
                            ),
                        )
                        .label("needs a `by human` evidence kind")
                        .related(declared, "declared here without `by human`")
                        .help(format!(
                            "declare `evidence {} by human` so that each item names who gave it",
                            req.name.name
                        )),
                    );
                    None
                } else {
                    match self.resolve_role(file, role) {
                        Some(r) => Some(RoleId(r as u32)),
                        None => {
                            ok = false;
                            None
                        }
                    }
                }
            }
        };
        let params = decl.decl.fields.as_deref().unwrap_or(&[]);
        let fields = self.field_values(
            file,
            &req.fields,
            params,
            &format!("evidence `{}`", req.name.name),
            declared,
        );
        let fields = fields?;
        ok.then_some(EvidenceRequirementIr { evidence: EvidenceId(kind as u32), count, by, fields })
    }
}
