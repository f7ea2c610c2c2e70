// The API of the writ package, against `writ eval` where it has an answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as writ from "writ";
import { Policy, RequestError, PolicyError, check } from "writ";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
export const policyPath = path.join(root, "examples/notes/policy.writ");
const writBin = process.env.WRIT_BIN || path.join(root, "target/release/writ");
const policy = Policy.load(policyPath);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "writ-node-"));

export function call(tool, args = {}, roles = ["owner"], extra = {}) {
  return {
    action: "call", workflow: "assistant", tool, args,
    chain: [{ id: "ana", kind: "human", roles }, { id: "assistant", kind: "agent" }],
    ...extra,
  };
}

function writEval(request, ...flags) {
  const file = path.join(tmp, "r.json");
  fs.writeFileSync(file, JSON.stringify(request));
  const out = spawnSync(writBin, ["eval", ...flags, "--policy", policyPath, "--request", file, "--format", "json"]);
  return JSON.parse(out.stdout.toString());
}

test("decide allows, denies and holds pending", () => {
  assert.equal(policy.decide(call("notes.read", { name: "a" })).decision, "allow");
  const denied = policy.decide(call("notes.read", { name: "a.secret" }));
  assert.equal(denied.decision, "deny");
  assert.deepEqual(denied.reasons, ["secret notes stay with people"]);
  const pending = policy.decide(call("notes.delete", { name: "a" }));
  assert.equal(pending.decision, "pending");
  assert.deepEqual(pending.missing, [{ evidence: "confirmation", need: 1, have: 0 }]);
  const confirmed = call("notes.delete", { name: "a" }, ["owner"], { evidence: [{ kind: "confirmation" }] });
  assert.equal(policy.decide(confirmed).decision, "allow");
});

test("every decision is writ eval's, from objects, text and buffers", () => {
  for (const request of [
    call("notes.read", { name: "a" }),
    call("notes.read", { name: "a.secret" }),
    call("notes.write", { name: "x.keep", text: "t" }),
    call("notes.write", { name: "x", text: "t" }, ["reader"]),
    { action: "start", workflow: "assistant", chain: [{ id: "ana", kind: "human", roles: ["owner"] }] },
  ]) {
    const expected = writEval(request);
    assert.deepEqual(policy.decide(request), expected);
    assert.deepEqual(policy.decide(JSON.stringify(request)), expected);
    assert.deepEqual(policy.decide(Buffer.from(JSON.stringify(request))), expected);
    assert.deepEqual(JSON.parse(policy.decideJson(JSON.stringify(request))), expected);
  }
});

test("explain is writ eval --explain", () => {
  const request = call("notes.read", { name: "a.secret" }, ["owner"], { evidance: [] });
  const explained = policy.explain(request);
  assert.deepEqual(explained, writEval(request, "--explain"));
  assert.deepEqual(explained.unknown_keys, [{ field: "evidance", did_you_mean: "evidence" }]);
  assert.ok(explained.explain);
});

test("decideMany answers each in order, a bad element in its place", () => {
  const out = policy.decideMany([
    call("notes.read", { name: "a" }),
    { action: "call" },
    JSON.stringify(call("notes.read", { name: "b.secret" })),
    { action: "call", args: { n: 1n } },
  ]);
  assert.deepEqual(out.map((d) => d.decision), ["allow", undefined, "deny", undefined]);
  assert.deepEqual(out[1], { error: "`workflow`: missing required field", field: "workflow", kind: "missing", index: 1 });
  assert.equal(out[3].kind, "wrong_type");
  assert.equal(out[3].index, 3);
  assert.deepEqual(policy.decideMany([]), []);
});

test("a malformed request is a RequestError naming the field", () => {
  const cases = [
    [{ action: "call" }, "workflow", "missing"],
    [{ action: "call", workflow: "w", tool: "t", chain: [] }, "chain", "invalid_value"],
    [{ action: "call", workflow: "w", tool: "t", chain: [{ id: "a", kind: 3 }] }, "chain[0].kind", "wrong_type"],
    ['{"action": "call", "action": "start"}', "action", "duplicate_key"],
    ["not json", "", "syntax"],
    ["[".repeat(100000), "", "syntax"],
    [{ action: "call", args: { n: 1n } }, "", "wrong_type"],
  ];
  for (const [request, field, kind] of cases) {
    assert.throws(() => policy.decide(request), (e) => {
      assert.ok(e instanceof RequestError, String(e));
      assert.ok(e instanceof writ.WritError);
      assert.equal(e.field, field);
      assert.equal(e.kind, kind);
      return true;
    });
    assert.throws(() => policy.explain(request), RequestError);
  }
  const cycle = { action: "call" };
  cycle.self = cycle;
  assert.throws(() => policy.decide(cycle), RequestError);
  assert.throws(() => policy.decide(42), TypeError);
});

test("check lists diagnostics; load errors carry them", () => {
  assert.deepEqual(check(policyPath), []);
  const bad = path.join(tmp, "bad.writ");
  fs.writeFileSync(bad, "tool t\nworkflow w {\n  allow nope\n}\n");
  const [d] = check(bad);
  assert.deepEqual([d.code, d.severity, d.file, d.line, d.column, d.message],
    ["writ::unknown_tool", "error", bad, 3, 9, "unknown tool `nope`"]);
  assert.ok(d.help);
  assert.throws(() => Policy.load(bad), (e) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.kind, "compile");
    assert.deepEqual(e.diagnostics.map((x) => x.code), ["writ::unknown_tool"]);
    assert.match(e.message, /bad\.writ:3:9: unknown tool `nope`/);
    return true;
  });
  assert.throws(() => Policy.load(path.join(tmp, "missing")), (e) => e instanceof PolicyError && e.kind === "io");
  assert.throws(() => check(path.join(tmp, "missing")), (e) => e instanceof PolicyError && e.kind === "io");
  assert.throws(() => new Policy({}), TypeError);
});

test("bundles load and verify", () => {
  const key = path.join(tmp, "k");
  execFileSync(writBin, ["keygen", "--output", key]);
  execFileSync(writBin, ["keygen", "--output", path.join(tmp, "other")]);
  const bundle = path.join(tmp, "p.bundle");
  execFileSync(writBin, ["build", "--policy", policyPath, "--output", bundle, "--sign", `${key}.key`]);
  const bytes = fs.readFileSync(bundle);
  const pub = fs.readFileSync(`${key}.pub`, "utf8");
  assert.equal(Policy.fromBundle(bytes).hash, policy.hash);
  const verified = Policy.fromBundle(bytes, pub);
  assert.deepEqual(verified.decide(call("notes.read", { name: "a" })), policy.decide(call("notes.read", { name: "a" })));
  assert.equal(Policy.fromBundle(new Uint8Array(bytes), Buffer.from(pub)).hash, policy.hash);
  const refused = (fn, kind) => assert.throws(fn, (e) => e instanceof PolicyError && e.kind === kind);
  refused(() => Policy.fromBundle(bytes, fs.readFileSync(path.join(tmp, "other.pub"), "utf8")), "bundle");
  refused(() => Policy.fromBundle(bytes, fs.readFileSync(`${key}.key`, "utf8")), "key");
  refused(() => Policy.fromBundle(bytes.subarray(0, bytes.length - 1)), "bundle");
});
