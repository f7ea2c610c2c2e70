#!/usr/bin/env bash
# The playground of `writ serve --playground` in headless Chromium (Debian's package, installed
# as for .ci/reach-html.sh), driven by playwright-core (npm, pinned in
# tests/playground/package-lock.json). Screenshots land in target/ci/playground/; with
# PLAYGROUND_SCREENSHOTS=docs/images they refresh the ones the docs show.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
WRIT="${WRIT:-$root/target/release/writ}"
case "$WRIT" in /*) ;; *) WRIT="$root/$WRIT" ;; esac
if [ ! -x "$WRIT" ]; then
  echo "playground: FAILED: no writ binary at $WRIT" >&2
  exit 1
fi
if ! command -v chromium > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q > /dev/null
  apt-get install -y -q --no-install-recommends chromium > /dev/null
fi
command -v chromium > /dev/null || { echo "playground: FAILED: chromium could not be installed" >&2; exit 1; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

npm_dir="$root/target/playground-npm"
if [ ! -d "$npm_dir/node_modules/playwright-core" ] \
   || ! cmp -s tests/playground/package-lock.json "$npm_dir/package-lock.json"; then
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  cp tests/playground/package.json tests/playground/package-lock.json "$npm_dir/"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
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
node "$npm_dir/check.mjs" "$url" "$(command -v chromium)" "$out"
