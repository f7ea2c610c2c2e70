//! Reparsing after an edit: the declarations whose text did not change are taken from the
//! previous parse (their spans moved to where they are now) instead of going through pest again.
//!
//! A declaration that parsed cleanly depends only on its own text (from its first token to its
//! last) and on the `///` block right above it: its tokens, the pest parse, the nodes built
//! from them and the documentation of the nodes inside it are all determined by that text.
//! So a piece is reused when both are the same as before, wherever it now starts. Pieces that
//! had a syntax error are always parsed again (their messages may look at text around them).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ast::*;

/// The cleanly parsed declarations of a file's previous parse, by their text.
#[derive(Default)]
pub struct Reuse {
    pub(super) pieces: HashMap<Box<str>, Cached, BuildHasherDefault<WordHasher>>,
    /// How many declarations the last parse took from the one before.
    pub(super) reused: usize,
}

impl std::fmt::Debug for Reuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reuse({} pieces)", self.pieces.len())
    }
}

impl Reuse {
    /// How many declarations are kept for reuse.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// How many declarations the last parse took from the parse before it.
    pub fn reused(&self) -> usize {
        self.reused
    }
}

/// A fast hash of declaration texts (SipHash costs more than the rest of a reuse): eight
/// bytes at a time, multiply and rotate, as rustc's `FxHasher`. Collisions cost only time.
#[derive(Default)]
pub(super) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(26);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(K).rotate_left(26);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A declaration as it was parsed at `base`, with the documentation it had then.
pub(super) struct Cached {
    pub base: u32,
    pub doc: Option<Doc>,
    pub item: Item,
}

impl Cached {
    /// Moves the item to start at `base`; `false` (and the item is unusable) if its
    /// documentation was not `doc`.
    pub fn move_to(&mut self, base: u32, doc: &Option<Doc>) -> bool {
        let by = base.wrapping_sub(self.base);
        self.doc.shift(by);
        if self.doc != *doc {
            return false;
        }
        self.item.shift(by);
        self.base = base;
        true
    }
}

/// Moves every span of a node by `by` bytes (modulo 2^32, so moving back is adding the
/// complement).
pub(crate) trait Shift {
    fn shift(&mut self, by: u32);
}

