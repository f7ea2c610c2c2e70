#!/usr/bin/env bash
# Three `writ serve` replicas sharing a real redis-server, behind a load generator, with a bundle
# server and decision-log collectors (tests/replicas/check.py). Uses target/release/writ.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ replicas
command -v redis-server >/dev/null || { echo "replicas: FAILED: redis-server is not installed" >&2; exit 1; }
python3 tests/replicas/check.py "$WRIT" "$PWD/target/ci/replicas"
