#!/usr/bin/env node
// Builds the native addon with cargo (the repository's release profile) and copies it to
// writ.node beside index.js. `--if-missing` (the package's install script) does nothing when
// writ.node is already there. No @napi-rs/cli: napi-build (build.rs) sets up the linking and a
// cdylib is all node needs.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = path.resolve(__dirname, "..");
const out = path.join(here, "writ.node");
if (process.argv.includes("--if-missing") && fs.existsSync(out)) process.exit(0);

const root = path.resolve(here, "..", "..");
const cargo = process.env.CARGO || "cargo";
try {
  execFileSync(cargo, ["build", "--release", "-p", "writ-node"], { cwd: root, stdio: "inherit" });
} catch (e) {
  console.error(`writ: building the addon needs Rust's cargo (${cargo}): ${e.message}`);
  process.exit(1);
}
const target = process.env.CARGO_TARGET_DIR || path.join(root, "target");
const name = { darwin: "libwrit_node.dylib", win32: "writ_node.dll" }[process.platform] || "libwrit_node.so";
// Copy to a temporary name and rename, so that a running process never loads half a file.
fs.copyFileSync(path.join(target, "release", name), out + ".tmp");
fs.renameSync(out + ".tmp", out);
console.error(`writ: built ${path.relative(process.cwd(), out) || out}`);
