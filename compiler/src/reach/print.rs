//! Printing lowered conditions and evidence requirements back as writ source text.
//!
//! The text parses back to the same condition: a residual printed here and written after
//! `when` in a policy with the same declarations lowers to the residual again (the tests below
//! check this). Names come from the IR (an index out of range prints as `#N`, never a panic);
//! durations print in the largest unit that divides them (`1800` seconds is `30m`); strings are
//! quoted with the language's escapes.

use std::fmt::Write as _;
use writ_evaluator::ir::RoleId;

use writ_evaluator::ir::{
    CmpOp, Cond, EvidenceRequirementIr, Operand, PolicyIr, PrincipalKind, Who,
};

/// A string literal in writ syntax (the formatter's canonical escaping).
pub use writ_grammar::quote;

/// `30m`, `2h`, `90s`, `7d`: the largest unit that divides the seconds.
pub fn duration(seconds: i64) -> String {
    writ_evaluator::format_duration(seconds)
}

fn who(w: Who) -> &'static str {
    match w {
        Who::Initiator => "initiator",
        Who::Caller => "caller",
        Who::Principal => "principal",
    }
}

fn name_of<'a, T>(items: &'a [T], index: usize, name: impl Fn(&'a T) -> &'a str) -> String {
    match items.get(index) {
        Some(item) => name(item).to_string(),
        None => format!("#{index}"),
    }
}

/// The name of role `id`.
pub fn role(ir: &PolicyIr, id: RoleId) -> String {
    name_of(&ir.roles, id.index(), |r| &r.name)
}

/// An operand in writ syntax.
pub fn operand(ir: &PolicyIr, o: &Operand) -> String {
    match o {
        Operand::Literal(v) => v.to_string(),
        Operand::Arg(name) => name.clone(),
        Operand::Context(id) => {
            format!("context.{}", name_of(&ir.contexts, id.index(), |c| &c.name))
        }
        Operand::Attribute(w, id) => {
            format!("{}.{}", who(*w), name_of(&ir.attributes, id.index(), |a| &a.name))
        }
        Operand::Id(w) => format!("{}.id", who(*w)),
        Operand::Kind(w) => format!("{}.kind", who(*w)),
        Operand::Depth => "depth".to_string(),
        Operand::Calls(calls) => writ_evaluator::calls_text(calls),
        Operand::Given(r) => format!("given({})", requirement(ir, r)),
    }
}

/// A command pattern in writ syntax: `["git", "push", ...]` (printed by the evaluator, which
/// cites patterns in traces: one printer for both).
pub use writ_evaluator::command_pattern as pattern;

fn cmp(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// Where a condition is printed: what binds around it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Not,
}

/// A condition in writ syntax, with the fewest parentheses that keep its structure (plus
/// parentheses after `not` around anything but a plain boolean, for the reader).
pub fn condition(ir: &PolicyIr, c: &Cond) -> String {
    let mut out = String::new();
    print(ir, c, Prec::Or, &mut out);
    out
}

fn print(ir: &PolicyIr, c: &Cond, ctx: Prec, out: &mut String) {
    match c {
        Cond::Or(items) => list(ir, items, " or ", "false", Prec::Or, ctx, out),
        Cond::And(items) => list(ir, items, " and ", "true", Prec::And, ctx, out),
        Cond::Not(inner) => {
            out.push_str("not ");
            match &**inner {
                Cond::Truth(_) | Cond::Not(_) => print(ir, inner, Prec::Not, out),
                Cond::And(items) | Cond::Or(items) if items.len() == 1 => {
                    print(ir, inner, Prec::Not, out)
                }
                _ => {
                    out.push('(');
                    print(ir, inner, Prec::Or, out);
                    out.push(')');
                }
            }
        }
        Cond::Truth(o) => out.push_str(&operand(ir, o)),
        Cond::Compare(op, a, b) => {
            let _ = write!(out, "{} {} {}", operand(ir, a), cmp(*op), operand(ir, b));
        }
        Cond::In(v, l) => {
            let _ = write!(out, "{} in {}", operand(ir, v), operand(ir, l));
        }
        Cond::Contains(l, v) => {
            let _ = write!(out, "{} contains {}", operand(ir, l), operand(ir, v));
        }
        Cond::Matches(v, glob) => {
            let _ = write!(out, "{} matches {}", operand(ir, v), quote(glob));
        }
        Cond::AnyMatches(l, glob) => {
            let _ = write!(out, "any {} matches {}", operand(ir, l), quote(glob));
        }
        Cond::AllMatches(l, glob) => {
            let _ = write!(out, "all {} matches {}", operand(ir, l), quote(glob));
        }
        Cond::HasRole(w, r) => {
            let _ = write!(out, "{} has role {}", who(*w), role(ir, *r));
        }
        Cond::Runs(c, p) => {
            let _ = write!(out, "{} runs {}", operand(ir, c), pattern(p));
        }
        Cond::RunsOnly(c, ps) => {
            let ps: Vec<String> = ps.iter().map(pattern).collect();
            let _ = write!(out, "{} runs only [{}]", operand(ir, c), ps.join(", "));
        }
        Cond::Under(p, dir) => {
            let _ = write!(out, "{} under {}", operand(ir, p), quote(dir));
        }
    }
}

fn list(
    ir: &PolicyIr,
    items: &[Cond],
    sep: &str,
    empty: &str,
    own: Prec,
    ctx: Prec,
    out: &mut String,
) {
    match items {
        [] => out.push_str(empty),
        [one] => print(ir, one, ctx, out),
        _ => {
            let parens = ctx > own;
            if parens {
                out.push('(');
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                // An `or` inside an `and` needs parentheses; an `and` inside an `or` does not.
                print(ir, item, if own == Prec::Or { Prec::Or } else { Prec::And }, out);
            }
            if parens {
                out.push(')');
            }
        }
    }
}

/// An evidence requirement as written in a `require` list: `2 approval by release_captain`,
/// `ticket(project: "INC")`, `tests_passed`.
pub fn requirement(ir: &PolicyIr, r: &EvidenceRequirementIr) -> String {
    let mut out = String::new();
    if r.count > 1 {
        let _ = write!(out, "{} ", r.count);
    }
    out.push_str(&name_of(&ir.evidence, r.evidence.index(), |e| &e.name));
    if !r.fields.is_empty() {
        let fields: Vec<String> = r.fields.iter().map(|(name, v)| format!("{name}: {v}")).collect();
        let _ = write!(out, "({})", fields.join(", "));
    }
    if let Some(by) = r.by {
        let _ = write!(out, " by {}", role(ir, by));
    }
    out
}

/// `human`, `service`, `agent`.
pub fn kind(k: PrincipalKind) -> &'static str {
    k.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_with_the_language_escapes() {
        assert_eq!(quote("plain"), r#""plain""#);
        assert_eq!(quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(quote("\u{0}\u{202E}é😀"), "\"\\u{0}\\u{202E}é😀\"");
    }

    #[test]
    fn durations_print_in_their_largest_unit() {
        assert_eq!(duration(1800), "30m");
        assert_eq!(duration(7200), "2h");
        assert_eq!(duration(90), "90s");
        assert_eq!(duration(86_400 * 7), "7d");
        assert_eq!(duration(0), "0s");
    }
}
