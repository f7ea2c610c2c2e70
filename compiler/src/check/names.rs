//! Name resolution: a name looked up in one namespace, and the one diagnostic for a name that
//! is not declared there (used by rules, fixtures, tests and assertions alike).

use writ_grammar::ast::{Ident, Span};

use super::Checker;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::symbols::{Namespace, at};

impl Namespace {
    fn code(self) -> Code {
        match self {
            Namespace::Role => Code::UnknownRole,
            Namespace::Tool => Code::UnknownTool,
            Namespace::Evidence => Code::UnknownEvidence,
            Namespace::Attribute => Code::UnknownAttribute,
            Namespace::Context => Code::UnknownContext,
            Namespace::Workflow => Code::UnknownWorkflow,
            Namespace::Fixture => Code::UnknownFixture,
        }
    }

    /// How to declare `name` in this namespace: the help when no name is close.
    pub(crate) fn declare(self, name: &str) -> String {
        match self {
            Namespace::Role => format!("declare it: `role {name}`"),
            Namespace::Tool => format!("declare it: `tool {name}(...)`"),
            Namespace::Evidence => format!("declare it: `evidence {name}`"),
            Namespace::Attribute => format!("declare it: `attribute {name}: string`"),
            Namespace::Context => format!("declare it: `context {name}: bool`"),
            Namespace::Workflow => format!("declare it: `workflow {name} {{ ... }}`"),
            Namespace::Fixture => format!("declare it: `fixture {name} = human [ROLE]`"),
        }
    }
}

impl<'a> Checker<'a> {
    /// The declaration `name` refers to in `ns`, by its index; reported (at `span` of `file`)
    /// when there is none. Finding a name does not count as a use (see [`Self::resolve_role`]).
    pub(crate) fn find(
        &mut self,
        ns: Namespace,
        file: usize,
        span: Span,
        name: &str,
    ) -> Option<usize> {
        let found = self.symbols.find(ns, name);
        if found.is_none() {
            self.unknown(ns, file, span, name);
        }
        found
    }

    /// Reports `name` as unknown in `ns`, with a hint or else how to declare it.
    pub(super) fn unknown(&mut self, ns: Namespace, file: usize, span: Span, name: &str) {
        let help = self.hint(ns, name).unwrap_or_else(|| ns.declare(name));
        self.unknown_helped(ns, file, span, name, help);
    }

    /// Reports `name` as unknown in `ns`, with `help`.
    pub(crate) fn unknown_helped(
        &mut self,
        ns: Namespace,
        file: usize,
        span: Span,
        name: &str,
        help: String,
    ) {
        self.report(
            Diagnostic::new(ns.code(), at(file, span), format!("unknown {} `{name}`", ns.noun()))
                .label(format!("not a declared {}", ns.noun()))
                .help(help),
        );
    }

    /// A "did you mean" among the names declared in `ns`, or a note that `name` is declared
    /// as something else.
    pub(crate) fn hint(&self, ns: Namespace, name: &str) -> Option<String> {
        let candidates = self.symbols.names(ns);
        self.name_hint(name, ns, candidates)
    }

    /// A "did you mean" among `candidates`, or a note that the name is declared as something
    /// other than `wanted`.
    pub(super) fn name_hint<'n>(
        &self,
        name: &str,
        wanted: Namespace,
        candidates: impl IntoIterator<Item = &'n str>,
    ) -> Option<String> {
        if let Some((other, _)) = self.symbols.lookup(name) {
            return Some(format!("`{name}` is {}, not {}", other.describe(), wanted.a_noun()));
        }
        did_you_mean(name, candidates)
    }

    /// A role a rule refers to (which counts as a use), reported when unknown.
    pub(super) fn resolve_role(&mut self, file: usize, name: &Ident) -> Option<usize> {
        let r = self.find(Namespace::Role, file, name.span, &name.name)?;
        self.usage.roles.insert(r);
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Code, Compiler};

    fn diagnostics(text: &str) -> Vec<(Code, String, Option<String>)> {
        let compiler = Compiler::new(vec![("p.writ".into(), text.into())]);
        let compilation = compiler.compilation();
        compilation
            .diagnostics
            .iter()
            .map(|d| (d.code, d.message.clone(), d.help.clone()))
            .collect()
    }

    /// Rules and test blocks resolve names in one place: a fixture's role that is declared as
    /// something else gets the same note a rule's does, and a misspelling the same fix.
    #[test]
    fn rules_and_tests_report_unknown_names_alike() {
        let found = diagnostics(
            r#"
role dev
tool deploy(env: string)
workflow w { start by deploy }
fixture f = human [deploy]
fixture g = human [dve]
test "t" { expect deny: f calls w.deploy }
"#,
        );
        let not_a_role = |(code, message, help): &(Code, String, Option<String>)| {
            *code == Code::UnknownRole
                && message == "unknown role `deploy`"
                && help.as_deref() == Some("`deploy` is a tool, not a role")
        };
        assert_eq!(found.iter().filter(|d| not_a_role(d)).count(), 2, "{found:?}");
        assert!(
            found.iter().any(|(code, message, help)| *code == Code::UnknownRole
                && message == "unknown role `dve`"
                && help.as_deref() == Some("did you mean `dev`?")),
            "{found:?}"
        );
    }
}
