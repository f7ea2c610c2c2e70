#!/usr/bin/env bash
# `writ reach --format html` in headless Chromium (Debian's package): check.py checks the DOM
# against `writ reach --format json`; layout.mjs (playwright-core) measures the pages at a
# laptop's width. Pages and screenshots land in target/ci/reach-html/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ reach-html
. .ci/lib/playwright.sh
out="$root/target/ci/reach-html"
rm -rf "$out"
mkdir -p "$out"
python3 tests/reach-html/check.py "$WRIT" "$CHROMIUM" "$out"
cp tests/reach-html/layout.mjs "$PLAYWRIGHT_DIR/reach-layout.mjs"
node "$PLAYWRIGHT_DIR/reach-layout.mjs" "$CHROMIUM" "$out"
