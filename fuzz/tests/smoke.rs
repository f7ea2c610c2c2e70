//! Every fuzz target on its seed corpus (`fuzz/corpus/TARGET/`) and on random inputs: the
//! smoke run of each target that every `cargo test` (and so CI) does. The long, coverage-guided
//! runs are `cargo fuzz`'s (RELIABILITY.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use std::path::PathBuf;

use proptest::prelude::*;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(!out.is_empty(), "no seeds for `{target}`");
    out.sort();
    out
}

fn target(name: &str) -> fn(&[u8]) {
    writ_fuzz::TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).unwrap()
}

#[test]
fn every_target_has_seeds_and_runs_them() {
    for (name, run) in writ_fuzz::TARGETS {
        for seed in seeds(name) {
            run(&seed);
        }
    }
}

/// A seed with bytes changed: how coverage-guided fuzzing starts, without the guidance.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(seeds),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<usize>(),
    )
        .prop_map(|(mut seed, changes, cut)| {
            for (at, byte) in changes {
                if !seed.is_empty() {
                    let i = at % seed.len();
                    seed[i] = byte;
                }
            }
            if cut % 4 == 0 && !seed.is_empty() {
                seed.truncate(cut % seed.len());
            }
            seed
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn policy_survives_mutations(data in mutated(seeds("policy"))) {
        target("policy")(&data);
    }

    #[test]
    fn request_survives_mutations(data in mutated(seeds("request"))) {
        target("request")(&data);
    }

    #[test]
    fn bundle_survives_mutations(data in mutated(seeds("bundle"))) {
        target("bundle")(&data);
    }

    #[test]
    fn decision_log_survives_mutations(data in mutated(seeds("decision_log"))) {
        target("decision_log")(&data);
    }

    #[test]
    fn any_bytes_are_survived(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        for (_, run) in writ_fuzz::TARGETS.iter().filter(|(n, _)| *n != "lsp_session") {
            run(&data);
        }
    }
}

proptest! {
    // A session starts a server: fewer cases.
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn lsp_session_survives_mutations(data in mutated(seeds("lsp_session"))) {
        target("lsp_session")(&data);
    }
}
