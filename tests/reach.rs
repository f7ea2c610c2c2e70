//! End-to-end tests of `writ reach`: every format on both examples (snapshotted), facts about
//! the examples worked out by hand from their policies, and the command's errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, root, writ};

use serde_json::Value as Json;

/// The policy digest changes with every edit of an example; snapshots do not care.
fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i + 7]);
        let after = &rest[i + 7..];
        let hex = after.chars().take_while(char::is_ascii_hexdigit).count();
        out.push_str("[digest]");
        rest = &after[hex..];
    }
    out.push_str(rest);
    out
}

fn transcript(r: &Run) -> String {
    redact(&format!("exit: {}\n--- stdout\n{}--- stderr\n{}", r.code, r.stdout, r.stderr))
}

const CODING: &str = "examples/coding-agents/policy";
const SUPPORT: &str = "examples/support-agents/policy.writ";

#[test]
fn every_format_on_both_examples() {
    for (name, policy) in [("coding", CODING), ("support", SUPPORT)] {
        for format in ["table", "json", "markdown", "dot", "html"] {
            let r = writ(&["reach", "--policy", policy, "--format", format]);
            assert_eq!(r.code, 0, "{}", transcript(&r));
            assert!(r.stderr.is_empty(), "{}", r.stderr);
            insta::assert_snapshot!(format!("{name}_{format}"), transcript(&r));
        }
    }
}

#[test]
fn fixtures_in_every_format() {
    for (policy, fixture) in
        [(CODING, "rita"), (CODING, "rob"), (SUPPORT, "ana"), (SUPPORT, "helpdesk")]
    {
        for format in ["table", "json", "html"] {
            let r = writ(&["reach", "--policy", policy, "--fixture", fixture, "--format", format]);
            assert_eq!(r.code, 0, "{}", transcript(&r));
            insta::assert_snapshot!(format!("fixture_{fixture}_{format}"), transcript(&r));
        }
    }
}

/// `writ reach --format json` for one role or fixture.
fn reach(policy: &str, who: &[&str]) -> Json {
    let mut args = vec!["reach", "--policy", policy, "--format", "json"];
    args.extend_from_slice(who);
    let r = writ(&args);
    assert_eq!(r.code, 0, "{}", transcript(&r));
    let report: Json = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(report["subjects"].as_array().map(Vec::len), Some(1));
    report["subjects"][0].clone()
}

fn role(policy: &str, role: &str) -> Json {
    reach(policy, &["--role", role])
}

fn workflow<'a>(subject: &'a Json, name: &str) -> &'a Json {
    subject["workflows"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["workflow"] == name))
        .unwrap_or_else(|| panic!("no workflow {name}"))
}

fn tool<'a>(subject: &'a Json, wf: &str, name: &str) -> &'a Json {
    workflow(subject, wf)["tools"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["tool"] == name))
        .unwrap_or_else(|| panic!("no tool {name} in {wf}"))
}

fn path<'a>(subject: &'a Json, wf: &str, rule: &str) -> &'a Json {
    let name = rule.split('/').next().unwrap_or("");
    assert_eq!(name, wf);
    workflow(subject, wf)["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["paths"].as_array().into_iter().flatten())
        .find(|p| p["rule"] == rule)
        .unwrap_or_else(|| panic!("no path {rule}"))
}

