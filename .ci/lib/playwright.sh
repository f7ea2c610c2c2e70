# Sourced by the browser checks (.ci/reach-html.sh, .ci/playground.sh): installs Debian's
# Chromium and, from npm, playwright-core (pinned in tests/playground/package-lock.json) into
# target/playwright-npm, once, with tests/lib/chromium.mjs beside it. Sets CHROMIUM and
# PLAYWRIGHT_DIR. Fails loudly.
root=${root:-$PWD}
if ! command -v chromium > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q > /dev/null
  apt-get install -y -q --no-install-recommends chromium > /dev/null
fi
command -v chromium > /dev/null || { echo "FAILED: chromium could not be installed" >&2; exit 1; }
CHROMIUM=$(command -v chromium)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
PLAYWRIGHT_DIR="$root/target/playwright-npm"
if [ ! -d "$PLAYWRIGHT_DIR/node_modules/playwright-core" ] \
   || ! cmp -s "$root/tests/playground/package-lock.json" "$PLAYWRIGHT_DIR/package-lock.json"; then
  rm -rf "$PLAYWRIGHT_DIR"
  mkdir -p "$PLAYWRIGHT_DIR"
  cp "$root/tests/playground/package.json" "$root/tests/playground/package-lock.json" "$PLAYWRIGHT_DIR/"
  (cd "$PLAYWRIGHT_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -d "$PLAYWRIGHT_DIR/node_modules/playwright-core" ] \
  || { echo "FAILED: playwright-core is not installed in $PLAYWRIGHT_DIR" >&2; exit 1; }
# The one way the checks launch Chromium (imported as ./chromium.mjs beside them).
cp "$root/tests/lib/chromium.mjs" "$PLAYWRIGHT_DIR/chromium.mjs"
