//! `writ reach --format html`: one self-contained page for an access reviewer. The graph of
//! subjects -> workflows -> tools is laid out by layout-rs and inlined as SVG (no external
//! program, no script, no network), secret and prod tools marked, each edge labelled with its
//! condition and evidence; below it, the same tables as the Markdown report.
//!
//! layout-rs is not hardened against every graph, so the layout runs under `catch_unwind`: a
//! graph it cannot draw (or one too large to read) leaves a note in its place, and the tables
//! still carry every fact.

use std::fmt::Write as _;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use writ_compiler::reach::{self, Reach, Report};

use super::{longest, needs, path_cells, secrets, starts_as, subject_line, tag_counts};

/// Above this many nodes and edges the graph is not drawn (it would not be readable, and the
/// layout is superlinear); `--role` or `--fixture` draws one subject.
const MAX_GRAPH_ITEMS: usize = 400;
/// Edge labels longer than this are cut (the tables have the whole condition).
const MAX_LABEL: usize = 72;
/// One font size for the whole drawing (the SVG writer emits one style per size).
const FONT: usize = 13;

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
         <span class=\"key tool\">tool</span>; <span class=\"key secret\">[secret]</span> and \
         <span class=\"key prod\">[prod]</span> tools are marked. Edges carry the residual \
         condition and the evidence needed.</p>\n",
    );
    out.push_str("<section id=\"graph\">\n<h2>Blast radius</h2>\n");
    match graph(report) {
        Ok(svg) => {
            out.push_str("<div class=\"graph\">\n");
            out.push_str(&svg);
            out.push_str("\n</div>\n");
        }
        Err(note) => {
            let _ = writeln!(out, "<p class=\"note\" id=\"no-graph\">{}</p>", esc(&note));
        }
    }
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

fn tool_class(tags: &[String]) -> &'static str {
    if tags.iter().any(|t| t == "secret") {
        "tool secret"
    } else if tags.iter().any(|t| t == "prod") {
        "tool prod"
    } else {
        "tool"
    }
}

fn or_none(items: &[String], sep: &str) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(sep) }
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
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

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(MAX_LABEL - 1).collect();
        t.push('…');
        t
    }
}

// ---------------------------------------------------------------------------------------------
// The graph

