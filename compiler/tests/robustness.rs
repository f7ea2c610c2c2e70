//! No policy text makes the compiler panic: mutations of real policies (truncated, lines
//! shuffled or dropped, junk inserted, tokens swapped) go through parsing, checking, lints and
//! lowering, and whatever IR comes out is accepted by the evaluator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use proptest::prelude::*;
use writ_compiler::Compiler;

fn corpus() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for p in [
        "tests/conformance/edges/policy.writ",
        "tests/conformance/engineering/policy.writ",
        "examples/support-agents/policy.writ",
        "examples/coding-agents/policy/workflows.writ",
        "examples/coding-agents/policy/tests.writ",
        "tests/conformance/agents/policy.writ",
    ] {
        out.push(std::fs::read_to_string(root.join(p)).unwrap());
    }
    // The coding-agents policy as one file, so that its tests resolve.
    let mut whole = String::new();
    for f in ["identities", "tools", "workflows", "tests"] {
        whole.push_str(
            &std::fs::read_to_string(root.join(format!("examples/coding-agents/policy/{f}.writ")))
                .unwrap(),
        );
        whole.push('\n');
    }
    out.push(whole);
    out
}

fn compile(text: String) {
    let compiler = Compiler::new(vec![("p.writ".into(), text.clone())]);
    // The editor queries must not panic either, anywhere in the text.
    let ide = writ_compiler::ide::Analysis::new(&compiler.db, compiler.policy);
    let _ = ide.semantic_tokens(0);
    let _ = ide.document_symbols(0);
    let _ = ide.folds(0);
    let len = text.len();
    for offset in
        [0, 1, len / 7, len / 3, len / 2, len * 2 / 3, len.saturating_sub(1), len, len + 1]
    {
        let _ = ide.hover(0, offset);
        let _ = ide.completions(0, offset);
        let _ = ide.definition(0, offset);
    }
    let compilation = compiler.compilation();
    let sources = compiler.sources();
    for d in &compilation.diagnostics {
        // Rendering must not panic either, whatever the span.
        let _ = writ_compiler::JsonDiagnostic::new(d, &sources);
        let _ = writ_compiler::Report::new(d, &sources).map(|r| format!("{r:?}"));
    }
    if let Some(ir) = &compilation.policy {
        writ_evaluator::Policy::from_ir(ir.clone()).expect("the compiler's IR is valid");
    }
}

/// Words and fragments beyond the keywords (`writ_grammar::KEYWORDS`, the one list), which
/// [`words`] adds.
const FRAGMENTS: &[&str] = &[
    "by",
    "human",
    "agent",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "==",
    "!=",
    "<",
    ".",
    "\"x\"",
    "3",
    "30m",
    "*",
    "0",
    "within",
    "at",
    "after",
    "ago",
    "command",
    "path",
    "...",
    "..",
    "[\"git\", ...]",
    "[[\"ls\", ...]]",
    "calls(",
    "given(",
    "24h",
    "\"/work\"",
    "\"2026-12-02T16:00:00Z\"",
    "assert \"a\" {",
    "never allow via",
    "never start",
    "after [",
];

/// Every keyword, then the fragments.
fn words() -> Vec<&'static str> {
    writ_grammar::KEYWORDS.iter().chain(FRAGMENTS).copied().collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    DropLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    ReplaceWord(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DropLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0..words().len()).prop_map(|(a, w)| Mutation::Insert(a, w)),
        (any::<usize>(), 0..words().len()).prop_map(|(a, w)| Mutation::ReplaceWord(a, w)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match *m {
        Mutation::Truncate(n) => {
            let mut at = n % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
        Mutation::DropLine(n) if !lines.is_empty() => {
            let mut l = lines.clone();
            l.remove(n % lines.len());
            l.join("\n")
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            let mut l = lines.clone();
            l.swap(a % lines.len(), b % lines.len());
            l.join("\n")
        }
        Mutation::Insert(n, w) => {
            let words: Vec<&str> = text.split(' ').collect();
            let mut out: Vec<&str> = words.clone();
            out.insert(n % (words.len() + 1), self::words()[w]);
            out.join(" ")
        }
        Mutation::ReplaceWord(n, w) => {
            let mut words: Vec<&str> = text.split(' ').collect();
            let i = n % words.len();
            words[i] = self::words()[w];
            words.join(" ")
        }
        _ => text.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_policies_never_panic(which in 0usize..7, mutations in proptest::collection::vec(mutation(), 1..6)) {
        let corpus = corpus();
        let mut text = corpus[which % corpus.len()].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        compile(text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        compile(text);
    }
}

#[test]
fn the_unmutated_corpus_compiles() {
    for text in corpus().into_iter().take(3).chain(corpus().pop()) {
        let compiler = Compiler::new(vec![("p.writ".into(), text)]);
        assert!(!compiler.compilation().has_errors(), "{:#?}", compiler.compilation().diagnostics);
    }
}
