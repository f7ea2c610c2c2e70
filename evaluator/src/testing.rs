//! Test helpers: a small builder for hand-written [`PolicyIr`] values, condition constructors,
//! and the two conformance policies of LANGUAGE.md, lowered by hand.

use std::collections::HashMap;

use crate::glob::Glob;
use crate::ir::*;
use crate::policy::Policy;

/// Builds a [`PolicyIr`] by name. Declarations must come before the rules that use them.
pub(crate) struct Ir {
    pub ir: PolicyIr,
    file: String,
    counters: HashMap<String, u32>,
}

impl Ir {
    pub fn new(file: &str) -> Ir {
        Ir {
            ir: PolicyIr {
                hash: "sha256:test".to_owned(),
                roles: Vec::new(),
                attributes: Vec::new(),
                contexts: Vec::new(),
                tools: Vec::new(),
                evidence: Vec::new(),
                workflows: Vec::new(),
                guardrails: RuleSetIr::default(),
            },
            file: file.to_owned(),
            counters: HashMap::new(),
        }
    }

    pub fn policy(&self) -> Policy {
        Policy::from_ir(self.ir.clone()).unwrap_or_else(|e| panic!("{e}"))
    }

    // --- declarations

    pub fn role(&mut self, name: &str, extends: &[&str]) -> &mut Self {
        let extends = extends.iter().map(|r| self.role_id(r)).collect();
        self.ir.roles.push(RoleIr { name: name.to_owned(), extends, entitlements: Vec::new() });
        self
    }

    pub fn attribute(&mut self, name: &str, ty: ValueType) -> &mut Self {
        self.ir.attributes.push(ValueDeclIr { name: name.to_owned(), ty });
        self
    }

    pub fn context(&mut self, name: &str, ty: ValueType) -> &mut Self {
        self.ir.contexts.push(ValueDeclIr { name: name.to_owned(), ty });
        self
    }

