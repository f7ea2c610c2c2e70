//! `writ test`: every output format, filtering, coverage and exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, writ};

const FAILING: &str = "tests/fixtures/failing_tests.writ";

#[test]
fn examples_pass_their_own_tests() {
    for example in ["examples/coding-agents/policy", "examples/support-agents/policy.writ"] {
        let Run { code, stdout, stderr } = writ(&["test", example]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    }
}

#[test]
fn failures_show_expected_actual_request_and_trace() {
    let Run { code, stdout, .. } = writ(&["test", FAILING]);
    assert_eq!(code, 1);
    assert!(stdout.contains("expected: allow"), "{stdout}");
    assert!(stdout.contains("actual:   pending (missing approval)"), "{stdout}");
    assert!(stdout.contains("request:  {"), "{stdout}");
    assert!(stdout.contains("trace:"), "{stdout}");
    assert!(stdout.contains("1 passed, 2 failed"), "{stdout}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn json_report() {
    let Run { code, stdout, .. } = writ(&["test", FAILING, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["passed"], 1);
    assert_eq!(v["failed"], 2);
    assert_eq!(v["tests"][1]["expectations"][0]["passed"], false);
    assert!(v["tests"][1]["expectations"][0]["explain"]["steps"].is_array());
    insta::assert_snapshot!(stdout);
}

#[test]
fn junit_report_is_escaped_xml() {
    let Run { code, stdout, .. } = writ(&["test", FAILING, "--format", "junit"]);
    assert_eq!(code, 1);
    assert!(stdout.starts_with("<?xml"));
    assert!(stdout.contains("prod is out of reach &lt;&amp;&gt;"), "{stdout}");
    assert_eq!(stdout.matches("<testcase ").count(), 3);
    assert_eq!(stdout.matches("<failure ").count(), 2);
    insta::assert_snapshot!(stdout);
}

/// The JUnit report read back the way GitHub, GitLab and Jenkins read it: one suite per policy
/// file, counts that agree with the test cases, a `failure` (with the expectation and the trace)
/// for each failed test.
#[test]
fn junit_report_parses_back() {
    let Run { stdout, .. } = writ(&["test", FAILING, "--format", "junit"]);
    let doc = roxmltree::Document::parse(&stdout).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let count = |node: roxmltree::Node<'_, '_>, attr: &str| -> usize {
        node.attribute(attr)
            .unwrap_or_else(|| panic!("`{attr}` on <{}>", node.tag_name().name()))
            .parse()
            .expect("a count")
    };
    let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert!(!suites.is_empty());
    let (mut tests, mut failures) = (0, 0);
    let mut failed_names = Vec::new();
    for suite in &suites {
        assert!(suite.attribute("name").is_some_and(|n| !n.is_empty()));
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        let failed: Vec<_> =
            cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("failure"))).collect();
        assert_eq!(count(*suite, "tests"), cases.len());
        assert_eq!(count(*suite, "failures"), failed.len());
        for case in &cases {
            assert!(case.attribute("name").is_some_and(|n| !n.is_empty()));
            assert!(case.attribute("classname").is_some());
        }
        for case in failed {
            let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
            let message = failure.attribute("message").unwrap_or_default();
            assert!(message.contains("expected") && message.contains("got"), "{message}");
            let body = failure.text().unwrap_or_default();
            assert!(body.contains("expect ") && body.contains("actual: "), "{body}");
            failed_names.push(case.attribute("name").unwrap().to_string());
        }
        tests += cases.len();
        failures += count(*suite, "failures");
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!((tests, failures), (3, 2));
    insta::assert_debug_snapshot!(failed_names);
}

#[test]
fn filter_selects_tests_by_name() {
    let Run { code, stdout, .. } = writ(&["test", FAILING, "--filter", "ping"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    // A filter that matches nothing is a usage error, never a green run.
    let Run { code, stdout, stderr } = writ(&["test", FAILING, "--filter", "nothing matches this"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no test name contains `nothing matches this` (`--filter`); the policy's tests are \"ping is allowed\""),
        "{stderr}"
    );
}

#[test]
fn a_coverage_shortfall_is_reported_in_every_format() {
    let policy = "examples/support-agents/policy.writ";
    let args = |format: &'static str| ["test", policy, "--coverage-min", "99", "--format", format];
    let Run { code, stdout, .. } = writ(&args("github"));
    assert_eq!(code, 1);
    let line =
        stdout.lines().find(|l| l.contains("coverage_below_minimum")).expect("an annotation");
    assert!(line.starts_with("::error file=examples/support-agents/policy.writ,line="), "{line}");
    assert!(line.contains("coverage 87.5%25 is below the minimum of 99%25"), "{line}");
    let Run { code, stdout, .. } = writ(&args("junit"));
    assert_eq!(code, 1);
    let doc = roxmltree::Document::parse(&stdout).expect("JUnit XML");
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure") && n.attribute("type") == Some("coverage"))
        .expect("a coverage failure");
    assert!(failure.attribute("message").unwrap().contains("below the minimum of 99%"));
    let root = doc.root_element();
    let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(root.attribute("tests"), Some(cases.to_string().as_str()));
    let Run { code, stdout, .. } = writ(&args("sarif"));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "writ::coverage_below_minimum"), "{v}");
    let Run { code, stdout, .. } = writ(&args("json"));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["coverage"]["minimum"], 99.0);
    assert_eq!(v["coverage"]["below_minimum"], true);
}

#[test]
fn coverage_lists_unexercised_rules_and_enforces_a_minimum() {
    let Run { code, stdout, .. } =
        writ(&["test", "examples/support-agents/policy.writ", "--coverage"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("coverage: "), "{stdout}");
    assert!(stdout.contains("not exercised"), "{stdout}");
    let Run { code, stdout, .. } =
        writ(&["test", "examples/support-agents/policy.writ", "--coverage-min", "99"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("below the minimum of 99%"), "{stdout}");
    let Run { code, .. } =
        writ(&["test", "examples/support-agents/policy.writ", "--coverage-min", "10"]);
    assert_eq!(code, 0);
    let Run { code, stderr, .. } = writ(&["test", "examples", "--coverage-min", "150"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn tests_are_type_checked() {
    let Run { code, stderr, .. } =
        writ(&["test", "compiler/tests/diagnostics/unknown_fixture.writ"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("writ::unknown_fixture"), "{stderr}");
}

#[test]
fn ci_formats_annotate_failing_expectations() {
    let Run { code, stdout, .. } = writ(&["test", FAILING, "--format", "github"]);
    assert_eq!(code, 1);
    assert_eq!(stdout.lines().count(), 2);
    assert!(
        stdout.starts_with("::error file=tests/fixtures/failing_tests.writ,line=21,col=3"),
        "{stdout}"
    );
    let Run { code, stdout, .. } = writ(&["test", FAILING, "--format", "sarif"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "writ::test_failed");
}

/// `by` is not a keyword (LANGUAGE.md §1): a role may be called `by`, even right after `by`.
#[test]
fn by_is_a_name() {
    let Run { code, stdout, stderr } = writ(&["test", "tests/fixtures/by_is_a_name.writ"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}
