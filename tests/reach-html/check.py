"""Renders `writ reach --format html` in headless Chromium and checks what a reviewer sees.

Usage: check.py WRIT CHROMIUM OUTDIR

For each example (every role, and each fixture), the page is loaded by the browser from a file
(the page must stand alone: no network, no script). The DOM the browser built (`--dump-dom`) must
hold one inline SVG drawn in the SVG namespace with a node per subject, per startable workflow
and per reachable tool (from `writ reach --format json`), secret and prod tools marked, and the
tables with one row per allow path. A screenshot of each page is written to OUTDIR and must not
be blank. Exits 1 on any failure.
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
    "--window-size=1400,1800",
]


class Dom(HTMLParser):
    """The parts of the browser's DOM the checks need."""

    def __init__(self):
        super().__init__()
        self.svgs = []
        self.nodes = []  # (classes, data-name)
        self.tool_rows = 0
        self.scripts = 0
        self.no_graph = False
        self._table = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append(a)
        elif tag == "g" and "node" in (a.get("class") or "").split():
            self.nodes.append((a.get("class", "").split(), a.get("data-name")))
        elif tag == "table":
            self._table = a.get("class")
        elif tag == "tr" and self._table == "tools":
            self.tool_rows += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "p" and a.get("id") == "no-graph":
            self.no_graph = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None


def expected(reach):
    """Subjects, startable workflows, reachable tools (with tags) and allow paths."""
    subjects = len(reach["subjects"])
    workflows = 0
    tools = {}
    paths = 0
    for s in reach["subjects"]:
        for w in s["workflows"]:
            if not w["startable"]:
                continue
            workflows += 1
            for t in w["tools"]:
                paths += len(t["paths"])
                if t["reachable"]:
                    tools[t["tool"]] = t["tags"]
    return subjects, workflows, tools, paths


def check(writ, chromium, outdir, policy, who, label):
    failures = []
    args = ["reach", "--policy", str(ROOT / policy), *who]
    page = subprocess.run([writ, *args, "--format", "html"], capture_output=True, text=True)
    data = subprocess.run([writ, *args, "--format", "json"], capture_output=True, text=True)
    if page.returncode or data.returncode:
        return [f"{label}: writ failed: {page.stderr}{data.stderr}"]
    subjects, workflows, tools, paths = expected(json.loads(data.stdout))
    with tempfile.TemporaryDirectory() as tmp:
        html = pathlib.Path(tmp) / "reach.html"
        html.write_text(page.stdout)
        profile = pathlib.Path(tmp) / "profile"
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dumped = subprocess.run(
            [*base, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120
        )
        if dumped.returncode or "<html" not in dumped.stdout:
            return [f"{label}: chromium could not load the page: {dumped.stderr[-2000:]}"]
        shot = pathlib.Path(outdir) / f"{label}.png"
        shot_run = subprocess.run(
            [*base, f"--screenshot={shot}", html.as_uri()], capture_output=True, text=True,
            timeout=120,
        )
        if shot_run.returncode or not shot.exists() or shot.stat().st_size < 10_000:
            failures.append(f"{label}: no usable screenshot ({shot_run.stderr[-500:]})")
    dom = Dom()
    dom.feed(dumped.stdout)
    if dom.scripts:
        failures.append(f"{label}: the page has scripts")
    if workflows == 0:
        if not dom.no_graph:
            failures.append(f"{label}: nothing to draw, but no note says so")
    else:
        if len(dom.svgs) != 1:
            failures.append(f"{label}: {len(dom.svgs)} svg elements, expected 1")
        want = subjects + workflows + len(tools)
        if len(dom.nodes) != want:
            failures.append(f"{label}: {len(dom.nodes)} nodes drawn, expected {want}")
        drawn = {name: classes for classes, name in dom.nodes if "tool" in classes}
        for tool, tags in tools.items():
            classes = drawn.get(tool)
            if classes is None:
                failures.append(f"{label}: reachable tool `{tool}` is not drawn")
            elif "secret" in tags and "secret" not in classes:
                failures.append(f"{label}: secret tool `{tool}` is not marked")
            elif "prod" in tags and "secret" not in tags and "prod" not in classes:
                failures.append(f"{label}: prod tool `{tool}` is not marked")
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
    ]
    failures = []
    for policy, who, label in cases:
        failures += check(writ, chromium, outdir, policy, who, label)
    for f in failures:
        print("FAIL", f)
    print(f"reach html: {len(cases)} pages rendered in Chromium, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
