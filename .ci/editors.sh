#!/usr/bin/env bash
# Builds the VS Code extension (editors/vscode) into target/editors/writ.vsix and runs its
# tests (the TextMate grammar tokenizes a sample as VS Code would). Needs Node.js 20 or newer
# and the npm registry; fails loudly when either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v npm >/dev/null || [ "$(node_major)" -lt 20 ]; then
  echo "editors: Node.js >= 20 with npm not found; installing Debian's nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "editors: FAILED: Node.js $(node --version 2>/dev/null || echo none) is too old, the extension build needs >= 20" >&2
  exit 1
fi

cd editors/vscode
echo "editors: npm ci (node $(node --version), npm $(npm --version))"
npm ci --no-audit --no-fund
echo "editors: grammar and manifest tests"
node --test test/
mkdir -p "$root/target/editors"
rm -f "$root/target/editors/writ.vsix"
npx --no-install vsce package --skip-license --allow-missing-repository \
  --out "$root/target/editors/writ.vsix" </dev/null
test -s "$root/target/editors/writ.vsix"
# The package must hold the client, the grammar and the language client library.
listing=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' \
  "$root/target/editors/writ.vsix")
for f in extension/package.json extension/extension.js extension/syntaxes/writ.tmLanguage.json \
  extension/language-configuration.json extension/node_modules/vscode-languageclient/package.json; do
  grep -qx "$f" <<<"$listing" || { echo "editors: FAILED: $f missing from writ.vsix" >&2; exit 1; }
done
echo "editors: built target/editors/writ.vsix"
