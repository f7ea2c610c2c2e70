#!/usr/bin/env bash
# The Python and Node packages (bindings/): the wheel built with maturin and installed in a
# fresh venv, then its pytest suite (the API, errors, the guard, a FastMCP server driven by the
# mcp SDK's stdio client); the Node addon built with cargo, `npm ci`, then `node --test` (the
# API, the guard, an @modelcontextprotocol/sdk server driven by the SDK's client). Both reuse
# the release build of .ci/run (target/release). Fails loudly if a tool cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export WRIT_BIN="$root/target/release/writ"
[ -x "$WRIT_BIN" ] || cargo build --release --bin writ

if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== python: maturin wheel, fresh venv, pytest"
command -v python3 >/dev/null || { $sudo apt-get update -qq; $sudo apt-get install -y -qq python3 python3-venv; }
if ! python3 -m venv "$work/build" >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3-venv
  python3 -m venv "$work/build"
fi
"$work/build/bin/pip" install -q "maturin>=1.7,<2" || { echo "maturin could not be installed" >&2; exit 1; }
"$work/build/bin/maturin" build --release --manifest-path bindings/python/Cargo.toml --out "$work/wheels"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheels/writ-*.whl "mcp>=2,<3" "pytest>=8" \
  || { echo "the wheel, mcp or pytest could not be installed" >&2; exit 1; }
# From the tests' folder, so that `import writ` finds the installed wheel, not the sources.
(cd bindings/python/tests && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider .)

echo "== node: the addon (cargo), npm ci, node --test"
command -v node >/dev/null && command -v npm >/dev/null || { $sudo apt-get update -qq; $sudo apt-get install -y -qq nodejs npm; }
(
  cd bindings/node
  node scripts/build.js
  npm ci --no-audit --no-fund
  node --test test/
)
