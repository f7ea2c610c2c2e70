// The writ playground: a policy editor (a textarea over a highlighted copy of its text), live
// diagnostics from the real compiler (POST /v1/playground/check), a request editor, the
// decision with its trace and the reach table (POST /v1/playground/decide). No build step, no
// dependencies: this file is served as it is.
"use strict";

const KEYWORDS = new Set(JSON.parse(document.getElementById("writ-keywords").textContent));
const $ = (id) => document.getElementById(id);
const policy = $("policy");
const highlight = $("highlight");
const gutter = $("gutter");
const requestBox = $("request");

const EXAMPLE_POLICY = `// A release workflow: developers start it; deploying to prod needs an approval.
role dev {
  may ping
  may deploy
}

tool ping
tool deploy(env: "staging" | "prod")

evidence approval by human

workflow release {
  start by dev
  allow ping
  allow deploy when env == "staging"
  allow deploy when env == "prod" require approval
}
`;

const EXAMPLE_REQUEST = JSON.stringify({
  action: "call",
  workflow: "release",
  tool: "deploy",
  args: { env: "prod" },
  chain: [
    { id: "ada", kind: "human", roles: ["dev"] },
    { id: "release-bot/1", kind: "agent" },
  ],
}, null, 2);

// ---------------------------------------------------------------------------------------------
// Highlighting

const TOKEN = new RegExp([
  "(\\/\\/\\/.*)",                               // 1 documentation comment
  "(\\/\\/.*)",                                  // 2 comment
  "(\"(?:[^\"\\\\]|\\\\.)*\"?)",                 // 3 string (an unterminated one to the end)
  "(\\b\\d+(?:\\.\\d+)?(?:ms|s|m|h|d|w)?\\b)",   // 4 number, duration
  "([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_*][A-Za-z0-9_*]*)*)", // 5 word, dotted name
  "(==|!=|<=|>=|<|>|\\||\\*)",                   // 6 operator
].join("|"), "g");

