//! The request stream: JSON requests in writ's schema, each with the outcome the scenario was
//! built to produce, mixing allows, denies by workflow rules, guardrail denies, delegation
//! (not entitled) denies and missing evidence (pending).

use serde_json::{Value as J, json};

use crate::rng::Rng;
use crate::scenario::{Scenario, Unit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Expect {
    Allow,
    Deny,
    Pending,
}

impl Expect {
    pub fn allowed(self) -> bool {
        self == Expect::Allow
    }
}

/// What a request is meant to exercise, for coverage counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Allow,
    DenyByRule,
    Guardrail,
    NotEntitled,
    MissingEvidence,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Allow,
        Group::DenyByRule,
        Group::Guardrail,
        Group::NotEntitled,
        Group::MissingEvidence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Allow => "allow",
            Group::DenyByRule => "deny by a rule (workflow deny, no allow, depth, start, ttl)",
            Group::Guardrail => "guardrail deny (top-level rule)",
            Group::NotEntitled => "not entitled (delegation)",
            Group::MissingEvidence => "missing evidence (pending)",
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenRequest {
    pub json: String,
    pub expect: Expect,
    pub group: Group,
    pub case: &'static str,
}

fn human(id: &str, roles: &[String], attrs: J) -> J {
    json!({"id": id, "kind": "human", "roles": roles, "attrs": attrs})
}

fn agent(id: &str) -> J {
    json!({"id": id, "kind": "agent"})
}

/// The people and services of a unit.
struct People<'a> {
    u: &'a Unit,
}

impl People<'_> {
    fn dev(&self) -> J {
        human(&format!("dev{}", self.u.k), &[self.u.role("dev")], json!({"org": "acme"}))
    }
    fn lead(&self, n: &str) -> J {
        human(&format!("lead{}{n}", self.u.k), &[self.u.role("lead")], json!({"org": "acme"}))
    }
    fn captain(&self, n: &str) -> J {
        human(
            &format!("cap{}{n}", self.u.k),
            &[self.u.role("captain")],
            json!({"org": "acme", "on_call": true}),
        )
    }
    fn captain_security(&self) -> J {
        human(
            &format!("capsec{}", self.u.k),
            &[self.u.role("captain"), "security".into()],
            json!({"org": "acme"}),
        )
    }
    fn run(&self, n: usize) -> J {
        agent(&format!("{}/run-{n}", self.u.workflow()))
    }
}

fn ci(org: &str) -> J {
    json!({"id": format!("ci-{org}"), "kind": "service", "roles": ["ci_service"], "attrs": {"org": org}})
}

fn approval(by: &J) -> J {
    json!({"kind": "approval", "by": by})
}

fn tests() -> J {
    json!({"kind": "tests_passed"})
}

fn call(u: &Unit, tool: &str, args: J, chain: Vec<J>, evidence: Vec<J>) -> J {
    json!({
        "action": "call",
        "workflow": u.workflow(),
        "tool": tool,
        "args": args,
        "chain": chain,
        "evidence": evidence,
        "context": {"freeze": false},
    })
}

fn start(u: &Unit, chain: Vec<J>, evidence: Vec<J>) -> J {
    json!({"action": "start", "workflow": u.workflow(), "chain": chain, "evidence": evidence})
}

fn ticket(project: &str) -> J {
    json!({"kind": "ticket", "fields": {"project": project}})
}

const CASES: usize = 40;

/// Generates `n` requests over the scenario's units.
pub fn generate(s: &Scenario, n: usize, seed: u64) -> Vec<GenRequest> {
    let mut rng = Rng::new(seed ^ 0x5eed_5eed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u = &s.units[rng.below(s.units.len())];
        let other = &s.units[rng.below(s.units.len())];
        let case = rng.below(CASES);
        if let Some(r) = build(u, other, case, &mut rng) {
            out.push(r);
        }
    }
    out
}

