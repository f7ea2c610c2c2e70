//! The decision agreement check at small sizes: on every generated request, writ decides what
//! the scenario was built to produce, and Cedar and Rego (VM and interpreter) allow exactly when
//! writ allows (writ's `pending` counts as not allowed). Any disagreement fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

use writ_bench::requests::Group;
use writ_bench::{Engines, Texts, check_agreement, requests, scenario};

fn agree(rules: usize, n: usize) {
    let s = scenario::generate(rules, 42);
    let texts = Texts::new(&s);
    let mut engines = Engines::load(&s, &texts);
    if let Err(e) = &engines.rego_vm {
        panic!("the Rego VM must load the policy at {rules} rules: {e}");
    }
    let reqs = requests::generate(&s, n, 42);
    let a = check_agreement(&mut engines, &reqs);
    for d in a.disagreements.iter().take(10) {
        eprintln!("disagreement: {d:#?}");
    }
    assert!(a.ok(), "{} of {} requests disagree at {rules} rules", a.disagreements.len(), n);
    assert!(a.covers_all_groups(), "not every group exercised: {:?}", a.groups);
    for outcome in ["allow", "deny", "pending"] {
        assert!(
            a.outcomes.get(outcome).copied().unwrap_or(0) > 0,
            "no {outcome}: {:?}",
            a.outcomes
        );
    }
    assert!(a.groups[&Group::Allow] > n / 10);
}

#[test]
fn engines_agree_at_10_rules() {
    agree(10, 2000);
}

#[test]
fn engines_agree_at_100_rules() {
    agree(100, 2000);
}
