#!/usr/bin/env bash
# A headless Neovim smoke test of `writ lsp` with Neovim's built-in LSP client
# (tests/nvim/smoke.lua): diagnostics appear and clear, hover, definition, completion,
# rename, formatting, stop. Installs Debian's neovim when it is missing; fails loudly when
# Neovim or the binary ($WRIT, default target/release/writ) is not there or too old.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/lib/common.sh
require_writ nvim
if ! command -v nvim >/dev/null; then
  echo "nvim: installing Debian's neovim"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends neovim
fi
version=$(nvim --version | head -1)
echo "nvim: $version"
# The test needs vim.lsp.start_client, vim.diagnostic and vim.wait: Neovim 0.7 or newer.
if ! nvim --headless --clean -c 'lua if vim.lsp.start_client and vim.diagnostic and vim.wait then vim.cmd("qall!") else vim.cmd("cquit 1") end' </dev/null; then
  echo "nvim: FAILED: $version is too old (needs 0.7 or newer)" >&2
  exit 1
fi
export WRIT_NVIM_WORKSPACE="$root/tests/lsp-e2e/workspace"
# The buffers are never written; swap and shada files are off (-n, -i NONE).
nvim --headless --clean -n -i NONE -c "luafile $root/tests/nvim/smoke.lua" </dev/null
