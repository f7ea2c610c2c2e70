//! Hover text (Markdown): what a name is, or what a rule does, in words.

use writ_grammar::ast::{
    Doc, EvidenceRequirement, Item, Rule, RuleKind, Span, Target, TargetKind, ToolDecl, TypeKind,
    WorkflowItem,
};

use super::lex::{Token, TokenKind, keyword_at, tokens, type_at};
use super::{Analysis, SymbolKind};

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn doc_text(doc: Option<&Doc>) -> Option<String> {
    doc.map(Doc::text).filter(|d| !d.trim().is_empty())
}

fn block(code: &str) -> String {
    format!("```writ\n{code}\n```")
}

pub(crate) fn type_text(ty: &TypeKind) -> String {
    match ty {
        TypeKind::String => "string".into(),
        TypeKind::Int => "int".into(),
        TypeKind::Bool => "bool".into(),
        TypeKind::Duration => "duration".into(),
        TypeKind::StringList => "[string]".into(),
        TypeKind::Command => "command".into(),
        TypeKind::Path => "path".into(),
        TypeKind::Enum(values) => {
            values.iter().map(|v| writ_grammar::quote(&v.value)).collect::<Vec<_>>().join(" | ")
        }
        TypeKind::Unknown(id) => id.name.clone(),
    }
}

const RUNS: &str = "```writ\nCOMMAND runs [ITEM, ...]\n```\nTrue if the pattern matches some \
simple command of the command line, starting at its first word or at any later word that is not \
dynamic (so `[\"rm\", ...]` also sees `sudo rm -rf /`, `xargs rm` and `/bin/rm`). It casts wide: \
meant for denies.";
const RUNS_ONLY: &str = "```writ\nCOMMAND runs only [[ITEM, ...], ...]\n```\nTrue if every \
simple command of the command line, from its first word, is matched word for word by one of the \
patterns (a line with no simple command runs only what is allowed). It admits exactly what is \
listed: meant for allows.";
const UNDER: &str = "```writ\nPATH under \"DIR\"\n```\nTrue if the resolved path is DIR or \
lies inside it. A relative DIR is resolved against the request's `cwd` like the path itself \
(`under \".\"` is the working directory), lexically: symbolic links are not followed.";
const CALLS: &str = "```writ\ncalls(TARGET)\n```\nAn integer: how many calls in the run's \
history (the request's `history`) the target (a tool, a glob or tags) matches. Unknown when \
the request has no history.";
const WITHIN: &str = "```writ\ncalls(TARGET within DURATION)\n```\nCounts only the calls made \
within DURATION before the request's `time`. Unknown without a `time`, or when a call the \
target matches has no `at`.";
const REST: &str = "```writ\n...\n```\nIn a command pattern: any number of words, zero \
included, dynamic words too.";
const ASSERT: &str = "```writ\nassert \"NAME\" { never ... }\n```\nClaims about the policy \
that `writ verify` proves for every possible request, or refutes with a counterexample request. \
`writ test` checks them too.";
const NEVER_ALLOW: &str = "```writ\nnever allow [via WORKFLOW] TARGET [when C]\n```\nNo call \
of a tool the target matches (through WORKFLOW, or any workflow) for which C is true is \
decided `allow`.";
const NEVER_START: &str = "```writ\nnever start WORKFLOW [when C]\n```\nNo start of the \
workflow for which C is true is decided `allow`.";
const GIVEN: &str = "```writ\ngiven(ITEM)\n```\nIn an assertion: an integer, the number of \
distinct givers (or items, for kinds without givers) in the request's evidence that count for \
the requirement ITEM, written as in `require` (`given(approval by lead)`).";
const COMMAND: &str = "```writ\ncommand\n```\nA shell command line (a JSON string), parsed \
as bash does: conditions see its simple commands through `runs` and `runs only`, never its \
text (`==` and `matches` are type errors).";
const PATH: &str = "```writ\npath\n```\nA file path (a JSON string), resolved against the \
request's `cwd` before any condition sees it. Compared like a string in resolved form, and \
with `under`.";
const AT: &str = "```writ\nat \"TIME\"\n```\nIn a test request: the request's `time` \
(RFC 3339). In an `after` entry: when that call was made.";
const AFTER: &str = "```writ\nafter [TOOL [at \"TIME\" | DURATION ago], ...]\n```\nIn a test \
request: the run's history, oldest first. Without it the request has no history, and \
`calls(...)` is unknown.";
const AGO: &str = "```writ\nDURATION ago\n```\nIn an `after` entry: that long before the \
request's `at`.";