fn needs(path: &Json) -> Vec<String> {
    path["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| match e["when"].as_str() {
            Some(w) => format!("{} when {w}", e["text"].as_str().unwrap_or("")),
            None => e["text"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

// ----- coding-agents, worked out from examples/coding-agents/policy by hand ------------------
//
// ship_agent: start by maintainer; allow/1 repo.read, /2 repo.merge, /3 deploy staging,
// /4 deploy prod (2 approval by release_captain, tests_passed), /5 secrets.read deploy/*.
// maintainer may deploy only when env == "staging"; release_captain may deploy, and
// secrets.read when name matches "deploy/*". Guardrails: deny [secret] on prod/* unless the
// initiator is a security_reviewer; no agent starts; signed_commit for [write] when depth > 1.

#[test]
fn maintainer_starts_ship_agent_but_never_deploys_to_prod() {
    let m = role(CODING, "maintainer");
    assert_eq!(m["subject"]["holds"], serde_json::json!(["developer", "maintainer"]));
    let ship = workflow(&m, "ship_agent");
    assert_eq!(ship["startable"], true);
    // `deny start when initiator.kind == agent` can never apply to a person holding a role.
    assert_eq!(ship["starts"][0]["condition"], Json::Null);
    assert_eq!(ship["ttl"], "30m");

    let staging = path(&m, "ship_agent", "ship_agent/allow/3");
    assert_eq!(staging["reachable"], true);
    assert_eq!(staging["condition"], r#"env == "staging""#);
    assert_eq!(needs(staging), ["tests_passed"]);

    let prod = path(&m, "ship_agent", "ship_agent/allow/4");
    assert_eq!(prod["reachable"], false);
    let why = prod["never"].as_str().unwrap();
    assert!(why.contains("outside the entitlement") && why.contains("maintainer/may/3"), "{why}");
    // The tool as a whole is reachable (for staging).
    assert_eq!(tool(&m, "ship_agent", "deploy")["reachable"], true);

    // No entitlement to secrets at all.
    let secrets = tool(&m, "ship_agent", "secrets.read");
    assert_eq!(secrets["reachable"], false);
    assert!(secrets["never"].as_str().unwrap().starts_with("not entitled"), "{secrets}");
    assert_eq!(m["summary"]["secrets"], serde_json::json!([]));
}

#[test]
fn release_captain_deploys_to_prod_with_two_captains_and_reads_only_deploy_secrets() {
    let rc = role(CODING, "release_captain");
    let prod = path(&rc, "ship_agent", "ship_agent/allow/4");
    assert_eq!(prod["reachable"], true);
    assert_eq!(prod["condition"], r#"env == "prod""#);
    assert_eq!(needs(prod), ["2 approval by release_captain", "tests_passed"]);

    // The secret guardrail (prod/*) cannot meet `deploy/*`, so nothing is left of it.
    let secrets = path(&rc, "ship_agent", "ship_agent/allow/5");
    assert_eq!(secrets["condition"], r#"name matches "deploy/*""#);
    assert_eq!(
        rc["summary"]["secrets"],
        serde_json::json!([{
            "tool": "secrets.read",
            "workflow": "ship_agent",
            "any": false,
            "patterns": [{"argument": "name", "op": "matches", "value": "deploy/*"}],
        }])
    );

    // Break-glass: the start depends on the incident and on-call status, both unknown here;
    // the workflow's own `require ticket(...) for deploy` joins the allow's approval.
    let hotfix = workflow(&rc, "hotfix_agent");
    assert_eq!(hotfix["starts"][0]["condition"], "context.incident_open and initiator.on_call");
    let deploy = path(&rc, "hotfix_agent", "hotfix_agent/allow/3");
    assert_eq!(needs(deploy), ["approval by security_reviewer", r#"ticket(project: "INC")"#]);

    let tags: Vec<(String, u64)> = rc["summary"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tag"].as_str().unwrap().to_string(), t["count"].as_u64().unwrap()))
        .collect();
    let expected = [("network", 1), ("prod", 2), ("secret", 1), ("write", 5)];
    assert_eq!(tags, expected.map(|(t, n)| (t.to_string(), n)));
    assert_eq!(rc["summary"]["max_depth"]["depth"], 2);
    assert_eq!(rc["summary"]["max_ttl"]["ttl"], "2h");
}

#[test]
fn developer_cannot_start_ship_agent() {
    let d = role(CODING, "developer");
    let ship = workflow(&d, "ship_agent");
    assert_eq!(ship["startable"], false);
    assert_eq!(ship["never"], "ship_agent/start/1 is for maintainer");
    assert_eq!(ship["tools"], serde_json::json!([]));
    assert_eq!(d["summary"]["startable"], serde_json::json!(["feature_agent"]));
    let feature = workflow(&d, "feature_agent");
    assert_eq!(needs(&feature["starts"][0]), [r#"ticket(project: "ENG")"#]);
    // Its own `may repo.push when not (branch in ["main", "release"])` is implied by the
    // allow's `agent/*`; the workflow's deny enters negated.
    let push = path(&d, "feature_agent", "feature_agent/allow/3");
    assert_eq!(
        push["condition"],
        r#"branch matches "agent/*" and not (any files matches ".github/workflows/*")"#
    );
    // feature_agent allows two hops, so the guardrail's `depth > 1` stays; ship_agent and
    // hotfix_agent allow one, so it never applies there.
    assert_eq!(needs(push), ["tests_passed", "signed_commit when depth > 1"]);
    let rc = role(CODING, "release_captain");
    assert_eq!(needs(path(&rc, "ship_agent", "ship_agent/allow/3")), ["tests_passed"]);
    assert!(needs(path(&rc, "hotfix_agent", "hotfix_agent/allow/2")).is_empty());
}

#[test]
fn reviewers_and_services_reach_nothing_through_agents() {
    for r in ["security_reviewer", "ci_service"] {
        let s = role(CODING, r);
        assert_eq!(s["summary"]["startable"], serde_json::json!([]), "{r}");
        assert_eq!(s["summary"]["reachable_tools"], serde_json::json!([]), "{r}");
        assert_eq!(s["summary"]["max_depth"], Json::Null);
    }
}

#[test]
fn fixtures_bring_their_attributes() {
    // rita is on call: only the incident is left of hotfix_agent's start condition.
    let rita = reach(CODING, &["--fixture", "rita"]);
    assert_eq!(workflow(&rita, "hotfix_agent")["starts"][0]["condition"], "context.incident_open");
    // rob has no `on_call` attribute: unknown, so the start can never pass.
    let rob = reach(CODING, &["--fixture", "rob"]);
    let hotfix = workflow(&rob, "hotfix_agent");
    assert_eq!(hotfix["startable"], false);
    assert!(hotfix["never"].as_str().unwrap().contains("can never be true"), "{hotfix}");
    // An agent cannot start anything: the guardrail applies to it for certain.
    let helper = reach(CODING, &["--fixture", "helper"]);
    assert_eq!(helper["summary"]["startable"], serde_json::json!([]));
    assert_eq!(
        workflow(&helper, "feature_agent")["never"],
        r#"denied by deny_start/1 ("agents cannot start workflows on their own")"#
    );
    assert_eq!(helper["notes"].as_array().map(Vec::len), Some(1));
}

// ----- support-agents, worked out from examples/support-agents/policy.writ by hand ------------

#[test]
fn support_refunds_are_bounded_by_the_initiators_limit() {
    let agent = role(SUPPORT, "support_agent");
    // allow/3: `amount_cents <= 5000`; the workflow's deny (> 100000) is implied away; the
    // out-of-hours guardrail becomes `context.business_hours` (unknown hours deny).
    let small = path(&agent, "ticket_agent", "ticket_agent/allow/3");
    assert_eq!(small["condition"], "amount_cents <= 5000 and context.business_hours");
    // allow/4 needs more than 5000, the agent may refund at most 5000.
    let large = path(&agent, "ticket_agent", "ticket_agent/allow/4");
    assert_eq!(large["reachable"], false);
    assert!(large["never"].as_str().unwrap().contains("support_agent/may/4"), "{large}");
    // Goodwill refunds: the finance approvals, within the agent's own limit.
    let goodwill = path(&agent, "ticket_agent", "ticket_agent/allow/5");
    assert_eq!(
        goodwill["condition"],
        r#"reason == "goodwill" and amount_cents <= 5000 and context.business_hours"#
    );
    assert_eq!(needs(goodwill), ["2 approval by finance"]);
    assert_eq!(workflow(&agent, "data_export")["startable"], false);

    let lead = role(SUPPORT, "support_lead");
    let large = path(&lead, "ticket_agent", "ticket_agent/allow/4");
    assert_eq!(
        large["condition"],
        r#"amount_cents > 5000 and reason != "goodwill" and amount_cents <= 50000 and context.business_hours"#
    );
    assert_eq!(needs(large), ["approval by support_lead"]);
}

#[test]
fn support_exports_and_consent() {
    // The lead may export only lists with emails, so the consent requirement always applies.
    let lead = role(SUPPORT, "support_lead");
    let start = &workflow(&lead, "data_export")["starts"][0];
    assert_eq!(needs(start), ["dpa_signed by privacy_officer"]);
    let export = path(&lead, "data_export", "data_export/allow/1");
    assert_eq!(needs(export), [r#"customer_consent(channel: "email")"#]);
    // The privacy officer may export anything: consent only when emails are in the fields.
    let officer = role(SUPPORT, "privacy_officer");
    let export = path(&officer, "data_export", "data_export/allow/1");
    assert_eq!(
        needs(export),
        [r#"customer_consent(channel: "email") when fields contains "email""#]
    );
    // Finance holds no support role: only a service can start ticket_agent with it.
    let finance = role(SUPPORT, "finance");
    let starts = &workflow(&finance, "ticket_agent")["starts"];
    assert_eq!(starts.as_array().map(Vec::len), Some(1));
    assert_eq!(starts[0]["rule"], "ticket_agent/start/2");
    assert_eq!(starts[0]["condition"], "initiator.kind == service");
}

#[test]
fn support_fixtures() {
    // ana: tier 1, region eu. The EU guardrail cannot apply; her tier cannot send anywhere.
    let ana = reach(SUPPORT, &["--fixture", "ana"]);
    let lookup = path(&ana, "ticket_agent", "ticket_agent/allow/1");
    assert_eq!(lookup["condition"], r#"not (fields contains "ssn")"#);
    let email = path(&ana, "ticket_agent", "ticket_agent/allow/6");
    assert_eq!(
        email["condition"],
        r#"template in ["reply", "refund_confirmation"] and all to matches "*@customer.example""#
    );
    // helpdesk: a service without roles starts ticket_agent but is entitled to nothing.
    let helpdesk = reach(SUPPORT, &["--fixture", "helpdesk"]);
    assert_eq!(helpdesk["summary"]["startable"], serde_json::json!(["ticket_agent"]));
    assert_eq!(helpdesk["summary"]["reachable_tools"], serde_json::json!([]));
}

// ----- output shapes and errors ------------------------------------------------------------

#[test]
fn printed_conditions_are_writ() {
    // Every residual condition in the JSON parses back as a condition of the same policy:
    // spliced into a copy of the support policy as an extra allow, it still compiles.
    let report = writ(&["reach", "--policy", SUPPORT, "--format", "json"]);
    let v: Json = serde_json::from_str(&report.stdout).unwrap();
    let mut conditions: Vec<(String, String)> = Vec::new();
    for s in v["subjects"].as_array().unwrap() {
        for w in s["workflows"].as_array().unwrap() {
            for t in w["tools"].as_array().unwrap() {
                for p in t["paths"].as_array().unwrap() {
                    if let Some(c) = p["condition"].as_str() {
                        conditions.push((t["tool"].as_str().unwrap().to_string(), c.to_string()));
                    }
                }
            }
        }
    }
    assert!(conditions.len() > 10);
    let base = std::fs::read_to_string(root().join(SUPPORT)).unwrap();
    let mut text = base.clone();
    text.push_str("\nworkflow reach_check {\n  start by support_agent\n");
    for (tool, c) in &conditions {
        text.push_str(&format!("  allow {tool} when {c}\n"));
    }
    text.push_str("}\n");
    let dir = std::env::temp_dir().join(format!("writ-reach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.writ");
    std::fs::write(&file, text).unwrap();
    let check = writ(&["check", file.to_str().unwrap(), "--format", "json"]);
    let _ = std::fs::remove_dir_all(&dir);
    let diagnostics: Json = serde_json::from_str(&check.stdout).unwrap();
    let errors: Vec<&Json> =
        diagnostics.as_array().unwrap().iter().filter(|d| d["severity"] == "error").collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn escapes_in_every_format() {
    let dir = std::env::temp_dir().join(format!("writ-reach-escapes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.writ");
    std::fs::write(
        &file,
        r#"role ops {
  may vault.get when path matches "a|b/*" or path == "q\"uote\\"
}
tool vault.get(path: string) [secret]
workflow w {
  start by ops
  max_depth 0
  ttl 90s
  allow vault.get
  deny vault.get when path matches "*`*" because "no \"backticks\""
}
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let table = writ(&["reach", "--policy", path]);
    assert_eq!(table.code, 0, "{}", transcript(&table));
    assert!(table.stdout.contains(r#"path == "q\"uote\\""#), "{}", table.stdout);
    assert!(table.stdout.contains("longest ttl: 90s (w)"), "{}", table.stdout);
    assert!(table.stdout.contains("longest delegation depth: 0 (w)"), "{}", table.stdout);
    let json: Json =
        serde_json::from_str(&writ(&["reach", "--policy", path, "--format", "json"]).stdout)
            .unwrap();
    let secrets = &json["subjects"][0]["summary"]["secrets"][0];
    assert_eq!(secrets["any"], false);
    assert_eq!(secrets["patterns"].as_array().map(Vec::len), Some(2));
    let md = writ(&["reach", "--policy", path, "--format", "markdown"]).stdout;
    for line in md.lines().filter(|l| l.starts_with("| `vault.get`")) {
        // Five cells: every `|` of the text is escaped.
        let cells = line.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 6, "{line}");
        assert!(line.contains("`` "), "backticks in code need a longer fence: {line}");
    }
    let dot = writ(&["reach", "--policy", path, "--format", "dot"]).stdout;
    assert!(dot.starts_with("digraph reach {") && dot.ends_with("}\n"));
    assert!(dot.contains(r##"fillcolor="#f4b6b6""##), "secret tools are highlighted: {dot}");
    assert!(dot.contains(r#"path == \"q\\\"uote\\\\\""#), "{dot}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2() {
    let r = writ(&["reach", "--policy", CODING, "--role", "maintaner"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr, "error: unknown role `maintaner`: did you mean `maintainer`?\n");
    assert!(r.stdout.is_empty());
    let r = writ(&["reach", "--policy", CODING, "--fixture", "nobody"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown fixture `nobody`: the fixtures are: dana, mo,"),
        "{}",
        r.stderr
    );
    let r = writ(&["reach", "--policy", CODING, "--role", "developer", "--fixture", "dana"]);
    assert_eq!(r.code, 2, "--role and --fixture conflict");
    let r = writ(&["reach", "--policy", "no/such/policy"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read policy"), "{}", r.stderr);
}

#[test]
fn a_policy_with_errors_exits_1_with_its_diagnostics() {
    let r = writ(&["reach", "--policy", "compiler/tests/diagnostics/unknown_role.writ"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("writ::unknown_role"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

/// The page is self-contained (no script, no link to anything outside it), lists every
/// reachable tool once in the blast radius and draws it in the graph of each workflow that
/// reaches it, sensitive tools marked; a browser test (`.ci/reach-html.sh`) renders it.
#[test]
fn html_page_is_self_contained_and_marks_secrets() {
    let r = writ(&["reach", "--policy", CODING, "--role", "release_captain", "--format", "html"]);
    assert_eq!(r.code, 0, "{}", transcript(&r));
    let page = &r.stdout;
    assert!(page.starts_with("<!DOCTYPE html>"));
    for outside in ["<script", "<link", "src=", "http://example", "@import"] {
        assert!(!page.contains(outside), "the page refers outside itself: {outside}");
    }
    assert_eq!(page.matches("<svg ").count(), 1);
    let reach = role(CODING, "release_captain");
    let mut tools: Vec<&str> = reach["summary"]["reachable_tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tools.sort_unstable();
    for tool in &tools {
        let row = format!("data-tool=\"{tool}\"");
        assert_eq!(page.matches(&row).count(), 1, "{tool} once in the blast radius");
        let workflows = reach["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                w["startable"] == true
                    && w["tools"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["tool"] == *tool && t["reachable"] == true)
            })
            .count();
        let node = format!("data-name=\"{tool}\"");
        assert_eq!(page.matches(&node).count(), workflows, "{tool} drawn once per workflow");
    }
    assert!(page.contains("class=\"node tool secret\" data-name=\"secrets.read\""));
    assert!(page.contains("class=\"node tool prod\" data-name=\"deploy\""));
    assert!(page.contains("class=\"node tool write\" data-name=\"repo.push\""));
    // The blast radius lists the secret first, then prod, then write tools.
    let at = |tool: &str| page.find(&format!("data-tool=\"{tool}\"")).unwrap();
    assert!(at("secrets.read") < at("deploy") && at("deploy") < at("repo.push"));
    assert!(at("repo.push") < at("repo.read"));
}

/// A large policy is drawn whole, one graph per subject, and a tool with several allow paths
/// shows every one of them in full, however long: nothing is cut or folded into "+N more"
/// (the sensitive path used to be the one hidden).
#[test]
fn html_draws_every_path_in_full() {
    let mut text = String::new();
    for t in 0..12 {
        text.push_str(&format!("tool t{t}(env: \"dev\" | \"prod\", target: string) [x]\n"));
    }
    text.push_str("tool vault(name: string) [secret]\n");
    for r in 0..30 {
        text.push_str(&format!("role r{r} {{\n  may [x]\n  may vault\n}}\n"));
        text.push_str(&format!(
            "workflow w{r} {{\n  start by r{r}\n  allow [x] when env == \"dev\"\n  \
             allow vault when name matches \"ci/*\"\n  \
             allow vault when name in [\"prod/db\", \"prod/api\", \"prod/payments\", \
             \"prod/identity\", \"prod/search\"] and target_ok\n}}\n"
        ));
    }
    text = text.replace(" and target_ok", "");
    let dir = common::temp_dir("reach-html", "large");
    let file = dir.join("large.writ");
    std::fs::write(&file, text).unwrap();
    let r = writ(&["reach", "--policy", file.to_str().unwrap(), "--format", "html"]);
    assert_eq!(r.code, 0, "{}", transcript(&r));
    let page = &r.stdout;
    assert_eq!(page.matches("<svg ").count(), 30, "one graph per subject");
    assert_eq!(page.matches("class=\"node ").count(), 30 * (1 + 1 + 13));
    assert!(!page.contains("more)"), "nothing folded away");
    // The second path of `vault`, longer than a line, is there whole (wrapped at spaces).
    let drawn: String = page
        .split("<tspan")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split_once("</tspan>")))
        .map(|(line, _)| line.trim().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        drawn.contains(
            "• name in [&quot;prod/db&quot;, &quot;prod/api&quot;, &quot;prod/payments&quot;, \
             &quot;prod/identity&quot;, &quot;prod/search&quot;]"
        ),
        "{drawn}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Version 2 conditions stay residual (nothing about a command line, a path or the history is
/// known without a request) and print in writ syntax, with the denies that cut them.
#[test]
fn commands_paths_and_history_stay_residual() {
    let dev = role("tests/fixtures/v2/policy.writ", "dev");
    let condition = |t: &str| tool(&dev, "coding", t)["paths"][0]["condition"].clone();
    assert_eq!(
        condition("sh.run"),
        r#"command runs only [["git", "status"], ["ls", ...]] and not (command runs ["rm", ..., "-*r*", ...])"#
    );
    assert_eq!(condition("fs.read"), r#"file under "." and not (file under ".env")"#);
    assert_eq!(condition("deploy"), "calls(deploy within 1d) < 3");
    for t in ["sh.run", "fs.read", "deploy"] {
        assert_eq!(tool(&dev, "coding", t)["reachable"], true, "{t}");
    }
}