    pub fn tool(&mut self, name: &str, params: &[(&str, ValueType)], tags: &[&str]) -> &mut Self {
        self.ir.tools.push(ToolIr {
            name: name.to_owned(),
            params: params
                .iter()
                .map(|(n, ty)| ParamIr { name: (*n).to_owned(), ty: ty.clone() })
                .collect(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        });
        self
    }

    pub fn evidence(
        &mut self,
        name: &str,
        fields: &[(&str, ValueType)],
        by_human: bool,
        bound: bool,
    ) -> &mut Self {
        self.ir.evidence.push(EvidenceKindIr {
            name: name.to_owned(),
            fields: fields
                .iter()
                .map(|(n, ty)| ParamIr { name: (*n).to_owned(), ty: ty.clone() })
                .collect(),
            by_human,
            bound,
        });
        self
    }

    pub fn workflow(&mut self, name: &str, max_depth: u32, ttl_seconds: i64) -> &mut Self {
        self.ir.workflows.push(WorkflowIr {
            name: name.to_owned(),
            max_depth,
            ttl_seconds,
            starts: Vec::new(),
            allows: Vec::new(),
            rules: RuleSetIr::default(),
        });
        self
    }

    // --- rules. `at` is (line, column); `text` the rule as written.

    fn meta(&mut self, scope: Option<&str>, kind: &str, at: (u32, u32), text: &str) -> RuleMeta {
        let key = match scope {
            Some(scope) => format!("{scope}/{kind}"),
            None => kind.to_owned(),
        };
        let n = self.counters.entry(key.clone()).or_insert(0);
        *n += 1;
        RuleMeta {
            id: format!("{key}/{n}"),
            file: self.file.clone(),
            line: at.0,
            column: at.1,
            text: text.to_owned(),
        }
    }

    pub fn may(
        &mut self,
        at: (u32, u32),
        text: &str,
        role: &str,
        target: &str,
        condition: Option<Cond>,
    ) -> &mut Self {
        let meta = self.meta(Some(role), "may", at, text);
        let target = self.target(target);
        let r = self.role_id(role).index();
        self.ir.roles[r].entitlements.push(EntitlementIr { meta, target, condition });
        self
    }

    pub fn start(
        &mut self,
        at: (u32, u32),
        text: &str,
        workflow: &str,
        by: &[&str],
        condition: Option<Cond>,
        require: Vec<EvidenceRequirementIr>,
    ) -> &mut Self {
        let meta = self.meta(Some(workflow), "start", at, text);
        let by = by.iter().map(|r| self.role_id(r)).collect();
        self.wf(workflow).starts.push(StartRuleIr { meta, by, condition, require });
        self
    }

    pub fn allow(
        &mut self,
        at: (u32, u32),
        text: &str,
        workflow: &str,
        target: &str,
        condition: Option<Cond>,
        require: Vec<EvidenceRequirementIr>,
    ) -> &mut Self {
        let meta = self.meta(Some(workflow), "allow", at, text);
        let target = self.target(target);
        self.wf(workflow).allows.push(AllowRuleIr { meta, target, condition, require });
        self
    }

    pub fn deny(
        &mut self,
        at: (u32, u32),
        text: &str,
        workflow: Option<&str>,
        target: &str,
        condition: Option<Cond>,
        because: Option<&str>,
    ) -> &mut Self {
        let meta = self.meta(workflow, "deny", at, text);
        let target = self.target(target);
        self.rules(workflow).denies.push(DenyRuleIr {
            meta,
            target,
            condition,
            because: because.map(str::to_owned),
        });
        self
    }

    pub fn deny_start(
        &mut self,
        at: (u32, u32),
        text: &str,
        workflow: Option<&str>,
        condition: Option<Cond>,
        because: Option<&str>,
    ) -> &mut Self {
        let meta = self.meta(workflow, "deny_start", at, text);
        self.rules(workflow).deny_starts.push(DenyStartRuleIr {
            meta,
            condition,
            because: because.map(str::to_owned),
        });
        self
    }

    pub fn require_for(
        &mut self,
        at: (u32, u32),
        text: &str,
        workflow: Option<&str>,
        require: Vec<EvidenceRequirementIr>,
        target: &str,
        condition: Option<Cond>,
    ) -> &mut Self {
        let meta = self.meta(workflow, "require", at, text);
        let target = self.target(target);
        self.rules(workflow).requires.push(RequireForRuleIr { meta, target, condition, require });
        self
    }

    fn wf(&mut self, name: &str) -> &mut WorkflowIr {
        self.ir
            .workflows
            .iter_mut()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no workflow {name}"))
    }

    fn rules(&mut self, workflow: Option<&str>) -> &mut RuleSetIr {
        match workflow {
            Some(w) => &mut self.wf(w).rules,
            None => &mut self.ir.guardrails,
        }
    }

    // --- names

    pub fn role_id(&self, name: &str) -> RoleId {
        self.ir
            .roles
            .iter()
            .position(|r| r.name == name)
            .and_then(RoleId::at)
            .unwrap_or_else(|| panic!("no role {name}"))
    }

    pub fn evidence_id(&self, name: &str) -> EvidenceId {
        self.ir
            .evidence
            .iter()
            .position(|e| e.name == name)
            .and_then(EvidenceId::at)
            .unwrap_or_else(|| panic!("no evidence {name}"))
    }

    /// `X.ATTR`
    pub fn attr(&self, who: Who, name: &str) -> Operand {
        let id = self
            .ir
            .attributes
            .iter()
            .position(|a| a.name == name)
            .unwrap_or_else(|| panic!("no attribute {name}"));
        Operand::Attribute(who, AttributeId(id as u32))
    }

    /// `context.NAME`
    pub fn ctx(&self, name: &str) -> Operand {
        let id = self
            .ir
            .contexts
            .iter()
            .position(|a| a.name == name)
            .unwrap_or_else(|| panic!("no context {name}"));
        Operand::Context(ContextId(id as u32))
    }

    /// `X has role R`
    pub fn has_role(&self, who: Who, role: &str) -> Cond {
        Cond::HasRole(who, self.role_id(role))
    }

    /// Expands a target as the compiler does: `deploy`, `repo.*`, `[write, prod]`, `*`.
    pub fn target(&self, text: &str) -> TargetIr {
        let tools: Vec<ToolId> = if let Some(tags) = text.strip_prefix('[') {
            let tags: Vec<&str> = tags.trim_end_matches(']').split(',').map(str::trim).collect();
            self.ir
                .tools
                .iter()
                .enumerate()
                .filter(|(_, t)| t.tags.iter().any(|tag| tags.contains(&tag.as_str())))
                .map(|(i, _)| ToolId(i as u32))
                .collect()
        } else {
            let glob = Glob::new(text);
            self.ir
                .tools
                .iter()
                .enumerate()
                .filter(|(_, t)| glob.is_match(&t.name))
                .map(|(i, _)| ToolId(i as u32))
                .collect()
        };
        assert!(!tools.is_empty(), "target {text} matches no tool");
        TargetIr { tools, text: text.to_owned() }
    }

    /// `[N] NAME [by ROLE]`
    pub fn need(&self, spec: &str) -> EvidenceRequirementIr {
        self.need_with(spec, &[])
    }

    /// `[N] NAME(FIELD: VALUE, ...) [by ROLE]`
    pub fn need_with(&self, spec: &str, fields: &[(&str, Value)]) -> EvidenceRequirementIr {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let (count, rest) = match words.first().and_then(|w| w.parse::<u32>().ok()) {
            Some(n) => (n, &words[1..]),
            None => (1, &words[..]),
        };
        let (name, by) = match rest {
            [name] => (*name, None),
            [name, "by", role] => (*name, Some(self.role_id(role))),
            _ => panic!("bad requirement {spec}"),
        };
        EvidenceRequirementIr {
            evidence: self.evidence_id(name),
            count,
            by,
            fields: fields.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect(),
        }
    }
}

// --- condition constructors

pub(crate) fn s(v: &str) -> Operand {
    Operand::Literal(Value::Str(v.to_owned()))
}
pub(crate) fn i(v: i64) -> Operand {
    Operand::Literal(Value::Int(v))
}
pub(crate) fn b(v: bool) -> Operand {
    Operand::Literal(Value::Bool(v))
}
pub(crate) fn dur(seconds: i64) -> Operand {
    Operand::Literal(Value::Duration(seconds))
}
pub(crate) fn list(items: &[&str]) -> Operand {
    Operand::Literal(Value::StringList(items.iter().map(|s| (*s).to_owned()).collect()))
}
pub(crate) fn kind(k: PrincipalKind) -> Operand {
    Operand::Literal(Value::Kind(k))
}
pub(crate) fn arg(name: &str) -> Operand {
    Operand::Arg(name.to_owned())
}
pub(crate) fn eq(a: Operand, b: Operand) -> Cond {
    Cond::Compare(CmpOp::Eq, a, b)
}
pub(crate) fn cmp(op: CmpOp, a: Operand, b: Operand) -> Cond {
    Cond::Compare(op, a, b)
}
pub(crate) fn not(c: Cond) -> Cond {
    Cond::Not(Box::new(c))
}
pub(crate) fn and(items: Vec<Cond>) -> Cond {
    Cond::And(items)
}
pub(crate) fn or(items: Vec<Cond>) -> Cond {
    Cond::Or(items)
}
pub(crate) fn matches(op: Operand, glob: &str) -> Cond {
    Cond::Matches(op, glob.to_owned())
}

// --- the conformance policies

/// `tests/conformance/engineering/policy.writ`, lowered by hand.
pub(crate) fn engineering() -> Ir {
    use PrincipalKind::*;
    use ValueType as T;
    use Who::*;
    let mut p = Ir::new("policy.writ");
    p.role("engineer", &[])
        .role("senior_engineer", &["engineer"])
        .role("release_manager", &["senior_engineer"])
        .role("security_reviewer", &[])
        .role("platform_service", &[])
        .attribute("team", T::String)
        .attribute("clearance", T::Int)
        .context("business_hours", T::Bool)
        .tool("repo.read", &[("repo", T::String)], &[])
        .tool(
            "repo.push",
            &[("repo", T::String), ("branch", T::String), ("files", T::StringList)],
            &["write"],
        )
        .tool("ci.run", &[("pipeline", T::String)], &[])
        .tool(
            "deploy",
            &[("env", T::Enum(vec!["staging".into(), "prod".into()])), ("service", T::String)],
            &["write", "prod"],
        )
        .tool("secrets.read", &[("name", T::String)], &["secret"])
        .tool("http.get", &[("host", T::String)], &["network"])
        .evidence("tests_passed", &[], false, false)
        .evidence("signed_commit", &[], false, false)
        .evidence("approval", &[], true, false)
        .evidence("ticket", &[("project", T::String)], false, false);

    p.may((5, 3), "may repo.*", "engineer", "repo.*", None)
        .may((6, 3), "may ci.run", "engineer", "ci.run", None)
        .may((7, 3), "may http.get", "engineer", "http.get", None)
        .may(
            (8, 3),
            "may deploy when env == \"staging\"",
            "engineer",
            "deploy",
            Some(eq(arg("env"), s("staging"))),
        )
        .may((12, 3), "may deploy", "senior_engineer", "deploy", None)
        .may(
            (17, 3),
            "may secrets.read when name matches \"release/*\"",
            "release_manager",
            "secrets.read",
            Some(matches(arg("name"), "release/*")),
        )
        .may((21, 3), "may secrets.read", "security_reviewer", "secrets.read", None)
        .may((26, 3), "may repo.*", "platform_service", "repo.*", None);
    let team = p.attr(Principal, "team");
    p.may(
        (27, 3),
        "may http.get when principal.team == \"platform\"",
        "platform_service",
        "http.get",
        Some(eq(team, s("platform"))),
    );

    p.workflow("dependency_bot", 2, 3600);
    p.start((49, 3), "start by engineer", "dependency_bot", &["engineer"], None, vec![]);
    let cond = and(vec![
        eq(Operand::Kind(Initiator), kind(Service)),
        eq(p.attr(Initiator, "team"), s("platform")),
    ]);
    p.start(
        (50, 3),
        "start when initiator.kind == service and initiator.team == \"platform\"",
        "dependency_bot",
        &[],
        Some(cond),
        vec![],
    );
    p.allow((54, 3), "allow repo.read", "dependency_bot", "repo.read", None, vec![]);
    let need = vec![p.need("tests_passed"), p.need("signed_commit")];
    p.allow(
        (55, 3),
        "allow repo.push when branch matches \"deps/*\" require tests_passed, signed_commit",
        "dependency_bot",
        "repo.push",
        Some(matches(arg("branch"), "deps/*")),
        need,
    );
    p.allow(
        (56, 3),
        "allow http.get when host in [\"crates.io\", \"static.crates.io\"]",
        "dependency_bot",
        "http.get",
        Some(Cond::In(arg("host"), list(&["crates.io", "static.crates.io"]))),
        vec![],
    );
    p.deny(
        (57, 3),
        "deny repo.push when branch == \"main\" because \"bots never push to main\"",
        Some("dependency_bot"),
        "repo.push",
        Some(eq(arg("branch"), s("main"))),
        Some("bots never push to main"),
    );
    p.deny(
        (58, 3),
        "deny repo.push when any files matches \".github/workflows/*\" because \"bots never edit CI definitions\"",
        Some("dependency_bot"),
        "repo.push",
        Some(Cond::AnyMatches(arg("files"), ".github/workflows/*".into())),
        Some("bots never edit CI definitions"),
    );

    p.workflow("release", 1, 1800);
    let need = vec![p.need_with("ticket", &[("project", Value::Str("REL".into()))])];
    p.start(
        (62, 3),
        "start by release_manager require ticket(project: \"REL\")",
        "release",
        &["release_manager"],
        None,
        need,
    );
    let need = vec![p.need("tests_passed")];
    p.allow(
        (65, 3),
        "allow deploy when env == \"staging\" require tests_passed",
        "release",
        "deploy",
        Some(eq(arg("env"), s("staging"))),
        need,
    );
    let need = vec![p.need("2 approval by security_reviewer"), p.need("tests_passed")];
    p.allow(
        (66, 3),
        "allow deploy when env == \"prod\" require 2 approval by security_reviewer, tests_passed",
        "release",
        "deploy",
        Some(eq(arg("env"), s("prod"))),
        need,
    );
    p.allow(
        (67, 3),
        "allow secrets.read when name matches \"release/*\"",
        "release",
        "secrets.read",
        Some(matches(arg("name"), "release/*")),
        vec![],
    );

    p.workflow("incident", 3, 4 * 3600);
    p.start(
        (72, 3),
        "start by security_reviewer",
        "incident",
        &["security_reviewer"],
        None,
        vec![],
    );
    let cond = eq(p.ctx("business_hours"), b(false));
    let need = vec![p.need("approval by security_reviewer")];
    p.start(
        (73, 3),
        "start by senior_engineer when context.business_hours == false require approval by security_reviewer",
        "incident",
        &["senior_engineer"],
        Some(cond),
        need,
    );
    p.allow((77, 3), "allow secrets.read", "incident", "secrets.read", None, vec![]);
    p.allow((78, 3), "allow repo.read", "incident", "repo.read", None, vec![]);
    p.allow(
        (79, 3),
        "allow deploy when env == \"prod\" and not (service in [\"billing\", \"auth\"])",
        "incident",
        "deploy",
        Some(and(vec![
            eq(arg("env"), s("prod")),
            not(Cond::In(arg("service"), list(&["billing", "auth"]))),
        ])),
        vec![],
    );
    let need = vec![p.need_with("ticket", &[("project", Value::Str("INC".into()))])];
    p.require_for(
        (80, 3),
        "require ticket(project: \"INC\") for deploy",
        Some("incident"),
        need,
        "deploy",
        None,
    );

    let cond =
        and(vec![matches(arg("name"), "prod/*"), not(p.has_role(Initiator, "security_reviewer"))]);
    p.deny(
        (84, 1),
        "deny [secret] when name matches \"prod/*\" unless initiator has role security_reviewer",
        None,
        "[secret]",
        Some(cond),
        None,
    );
    p.deny_start(
        (85, 1),
        "deny start when initiator.kind == agent because \"agents cannot start workflows on their own\"",
        None,
        Some(eq(Operand::Kind(Initiator), kind(Agent))),
        Some("agents cannot start workflows on their own"),
    );
    let need = vec![p.need("signed_commit")];
    p.require_for(
        (86, 1),
        "require signed_commit for [write] when depth > 1",
        None,
        need,
        "[write]",
        Some(cmp(CmpOp::Gt, Operand::Depth, i(1))),
    );
    p
}

/// `tests/conformance/edges/policy.writ`, lowered by hand.
pub(crate) fn edges() -> Ir {
    use PrincipalKind::*;
    use ValueType as T;
    use Who::*;
    let mut p = Ir::new("policy.writ");
    p.role("dev", &[])
        .role("ops", &["dev"])
        .role("auditor", &[])
        .attribute("level", T::Int)
        .attribute("site", T::String)
        .context("risk", T::Int)
        .tool("op.a", &[("x", T::String)], &["alpha"])
        .tool("op.b", &[("x", T::String), ("n", T::Int)], &["alpha", "beta"])
        .tool("op.c", &[("flag", T::Bool)], &["beta"])
        .tool("op.d", &[("x", T::String)], &[])
        .tool("op.e", &[("x", T::String)], &[])
        .tool("op.f", &[("timeout", T::Duration)], &[])
        .evidence("check", &[], false, false)
        .evidence("review", &[], true, false)
        .evidence("signoff", &[], true, true);
    p.may((3, 3), "may op.a", "dev", "op.a", None)
        .may((4, 3), "may op.d", "dev", "op.d", None)
        .may((5, 3), "may op.e", "dev", "op.e", None)
        .may((6, 3), "may op.f", "dev", "op.f", None);
    let level = p.attr(Principal, "level");
    p.may(
        (7, 3),
        "may op.b when not principal.level == 3",
        "dev",
        "op.b",
        Some(not(eq(level, i(3)))),
    )
    .may((10, 3), "may op.*", "ops", "op.*", None);

    p.workflow("w", 2, 600);
    p.start((30, 3), "start by dev", "w", &["dev"], None, vec![]);
    let need = vec![p.need("2 check")];
    p.start(
        (31, 3),
        "start by auditor when caller.kind == human require 2 check",
        "w",
        &["auditor"],
        Some(eq(Operand::Kind(Caller), kind(Human))),
        need,
    );
    p.allow((35, 3), "allow op.a", "w", "op.a", None, vec![]);
    let need = vec![p.need("review by ops")];
    p.allow(
        (36, 3),
        "allow op.b when n > 3 or x == \"any\" require review by ops",
        "w",
        "op.b",
        Some(or(vec![cmp(CmpOp::Gt, arg("n"), i(3)), eq(arg("x"), s("any"))])),
        need,
    );
    p.allow(
        (37, 3),
        "allow op.c when flag == true",
        "w",
        "op.c",
        Some(eq(arg("flag"), b(true))),
        vec![],
    );
    let need = vec![p.need("signoff by ops")];
    p.allow((38, 3), "allow op.d require signoff by ops", "w", "op.d", None, need);
    let need = vec![p.need("2 review by ops")];
    p.allow((39, 3), "allow op.e require 2 review by ops", "w", "op.e", None, need);
    let need = vec![p.need("check")];
    p.allow((40, 3), "allow op.e require check", "w", "op.e", None, need);
    p.allow(
        (41, 3),
        "allow op.f when timeout <= 30m",
        "w",
        "op.f",
        Some(cmp(CmpOp::Le, arg("timeout"), dur(1800))),
        vec![],
    );
    let cond = and(vec![cmp(CmpOp::Ge, p.ctx("risk"), i(5)), not(p.has_role(Initiator, "ops"))]);
    p.deny(
        (42, 3),
        "deny [beta] when context.risk >= 5 unless initiator has role ops",
        Some("w"),
        "[beta]",
        Some(cond),
        None,
    );
    p
}