/// The short documentation of the word or token `toks[i]`, for the keywords and types of
/// version 2 (the version 1 keywords hover as the rule they are in).
fn word_doc(text: &str, toks: &[Token], i: usize) -> Option<&'static str> {
    let t = toks.get(i)?;
    if t.kind == TokenKind::Rest {
        return Some(REST);
    }
    let word = t.text(text);
    if type_at(text, toks, i) {
        return match word {
            "command" => Some(COMMAND),
            "path" => Some(PATH),
            _ => None,
        };
    }
    if !keyword_at(text, toks, i) {
        return None;
    }
    let next = toks.get(i + 1).map(|t| t.text(text));
    let prev = i.checked_sub(1).and_then(|p| toks.get(p)).map(|t| t.text(text));
    match word {
        "runs" if next == Some("only") => Some(RUNS_ONLY),
        "runs" => Some(RUNS),
        "only" if prev == Some("runs") => Some(RUNS_ONLY),
        "under" => Some(UNDER),
        // `calls deploy(...)` in a test request is the request itself, not a count.
        "calls" if next == Some("(") => Some(CALLS),
        "within" => Some(WITHIN),
        "assert" => Some(ASSERT),
        "never" if next == Some("start") => Some(NEVER_START),
        "never" if next == Some("allow") => Some(NEVER_ALLOW),
        "allow" if prev == Some("never") => Some(NEVER_ALLOW),
        "start" if prev == Some("never") => Some(NEVER_START),
        "given" => Some(GIVEN),
        "at" => Some(AT),
        "after" => Some(AFTER),
        "ago" => Some(AGO),
        _ => None,
    }
}

pub(crate) fn tool_signature(t: &ToolDecl) -> String {
    let mut s = format!("tool {}", t.name.text);
    if let Some(params) = &t.params {
        let ps: Vec<String> =
            params.iter().map(|p| format!("{}: {}", p.name.name, type_text(&p.ty.kind))).collect();
        s.push_str(&format!("({})", ps.join(", ")));
    }
    if !t.tags.is_empty() {
        let tags: Vec<&str> = t.tags.iter().map(|t| t.name.as_str()).collect();
        s.push_str(&format!(" [{}]", tags.join(", ")));
    }
    s
}

/// Whether a target covers a tool.
pub(crate) fn target_covers(target: &TargetKind, tool: &ToolDecl) -> bool {
    match target {
        TargetKind::Tool(t) => t.text == tool.name.text,
        TargetKind::Glob(g) => writ_evaluator::Glob::new(g).is_match(&tool.name.text),
        TargetKind::All => true,
        TargetKind::Tags(tags) => tags.iter().any(|t| tool.tags.iter().any(|x| x.name == t.name)),
        TargetKind::Start => false,
    }
}

impl<'db> Analysis<'db> {
    fn snippet(&self, file: usize, span: Span) -> String {
        collapse(self.text(file).get(span.range()).unwrap_or(""))
    }

