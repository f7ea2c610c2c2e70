#!/usr/bin/env bash
# The playground of `writ serve --playground` in headless Chromium (Debian's package), driven by
# playwright-core (npm, pinned in tests/playground/package-lock.json; both installed by
# .ci/lib/playwright.sh). Screenshots land in target/ci/playground/; with
# PLAYGROUND_SCREENSHOTS=docs/images they refresh the ones the docs show.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ playground
. .ci/lib/playwright.sh
npm_dir="$PLAYWRIGHT_DIR"
cp tests/playground/check.mjs "$npm_dir/check.mjs"

work=$(mktemp -d)
log="$work/serve.log"
"$WRIT" serve --playground --policy tests/playground/policy.writ --addr 127.0.0.1:0 --no-watch \
  2> "$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^writ serve: listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "playground: FAILED: writ serve did not start" >&2
  cat "$log" >&2
  exit 1
fi
out="${PLAYGROUND_SCREENSHOTS:-$root/target/ci/playground}"
node "$npm_dir/check.mjs" "$url" "$CHROMIUM" "$out"
