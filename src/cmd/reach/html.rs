//! `writ reach --format html`: one self-contained page for an access reviewer (no external
//! program, no script, no network). It opens with the blast radius, a table of every reachable
//! tool (sensitive ones first: `secret`, `prod`, `write`) against every subject, then the
//! summary; then, per subject, its graph and the same tables as the Markdown report.
//!
//! Legible at a laptop's width (checked in headless Chromium by `tests/reach-html`): each
//! subject has its own graph, a tree subject -> workflows -> tools laid out in three columns
//! (`graph`) and inlined as SVG at its natural size (never scaled down). What a path needs is written
//! *inside* the node it leads to (a workflow's start conditions, each tool's allow paths, one
//! line each, wrapped, never cut and never folded into "+N more"), so no label can drift away
//! from its edge and no path, least of all a sensitive one, is hidden.

use std::fmt::Write as _;

use writ_compiler::reach::{self, Reach, Report};

use super::{longest, needs, path_cells, secrets, starts_as, subject_line, tag_counts};

/// Lines inside a node are wrapped at spaces past this many characters (never cut).
const WRAP: usize = 60;
/// The drawing's text is 13 px monospace (`STYLE`), whose advance is 0.6 em (7.8 px) in the
/// common monospace fonts (DejaVu Sans Mono, Liberation Mono, Menlo, Consolas); boxes are sized
/// for 8 px a character, so text fits them in any of these.
const CHAR_PX: f64 = 8.0;
const LINE_PX: f64 = 17.0;
/// Padding inside a node, gaps between columns, between nodes, and between one workflow's
/// tools and the next's.
const PAD_PX: f64 = 8.0;
const COLUMN_GAP_PX: f64 = 56.0;
const NODE_GAP_PX: f64 = 10.0;
const GROUP_GAP_PX: f64 = 22.0;
/// The tags that make a tool sensitive, most sensitive first: such tools lead the blast radius
/// table and are marked in the graphs and tables.
const SENSITIVE: [&str; 3] = ["secret", "prod", "write"];