    fn tools(&self) -> Vec<&'db ToolDecl> {
        self.items()
            .filter_map(|(_, i)| match i {
                Item::Tool(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    fn role_decl(&self, name: &str) -> Option<(usize, &'db writ_grammar::ast::RoleDecl)> {
        self.items().find_map(|(f, i)| match i {
            Item::Role(r) if r.name.name == name => Some((f, r)),
            _ => None,
        })
    }

    /// Hover text for the name or rule at `offset`, with the span it describes.
    pub fn hover(&self, file: usize, offset: usize) -> Option<(Span, String)> {
        if let Some(occ) = self.occurrence_at(file, offset) {
            let text = match occ.kind {
                k if k.is_global() => self.describe_global(&occ.name),
                SymbolKind::Tag => Some(self.describe_tag(&occ.name)),
                SymbolKind::Argument => self.describe_argument(&occ.name, occ.owner.as_deref()),
                SymbolKind::Field => self.describe_field(&occ.name, occ.owner.as_deref()),
                _ => None,
            };
            if let Some(text) = text {
                return Some((occ.span, text));
            }
        }
        self.describe_assert_at(file, offset)
            .or_else(|| self.describe_word_at(file, offset))
            .or_else(|| self.describe_rule_at(file, offset))
    }

    /// An assertion's name at `offset`: its documentation and each claim in words.
    fn describe_assert_at(&self, file: usize, offset: usize) -> Option<(Span, String)> {
        let a = self.ast(file)?.items.iter().find_map(|i| match i {
            Item::Assert(a) if a.name.span.contains(offset) => Some(a),
            _ => None,
        })?;
        let mut parts = vec![block(&format!("assert {:?}", a.name.value))];
        parts.extend(doc_text(a.doc.as_ref()));
        let mut lines = Vec::new();
        for c in &a.claims {
            let line = match &c.kind {
                writ_grammar::ast::ClaimKind::NeverAllow { via, target } => {
                    let through = match via {
                        Some(w) => format!("through workflow `{}`", w.name),
                        None => "through any workflow".to_string(),
                    };
                    format!("- no call of {} {through} is allowed", self.describe_target(target))
                }
                writ_grammar::ast::ClaimKind::NeverStart { workflow } => {
                    format!("- no start of workflow `{}` is allowed", workflow.name)
                }
            };
            lines.push(format!(
                "{line}{}",
                self.condition_words(file, c.when.as_ref(), c.unless.as_ref())
            ));
        }
        parts.push(format!("**claims** (over every possible request):\n{}", lines.join("\n")));
        parts.push(
            "Proved or refuted with a counterexample by `writ verify`, `writ test` and the \
             \"verify this assertion\" code lens."
                .to_string(),
        );
        Some((a.name.span, parts.join("\n\n")))
    }

    /// A keyword, `...` or type of version 2 at `offset` (touching it from either side).
    fn describe_word_at(&self, file: usize, offset: usize) -> Option<(Span, String)> {
        let text = self.text(file);
        let toks = tokens(text);
        let inside = |t: &Token| (t.span.start as usize) <= offset && offset < t.span.end as usize;
        let i = toks
            .iter()
            .position(inside)
            .or_else(|| toks.iter().position(|t| t.span.end as usize == offset))?;
        let doc = word_doc(text, &toks, i)?;
        Some((toks.get(i)?.span, doc.to_string()))
    }

    fn describe_global(&self, name: &str) -> Option<String> {
        let (file, item) = self.items().find(|(_, i)| match i {
            Item::Role(d) => d.name.name == name,
            Item::Attribute(d) | Item::Context(d) => d.name.name == name,
            Item::Tool(d) => d.name.text == name,
            Item::Evidence(d) => d.name.name == name,
            Item::Workflow(d) => d.name.name == name,
            Item::Fixture(d) => d.name.name == name,
            _ => false,
        })?;
        let mut parts = Vec::new();
        match item {
            Item::Role(r) => {
                let mut head = format!("role {}", r.name.name);
                if !r.extends.is_empty() {
                    let e: Vec<&str> = r.extends.iter().map(|e| e.name.as_str()).collect();
                    head.push_str(&format!(" extends {}", e.join(", ")));
                }
                parts.push(block(&head));
                parts.extend(doc_text(r.doc.as_ref()));
                let chain = self.role_closure(name);
                if chain.len() > 1 {
                    let names: Vec<String> = chain.iter().map(|(_, r)| format!("`{r}`")).collect();
                    parts.push(format!("**holds:** {}", names.join(" → ")));
                }
                let mut lines = Vec::new();
                for (_, role) in &chain {
                    let Some((f, decl)) = self.role_decl(role) else { continue };
                    for e in decl.body.iter().flatten() {
                        let from =
                            if *role == name { String::new() } else { format!(" (from `{role}`)") };
                        lines.push(format!("- `{}`{from}", self.snippet(f, e.span)));
                    }
                }
                if lines.is_empty() {
                    parts.push("**entitlements:** none".into());
                } else {
                    parts.push(format!("**entitlements:**\n{}", lines.join("\n")));
                }
            }
            Item::Attribute(d) | Item::Context(d) => {
                let what = if matches!(item, Item::Attribute(_)) { "attribute" } else { "context" };
                parts.push(block(&format!("{what} {}: {}", d.name.name, type_text(&d.ty.kind))));
                parts.extend(doc_text(d.doc.as_ref()));
            }
            Item::Tool(t) => {
                parts.push(block(&tool_signature(t)));
                parts.extend(doc_text(t.doc.as_ref()));
                if !t.tags.is_empty() {
                    let tags: Vec<String> =
                        t.tags.iter().map(|t| format!("`{}`", t.name)).collect();
                    parts.push(format!("**tags:** {}", tags.join(", ")));
                }
            }
            Item::Evidence(e) => {
                parts.push(block(
                    &self
                        .snippet(file, e.span.to(e.name.span))
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("///"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ));
                parts.extend(doc_text(e.doc.as_ref()));
                match &e.fields {
                    Some(fields) if !fields.is_empty() => {
                        let fs: Vec<String> = fields
                            .iter()
                            .map(|p| format!("- `{}: {}`", p.name.name, type_text(&p.ty.kind)))
                            .collect();
                        parts.push(format!("**fields:**\n{}", fs.join("\n")));
                    }
                    _ => parts.push("**fields:** none".into()),
                }
                if e.by_human.is_some() {
                    parts.push("each item carries the human who gave it".into());
                }
                if e.bound.is_some() {
                    parts.push("counts only for the change it was given for (`bound`)".into());
                }
            }
            Item::Workflow(w) => {
                parts.push(block(&format!("workflow {}", w.name.name)));
                parts.extend(doc_text(w.doc.as_ref()));
                let mut counts = [0usize; 4];
                for i in &w.body {
                    match i {
                        WorkflowItem::Rule(r) => match r.kind {
                            RuleKind::Start { .. } => counts[0] += 1,
                            RuleKind::Allow { .. } => counts[1] += 1,
                            RuleKind::Deny { .. } | RuleKind::DenyStart { .. } => counts[2] += 1,
                            RuleKind::RequireFor { .. } => counts[3] += 1,
                        },
                        WorkflowItem::MaxDepth(n) => parts.push(format!("max_depth {}", n.value)),
                        WorkflowItem::Ttl(d) => parts.push(format!("ttl {}{}", d.amount, d.unit)),
                        WorkflowItem::Error(_) => {}
                    }
                }
                parts.push(format!(
                    "{} start, {} allow, {} deny and {} require rules",
                    counts[0], counts[1], counts[2], counts[3]
                ));
            }
            Item::Fixture(f) => {
                parts.push(block(&self.snippet(file, f.span)));
                parts.extend(doc_text(f.doc.as_ref()));
            }
            _ => return None,
        }
        Some(parts.join("\n\n"))
    }

    /// A role and every role it holds through `extends`, breadth first, without repeats.
    pub fn role_closure(&self, name: &str) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = vec![(0, name.to_string())];
        let mut i = 0;
        while let Some((depth, role)) = out.get(i).filter(|_| out.len() < 1000).cloned() {
            if let Some((_, decl)) = self.role_decl(&role) {
                for e in &decl.extends {
                    if !out.iter().any(|(_, r)| *r == e.name) {
                        out.push((depth + 1, e.name.clone()));
                    }
                }
            }
            i += 1;
        }
        out
    }

    fn describe_tag(&self, tag: &str) -> String {
        let tools: Vec<String> = self
            .tools()
            .into_iter()
            .filter(|t| t.tags.iter().any(|x| x.name == tag))
            .map(|t| format!("`{}`", t.name.text))
            .collect();
        if tools.is_empty() {
            format!("tag `{tag}`: no tool has it")
        } else {
            format!("tag `{tag}`, on {}", tools.join(", "))
        }
    }

    fn describe_argument(&self, name: &str, owner: Option<&str>) -> Option<String> {
        let tools = self.tools();
        let lines: Vec<String> = tools
            .iter()
            .filter(|t| owner.is_none_or(|o| o == t.name.text))
            .filter_map(|t| {
                let p = t.params.iter().flatten().find(|p| p.name.name == name)?;
                Some(
                    format!("{}: {}", p.name.name, type_text(&p.ty.kind))
                        + &format!("  // argument of {}", t.name.text),
                )
            })
            .collect();
        let types: Vec<&TypeKind> = tools
            .iter()
            .filter(|t| owner.is_none_or(|o| o == t.name.text))
            .filter_map(|t| t.params.iter().flatten().find(|p| p.name.name == name))
            .map(|p| &p.ty.kind)
            .collect();
        // What a command or path argument is, in a sentence (the type's hover without its
        // heading).
        let about = match types.first() {
            Some(TypeKind::Command) => COMMAND.split_once("```\n").map(|(_, s)| s),
            Some(TypeKind::Path) => PATH.split_once("```\n").map(|(_, s)| s),
            _ => None,
        };
        (!lines.is_empty()).then(|| {
            let mut out = block(&lines.join("\n"));
            if let Some(about) = about.filter(|_| types.windows(2).all(|w| w.first() == w.last())) {
                out.push_str("\n\n");
                out.push_str(about);
            }
            out
        })
    }

    fn describe_field(&self, name: &str, owner: Option<&str>) -> Option<String> {
        self.items().find_map(|(_, i)| match i {
            Item::Evidence(e) if owner.is_none_or(|o| o == e.name.name) => {
                let p = e.fields.iter().flatten().find(|p| p.name.name == name)?;
                Some(block(&format!(
                    "{}: {}  // field of evidence {}",
                    p.name.name,
                    type_text(&p.ty.kind),
                    e.name.name
                )))
            }
            _ => None,
        })
    }

    /// The rule (or entitlement) containing `offset`, and the workflow or role it is in.
    fn rule_at(&self, file: usize, offset: usize) -> Option<(Option<String>, &'db Rule)> {
        let item = self.item_at(file, offset)?;
        match item {
            Item::Rule(r) => Some((None, r)),
            Item::Workflow(w) => w.body.iter().find_map(|i| match i {
                WorkflowItem::Rule(r) if r.span.contains(offset) => {
                    Some((Some(w.name.name.clone()), r))
                }
                _ => None,
            }),
            _ => None,
        }
    }

    fn describe_target(&self, target: &Target) -> String {
        let tools: Vec<String> = self
            .tools()
            .into_iter()
            .filter(|t| target_covers(&target.kind, t))
            .map(|t| format!("`{}`", t.name.text))
            .collect();
        let written = match &target.kind {
            TargetKind::Tool(t) => return format!("`{}`", t.text),
            TargetKind::Glob(g) => format!("tools matching `{g}`"),
            TargetKind::All => "every tool".to_string(),
            TargetKind::Tags(tags) => {
                let t: Vec<String> = tags.iter().map(|t| format!("`{}`", t.name)).collect();
                format!("tools tagged {}", t.join(" or "))
            }
            TargetKind::Start => return "`start`".into(),
        };
        if tools.is_empty() {
            format!("{written} (none declared)")
        } else {
            format!("{written} ({})", tools.join(", "))
        }
    }

    fn describe_requirements(&self, file: usize, reqs: &[EvidenceRequirement]) -> String {
        let items: Vec<String> =
            reqs.iter().map(|r| format!("`{}`", self.snippet(file, r.span))).collect();
        items.join(" and ")
    }

    fn condition_words(
        &self,
        file: usize,
        when: Option<&writ_grammar::ast::Expr>,
        unless: Option<&writ_grammar::ast::Expr>,
    ) -> String {
        let mut s = String::new();
        if let Some(w) = when {
            s.push_str(&format!(" when `{}`", self.snippet(file, w.span)));
        }
        if let Some(u) = unless {
            s.push_str(&format!(" unless `{}`", self.snippet(file, u.span)));
        }
        s
    }

    fn describe_rule_at(&self, file: usize, offset: usize) -> Option<(Span, String)> {
        let (workflow, rule) = self.rule_at(file, offset)?;
        let scope = match &workflow {
            Some(w) => format!("workflow `{w}`"),
            None => "every workflow".to_string(),
        };
        let text = match &rule.kind {
            RuleKind::Start { by, when, unless, require } => {
                let who = if by.is_empty() {
                    "anyone".to_string()
                } else {
                    let r: Vec<String> = by.iter().map(|b| format!("`{}`", b.name)).collect();
                    format!("a holder of {}", r.join(" or "))
                };
                let mut s = format!("**start:** {who} may start {scope}");
                s.push_str(&self.condition_words(file, when.as_ref(), unless.as_ref()));
                if !require.is_empty() {
                    s.push_str(&format!(", given {}", self.describe_requirements(file, require)));
                }
                s
            }
            RuleKind::Allow { target, when, unless, require } => {
                let mut s = format!("**allow:** {scope} may call {}", self.describe_target(target));
                s.push_str(&self.condition_words(file, when.as_ref(), unless.as_ref()));
                if !require.is_empty() {
                    s.push_str(&format!(", given {}", self.describe_requirements(file, require)));
                }
                s.push_str(", if every human or service in the chain is entitled to it");
                s
            }
            RuleKind::Deny { target, when, unless, because } => {
                let mut s =
                    format!("**deny:** {scope} may never call {}", self.describe_target(target));
                s.push_str(&self.condition_words(file, when.as_ref(), unless.as_ref()));
                if when.is_some() || unless.is_some() {
                    s.push_str(" (or when that is unknown)");
                }
                if let Some(b) = because {
                    s.push_str(&format!(": \"{}\"", b.value));
                }
                s.push_str("; overrides every allow");
                s
            }
            RuleKind::DenyStart { when, unless, because, .. } => {
                let mut s = format!("**deny start:** nobody may start {scope}");
                s.push_str(&self.condition_words(file, when.as_ref(), unless.as_ref()));
                if let Some(b) = because {
                    s.push_str(&format!(": \"{}\"", b.value));
                }
                s
            }
            RuleKind::RequireFor { require, target, when, unless } => {
                let mut s = format!(
                    "**require:** in {scope}, every call of {} needs {}",
                    self.describe_target(target),
                    self.describe_requirements(file, require)
                );
                s.push_str(&self.condition_words(file, when.as_ref(), unless.as_ref()));
                s
            }
        };
        let mut text = text;
        if let Some(doc) = doc_text(rule.doc.as_ref()) {
            text = format!("{doc}\n\n{text}");
        }
        Some((rule.span, text))
    }
}