impl Shift for Span {
    fn shift(&mut self, by: u32) {
        self.start = self.start.wrapping_add(by);
        self.end = self.end.wrapping_add(by);
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: u32) {
        if let Some(x) = self {
            x.shift(by);
        }
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: u32) {
        for x in self {
            x.shift(by);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, by: u32) {
        (**self).shift(by);
    }
}

impl Shift for Ident {
    fn shift(&mut self, by: u32) {
        let Ident { name: _, span } = self;
        span.shift(by);
    }
}

impl Shift for ToolName {
    fn shift(&mut self, by: u32) {
        let ToolName { text: _, span } = self;
        span.shift(by);
    }
}

impl Shift for StrLit {
    fn shift(&mut self, by: u32) {
        let StrLit { value: _, span } = self;
        span.shift(by);
    }
}

impl Shift for Doc {
    fn shift(&mut self, by: u32) {
        let Doc { lines: _, span } = self;
        span.shift(by);
    }
}

impl Shift for Item {
    fn shift(&mut self, by: u32) {
        match self {
            Item::Role(d) => d.shift(by),
            Item::Attribute(d) | Item::Context(d) => d.shift(by),
            Item::Tool(d) => d.shift(by),
            Item::Evidence(d) => d.shift(by),
            Item::Workflow(d) => d.shift(by),
            Item::Rule(d) => d.shift(by),
            Item::Fixture(d) => d.shift(by),
            Item::Test(d) => d.shift(by),
            Item::Assert(d) => d.shift(by),
            Item::Error(s) => s.shift(by),
        }
    }
}

impl Shift for RoleDecl {
    fn shift(&mut self, by: u32) {
        let RoleDecl { doc, name, extends, body, span } = self;
        doc.shift(by);
        name.shift(by);
        extends.shift(by);
        body.shift(by);
        span.shift(by);
    }
}

impl Shift for Entitlement {
    fn shift(&mut self, by: u32) {
        let Entitlement { doc, target, when, unless, span } = self;
        doc.shift(by);
        target.shift(by);
        when.shift(by);
        unless.shift(by);
        span.shift(by);
    }
}

impl Shift for ValueDecl {
    fn shift(&mut self, by: u32) {
        let ValueDecl { doc, name, ty, span } = self;
        doc.shift(by);
        name.shift(by);
        ty.shift(by);
        span.shift(by);
    }
}

impl Shift for TypeExpr {
    fn shift(&mut self, by: u32) {
        let TypeExpr { kind, span } = self;
        match kind {
            TypeKind::String
            | TypeKind::Int
            | TypeKind::Bool
            | TypeKind::Duration
            | TypeKind::StringList
            | TypeKind::Command
            | TypeKind::Path => {}
            TypeKind::Enum(values) => values.shift(by),
            TypeKind::Unknown(name) => name.shift(by),
        }
        span.shift(by);
    }
}

impl Shift for ToolDecl {
    fn shift(&mut self, by: u32) {
        let ToolDecl { doc, name, params, tags, span } = self;
        doc.shift(by);
        name.shift(by);
        params.shift(by);
        tags.shift(by);
        span.shift(by);
    }
}

impl Shift for Param {
    fn shift(&mut self, by: u32) {
        let Param { name, ty, span } = self;
        name.shift(by);
        ty.shift(by);
        span.shift(by);
    }
}

impl Shift for EvidenceDecl {
    fn shift(&mut self, by: u32) {
        let EvidenceDecl { doc, name, fields, by_human, by_kind, bound, span } = self;
        doc.shift(by);
        name.shift(by);
        fields.shift(by);
        by_human.shift(by);
        by_kind.shift(by);
        bound.shift(by);
        span.shift(by);
    }
}

impl Shift for WorkflowDecl {
    fn shift(&mut self, by: u32) {
        let WorkflowDecl { doc, name, body, span } = self;
        doc.shift(by);
        name.shift(by);
        body.shift(by);
        span.shift(by);
    }
}

impl Shift for WorkflowItem {
    fn shift(&mut self, by: u32) {
        match self {
            WorkflowItem::Rule(rule) => rule.shift(by),
            WorkflowItem::MaxDepth(n) => n.shift(by),
            WorkflowItem::Ttl(d) => d.shift(by),
            WorkflowItem::Error(span) => span.shift(by),
        }
    }
}

impl Shift for IntLit {
    fn shift(&mut self, by: u32) {
        let IntLit { value: _, span } = self;
        span.shift(by);
    }
}

impl Shift for DurationLit {
    fn shift(&mut self, by: u32) {
        let DurationLit { amount: _, unit: _, seconds: _, span } = self;
        span.shift(by);
    }
}

impl Shift for Rule {
    fn shift(&mut self, by: u32) {
        let Rule { doc, kind, span } = self;
        doc.shift(by);
        match kind {
            RuleKind::Start { by: roles, when, unless, require } => {
                roles.shift(by);
                when.shift(by);
                unless.shift(by);
                require.shift(by);
            }
            RuleKind::Allow { target, when, unless, require } => {
                target.shift(by);
                when.shift(by);
                unless.shift(by);
                require.shift(by);
            }
            RuleKind::Deny { target, when, unless, because } => {
                target.shift(by);
                when.shift(by);
                unless.shift(by);
                because.shift(by);
            }
            RuleKind::DenyStart { start, when, unless, because } => {
                start.shift(by);
                when.shift(by);
                unless.shift(by);
                because.shift(by);
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                require.shift(by);
                target.shift(by);
                when.shift(by);
                unless.shift(by);
            }
        }
        span.shift(by);
    }
}

impl Shift for Target {
    fn shift(&mut self, by: u32) {
        let Target { kind, span } = self;
        match kind {
            TargetKind::Tool(name) => name.shift(by),
            TargetKind::Tags(tags) => tags.shift(by),
            TargetKind::Glob(_) | TargetKind::All | TargetKind::Start => {}
        }
        span.shift(by);
    }
}

impl Shift for EvidenceRequirement {
    fn shift(&mut self, by: u32) {
        let EvidenceRequirement { count, name, fields, by: who, span } = self;
        count.shift(by);
        name.shift(by);
        fields.shift(by);
        who.shift(by);
        span.shift(by);
    }
}

impl Shift for FieldValue {
    fn shift(&mut self, by: u32) {
        let FieldValue { name, value, span } = self;
        name.shift(by);
        value.shift(by);
        span.shift(by);
    }
}

impl Shift for Expr {
    fn shift(&mut self, by: u32) {
        let Expr { kind, span } = self;
        match kind {
            ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Int(_) | ExprKind::Depth => {}
            ExprKind::Duration(d) => d.shift(by),
            ExprKind::List(items) => items.shift(by),
            ExprKind::Name(name) | ExprKind::Context(name) => name.shift(by),
            ExprKind::Principal(_, s) => s.shift(by),
            ExprKind::Field { principal: _, principal_span, field } => {
                principal_span.shift(by);
                field.shift(by);
            }
            ExprKind::Compare { op: _, op_span, lhs, rhs } => {
                op_span.shift(by);
                lhs.shift(by);
                rhs.shift(by);
            }
            ExprKind::In { value, list } | ExprKind::Contains { list, value } => {
                value.shift(by);
                list.shift(by);
            }
            ExprKind::Matches { value, pattern } => {
                value.shift(by);
                pattern.shift(by);
            }
            ExprKind::Quantified { quantifier: _, list, pattern } => {
                list.shift(by);
                pattern.shift(by);
            }
            ExprKind::HasRole { principal: _, principal_span, role } => {
                principal_span.shift(by);
                role.shift(by);
            }
            ExprKind::Not(x) | ExprKind::Paren(x) => x.shift(by),
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                a.shift(by);
                b.shift(by);
            }
            ExprKind::Runs { command, op_span, pattern } => {
                command.shift(by);
                op_span.shift(by);
                pattern.shift(by);
            }
            ExprKind::RunsOnly { command, op_span, patterns, list_span } => {
                command.shift(by);
                op_span.shift(by);
                patterns.shift(by);
                list_span.shift(by);
            }
            ExprKind::Under { path, op_span, dir } => {
                path.shift(by);
                op_span.shift(by);
                dir.shift(by);
            }
            ExprKind::Calls { target, within } => {
                target.shift(by);
                within.shift(by);
            }
            ExprKind::Given(requirement) => requirement.shift(by),
        }
        span.shift(by);
    }
}

