//! `calls(TARGET within DURATION)` (LANGUAGE.md §10): counts over the run's history.

use writ_evaluator::ir::{CallsIr, Operand};
use writ_grammar::ast::{DurationLit, Target, TargetKind};

use super::{Checker, Scope, Typed};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// `calls(TARGET)` and `calls(TARGET within DURATION)`: how many calls of the run's history
    /// the target matches (an integer).
    pub(super) fn calls(
        &mut self,
        target: &Target,
        within: Option<&DurationLit>,
        sc: Scope,
    ) -> Option<Typed> {
        let target_ir = self.target(sc.file, target);
        let within_seconds = match within {
            None => None,
            Some(d) if d.seconds <= 0 => {
                self.report(
                    Diagnostic::new(
                        Code::ZeroDuration,
                        at(sc.file, d.span),
                        "a `within` window must be longer than zero",
                    )
                    .label("an empty window")
                    .help("write a window such as `within 24h`, or leave it out to count the whole run"),
                );
                return None;
            }
            Some(d) => Some(d.seconds),
        };
        let target_ir = target_ir?;
        for &t in &target_ir.tools {
            self.usage.allowed_tools.insert(t.index());
        }
        let glob = match &target.kind {
            TargetKind::Glob(pattern) => Some(pattern.clone()),
            TargetKind::All => Some("*".to_string()),
            _ => None,
        };
        Some(Typed {
            ty: Ty::Int,
            operand: Operand::Calls(CallsIr { target: target_ir, glob, within_seconds }),
        })
    }
}
