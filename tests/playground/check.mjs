// The playground of `writ serve --playground` in headless Chromium (Debian's package), driven by
// playwright-core: type a policy with an error, see the compiler's diagnostic on the right
// line, fix it, decide a request, see `pending` with the missing evidence, and the reach table.
//
// Usage: node check.mjs URL CHROMIUM OUTDIR
// Screenshots go to OUTDIR (docs/images/ holds the ones the docs show). Exits 1 on a failure.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./chromium.mjs";

const [url, executablePath, outdir] = process.argv.slice(2);
if (!url || !executablePath || !outdir) {
  console.error("usage: node check.mjs URL CHROMIUM OUTDIR");
  process.exit(2);
}
mkdirSync(outdir, { recursive: true });

// Line 4 holds the typo: `deplyo` is not a declared tool.
const TYPO = `// A release workflow: developers start it; deploying to prod needs an approval.
role dev {
  may ping
  may deplyo
}

tool ping
tool deploy(env: "staging" | "prod")

evidence approval by human

workflow release {
  start by dev
  allow ping
  allow deploy when env == "staging"
  allow deploy when env == "prod" require approval
}
`;

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok: ${message}`);
}

const { context, close } = await launch(executablePath, { width: 1400, height: 880 }, "writ-playground-chromium-");
let failed = false;
try {
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  await page.goto(`${url}/playground`);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("compiled"));
  check(true, "the example policy compiles");
  // The highlighter marks keywords.
  check(await page.locator("#highlight .tok-keyword", { hasText: "workflow" }).count() > 0,
    "keywords are highlighted");

  // Type a policy with an error: the diagnostic appears on its line.
  const policy = page.locator("#policy");
  await policy.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await policy.fill(TYPO.slice(0, TYPO.indexOf("deplyo")));
  await policy.press("End");
  await page.keyboard.type(TYPO.slice(TYPO.indexOf("deplyo")), { delay: 2 });
  await page.waitForSelector("#diagnostics li.error");
  const item = page.locator("#diagnostics li.error").first();
  check(await item.getAttribute("data-line") === "4", "the diagnostic is listed for line 4");
  check((await item.textContent()).includes("deplyo"), "the diagnostic names the unknown tool");
  // The squiggle is drawn under line 4 of the editor, over the misspelt word.
  const squiggle = page.locator('#highlight .diag.error[data-line="4"]').first();
  check(await squiggle.textContent() === "deplyo", "the squiggle covers `deplyo`");
  const mark = await squiggle.boundingBox();
  const line4 = await page.locator('#gutter div[data-line="4"]').boundingBox();
  const middle = mark.y + mark.height / 2;
  check(line4.y < middle && middle < line4.y + line4.height,
    `the squiggle sits on line 4 (its middle at y ${middle}, line 4 from ${line4.y} to ${line4.y + line4.height})`);
  check(await page.locator('#gutter div[data-line="4"].has-error').count() === 1,
    "the gutter marks line 4");
  check((await page.locator("#status").textContent()).includes("error"), "the status shows the error");
  await page.screenshot({ path: join(outdir, "playground-error.png") });

  // Fix it: select the typo and type the right name.
  const start = TYPO.indexOf("deplyo");
  await policy.evaluate((el, [a, b]) => { el.focus(); el.setSelectionRange(a, b); }, [start, start + 6]);
  await page.keyboard.type("deploy", { delay: 10 });
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("compiled"));
  check(await page.locator("#diagnostics li.error").count() === 0, "fixed: no diagnostics");

  // Decide the request (a prod deploy by a developer through an agent): pending, approval missing.
  await page.locator("#decide").click();
  await page.waitForFunction(() => {
    const outcome = document.getElementById("outcome");
    return outcome && outcome.textContent === "pending";
  });
  check(true, "the request is pending");
  const missing = await page.locator("#missing li").allTextContents();
  check(missing.length === 1 && missing[0].startsWith("approval") && missing[0].includes("need 1, have 0"),
    `the missing evidence is shown (${missing})`);
  check((await page.locator("#trace").textContent()).length > 0, "the explanation is shown");
  const rows = await page.locator("table.reach tbody tr").allTextContents();
  check(rows.some((r) => r.includes("deploy") && r.includes("yes")), "the reach table lists deploy");
  await page.screenshot({ path: join(outdir, "playground-pending.png") });

  // Another request: staging is allowed.
  await page.locator("#request").fill(JSON.stringify({
    action: "call", workflow: "release", tool: "deploy", args: { env: "staging" },
    chain: [{ id: "ada", kind: "human", roles: ["dev"] }],
  }, null, 2));
  await page.waitForFunction(() => document.getElementById("outcome")?.textContent === "allow");
  check(true, "a staging deploy is allowed");
  check(problems.length === 0, `no errors in the page (${problems.join("; ")})`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.message}`);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: join(outdir, "playground-failure.png") });
  } catch { /* the failure above is what matters */ }
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
