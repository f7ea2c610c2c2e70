"""Renders `writ reach --format html` in headless Chromium and checks what a reviewer sees.

Usage: check.py WRIT CHROMIUM OUTDIR

For each example (every role, and each fixture), the page is written to OUTDIR/LABEL.html and
loaded by the browser from there (the page must stand alone: no network, no script). The DOM the
browser built (`--dump-dom`) must hold, per subject that can start a workflow, one inline SVG: a
node for the subject, per startable workflow, and per workflow per reachable tool (from `writ
reach --format json`), sensitive tools (`secret`, `prod`, `write`) marked, and the text of every
reachable allow path (its condition and the evidence it needs) inside the drawing: no path is
hidden, and nothing says "+N more". The blast radius table has one row per reachable tool,
sensitive tools first; the tools tables one row per allow path. Legibility at a laptop's width
is measured by `layout.mjs` on the same pages. Exits 1 on any failure.
"""

import json
import pathlib
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1366,900",
]


SENSITIVE = ["secret", "prod", "write"]


def rank(tags):
    return next((i for i, t in enumerate(SENSITIVE) if t in tags), len(SENSITIVE))


def squash(text):
    return " ".join(text.split())


class Dom(HTMLParser):
    """The parts of the browser's DOM the checks need."""

    def __init__(self):
        super().__init__()
        self.svgs = []  # (attributes, text of the drawing)
        self.nodes = []  # (classes, data-name)
        self.tool_rows = 0
        self.radius_rows = []  # (classes, data-tool)
        self.scripts = 0
        self.no_reach = False
        self.text = []
        self._table = None
        self._in_svg = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append((a, []))
            self._in_svg = True
        elif tag == "g" and "node" in (a.get("class") or "").split():
            self.nodes.append((a.get("class", "").split(), a.get("data-name")))
        elif tag == "table":
            self._table = a.get("class")
        elif tag == "tr" and self._table == "tools":
            self.tool_rows += 1
        elif tag == "tr" and self._table == "radius" and a.get("data-tool"):
            self.radius_rows.append(((a.get("class") or "").split(), a.get("data-tool")))
        elif tag == "script":
            self.scripts += 1
        elif tag == "p" and a.get("id") == "no-reach":
            self.no_reach = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "svg":
            self._in_svg = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_svg and self.svgs:
            self.svgs[-1][1].append(data)


def expected(reach):
    """Per drawn subject its node count; reachable tools (with tags); every reachable path's
    text; the number of allow paths."""
    drawn = []
    tools = {}
    path_texts = []
    paths = 0
    for s in reach["subjects"]:
        nodes = 1
        for w in s["workflows"]:
            if not w["startable"]:
                continue
            nodes += 1
            for t in w["tools"]:
                paths += len(t["paths"])
                if t["reachable"]:
                    nodes += 1
                    tools[t["tool"]] = t["tags"]
                    for p in t["paths"]:
                        if p["reachable"]:
                            path_texts.append((t["tool"], p["condition"] or "always"))
                            for e in p["evidence"]:
                                path_texts.append((t["tool"], e["text"]))
        if nodes > 1:
            drawn.append(nodes)
    return drawn, tools, path_texts, paths


def check(writ, chromium, outdir, policy, who, label):
    failures = []
    args = ["reach", "--policy", str(ROOT / policy), *who]
    page = subprocess.run([writ, *args, "--format", "html"], capture_output=True, text=True)
    data = subprocess.run([writ, *args, "--format", "json"], capture_output=True, text=True)
    if page.returncode or data.returncode:
        return [f"{label}: writ failed: {page.stderr}{data.stderr}"]
    drawn, tools, path_texts, paths = expected(json.loads(data.stdout))
    html = pathlib.Path(outdir) / f"{label}.html"
    html.write_text(page.stdout)
    with tempfile.TemporaryDirectory() as tmp:
        profile = pathlib.Path(tmp) / "profile"
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dumped = subprocess.run(
            [*base, "--dump-dom", html.resolve().as_uri()], capture_output=True, text=True,
            timeout=120,
        )
        if dumped.returncode or "<html" not in dumped.stdout:
            return [f"{label}: chromium could not load the page: {dumped.stderr[-2000:]}"]
    dom = Dom()
    dom.feed(dumped.stdout)
    if dom.scripts:
        failures.append(f"{label}: the page has scripts")
    if "more)" in " ".join(dom.text):
        failures.append(f"{label}: the page folds paths into '+N more'")
    if not tools:
        if not dom.no_reach:
            failures.append(f"{label}: nothing is reachable, but no note says so")
        return failures
    if len(dom.svgs) != len(drawn):
        failures.append(f"{label}: {len(dom.svgs)} svg elements, expected {len(drawn)}")
    if len(dom.nodes) != sum(drawn):
        failures.append(f"{label}: {len(dom.nodes)} nodes drawn, expected {sum(drawn)}")
    marked = {}
    for classes, name in dom.nodes:
        if "tool" in classes:
            marked.setdefault(name, set()).update(classes)
    for tool, tags in tools.items():
        classes = marked.get(tool)
        top = SENSITIVE[rank(tags)] if rank(tags) < len(SENSITIVE) else None
        if classes is None:
            failures.append(f"{label}: reachable tool `{tool}` is not drawn")
        elif top and top not in classes:
            failures.append(f"{label}: {top} tool `{tool}` is not marked")
    drawing = squash(" ".join(" ".join(text) for _, text in dom.svgs))
    for tool, text in path_texts:
        if squash(text) not in drawing:
            failures.append(f"{label}: `{tool}`: `{text}` is not in the drawing")
    # The blast radius: every reachable tool once, the most sensitive first.
    rows = [name for _, name in dom.radius_rows]
    if sorted(rows) != sorted(tools):
        failures.append(f"{label}: blast radius rows {rows}, expected the tools {sorted(tools)}")
    ranks = [rank(tools.get(name, [])) for name in rows]
    if ranks != sorted(ranks):
        failures.append(f"{label}: blast radius does not list sensitive tools first: {rows}")
    # One header row per tools table plus one row per allow path.
    if dom.tool_rows < paths:
        failures.append(f"{label}: {dom.tool_rows} tool table rows for {paths} allow paths")
    return failures


def main() -> int:
    writ, chromium, outdir = sys.argv[1:4]
    pathlib.Path(outdir).mkdir(parents=True, exist_ok=True)
    cases = [
        ("examples/coding-agents/policy", [], "coding-all"),
        ("examples/coding-agents/policy", ["--role", "release_captain"], "coding-release_captain"),
        ("examples/coding-agents/policy", ["--role", "security_reviewer"], "coding-reviewer"),
        ("examples/coding-agents/policy", ["--fixture", "rita"], "coding-rita"),
        ("examples/support-agents", [], "support-all"),
        ("examples/support-agents", ["--fixture", "ana"], "support-ana"),
        ("tests/reach-html/wide.writ", [], "wide-all"),
    ]
    failures = []
    for policy, who, label in cases:
        failures += check(writ, chromium, outdir, policy, who, label)
    for f in failures:
        print("FAIL", f)
    print(f"reach html: {len(cases)} pages checked in Chromium's DOM, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