function tokens(line) {
  const out = [];
  TOKEN.lastIndex = 0;
  let m;
  while ((m = TOKEN.exec(line)) !== null) {
    if (m[0] === "") { TOKEN.lastIndex++; continue; }
    let cls;
    if (m[1]) cls = "tok-doc";
    else if (m[2]) cls = "tok-comment";
    else if (m[3]) cls = "tok-string";
    else if (m[4]) cls = "tok-number";
    else if (m[5]) cls = KEYWORDS.has(m[5]) ? "tok-keyword" : (m[5].includes(".") ? "tok-name" : null);
    else if (m[6]) cls = "tok-op";
    if (cls) out.push({ start: m.index, end: m.index + m[0].length, cls });
  }
  return out;
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// A diagnostic's 1-based character column as a UTF-16 index into `line`.
function utf16Index(line, column) {
  const chars = Array.from(line);
  return chars.slice(0, Math.max(0, column - 1)).join("").length;
}

// The spans of each line that diagnostics mark: {line: [{start, end, severity, message}]}.
function diagnosticSpans(lines, diagnostics) {
  const spans = {};
  for (const d of diagnostics) {
    for (let n = d.line; n <= Math.max(d.line, d.end_line); n++) {
      const text = lines[n - 1];
      if (text === undefined) continue;
      const start = n === d.line ? utf16Index(text, d.column) : 0;
      const end = n === d.end_line ? utf16Index(text, d.end_column) : text.length;
      (spans[n] = spans[n] || []).push({ start, end, severity: d.severity, message: d.message });
    }
  }
  return spans;
}

function renderLine(text, n, diags) {
  const marks = tokens(text);
  const cuts = new Set([0, text.length]);
  for (const t of marks) { cuts.add(t.start); cuts.add(t.end); }
  for (const d of diags) { cuts.add(Math.min(d.start, text.length)); cuts.add(Math.min(d.end, text.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  let html = "";
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    if (a === b) continue;
    const classes = [];
    const token = marks.find((t) => t.start <= a && b <= t.end);
    if (token) classes.push(token.cls);
    const diag = diags.find((d) => d.start <= a && b <= d.end);
    if (diag) classes.push("diag", diag.severity);
    const piece = escapeHtml(text.slice(a, b));
    if (classes.length === 0) { html += piece; continue; }
    const title = diag ? ` title="${escapeHtml(diag.message)}" data-line="${n}"` : "";
    html += `<span class="${classes.join(" ")}"${title}>${piece}</span>`;
  }
  // A diagnostic at the end of a line (a missing `}`) marks the place where text is missing.
  for (const d of diags) {
    if (d.start >= text.length) {
      html += `<span class="diag diag-empty ${d.severity}" title="${escapeHtml(d.message)}" data-line="${n}"></span>`;
    }
  }
  return `<span class="line" data-line="${n}">${html || " "}</span>`;
}

let diagnostics = [];

function render() {
  const lines = policy.value.split("\n");
  const spans = diagnosticSpans(lines, diagnostics);
  highlight.innerHTML = lines.map((text, i) => renderLine(text, i + 1, spans[i + 1] || [])).join("");
  const worst = {};
  for (const d of diagnostics) {
    if (d.severity === "error" || !worst[d.line]) worst[d.line] = d.severity;
  }
  gutter.innerHTML = lines
    .map((_, i) => {
      const sev = worst[i + 1];
      return `<div data-line="${i + 1}"${sev ? ` class="has-${sev}"` : ""}>${i + 1}</div>`;
    })
    .join("");
  syncScroll();
}

function syncScroll() {
  const pre = highlight.parentElement;
  pre.scrollTop = policy.scrollTop;
  pre.scrollLeft = policy.scrollLeft;
  gutter.scrollTop = policy.scrollTop;
}

// ---------------------------------------------------------------------------------------------
// The server

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", !!isError);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

let generation = 0;

async function refresh() {
  const mine = ++generation;
  setStatus("checking…");
  let answer;
  try {
    answer = await post("/v1/playground/decide", { policy: policy.value, request: requestBox.value });
  } catch (e) {
    if (mine === generation) setStatus(String(e.message || e), true);
    return;
  }
  if (mine !== generation) return; // a newer edit is on its way
  diagnostics = answer.diagnostics || [];
  render();
  showDiagnostics();
  showDecision(answer);
  showReach(answer.reach);
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  setStatus(answer.ok
    ? `compiled${warnings ? `, ${warnings} warning${warnings > 1 ? "s" : ""}` : ""}`
    : `${errors} error${errors === 1 ? "" : "s"}`, !answer.ok);
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 250);
}

// ---------------------------------------------------------------------------------------------
// Panels

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showDiagnostics() {
  const list = $("diagnostics");
  list.replaceChildren(...diagnostics.map((d) => {
    const item = el("li", { class: d.severity, "data-line": d.line, "data-code": d.code },
      el("span", { class: "where" }, `${d.line}:${d.column}`),
      `${d.severity} [${d.code}]: ${d.message}`,
      d.help ? el("span", { class: "help" }, `help: ${d.help}`) : null);
    item.addEventListener("click", () => goTo(d.line, d.column));
    return item;
  }));
}

function goTo(line, column) {
  const lines = policy.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += utf16Index(lines[line - 1] || "", column);
  policy.focus();
  policy.setSelectionRange(offset, offset);
}

function missingText(m) {
  const fields = m.fields && Object.keys(m.fields).length
    ? `(${Object.entries(m.fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")})` : "";
  return `${m.evidence}${fields}${m.by ? ` by ${m.by}` : ""}: need ${m.need}, have ${m.have}`;
}

function showDecision(answer) {
  const panel = $("decision");
  const trace = $("trace");
  if (!answer.ok) {
    panel.replaceChildren(el("span", { class: "label" }, "the policy has errors: nothing to decide"));
    trace.textContent = "";
    return;
  }
  if (answer.request_error) {
    const where = answer.request_error.field ? ` (${answer.request_error.field})` : "";
    panel.replaceChildren(el("div", { class: "request-error" }, `invalid request${where}: ${answer.request_error.error}`));
    trace.textContent = "";
    return;
  }
  const d = answer.decision;
  if (!d) { panel.replaceChildren(); trace.textContent = ""; return; }
  const parts = [el("span", { class: `outcome ${d.decision}`, id: "outcome" }, d.decision)];
  if (d.ttl_seconds !== null && d.ttl_seconds !== undefined) parts.push(el("span", { class: "label" }, ` ttl ${d.ttl_seconds}s`));
  if (d.missing && d.missing.length) {
    parts.push(el("div", { class: "label" }, "missing evidence:"),
      el("ul", { id: "missing" }, ...d.missing.map((m) => el("li", {}, missingText(m)))));
  }
  if (d.reasons && d.reasons.length) {
    parts.push(el("div", { class: "label" }, "reasons:"),
      el("ul", { id: "reasons" }, ...d.reasons.map((r) => el("li", {}, r))));
  }
  if (d.rules && d.rules.length) {
    parts.push(el("div", {}, el("span", { class: "label" }, "rules: "), d.rules.join(", ")));
  }
  panel.replaceChildren(...parts);
  trace.textContent = answer.trace || "";
}

function showReach(report) {
  const box = $("reach");
  if (!report) { box.replaceChildren(el("p", { class: "label" }, "(compile the policy to see its reach)")); return; }
  box.replaceChildren(...report.subjects.map((s) => {
    const rows = [];
    for (const w of s.workflows) {
      if (!w.startable) {
        rows.push(el("tr", { class: "never" }, el("td", {}, w.workflow), el("td", { colspan: 3 }, `cannot start: ${w.never || "no start rule passes"}`)));
        continue;
      }
      for (const t of w.tools) {
        const paths = t.paths.filter((p) => p.reachable);
        const how = t.reachable
          ? paths.map((p) => el("div", {}, el("code", {}, p.condition || "always"),
              p.evidence.length ? ` requires ${p.evidence.map((e) => e.text).join(", ")}` : ""))
          : [t.never || "no allow path passes"];
        rows.push(el("tr", { class: t.reachable ? "reachable" : "never" },
          el("td", {}, w.workflow),
          el("td", {}, el("code", {}, t.tool), ...t.tags.map((tag) => el("span", { class: "tag" }, tag))),
          el("td", {}, t.reachable ? "yes" : "no"),
          el("td", {}, ...how)));
      }
    }
    const table = el("table", { class: "reach" },
      el("thead", {}, el("tr", {}, el("th", {}, "workflow"), el("th", {}, "tool"), el("th", {}, "reachable"), el("th", {}, "when"))),
      el("tbody", {}, ...rows));
    return el("div", { class: "reach-subject" }, el("h3", {}, `role ${s.subject.name}`), table);
  }));
}

// ---------------------------------------------------------------------------------------------

policy.value = EXAMPLE_POLICY;
requestBox.value = EXAMPLE_REQUEST;
policy.addEventListener("input", () => { render(); schedule(); });
policy.addEventListener("scroll", syncScroll);
policy.addEventListener("keydown", (e) => {
  if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    const { selectionStart: a, selectionEnd: b } = policy;
    policy.setRangeText("  ", a, b, "end");
    render();
    schedule();
  }
});
requestBox.addEventListener("input", schedule);
$("decide").addEventListener("click", refresh);
render();
refresh();