/// Builds one request of case `case` in unit `u` (`other` is another unit, possibly `u`).
fn build(u: &Unit, other: &Unit, case: usize, rng: &mut Rng) -> Option<GenRequest> {
    use Expect::{Allow, Deny, Pending};
    use Group::{DenyByRule, Guardrail, MissingEvidence, NotEntitled};
    let p = People { u };
    let run = p.run(rng.below(1000));
    let repo = json!(format!("repo-{}", rng.below(50)));
    let branch = format!("{}task-{}", u.prefix, rng.below(1000));
    let deep = u.max_depth >= 2;
    let mk = |json: J, expect: Expect, group: Group, case: &'static str| {
        Some(GenRequest { json: json.to_string(), expect, group, case })
    };
    let push =
        |branch: &str, files: &[&str]| json!({"repo": repo, "branch": branch, "files": files});
    let prod = json!({"env": "prod", "service": "api"});
    let staging = json!({"env": "staging", "service": "api"});
    // Full evidence for a production deploy by captain `a`.
    let prod_evidence = |rng: &mut Rng| {
        let mut ev = vec![approval(&p.captain("b")), tests()];
        if u.approvals >= 2 {
            ev.push(approval(&p.captain("c")));
        }
        if u.prod_signed {
            ev.push(json!({"kind": "signed_commit"}));
        }
        if rng.chance(30) {
            ev.push(json!({"kind": "lint_passed"})); // undeclared kinds are ignored
        }
        ev
    };
    match case {
        // --- allows ---
        0 | 1 => mk(
            call(
                u,
                &u.tool("repo.read"),
                json!({"repo": repo, "path": "src/lib.rs"}),
                vec![p.dev(), run],
                vec![],
            ),
            Allow,
            Group::Allow,
            "dev reads a repo",
        ),
        2 | 3 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push(&branch, &["src/lib.rs"]),
                vec![p.dev(), run],
                vec![tests()],
            ),
            Allow,
            Group::Allow,
            "dev pushes to an agent branch with tests",
        ),
        4 => mk(
            call(u, &u.tool("deploy"), staging, vec![p.lead("a"), run], vec![tests()]),
            Allow,
            Group::Allow,
            "lead deploys to staging",
        ),
        5 | 6 => mk(
            call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], prod_evidence(rng)),
            Allow,
            Group::Allow,
            "captain deploys to prod with approvals",
        ),
        7 => mk(
            call(
                u,
                &u.tool("secrets.read"),
                json!({"name": "deploy/api-token"}),
                vec![p.captain("a"), run],
                vec![],
            ),
            Allow,
            Group::Allow,
            "captain reads a deploy secret",
        ),
        8 => mk(
            call(
                u,
                &u.tool("secrets.read"),
                json!({"name": "prod/db"}),
                vec![p.captain_security(), run],
                vec![],
            ),
            Allow,
            Group::Allow,
            "captain with security role reads a prod secret",
        ),
        9 => {
            let host = u.hosts[rng.below(u.hosts.len())].clone();
            mk(
                call(u, "http.get", json!({"host": host}), vec![p.dev(), run], vec![]),
                Allow,
                Group::Allow,
                "dev fetches an allowed host (shared tool)",
            )
        }
        10 => mk(
            call(u, "ci.run", json!({"pipeline": "test"}), vec![p.dev(), ci("acme"), run], vec![]),
            if deep { Allow } else { Deny },
            if deep { Group::Allow } else { DenyByRule },
            "dev delegates to the CI service",
        ),
        11 | 12 => mk(
            {
                let mut r = start(u, vec![p.dev()], vec![ticket(&u.project())]);
                if rng.chance(50) {
                    r["ttl"] = json!("30m");
                }
                r
            },
            Allow,
            Group::Allow,
            "dev starts with a ticket",
        ),
        13 if u.hotfix => mk(
            {
                let mut r = start(u, vec![p.captain("a")], vec![]);
                r["context"] = json!({"incident_open": true});
                r
            },
            Allow,
            Group::Allow,
            "on-call captain starts a hotfix during an incident",
        ),
        14 if u.review => {
            let subject = format!("sha256:{:016x}", rng.next_u64());
            let mut r = call(
                u,
                &u.tool("repo.merge"),
                json!({"repo": repo, "base": "main"}),
                vec![p.lead("a"), run],
                vec![
                    json!({"kind": "code_review", "by": p.lead("b"), "subject": subject}),
                    tests(),
                ],
            );
            r["subject"] = json!(subject);
            mk(r, Allow, Group::Allow, "lead merges with a review of this change")
        }
        15 if deep => mk(
            call(
                u,
                &u.tool("repo.push"),
                push(&branch, &["src/lib.rs"]),
                vec![p.dev(), run, p.run(9999)],
                vec![tests(), json!({"kind": "signed_commit"})],
            ),
            Allow,
            Group::Allow,
            "sub-agent pushes with a signed commit",
        ),
        // --- denies by rule ---
        16 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push(&branch, &["CODEOWNERS", "src/lib.rs"]),
                vec![p.dev(), run],
                vec![tests()],
            ),
            Deny,
            DenyByRule,
            "push that edits CODEOWNERS (workflow deny)",
        ),
        17 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push("main", &["src/lib.rs"]),
                vec![p.lead("a"), run],
                vec![tests()],
            ),
            Deny,
            DenyByRule,
            "push to main (workflow deny)",
        ),
        18 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push("feature/x", &["src/lib.rs"]),
                vec![p.dev(), run],
                vec![tests()],
            ),
            Deny,
            DenyByRule,
            "push to a branch no rule allows",
        ),
        19 => {
            // Another unit's tool (or an undeclared one in a one-unit policy).
            let tool =
                if other.k != u.k { other.tool("repo.read") } else { "s999999.repo.read".into() };
            mk(
                call(u, &tool, json!({"repo": repo, "path": "x"}), vec![p.dev(), run], vec![]),
                Deny,
                DenyByRule,
                "a tool the workflow does not allow",
            )
        }
        20 => {
            let mut chain = vec![p.dev()];
            chain.extend((0..=u.max_depth).map(|i| p.run(i as usize)));
            mk(
                call(u, &u.tool("repo.read"), json!({"repo": repo, "path": "x"}), chain, vec![]),
                Deny,
                DenyByRule,
                "delegation deeper than max_depth",
            )
        }
        21 => {
            let outsider = if other.k != u.k {
                People { u: other }.lead("a")
            } else {
                human("sec", &["security".into()], json!({}))
            };
            mk(
                start(u, vec![outsider], vec![ticket(&u.project())]),
                Deny,
                DenyByRule,
                "start by a role no start rule names",
            )
        }
        22 => {
            let mut r = start(u, vec![p.dev()], vec![ticket(&u.project())]);
            r["ttl"] = json!("3d");
            mk(r, Deny, DenyByRule, "start asking for a ttl beyond the workflow's")
        }
        23 => mk(
            call(u, &u.tool("repo.read"), json!({"repo": repo, "path": "x"}), vec![run], vec![]),
            Deny,
            DenyByRule,
            "nobody accountable in the chain",
        ),
        // --- guardrails ---
        24 => mk(
            call(
                u,
                &u.tool("secrets.read"),
                json!({"name": "prod/db"}),
                vec![p.captain("a"), run],
                vec![],
            ),
            Deny,
            Guardrail,
            "captain reads a prod secret without the security role",
        ),
        25 => {
            let mut r =
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], prod_evidence(rng));
            r["context"] = json!({"freeze": true});
            mk(r, Deny, Guardrail, "prod deploy during a change freeze")
        }
        26 => {
            let mut r =
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], prod_evidence(rng));
            r["context"] = json!({});
            mk(r, Deny, Guardrail, "prod deploy with the freeze flag unknown (fails closed)")
        }
        27 => mk(
            start(u, vec![p.run(1), p.dev()], vec![ticket(&u.project())]),
            Deny,
            Guardrail,
            "an agent starts a workflow",
        ),
        // --- not entitled ---
        28 => mk(
            call(u, &u.tool("deploy"), staging, vec![p.dev(), run], vec![tests()]),
            Deny,
            NotEntitled,
            "dev's agent deploys (workflow allows, dev not entitled)",
        ),
        29 => mk(
            call(
                u,
                &u.tool("secrets.read"),
                json!({"name": "deploy/api-token"}),
                vec![p.dev(), run],
                vec![],
            ),
            Deny,
            NotEntitled,
            "dev's agent reads a deploy secret",
        ),
        30 => mk(
            call(u, "ci.run", json!({"pipeline": "lint"}), vec![p.dev(), ci("ext"), run], vec![]),
            Deny,
            if deep { NotEntitled } else { DenyByRule },
            "an external CI service in the chain",
        ),
        // --- missing evidence ---
        31 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push(&branch, &["src/lib.rs"]),
                vec![p.dev(), run],
                vec![],
            ),
            Pending,
            MissingEvidence,
            "push without tests",
        ),
        32 => {
            // One approval short; the same captain approving twice counts once.
            let mut ev = vec![tests(), json!({"kind": "signed_commit"})];
            if u.approvals >= 2 {
                ev.push(approval(&p.captain("b")));
                ev.push(approval(&p.captain("b")));
            }
            mk(
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], ev),
                Pending,
                MissingEvidence,
                "too few distinct approvals",
            )
        }
        33 => {
            let mut ev = vec![approval(&p.captain("a")), tests(), json!({"kind": "signed_commit"})];
            if u.approvals >= 2 {
                ev.push(approval(&p.captain("b")));
            }
            mk(
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], ev),
                Pending,
                MissingEvidence,
                "self-approval does not count",
            )
        }
        34 => {
            let ev = vec![
                approval(&p.lead("a")),
                approval(&p.lead("b")),
                tests(),
                json!({"kind": "signed_commit"}),
            ];
            mk(
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], ev),
                Pending,
                MissingEvidence,
                "approvals by non-captains",
            )
        }
        35 => {
            let svc = json!({"id": "deploy-bot", "kind": "service", "roles": [u.role("captain")]});
            let mut ev = vec![approval(&svc), tests(), json!({"kind": "signed_commit"})];
            if u.approvals >= 2 {
                ev.push(approval(&p.captain("b")));
            }
            mk(
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], ev),
                Pending,
                MissingEvidence,
                "approval by a service does not count",
            )
        }
        36 => mk(
            call(
                u,
                &u.tool("repo.push"),
                push(&branch, &["src/lib.rs"]),
                vec![p.dev(), run, p.run(9999)],
                vec![tests()],
            ),
            if deep { Pending } else { Deny },
            if deep { MissingEvidence } else { DenyByRule },
            "sub-agent write without a signed commit (guardrail require)",
        ),
        37 => {
            let ev = if rng.chance(50) { vec![] } else { vec![ticket("OTHER")] };
            mk(
                start(u, vec![p.dev()], ev),
                Pending,
                MissingEvidence,
                "start without the right ticket",
            )
        }
        38 if u.review => {
            let mut r = call(
                u,
                &u.tool("repo.merge"),
                json!({"repo": repo, "base": "main"}),
                vec![p.lead("a"), run],
                vec![
                    json!({"kind": "code_review", "by": p.lead("b"), "subject": "sha256:other"}),
                    tests(),
                ],
            );
            r["subject"] = json!("sha256:this");
            mk(r, Pending, MissingEvidence, "review given for another change")
        }
        38 if u.prod_signed => {
            let ev = vec![approval(&p.captain("b")), approval(&p.captain("c")), tests()];
            mk(
                call(u, &u.tool("deploy"), prod, vec![p.captain("a"), run], ev),
                Pending,
                MissingEvidence,
                "prod deploy without a signed commit",
            )
        }
        39 => {
            // Captains hold dev through `extends`, so the ticket start rule applies: pending.
            let mut r = start(u, vec![p.captain("a")], vec![]);
            r["context"] = json!({"incident_open": false});
            mk(r, Pending, MissingEvidence, "captain starts outside an incident without a ticket")
        }
        _ => None,
    }
}
