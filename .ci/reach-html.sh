#!/usr/bin/env bash
# `writ reach --format html` rendered in headless Chromium (Debian's package), checked against
# `writ reach --format json`. Screenshots land in target/ci/reach-html/.
set -euo pipefail
cd "$(dirname "$0")/.."
WRIT="${WRIT:-target/release/writ}"
if ! command -v chromium > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q > /dev/null
  apt-get install -y -q --no-install-recommends chromium > /dev/null
fi
python3 tests/reach-html/check.py "$WRIT" "$(command -v chromium)" target/ci/reach-html
