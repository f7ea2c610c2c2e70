#!/usr/bin/env bash
# End-to-end tests of `writ lsp` through a real LSP client (pytest-lsp) over stdio, against the
# built binary ($WRIT, default target/release/writ). Creates a virtual environment under
# target/ with the pinned dependencies of tests/lsp-e2e/requirements.txt. Fails loudly: a
# missing binary, Python or package is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ lsp-e2e

python_venv lsp-e2e "$root/tests/lsp-e2e/requirements.txt"

cd tests/lsp-e2e
echo "lsp-e2e: $("$WRIT" --version) through pytest-lsp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pytest-lsp"))')"
# -p no:cacheprovider: no .pytest_cache in the source tree. Exit code 5 (no tests ran) fails too.
exec "$venv/bin/python" -m pytest -p no:cacheprovider -ra "$@"
