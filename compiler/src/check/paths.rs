//! `under` (LANGUAGE.md §10): `path` arguments compared with a directory after resolution.

use writ_evaluator::ir::Cond;
use writ_grammar::ast::{Expr, Span, StrLit};

use super::{Checker, Scope};
use crate::symbols::at;
use crate::types::Ty;

impl<'a> Checker<'a> {
    /// `PATH under "DIR"`: the left side is a `path` argument.
    pub(super) fn under(
        &mut self,
        path: &Expr,
        op_span: Span,
        dir: &StrLit,
        sc: Scope,
    ) -> Option<Cond> {
        let v = self.value(path, sc)?;
        if v.ty != Ty::Path {
            let text = self.snippet(sc.file, path.span).to_string();
            self.report(
                self.needs(sc.file, path.span, "under", "a path", &v.ty)
                .related(at(sc.file, op_span), "`under` compares resolved paths")
                .help(if v.ty.is_string() {
                    format!(
                        "declare the argument as `path` so that it is resolved, or write `{text} matches \"{}/*\"`",
                        dir.value.trim_end_matches('/')
                    )
                } else {
                    "`under` takes a `path` argument on the left".to_string()
                }),
            );
            return None;
        }
        Some(Cond::Under(v.operand, dir.value.clone()))
    }
}
