// Headless Chromium (Debian's package) under playwright-core, launched one way for every
// browser check (.ci/lib/playwright.sh copies this file beside them). The flags keep Chromium
// off the network this machine does not have (background networking, component updates, sync)
// and working as root (no sandbox) without a GPU.
//
// `launch(executablePath, viewport, prefix)` gives `{ context, close }`: a persistent context
// in a new empty profile directory, and the function that closes it and removes the profile.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export async function launch(executablePath, viewport, prefix) {
  const userDataDir = mkdtempSync(join(tmpdir(), prefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}
