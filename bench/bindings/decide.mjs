// Node's cost per decision with the `writ` package (bench/bindings.sh): `decide` on objects, on
// JSON text, and `decideJson` (text to text), best of several rounds. Prints JSON: ns/decision.
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Policy } = require(process.env.WRIT_NODE_PACKAGE);
const [policyPath, requestsPath, roundsArg] = process.argv.slice(2);
const policy = Policy.load(policyPath);
const lines = fs.readFileSync(requestsPath, "utf8").split("\n").filter((l) => l.trim());
const objects = lines.map((l) => JSON.parse(l));
const rounds = Number(roundsArg || 7);
const perRound = Math.floor(200000 / lines.length);

function best(fn, items) {
  let out = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) for (const item of items) fn(item);
    out = Math.min(out, Number(process.hrtime.bigint() - start) / (perRound * items.length));
  }
  return out;
}

console.log(JSON.stringify({
  decide_object: best((r) => policy.decide(r), objects),
  decide_str: best((r) => policy.decide(r), lines),
  decide_json: best((r) => policy.decideJson(r), lines),
  node: process.version,
}));