impl Shift for CommandPattern {
    fn shift(&mut self, by: u32) {
        let CommandPattern { items, span } = self;
        items.shift(by);
        span.shift(by);
    }
}

impl Shift for PatternItem {
    fn shift(&mut self, by: u32) {
        match self {
            PatternItem::Word(word) => word.shift(by),
            PatternItem::Rest(span) => span.shift(by),
        }
    }
}

impl Shift for AssertDecl {
    fn shift(&mut self, by: u32) {
        let AssertDecl { doc, name, claims, span } = self;
        doc.shift(by);
        name.shift(by);
        claims.shift(by);
        span.shift(by);
    }
}

impl Shift for Claim {
    fn shift(&mut self, by: u32) {
        let Claim { doc, kind, when, unless, span } = self;
        doc.shift(by);
        match kind {
            ClaimKind::NeverAllow { via, target } => {
                via.shift(by);
                target.shift(by);
            }
            ClaimKind::NeverStart { workflow } => workflow.shift(by),
        }
        when.shift(by);
        unless.shift(by);
        span.shift(by);
    }
}

impl Shift for FixtureDecl {
    fn shift(&mut self, by: u32) {
        let FixtureDecl { doc, name, kind, roles, attrs, span } = self;
        doc.shift(by);
        name.shift(by);
        kind.shift(by);
        roles.shift(by);
        attrs.shift(by);
        span.shift(by);
    }
}

impl Shift for TestDecl {
    fn shift(&mut self, by: u32) {
        let TestDecl { doc, name, expectations, span } = self;
        doc.shift(by);
        name.shift(by);
        expectations.shift(by);
        span.shift(by);
    }
}

impl Shift for Expectation {
    fn shift(&mut self, by: u32) {
        let Expectation { doc, outcome: _, outcome_span, missing, request, span } = self;
        doc.shift(by);
        outcome_span.shift(by);
        missing.shift(by);
        request.shift(by);
        span.shift(by);
    }
}

