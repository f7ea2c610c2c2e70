#!/usr/bin/env bash
# End-to-end test of `writ mcp-gateway`: a real MCP server on the Streamable-HTTP transport (the
# `mcp` Python SDK's MCPServer, FastMCP's name in mcp 2; tests/mcp-gateway/server.py) behind
# the gateway, driven by the SDK's Streamable-HTTP client with a bearer token (signed with PyJWT,
# which the SDK brings). The server and the JWKS are served over https with a CA made in the
# test (`cryptography`, which the SDK brings too), given to the gateway with `--ca-cert`; without
# it the gateway must refuse both. The SDK is pinned in tests/mcp-gateway/requirements.txt and installed in
# a virtual environment under target/. Uses the built binary ($WRIT, default
# target/release/writ). Fails loudly: a missing binary, Python or package is an error, never a
# skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ mcp-gateway

python_venv mcp-gateway "$root/tests/mcp-gateway/requirements.txt"

echo "mcp-gateway: $("$WRIT" --version), mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
"$WRIT" test tests/mcp-gateway/policy.writ
exec "$venv/bin/python" tests/mcp-gateway/e2e.py "$WRIT"
