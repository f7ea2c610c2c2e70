//! The static types of writ values.

use std::fmt;

use writ_evaluator::ir::ValueType;
use writ_grammar::ast::{TypeExpr, TypeKind};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Str,
    Int,
    Bool,
    Duration,
    StringList,
    /// A string that is one of these.
    Enum(Vec<String>),
    /// `human`, `service` or `agent`: the type of `X.kind`.
    Kind,
    /// A shell command line (§8): read only by `runs` and `runs only`.
    Command,
    /// A file path (§9): a string in its resolved form, also read by `under`.
    Path,
}

impl Ty {
    pub fn from_type_expr(ty: &TypeExpr) -> Option<Ty> {
        Some(match &ty.kind {
            TypeKind::String => Ty::Str,
            TypeKind::Int => Ty::Int,
            TypeKind::Bool => Ty::Bool,
            TypeKind::Duration => Ty::Duration,
            TypeKind::StringList => Ty::StringList,
            TypeKind::Enum(values) => Ty::Enum(values.iter().map(|v| v.value.clone()).collect()),
            TypeKind::Command => Ty::Command,
            TypeKind::Path => Ty::Path,
            TypeKind::Unknown(_) => return None,
        })
    }

    /// The evaluator's form. `Kind` never appears in declarations.
    pub fn to_value_type(&self) -> ValueType {
        match self {
            Ty::Str | Ty::Kind => ValueType::String,
            Ty::Int => ValueType::Int,
            Ty::Bool => ValueType::Bool,
            Ty::Duration => ValueType::Duration,
            Ty::StringList => ValueType::StringList,
            Ty::Enum(values) => ValueType::Enum(values.clone()),
            Ty::Command => ValueType::Command,
            Ty::Path => ValueType::Path,
        }
    }

    /// Strings, enumerations and paths (in their resolved form) are strings at run time.
    pub fn is_string(&self) -> bool {
        matches!(self, Ty::Str | Ty::Enum(_) | Ty::Path)
    }

    pub fn is_ordered(&self) -> bool {
        matches!(self, Ty::Int | Ty::Duration)
    }

    /// Whether `==` may compare values of these two types.
    pub fn comparable(&self, other: &Ty) -> bool {
        (self.is_string() && other.is_string()) || self == other
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Str => f.write_str("a string"),
            Ty::Int => f.write_str("an int"),
            Ty::Bool => f.write_str("a bool"),
            Ty::Duration => f.write_str("a duration"),
            Ty::StringList => f.write_str("a list of strings"),
            Ty::Kind => f.write_str("a principal kind"),
            Ty::Command => f.write_str("a command"),
            Ty::Path => f.write_str("a path"),
            Ty::Enum(values) => {
                f.write_str("one of ")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    f.write_str(&writ_grammar::quote(v))?;
                }
                Ok(())
            }
        }
    }
}
