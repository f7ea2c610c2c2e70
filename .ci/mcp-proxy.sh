#!/usr/bin/env bash
# End-to-end test of `writ mcp-proxy`: the reference filesystem MCP server
# (@modelcontextprotocol/server-filesystem from npm, pinned in tests/mcp-proxy/package.json)
# behind the proxy, driven by the `mcp` Python SDK's stdio client (pinned in
# tests/mcp-proxy/requirements.txt, in a virtual environment under target/). Uses the built
# binary ($WRIT, default target/release/writ). Fails loudly: a missing binary, Node.js, Python
# or package is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ mcp-proxy

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "mcp-proxy: installing Debian's nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

npm_dir="$root/target/mcp-proxy-npm"
pkg="$root/tests/mcp-proxy/package.json"
server="$npm_dir/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
if [ ! -f "$server" ] || ! cmp -s "$pkg" "$npm_dir/package.json"; then
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  cp "$pkg" "$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
fi
if [ ! -f "$server" ]; then
  echo "mcp-proxy: FAILED: the filesystem server is not at $server after npm install" >&2
  exit 1
fi

python_venv mcp-proxy "$root/tests/mcp-proxy/requirements.txt"

echo "mcp-proxy: $("$WRIT" --version), node $(node --version), mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
"$WRIT" test tests/mcp-proxy/policy.writ
exec "$venv/bin/python" tests/mcp-proxy/e2e.py "$WRIT" "$server"