pub(super) fn page(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>writ reach: {}</title>", esc(&title(report)));
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n");
    let _ = writeln!(out, "<h1>Access review: {}</h1>", esc(&title(report)));
    let _ = writeln!(
        out,
        "<p class=\"policy\">Policy <code>{}</code>, computed statically by writ {} (no \
         requests).</p>",
        esc(&report.policy),
        env!("CARGO_PKG_VERSION")
    );
    out.push_str(
        "<p class=\"legend\"><span class=\"key subject\">subject</span> starts \
         <span class=\"key workflow\">workflow</span> which may call \
         <span class=\"key tool\">tool</span>; <span class=\"key secret\">[secret]</span>, \
         <span class=\"key prod\">[prod]</span> and <span class=\"key write\">[write]</span> \
         tools are marked. Each workflow lists how it starts and each tool every way it may be \
         called: the residual condition, and the evidence needed.</p>\n",
    );
    out.push_str("<section id=\"radius\">\n<h2>Blast radius</h2>\n");
    blast_radius(&mut out, report);
    out.push_str("</section>\n");
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    out.push_str(
        "<table>\n<thead><tr><th>Subject</th><th>Startable workflows</th><th>Reachable \
         tools</th><th>Secrets</th><th>Longest depth</th><th>Longest ttl</th></tr></thead>\n\
         <tbody>\n",
    );
    for r in &report.subjects {
        let (depth, ttl) = longest(r);
        let secrets = secrets(r);
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            anchor(r),
            esc(&r.subject.name),
            or_none(&r.summary.startable.iter().map(|w| code(w)).collect::<Vec<_>>(), ", "),
            esc(&tag_counts(r)),
            or_none(&secrets.iter().map(|s| code(s)).collect::<Vec<_>>(), "<br>"),
            esc(&depth),
            esc(&ttl),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    for r in &report.subjects {
        subject(&mut out, r);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn title(report: &Report) -> String {
    match report.subjects.as_slice() {
        [one] => match one.subject.origin {
            reach::Origin::Role => format!("role {}", one.subject.name),
            reach::Origin::Fixture => format!("fixture {}", one.subject.name),
        },
        all => format!("{} subjects", all.len()),
    }
}

fn anchor(r: &Reach) -> String {
    let origin = match r.subject.origin {
        reach::Origin::Role => "role",
        reach::Origin::Fixture => "fixture",
    };
    let name: String = r
        .subject
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' })
        .collect();
    format!("{origin}-{name}")
}

fn subject(out: &mut String, r: &Reach) {
    let _ = writeln!(out, "<section class=\"subject\" id=\"{}\">", anchor(r));
    let _ = writeln!(out, "<h2>{}</h2>", esc(&subject_line(r)));
    for note in &r.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    match graph(r) {
        Ok(svg) => {
            out.push_str("<div class=\"graph\">\n");
            out.push_str(&svg);
            out.push_str("\n</div>\n");
        }
        Err(note) => {
            let _ = writeln!(out, "<p class=\"note no-graph\">{}</p>", esc(&note));
        }
    }
    out.push_str(
        "<table class=\"workflows\">\n<thead><tr><th>Workflow</th><th>Start</th>\
         <th>max_depth</th><th>ttl</th></tr></thead>\n<tbody>\n",
    );
    for w in &r.workflows {
        let start = if w.startable {
            starts_as(w, code).join("<br>")
        } else {
            format!(
                "<span class=\"never\">cannot start</span>: {}",
                esc(w.never.as_deref().unwrap_or(""))
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{start}</td><td>{}</td><td>{}</td></tr>",
            code(&w.workflow),
            w.max_depth,
            esc(&w.ttl)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    for w in r.workflows.iter().filter(|w| w.startable) {
        let _ = writeln!(out, "<h3>{} in {}</h3>", esc(&r.subject.name), code(&w.workflow));
        out.push_str(
            "<table class=\"tools\">\n<thead><tr><th>Tool</th><th>Tags</th><th>Rule</th>\
             <th>Needs</th><th>When</th></tr></thead>\n<tbody>\n",
        );
        for t in &w.tools {
            let class = tool_class(&t.tags);
            for (n, p) in t.paths.iter().enumerate() {
                let never =
                    |reason: &str| format!("<span class=\"never\">never</span>: {}", esc(reason));
                let [tool, tags, rule, needs, when] = path_cells(t, n == 0, p, code, never, "");
                let _ = writeln!(
                    out,
                    "<tr class=\"{class}\"><td>{tool}</td><td>{tags}</td><td>{rule}</td>\
                     <td>{needs}</td><td>{when}</td></tr>",
                );
            }
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

/// The most sensitive of a tool's tags ([`SENSITIVE`]), if it has one.
fn sensitivity(tags: &[String]) -> Option<&'static str> {
    SENSITIVE.into_iter().find(|s| tags.iter().any(|t| t == s))
}

fn tool_class(tags: &[String]) -> &'static str {
    match sensitivity(tags) {
        Some("secret") => "tool secret",
        Some("prod") => "tool prod",
        Some(_) => "tool write",
        None => "tool",
    }
}

/// The blast radius: every tool some subject reaches (the most sensitive first, then by name)
/// against every subject, each cell naming the workflows through which that subject reaches
/// it. Who can touch a secret shows at a glance, at any number of subjects.
fn blast_radius(out: &mut String, report: &Report) {
    let mut tools: Vec<(&str, &[String])> = Vec::new();
    for r in &report.subjects {
        for w in r.workflows.iter().filter(|w| w.startable) {
            for t in w.tools.iter().filter(|t| t.reachable) {
                if !tools.iter().any(|(name, _)| *name == t.tool) {
                    tools.push((&t.tool, &t.tags));
                }
            }
        }
    }
    if tools.is_empty() {
        out.push_str("<p class=\"note\" id=\"no-reach\">No subject can start a workflow: nothing is reachable.</p>\n");
        return;
    }
    let rank = |tags: &[String]| {
        sensitivity(tags)
            .and_then(|s| SENSITIVE.iter().position(|x| *x == s))
            .unwrap_or(SENSITIVE.len())
    };
    tools.sort_by(|a, b| rank(a.1).cmp(&rank(b.1)).then(a.0.cmp(b.0)));
    out.push_str("<table class=\"radius\">\n<thead><tr><th>Tool</th><th>Tags</th>");
    for r in &report.subjects {
        let _ = write!(out, "<th><a href=\"#{}\">{}</a></th>", anchor(r), esc(&r.subject.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (tool, tags) in &tools {
        let tag_cell = tags.iter().map(|t| code(t)).collect::<Vec<_>>().join(", ");
        let _ = write!(
            out,
            "<tr class=\"{}\" data-tool=\"{}\"><td>{}</td><td>{}</td>",
            tool_class(tags),
            esc(tool),
            code(tool),
            tag_cell
        );
        for r in &report.subjects {
            let via: Vec<String> = r
                .workflows
                .iter()
                .filter(|w| w.startable && w.tools.iter().any(|t| t.reachable && t.tool == *tool))
                .map(|w| breakable_code(&w.workflow))
                .collect();
            if via.is_empty() {
                out.push_str("<td class=\"unreached\">&mdash;</td>");
            } else {
                let _ = write!(out, "<td class=\"reached\">{}</td>", via.join("<br>"));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn or_none(items: &[String], sep: &str) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(sep) }
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

/// Code that may break after `_`, `.` and `-` when its column is narrow (the blast radius
/// has a column per subject).
fn breakable_code(text: &str) -> String {
    let mut out = String::from("<code>");
    for c in text.chars() {
        out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
        if matches!(c, '_' | '.' | '-') {
            out.push_str("<wbr>");
        }
    }
    out.push_str("</code>");
    out
}

/// Text or attribute value, escaped for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The graph

/// One box of a subject's tree: its text, one line each, and what it is.
struct Node {
    lines: Vec<String>,
    kind: NodeKind,
}

impl Node {
    fn width(&self) -> f64 {
        let chars = self.lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        chars as f64 * CHAR_PX + 2.0 * PAD_PX
    }

    fn height(&self) -> f64 {
        self.lines.len() as f64 * LINE_PX + 2.0 * PAD_PX
    }
}

/// What one subject's graph holds: a tree of the subject, its startable workflows, and per
/// workflow the tools it reaches.
struct Tree {
    subject: Node,
    workflows: Vec<(Node, Vec<Node>)>,
}

#[derive(Clone, Copy, PartialEq)]
enum NodeKind {
    Subject,
    Workflow,
    Tool,
    Secret,
    Prod,
    Write,
}

impl NodeKind {
    fn of_tool(tags: &[String]) -> NodeKind {
        match sensitivity(tags) {
            Some("secret") => NodeKind::Secret,
            Some("prod") => NodeKind::Prod,
            Some(_) => NodeKind::Write,
            None => NodeKind::Tool,
        }
    }

    fn class(self) -> &'static str {
        match self {
            NodeKind::Subject => "subject",
            NodeKind::Workflow => "workflow",
            NodeKind::Tool => "tool",
            NodeKind::Secret => "tool secret",
            NodeKind::Prod => "tool prod",
            NodeKind::Write => "tool write",
        }
    }
}

/// One subject's tree. A workflow's node says how it starts; a tool's node (one per workflow
/// that reaches it: what a run may call depends on the workflow) lists every reachable allow
/// path, each `• CONDITION; needs EVIDENCE`, so nothing hangs on an edge.
fn tree(r: &Reach) -> Tree {
    let subject = match r.subject.origin {
        reach::Origin::Role => format!("role {}", r.subject.name),
        reach::Origin::Fixture => format!("fixture {}", r.subject.name),
    };
    let mut t = Tree {
        subject: Node { lines: vec![subject], kind: NodeKind::Subject },
        workflows: Vec::new(),
    };
    for w in r.workflows.iter().filter(|w| w.startable) {
        let mut lines =
            vec![w.workflow.clone(), format!("max_depth {}, ttl {}", w.max_depth, w.ttl)];
        for p in &w.starts {
            let mut line = match &p.condition {
                Some(c) => format!("starts when {c}"),
                None => "starts always".to_string(),
            };
            if !p.evidence.is_empty() {
                let _ = write!(line, "; needs {}", needs(&p.evidence));
            }
            lines.extend(wrap(&line));
        }
        let workflow = Node { lines, kind: NodeKind::Workflow };
        let mut tools = Vec::new();
        for tool in w.tools.iter().filter(|t| t.reachable) {
            let mut lines = vec![tool.tool.clone()];
            if !tool.tags.is_empty() {
                lines.push(format!("[{}]", tool.tags.join(", ")));
            }
            for p in tool.paths.iter().filter(|p| p.reachable) {
                let mut line = format!("• {}", p.condition.as_deref().unwrap_or("always"));
                if !p.evidence.is_empty() {
                    let _ = write!(line, "; needs {}", needs(&p.evidence));
                }
                lines.extend(wrap(&line));
            }
            tools.push(Node { lines, kind: NodeKind::of_tool(&tool.tags) });
        }
        t.workflows.push((workflow, tools));
    }
    t
}

/// `text` broken at spaces into lines of at most [`WRAP`] characters where it can be (a longer
/// word stays whole); lines after the first are indented. Nothing is cut: the words of the
/// lines, in order, are the words of `text`.
fn wrap(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut fresh = true;
    for word in text.split(' ') {
        if !fresh && line.chars().count() + 1 + word.chars().count() > WRAP {
            lines.push(std::mem::take(&mut line));
            line.push_str("   ");
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    lines.push(line);
    lines
}

/// A subject's graph as inline SVG, or why there is none.
///
/// The tree is laid out in three columns (subject, workflows, tools), each as wide as its
/// widest box: a workflow's tools are stacked beside it, the workflow centred on them, and the
/// subject centred on all. Edges are curves from a box's right side to its child's left side.
/// The layout is linear in the tree and cannot fail, so no graph is too large to draw (a
/// general graph layout engine was used before: it spaced three ranks over 2,000 px and placed
/// edge labels apart from their edges).
fn graph(r: &Reach) -> Result<String, String> {
    let t = tree(r);
    if t.workflows.is_empty() {
        return Err("nothing to draw: this subject cannot start a workflow".to_string());
    }
    let widest =
        |nodes: &mut dyn Iterator<Item = &Node>| nodes.map(Node::width).fold(0.0, f64::max);
    let x0 = 1.0;
    let x1 = x0 + t.subject.width() + COLUMN_GAP_PX;
    let x2 = x1 + widest(&mut t.workflows.iter().map(|(w, _)| w)) + COLUMN_GAP_PX;
    let right = x2 + widest(&mut t.workflows.iter().flat_map(|(_, tools)| tools.iter()));
    let mut boxes = String::new();
    let mut edges = String::new();
    let mut y = 1.0;
    let mut workflow_mids = Vec::new();
    for (n, (workflow, tools)) in t.workflows.iter().enumerate() {
        if n > 0 {
            y += GROUP_GAP_PX;
        }
        let stacked: f64 = tools.iter().map(Node::height).sum::<f64>()
            + NODE_GAP_PX * tools.len().saturating_sub(1) as f64;
        let group = stacked.max(workflow.height());
        let wy = y + (group - workflow.height()) / 2.0;
        let mid = wy + workflow.height() / 2.0;
        node_svg(&mut boxes, workflow, x1, wy);
        workflow_mids.push(mid);
        let mut ty = y + (group - stacked) / 2.0;
        for tool in tools {
            node_svg(&mut boxes, tool, x2, ty);
            edge_svg(&mut edges, (x1 + workflow.width(), mid), (x2, ty + tool.height() / 2.0));
            ty += tool.height() + NODE_GAP_PX;
        }
        y += group;
    }
    let height = y + 1.0;
    let sy = (height - t.subject.height()) / 2.0;
    node_svg(&mut boxes, &t.subject, x0, sy);
    let subject_mid = sy + t.subject.height() / 2.0;
    for mid in workflow_mids {
        edge_svg(&mut edges, (x0 + t.subject.width(), subject_mid), (x1, mid));
    }
    let width = right + 1.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" \
         width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">\n\
         <defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"6\" refX=\"8\" refY=\"3\" \
         orient=\"auto\"><path d=\"M0,0 L8,3 L0,6 z\" fill=\"#555\"/></marker></defs>\n",
        esc(&format!("reach graph of {}", r.subject.name)),
    );
    svg.push_str(&edges);
    svg.push_str(&boxes);
    svg.push_str("</svg>");
    Ok(svg)
}

/// One box: a rectangle and its lines, left-aligned, in a `g.node` named by its first line.
fn node_svg(out: &mut String, node: &Node, x: f64, y: f64) {
    let name = node.lines.first().map(String::as_str).unwrap_or_default();
    let _ = write!(
        out,
        "<g class=\"node {}\" data-name=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
         height=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">",
        node.kind.class(),
        esc(name),
        node.width(),
        node.height(),
        x + PAD_PX,
        y + PAD_PX,
    );
    for (n, line) in node.lines.iter().enumerate() {
        // The first line's baseline one line below the top padding, then one line apart.
        let dy = if n == 0 { LINE_PX - 4.0 } else { LINE_PX };
        let class = if n == 0 { " class=\"name\"" } else { "" };
        let _ = write!(
            out,
            "<tspan x=\"{:.1}\" dy=\"{dy:.1}\"{class}>{}</tspan>",
            x + PAD_PX,
            esc(line)
        );
    }
    out.push_str("</text></g>\n");
}

fn edge_svg(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64)) {
    let mx = (x1 + x2) / 2.0;
    let _ = writeln!(
        out,
        "<path class=\"edge\" d=\"M{x1:.1},{y1:.1} C{mx:.1},{y1:.1} {mx:.1},{y2:.1} {x2:.1},{y2:.1}\" \
         marker-end=\"url(#arrow)\"/>"
    );
}

const STYLE: &str = r#"<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 1.5rem; color: #1d1d1f; max-width: 100rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em;
       background: #f3f3f3; padding: 0 0.2em; border-radius: 3px; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f6f6; }
tr.secret td:first-child { background: #f4b6b6; }
tr.prod td:first-child { background: #fbd9a6; }
.never { color: #b00020; font-weight: 600; }
.note { color: #555; font-style: italic; }
.graph { overflow: auto; border: 1px solid #ddd; padding: 0.5rem; margin: 0.5rem 0 1rem; }
.graph svg { max-width: none; height: auto; display: block; }
.graph text { font: 13px ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas,
              monospace; fill: #1d1d1f; white-space: pre; }
.graph text .name { font-weight: 700; }
.graph path.edge { fill: none; stroke: #555; stroke-width: 1.2; }
.graph rect { fill: #fff; stroke: #444; stroke-width: 1; }
.graph .subject rect { fill: #dde7f7; stroke: #2b4c7e; stroke-width: 2; rx: 8px; }
.graph .workflow rect { fill: #f4f4f4; rx: 12px; }
.graph .secret rect { fill: #f4b6b6; stroke: #b00020; stroke-width: 3; }
.graph .prod rect { fill: #fbd9a6; stroke: #c05800; stroke-width: 3; }
.graph .write rect { fill: #fff3b0; stroke: #8a6d00; stroke-width: 2; }
.key { padding: 0 0.4em; border: 1px solid #444; }
.key.subject { background: #dde7f7; border-radius: 6px; }
.key.workflow { background: #f4f4f4; border-radius: 10px; }
.key.secret { background: #f4b6b6; border-color: #b00020; }
.key.prod { background: #fbd9a6; border-color: #c05800; }
.key.write { background: #fff3b0; border-color: #8a6d00; }
tr.write td:first-child { background: #fff3b0; }
table.radius td.reached { background: #eef6ee; }
table.radius td.unreached { color: #999; text-align: center; }
</style>
"#;
