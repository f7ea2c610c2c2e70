#!/usr/bin/env bash
# What a decision costs from Python and Node against the Rust JSON path (Request::from_json,
# decide, Decision::to_json), on examples/coding-agents' requests: the table of BENCHMARKS.md's
# "Python and Node" section. Builds the wheel into a throwaway venv and the Node addon with cargo.
#
#   bash bench/bindings.sh            # about a minute after the release build
set -euo pipefail
cd "$(dirname "$0")/.."
policy=examples/coding-agents/policy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The example's requests that are requests: its last line is a malformed one (an empty chain).
requests="$work/requests.jsonl"
grep -v '"chain": \[\]' examples/coding-agents/requests.jsonl > "$requests"

cargo build --release -q -p writ-bench --example bindings
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "maturin>=1.7,<2"
"$work/venv/bin/maturin" build -q --release --manifest-path bindings/python/Cargo.toml --out "$work/wheels"
"$work/venv/bin/pip" install -q "$work"/wheels/writ-*.whl
(cd bindings/node && node scripts/build.js 2>/dev/null)

rust=$(target/release/examples/bindings "$policy" "$requests")
python=$(cd "$work" && "$work/venv/bin/python" "$OLDPWD/bench/bindings/decide.py" "$OLDPWD/$policy" "$requests")
node=$(WRIT_NODE_PACKAGE="$PWD/bindings/node" node bench/bindings/decide.mjs "$policy" "$requests")

python3 - "$rust" "$python" "$node" <<'PY'
import json, sys
rust, py, node = (json.loads(a) for a in sys.argv[1:])
base = rust["ns_per_decision"]
row = lambda what, ns: f"| {what} | {ns / 1000:.2f} µs | {ns / base:.2f}× |"
print("| path | per decision | vs Rust |")
print("| --- | --- | --- |")
print(row("Rust: `Request::from_json` → `decide` → `to_json` (text to text)", base))
print(row(f"Python {py['python']}: `policy.decide(dict)` → dict", py["decide_dict"]))
print(row("Python: `policy.decide(str)` → dict", py["decide_str"]))
print(row("Python: `policy.decide_json(str)` → str", py["decide_json"]))
print(row(f"Node {node['node']}: `policy.decide(object)` → object", node["decide_object"]))
print(row("Node: `policy.decide(string)` → object", node["decide_str"]))
print(row("Node: `policy.decideJson(string)` → string", node["decide_json"]))
print(f"\n(the Python measuring loop alone: {py['loop'] / 1000:.2f} µs per call)")
PY
