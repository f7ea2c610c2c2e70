#!/usr/bin/env bash
# End-to-end tests of `writ lsp` through a real LSP client (pytest-lsp) over stdio, against the
# built binary ($WRIT, default target/release/writ). Creates a virtual environment under
# target/ with the pinned dependencies of tests/lsp-e2e/requirements.txt. Fails loudly: a
# missing binary, Python or package is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export WRIT="${WRIT:-$root/target/release/writ}"
case "$WRIT" in /*) ;; *) WRIT="$root/$WRIT" ;; esac
if [ ! -x "$WRIT" ]; then
  echo "lsp-e2e: FAILED: no writ binary at $WRIT (build it: cargo build --release --bin writ)" >&2
  exit 1
fi

venv="$root/target/lsp-e2e-venv"
req="$root/tests/lsp-e2e/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "lsp-e2e: python3 -m venv failed; installing Debian's python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi

cd tests/lsp-e2e
export PYTHONDONTWRITEBYTECODE=1
echo "lsp-e2e: $("$WRIT" --version) through pytest-lsp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pytest-lsp"))')"
# -p no:cacheprovider: no .pytest_cache in the source tree. Exit code 5 (no tests ran) fails too.
exec "$venv/bin/python" -m pytest -p no:cacheprovider -ra "$@"