impl Shift for TestRequest {
    fn shift(&mut self, by: u32) {
        let TestRequest { chain, action, evidence, context, cwd, time, history, span } = self;
        chain.shift(by);
        match action {
            TestAction::Call { workflow, tool, args } => {
                workflow.shift(by);
                tool.shift(by);
                args.shift(by);
            }
            TestAction::Start { workflow, ttl } => {
                workflow.shift(by);
                ttl.shift(by);
            }
        }
        evidence.shift(by);
        context.shift(by);
        cwd.shift(by);
        time.shift(by);
        history.shift(by);
        span.shift(by);
    }
}

impl Shift for TestHistoryEntry {
    fn shift(&mut self, by: u32) {
        let TestHistoryEntry { tool, at, span } = self;
        tool.shift(by);
        match at {
            Some(HistoryTime::At(time)) => time.shift(by),
            Some(HistoryTime::Ago(duration)) => duration.shift(by),
            None => {}
        }
        span.shift(by);
    }
}

impl Shift for TestEvidence {
    fn shift(&mut self, by: u32) {
        let TestEvidence { name, fields, by: who, span } = self;
        name.shift(by);
        fields.shift(by);
        who.shift(by);
        span.shift(by);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Reuse;
    use crate::parser::{parse, parse_reusing};

    const BASE: &str = "/// Doc.\nrole base\nattribute team: string\n\n/// Devs.\nrole dev extends base {\n  /// may\n  may svc.*\n  may deploy when env == \"staging\"\n}\ntool svc.read(repo: string) [read]\ntool deploy(env: \"staging\" | \"prod\") [write]\nevidence ok by human\n/// Flow.\nworkflow w {\n  start by dev\n  /// rule\n  allow svc.read when repo matches \"a/*\" require ok by dev\n  deny deploy when context.frozen because \"no\"\n  ttl 1h\n}\nfixture f = human [dev] { team: \"t\" }\ntest \"t\" {\n  expect allow: f via w calls svc.read(repo: \"a/b\") in \"/w\" after [deploy 1h ago]\n}\ndeny deploy\n/// Claims.\nassert \"a\" {\n  /// One.\n  never allow via w svc.* when repo runs only [[\"a\", ...], [\"b\"]]\n  never start w unless calls([read] within 1h) > given(ok by dev)\n}\ndeny svc.read when repo under \"x\"\n";

    /// Text an edit may insert: keywords, punctuation, comments and newlines.
    fn snippet() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("x".to_string()),
            Just("\n".to_string()),
            Just("/// d\n".to_string()),
            Just("// c".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("\"".to_string()),
            Just(" when a == 1".to_string()),
            Just("\nrole r\n".to_string()),
            Just("workflow v {\n allow x\n".to_string()),
            Just("tool".to_string()),
            Just("assert \"b\" {".to_string()),
            Just("\n  never allow x\n".to_string()),
            Just(" runs [\"a\", ...]".to_string()),
            Just("...".to_string()),
            Just("[".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// After any sequence of edits, reusing the previous parse gives what parsing from
        /// scratch gives.
        #[test]
        fn reusing_equals_parsing_from_scratch(
            edits in proptest::collection::vec((0.0..1.0f64, 0usize..8, snippet()), 1..12)
        ) {
            let mut text = BASE.to_string();
            let mut reuse = Reuse::default();
            prop_assert_eq!(parse_reusing(&text, &mut reuse), parse(&text));
            for (at, delete, insert) in edits {
                let mut start = ((text.len() as f64) * at) as usize;
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (start + delete).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(start..end, &insert);
                prop_assert_eq!(parse_reusing(&text, &mut reuse), parse(&text), "{:?}", text);
            }
        }
    }

    #[test]
    fn unchanged_declarations_are_reused_and_moved() {
        let mut reuse = Reuse::default();
        let first = parse_reusing(BASE, &mut reuse);
        let kept = reuse.len();
        assert!(kept >= 8, "{kept}");
        // Insert text into the first declaration: every later one moves by 3 bytes.
        let edited = BASE.replacen("role base", "role basexyz", 1);
        let second = parse_reusing(&edited, &mut reuse);
        assert_eq!(second, parse(&edited));
        assert_eq!(
            second.items.last().unwrap().span().start,
            first.items.last().unwrap().span().start + 3
        );
        assert_eq!(reuse.len(), kept);
        assert_eq!(reuse.reused(), kept - 1, "all but the edited declaration");
    }
}
