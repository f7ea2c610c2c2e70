#!/usr/bin/env bash
# End-to-end test of `writ mcp-gateway`: a real MCP server on the Streamable-HTTP transport (the
# `mcp` Python SDK's MCPServer, FastMCP's name in mcp 2; tests/mcp-gateway/server.py) behind
# the gateway, driven by the SDK's Streamable-HTTP client with a bearer token (signed with PyJWT,
# which the SDK brings). The SDK is pinned in tests/mcp-gateway/requirements.txt and installed in
# a virtual environment under target/. Uses the built binary ($WRIT, default
# target/release/writ). Fails loudly: a missing binary, Python or package is an error, never a
# skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export WRIT="${WRIT:-$root/target/release/writ}"
case "$WRIT" in /*) ;; *) WRIT="$root/$WRIT" ;; esac
if [ ! -x "$WRIT" ]; then
  echo "mcp-gateway: FAILED: no writ binary at $WRIT (build it: cargo build --release --bin writ)" >&2
  exit 1
fi

venv="$root/target/mcp-gateway-venv"
req="$root/tests/mcp-gateway/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "mcp-gateway: python3 -m venv failed; installing Debian's python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi

export PYTHONDONTWRITEBYTECODE=1
echo "mcp-gateway: $("$WRIT" --version), mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
"$WRIT" test tests/mcp-gateway/policy.writ
exec "$venv/bin/python" tests/mcp-gateway/e2e.py "$WRIT"
