#!/usr/bin/env bash
# SARIF output validated against the OASIS SARIF 2.1.0 JSON schema (what GitHub code scanning
# expects). The schema comes from the serde-sarif crate on crates.io (MIT; the crate ships the
# OASIS schema it generates its types from), pinned by checksum; jsonschema from PyPI, pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
WRIT="${WRIT:-target/release/writ}"
dir=target/ci/sarif
mkdir -p "$dir"
crate="$dir/serde-sarif-0.8.0.crate"
if [ ! -f "$crate" ]; then
  curl -sSfL --retry 3 -o "$crate.tmp" https://static.crates.io/crates/serde-sarif/serde-sarif-0.8.0.crate
  mv "$crate.tmp" "$crate"
fi
echo "a053c46f18a8043570d4e32fefc4c6377f82bf29ec310a33e93f273048e3b0be  $crate" | sha256sum -c --quiet
tar xzf "$crate" -O serde-sarif-0.8.0/src/schema.json > "$dir/sarif-schema-2.1.0.json"
if [ ! -x "$dir/venv/bin/python" ]; then
  python3 -m venv "$dir/venv"
fi
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check jsonschema==4.23.0
"$dir/venv/bin/python" tests/sarif/validate.py "$dir/sarif-schema-2.1.0.json" "$WRIT"
