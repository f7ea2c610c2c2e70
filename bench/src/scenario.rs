//! The generator of agent-workflow policies at scale.
//!
//! A policy is a few global declarations and guardrails plus as many *units* as fit in the
//! requested number of rules. A unit is one team's slice of an organisation: its tools
//! (`sK.repo.read`, `sK.repo.push`, `sK.deploy`, `sK.secrets.read`, sometimes `sK.repo.merge`),
//! a chain of roles with `extends` (`captain_K extends lead_K extends dev_K extends staff`) and
//! one workflow `wf_K` with start rules, allows with argument conditions and evidence, a deny
//! and sometimes a `require ... for`. Units vary by seed (branch prefix, approval count,
//! `max_depth`, `ttl`, a break-glass start, a merge tool with bound code review, a signed-commit
//! requirement on production deploys, allowed hosts). The shared tools `ci.run` and `http.get`
//! are allowed by every workflow and entitled to every unit's developers, so their entitlement
//! lists grow with the policy. The policy is padded with redundant allows to hit the requested
//! rule count exactly (from 100 rules up; the smallest complete scenario has about 26 rules).

use crate::model::{
    Allow, Cond, Condition, Deny, DenyStart, EvidenceKind, Kind, May, Operand, PolicyModel,
    RequireFor, Requirement, Role, RuleSet, Start, Target, Tool, Type, Who, Workflow,
};
use crate::rng::Rng;

/// What the request generator needs to know about a unit.
#[derive(Clone, Debug)]
pub struct Unit {
    pub k: usize,
    /// Branch prefix agents may push to: `agent/`, `bot/` or `deps/`.
    pub prefix: &'static str,
    /// How many captains must approve a production deploy (1 or 2).
    pub approvals: u32,
    pub max_depth: u32,
    pub ttl_seconds: i64,
    /// A second start rule: `start by captain_K when context.incident_open and initiator.on_call`.
    pub hotfix: bool,
    /// A merge tool with `require code_review by lead_K` (a `bound` kind).
    pub review: bool,
    /// `require signed_commit for sK.deploy when env == "prod"`.
    pub prod_signed: bool,
    /// Hosts `http.get` may reach in this unit.
    pub hosts: Vec<String>,
}

impl Unit {
    pub fn tool(&self, name: &str) -> String {
        format!("s{}.{name}", self.k)
    }

    pub fn workflow(&self) -> String {
        format!("wf_{}", self.k)
    }

    pub fn role(&self, name: &str) -> String {
        format!("{name}_{}", self.k)
    }

    pub fn project(&self) -> String {
        format!("P{}", self.k)
    }
}

/// A generated policy and what its requests need to know.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The size asked for.
    pub nominal_rules: usize,
    pub seed: u64,
    pub model: PolicyModel,
    pub units: Vec<Unit>,
}

impl Scenario {
    pub fn rules(&self) -> usize {
        self.model.rule_count()
    }
}

pub const BRANCH_PREFIXES: [&str; 3] = ["agent/", "bot/", "deps/"];
pub const SHARED_HOSTS: [&str; 2] = ["crates.io", "registry.npmjs.org"];

