// `writ reach --format html` at a laptop's width: loads each page check.py wrote (OUTDIR/*.html)
// in headless Chromium (Debian's) with playwright-core, in a 1366x768 window, and measures what
// a reviewer sees:
// - the page does not scroll sideways;
// - every graph is drawn at its natural size (not scaled down to fit) and fits the page;
// - every word in a graph renders at 12 px or more;
// - every node's text sits inside its node's box (labels never drift from what they label).
// Writes a full-page screenshot of each to OUTDIR/LABEL.png. Exits 1 on a failure.
//
// Usage: node layout.mjs CHROMIUM OUTDIR

import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launch } from "./chromium.mjs";

const [executablePath, outdir] = process.argv.slice(2);
if (!executablePath || !outdir) {
  console.error("usage: node layout.mjs CHROMIUM OUTDIR");
  process.exit(2);
}
const pages = readdirSync(outdir).filter((f) => f.endsWith(".html")).sort();
if (pages.length === 0) {
  console.error(`reach layout: FAILED: no pages in ${outdir} (run check.py first)`);
  process.exit(1);
}
const MIN_TEXT_PX = 12;
const { context, close } = await launch(executablePath, { width: 1366, height: 768 }, "writ-reach-layout-");
const failures = [];
try {
  const page = await context.newPage();
  for (const file of pages) {
    const label = file.replace(/\.html$/, "");
    await page.goto(pathToFileURL(resolve(outdir, file)).href);
    const m = await page.evaluate(() => {
      const out = { pageWidth: document.documentElement.scrollWidth, viewport: innerWidth, svgs: [] };
      for (const svg of document.querySelectorAll("svg")) {
        const box = svg.getBoundingClientRect();
        const vb = svg.viewBox.baseVal;
        const scale = vb && vb.width ? box.width / vb.width : 1;
        let smallest = Infinity;
        for (const t of svg.querySelectorAll("text")) {
          const px = parseFloat(getComputedStyle(t).fontSize) * scale;
          if (t.textContent.trim()) smallest = Math.min(smallest, px);
        }
        // Each node's text must lie inside its box.
        let outside = [];
        for (const g of svg.querySelectorAll("g.node")) {
          const rect = g.querySelector("rect");
          const text = g.querySelector("text");
          if (!rect || !text) {
            outside.push(`${g.getAttribute("data-name")} (no box or no text)`);
            continue;
          }
          const r = rect.getBoundingClientRect();
          const t = text.getBoundingClientRect();
          const slack = 2;
          if (t.left < r.left - slack || t.right > r.right + slack ||
              t.top < r.top - slack || t.bottom > r.bottom + slack) {
            outside.push(g.getAttribute("data-name"));
          }
        }
        out.svgs.push({
          name: svg.getAttribute("aria-label"), scale, right: box.right, width: box.width,
          smallest, outside,
        });
      }
      return out;
    });
    if (m.pageWidth > m.viewport) {
      failures.push(`${label}: the page is ${m.pageWidth} px wide in a ${m.viewport} px window`);
    }
    for (const s of m.svgs) {
      if (s.scale < 0.99) failures.push(`${label}: ${s.name} is scaled down to ${s.scale.toFixed(2)}`);
      if (s.right > m.viewport) failures.push(`${label}: ${s.name} ends at ${Math.round(s.right)} px, past the window`);
      if (s.smallest < MIN_TEXT_PX) failures.push(`${label}: ${s.name} has text at ${s.smallest.toFixed(1)} px`);
      if (s.outside.length) failures.push(`${label}: ${s.name}: text outside its node: ${s.outside.join(", ")}`);
    }
    const widest = Math.max(0, ...m.svgs.map((s) => Math.round(s.width)));
    console.log(`${label}: ${m.svgs.length} graphs, widest ${widest} px, page ${m.pageWidth} px`);
    await page.screenshot({ path: join(outdir, `${label}.png`), fullPage: true });
  }
} finally {
  await close();
}
for (const f of failures) console.log("FAIL", f);
console.log(`reach layout: ${pages.length} pages at 1366 px, ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