/// What the drawing holds, before layout: nodes (label, kind) and labelled edges.
struct Drawing {
    nodes: Vec<(String, NodeKind)>,
    edges: Vec<(usize, usize, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum NodeKind {
    Subject,
    Workflow,
    Tool,
    Secret,
    Prod,
}

impl NodeKind {
    fn class(self) -> &'static str {
        match self {
            NodeKind::Subject => "subject",
            NodeKind::Workflow => "workflow",
            NodeKind::Tool => "tool",
            NodeKind::Secret => "tool secret",
            NodeKind::Prod => "tool prod",
        }
    }

    fn look(self) -> StyleAttr {
        // Colours are RGBA.
        let (line, width, fill, rounded) = match self {
            NodeKind::Subject => (0x2b4c7eff, 2, 0xdde7f7ff, 8),
            NodeKind::Workflow => (0x444444ff, 1, 0xf4f4f4ff, 16),
            NodeKind::Tool => (0x444444ff, 1, 0xffffffff, 0),
            NodeKind::Secret => (0xb00020ff, 3, 0xf4b6b6ff, 0),
            NodeKind::Prod => (0xc05800ff, 3, 0xfbd9a6ff, 0),
        };
        StyleAttr::new(Color::new(line), width, Some(Color::new(fill)), rounded, FONT)
    }
}

/// The nodes and edges of the report: tools are shared by every subject, so who reaches a
/// secret shows at a glance; workflows are drawn per subject (their tools differ by subject).
fn drawing(report: &Report) -> Drawing {
    let mut d = Drawing { nodes: Vec::new(), edges: Vec::new() };
    let mut tools: Vec<(String, usize)> = Vec::new();
    for r in &report.subjects {
        let label = match r.subject.origin {
            reach::Origin::Role => format!("role {}", r.subject.name),
            reach::Origin::Fixture => format!("fixture {}", r.subject.name),
        };
        d.nodes.push((label, NodeKind::Subject));
        let s = d.nodes.len() - 1;
        for w in r.workflows.iter().filter(|w| w.startable) {
            // One workflow node per subject: what a run may call depends on who started it.
            let who = if report.subjects.len() > 1 {
                format!(" ({})", r.subject.name)
            } else {
                String::new()
            };
            d.nodes.push((
                format!("{}{who}\nmax_depth {}, ttl {}", w.workflow, w.max_depth, w.ttl),
                NodeKind::Workflow,
            ));
            let wf = d.nodes.len() - 1;
            let start: Vec<String> = w
                .starts
                .iter()
                .map(|p| {
                    let mut t = p.condition.clone().unwrap_or_else(|| "always".to_string());
                    if !p.evidence.is_empty() {
                        let _ = write!(t, ", needs {}", needs(&p.evidence));
                    }
                    t
                })
                .collect();
            d.edges.push((s, wf, edge_label(&start)));
            for t in w.tools.iter().filter(|t| t.reachable) {
                let node = match tools.iter().find(|(name, _)| *name == t.tool) {
                    Some((_, n)) => *n,
                    None => {
                        let kind = match tool_class(&t.tags) {
                            "tool secret" => NodeKind::Secret,
                            "tool prod" => NodeKind::Prod,
                            _ => NodeKind::Tool,
                        };
                        let label = if t.tags.is_empty() {
                            t.tool.clone()
                        } else {
                            format!("{}\n[{}]", t.tool, t.tags.join(", "))
                        };
                        d.nodes.push((label, kind));
                        tools.push((t.tool.clone(), d.nodes.len() - 1));
                        d.nodes.len() - 1
                    }
                };
                let paths: Vec<String> = t
                    .paths
                    .iter()
                    .filter(|p| p.reachable)
                    .map(|p| {
                        let mut l = p.condition.clone().unwrap_or_else(|| "always".to_string());
                        if !p.evidence.is_empty() {
                            let _ = write!(l, ", needs {}", needs(&p.evidence));
                        }
                        l
                    })
                    .collect();
                d.edges.push((wf, node, edge_label(&paths)));
            }
        }
    }
    d
}

/// The first alternative, cut, and how many more there are.
fn edge_label(alternatives: &[String]) -> String {
    match alternatives {
        [] => String::new(),
        [one] => cut(one),
        [first, rest @ ..] => format!("{} (+{} more)", cut(first), rest.len()),
    }
}

/// The report's graph as inline SVG, or why it is not drawn.
fn graph(report: &Report) -> Result<String, String> {
    let d = drawing(report);
    if d.edges.is_empty() {
        return Err("nothing to draw: no subject can start a workflow".to_string());
    }
    if d.nodes.len() + d.edges.len() > MAX_GRAPH_ITEMS {
        return Err(format!(
            "the graph has {} nodes and {} edges, too many to read; draw one subject with \
             `--role` or `--fixture` (the tables below have everything)",
            d.nodes.len(),
            d.edges.len()
        ));
    }
    // layout-rs asserts on graphs it cannot place; a panic there must not end the command.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let drawn = std::panic::catch_unwind(|| layout(&d));
    std::panic::set_hook(previous);
    let svg = drawn.map_err(|_| {
        "the graph could not be laid out (a limitation of the layout engine); the tables \
         below have everything"
            .to_string()
    })?;
    // Inline SVG in HTML: no XML declaration.
    let svg = match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => return Err("the graph could not be drawn".to_string()),
    };
    Ok(svg.replacen("<svg ", "<svg role=\"img\" aria-label=\"reach graph\" ", 1))
}

fn layout(d: &Drawing) -> String {
    let orientation = Orientation::LeftToRight;
    let mut vg = VisualGraph::new(orientation);
    let handles: Vec<_> = d
        .nodes
        .iter()
        .map(|(label, kind)| {
            let shape = ShapeKind::new_box(label);
            let size = get_shape_size(orientation, &shape, FONT, false);
            let name = label.lines().next().unwrap_or_default();
            let properties = format!("class=\"node {}\" data-name=\"{}\"", kind.class(), esc(name));
            vg.add_node(Element::create_with_properties(
                shape,
                kind.look(),
                orientation,
                size,
                properties,
            ))
        })
        .collect();
    let edge_look = StyleAttr::new(Color::new(0x555555ff), 1, None, 0, FONT);
    for (from, to, label) in &d.edges {
        let mut arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            LineStyleKind::Normal,
            label,
            &edge_look,
            &None,
            &None,
        );
        arrow.properties = Some("class=\"edge\"".to_string());
        if let (Some(&from), Some(&to)) = (handles.get(*from), handles.get(*to)) {
            vg.add_edge(arrow, from, to);
        }
    }
    let mut svg = SVGWriter::new();
    vg.do_it(false, false, false, &mut svg);
    svg.finalize()
}

const STYLE: &str = r#"<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2rem; color: #1d1d1f; max-width: 100rem; }
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
.graph { overflow: auto; border: 1px solid #ddd; padding: 0.5rem; }
.graph svg { max-width: 100%; height: auto; }
.key { padding: 0 0.4em; border: 1px solid #444; }
.key.subject { background: #dde7f7; border-radius: 6px; }
.key.workflow { background: #f4f4f4; border-radius: 10px; }
.key.secret { background: #f4b6b6; border-color: #b00020; }
.key.prod { background: #fbd9a6; border-color: #c05800; }
</style>
"#;