fn arg(name: &str) -> Operand {
    Operand::Arg(name.into())
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn tool(name: &str, params: &[(&str, Type)], tags: &[&str]) -> Tool {
    Tool {
        name: name.into(),
        params: params.iter().map(|(n, t)| ((*n).to_owned(), t.clone())).collect(),
        tags: strs(tags),
    }
}

fn may(target: Target, condition: Condition) -> May {
    May { target, condition }
}

fn allow(target: Target, condition: Condition, require: Vec<Requirement>) -> Allow {
    Allow { target, condition, require }
}

/// The global part: declarations, the roles every unit builds on, and the guardrails.
fn global() -> PolicyModel {
    let mut m = PolicyModel {
        attributes: vec![("org".into(), Type::Str), ("on_call".into(), Type::Bool)],
        contexts: vec![("freeze".into(), Type::Bool), ("incident_open".into(), Type::Bool)],
        evidence: vec![
            EvidenceKind {
                name: "tests_passed".into(),
                by_human: false,
                bound: false,
                fields: vec![],
            },
            EvidenceKind {
                name: "signed_commit".into(),
                by_human: false,
                bound: false,
                fields: vec![],
            },
            EvidenceKind { name: "approval".into(), by_human: true, bound: false, fields: vec![] },
            EvidenceKind {
                name: "code_review".into(),
                by_human: true,
                bound: true,
                fields: vec![],
            },
            EvidenceKind {
                name: "ticket".into(),
                by_human: false,
                bound: false,
                fields: vec!["project".into()],
            },
        ],
        tools: vec![
            tool("ci.run", &[("pipeline", Type::Str)], &[]),
            tool("http.get", &[("host", Type::Str)], &["network"]),
        ],
        ..PolicyModel::default()
    };
    m.roles.push(Role {
        name: "staff".into(),
        extends: vec![],
        mays: vec![may(
            Target::Tool("ci.run".into()),
            Condition::when(Cond::In(arg("pipeline"), strs(&["test", "lint", "build"]))),
        )],
    });
    m.roles.push(Role {
        name: "security".into(),
        extends: vec![],
        mays: vec![may(Target::Tag("secret".into()), Condition::always())],
    });
    m.roles.push(Role {
        name: "ci_service".into(),
        extends: vec![],
        mays: vec![
            may(
                Target::Tool("ci.run".into()),
                Condition::when(Cond::EqStr(
                    Operand::Attr(Who::Principal, "org".into()),
                    "acme".into(),
                )),
            ),
            may(
                Target::Tool("http.get".into()),
                Condition::when(Cond::In(arg("host"), strs(&SHARED_HOSTS))),
            ),
        ],
    });
    m.guardrails = RuleSet {
        denies: vec![
            Deny {
                target: Target::Tag("secret".into()),
                condition: Condition::when(Cond::Prefix(arg("name"), "prod/".into()))
                    .unless(Cond::HasRole(Who::Initiator, "security".into())),
                because: "production secrets need a security reviewer".into(),
            },
            Deny {
                target: Target::Tag("prod".into()),
                condition: Condition::when(Cond::IsTrue(Operand::Context("freeze".into()))),
                because: "change freeze".into(),
            },
        ],
        deny_starts: vec![DenyStart {
            condition: Condition::when(Cond::KindIs(Who::Initiator, Kind::Agent)),
            because: "agents cannot start workflows on their own".into(),
        }],
        requires: vec![RequireFor {
            target: Target::Tag("write".into()),
            condition: Condition::when(Cond::Gt(Operand::Depth, 1)),
            require: vec![Requirement::plain("signed_commit")],
        }],
    };
    m
}

fn make_unit(k: usize, rng: &mut Rng) -> Unit {
    let mut hosts = strs(&SHARED_HOSTS);
    hosts.push(format!("h{k}.internal"));
    if rng.chance(50) {
        hosts.push(format!("mirror{k}.example"));
    }
    Unit {
        k,
        prefix: BRANCH_PREFIXES[rng.below(BRANCH_PREFIXES.len())],
        approvals: if rng.chance(60) { 2 } else { 1 },
        max_depth: if rng.chance(70) { 2 } else { 1 },
        ttl_seconds: *rng.pick(&[1800, 3600, 7200]),
        hotfix: rng.chance(40),
        review: rng.chance(50),
        prod_signed: rng.chance(30),
        hosts,
    }
}

/// Adds one unit's tools, roles and workflow to the model.
fn add_unit(m: &mut PolicyModel, u: &Unit) {
    let t = |name: &str| u.tool(name);
    let tt = |name: &str| Target::Tool(u.tool(name));
    let env = |v: &str| Cond::EqStr(arg("env"), v.into());
    m.tools.push(tool(&t("repo.read"), &[("repo", Type::Str), ("path", Type::Str)], &[]));
    m.tools.push(tool(
        &t("repo.push"),
        &[("repo", Type::Str), ("branch", Type::Str), ("files", Type::StrList)],
        &["write"],
    ));
    m.tools.push(tool(
        &t("deploy"),
        &[("env", Type::Enum(strs(&["staging", "prod"]))), ("service", Type::Str)],
        &["write", "prod"],
    ));
    m.tools.push(tool(&t("secrets.read"), &[("name", Type::Str)], &["secret"]));
    if u.review {
        m.tools.push(tool(
            &t("repo.merge"),
            &[("repo", Type::Str), ("base", Type::Str)],
            &["write", "prod"],
        ));
    }

    let (dev, lead, captain) = (u.role("dev"), u.role("lead"), u.role("captain"));
    m.roles.push(Role {
        name: dev.clone(),
        extends: vec!["staff".into()],
        mays: vec![
            may(tt("repo.read"), Condition::always()),
            may(
                tt("repo.push"),
                Condition::when(Cond::Not(Box::new(Cond::In(
                    arg("branch"),
                    strs(&["main", "release"]),
                )))),
            ),
            may(
                Target::Tool("http.get".into()),
                Condition::when(Cond::In(arg("host"), u.hosts.clone())),
            ),
        ],
    });
    let mut lead_mays = vec![
        may(tt("repo.push"), Condition::always()),
        may(tt("deploy"), Condition::when(env("staging"))),
    ];
    if u.review {
        lead_mays.push(may(tt("repo.merge"), Condition::always()));
    }
    m.roles.push(Role { name: lead.clone(), extends: vec![dev.clone()], mays: lead_mays });
    m.roles.push(Role {
        name: captain.clone(),
        extends: vec![lead.clone()],
        mays: vec![
            may(tt("deploy"), Condition::always()),
            may(tt("secrets.read"), Condition::always()),
        ],
    });

    let mut starts = vec![Start {
        by: Some(dev.clone()),
        condition: Condition::always(),
        require: vec![Requirement::field("ticket", "project", &u.project())],
    }];
    if u.hotfix {
        starts.push(Start {
            by: Some(captain.clone()),
            condition: Condition::when(Cond::And(vec![
                Cond::IsTrue(Operand::Context("incident_open".into())),
                Cond::IsTrue(Operand::Attr(Who::Initiator, "on_call".into())),
            ])),
            require: vec![],
        });
    }
    let tests = || Requirement::plain("tests_passed");
    let mut allows = vec![
        allow(tt("repo.read"), Condition::always(), vec![]),
        allow(
            tt("repo.push"),
            Condition::when(Cond::Prefix(arg("branch"), u.prefix.into())),
            vec![tests()],
        ),
        allow(tt("deploy"), Condition::when(env("staging")), vec![tests()]),
        allow(
            tt("deploy"),
            Condition::when(env("prod")),
            vec![Requirement::by(u.approvals, "approval", &captain), tests()],
        ),
        allow(
            tt("secrets.read"),
            Condition::when(Cond::Or(vec![
                Cond::Prefix(arg("name"), "deploy/".into()),
                Cond::Prefix(arg("name"), "prod/".into()),
            ])),
            vec![],
        ),
        allow(
            Target::Tool("ci.run".into()),
            Condition::when(Cond::In(arg("pipeline"), strs(&["test", "lint"]))),
            vec![],
        ),
        allow(
            Target::Tool("http.get".into()),
            Condition::when(Cond::In(arg("host"), u.hosts.clone())),
            vec![],
        ),
    ];
    if u.review {
        allows.push(allow(
            tt("repo.merge"),
            Condition::when(Cond::EqStr(arg("base"), "main".into())),
            vec![Requirement::by(1, "code_review", &lead), tests()],
        ));
    }
    let mut rules = RuleSet {
        denies: vec![Deny {
            target: tt("repo.push"),
            condition: Condition::when(Cond::Or(vec![
                Cond::EqStr(arg("branch"), "main".into()),
                Cond::Contains(arg("files"), "CODEOWNERS".into()),
            ])),
            because: "agents never push to main or edit CODEOWNERS".into(),
        }],
        ..RuleSet::default()
    };
    if u.prod_signed {
        rules.requires.push(RequireFor {
            target: tt("deploy"),
            condition: Condition::when(env("prod")),
            require: vec![Requirement::plain("signed_commit")],
        });
    }
    m.workflows.push(Workflow {
        name: u.workflow(),
        max_depth: u.max_depth,
        ttl_seconds: u.ttl_seconds,
        starts,
        allows,
        rules,
    });
}

/// Generates a policy of (at least, and from 100 rules up exactly) `rules` rules.
pub fn generate(rules: usize, seed: u64) -> Scenario {
    let mut rng = Rng::new(seed);
    let mut model = global();
    let mut units = Vec::new();
    loop {
        let unit = make_unit(units.len(), &mut rng);
        let mut alone = PolicyModel::default();
        add_unit(&mut alone, &unit);
        if !units.is_empty() && model.rule_count() + alone.rule_count() > rules {
            break;
        }
        add_unit(&mut model, &unit);
        units.push(unit);
    }
    // Pad with redundant allows (an unconditional allow of the same tool exists) round-robin.
    let mut i = 0;
    while model.rule_count() < rules {
        let w = i % model.workflows.len();
        let read = units[w].tool("repo.read");
        model.workflows[w].allows.push(allow(
            Target::Tool(read),
            Condition::when(Cond::EqStr(arg("repo"), format!("archive-{i}"))),
            vec![],
        ));
        i += 1;
    }
    Scenario { nominal_rules: rules, seed, model, units }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_exact_from_100_rules() {
        for n in [100, 1000] {
            assert_eq!(generate(n, 7).rules(), n);
        }
        let small = generate(10, 7);
        assert_eq!(small.units.len(), 1);
        assert!(small.rules() < 40);
    }

    #[test]
    fn deterministic() {
        let a = generate(100, 3);
        let b = generate(100, 3);
        assert_eq!(format!("{:?}", a.model), format!("{:?}", b.model));
    }
}
