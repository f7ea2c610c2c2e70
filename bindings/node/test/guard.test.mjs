// writ's Guard: a wrapped function runs only on allow.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Policy, Guard, Denied, Pending, Refused, RequestError } from "writ";
import { guardTool } from "writ/mcp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const policy = Policy.load(path.join(root, "examples/notes/policy.writ"));
const owner = { id: "ana", kind: "human", roles: ["owner"] };

test("a wrapped function runs only on allow", () => {
  const guard = policy.guard({ workflow: "assistant", principal: owner, agent: "assistant" });
  const ran = [];
  const read = guard.wrap("notes.read", ({ name }) => { ran.push(name); return `text of ${name}`; });
  assert.equal(read({ name: "a" }), "text of a");
  assert.throws(() => read({ name: "b.secret" }), (e) => {
    assert.ok(e instanceof Denied && e instanceof Refused);
    assert.equal(e.tool, "notes.read");
    assert.deepEqual(e.reasons, ["secret notes stay with people"]);
    assert.equal(e.message, "writ denied `notes.read`: secret notes stay with people");
    return true;
  });
  assert.deepEqual(ran, ["a"]);
});

test("pending carries the missing evidence; evidence is read at each call", () => {
  const given = [];
  const guard = new Guard(policy, { workflow: "assistant", chain: () => [owner, { id: "bot", kind: "agent" }], evidence: () => given });
  assert.throws(() => guard.check("notes.delete", { name: "a" }), (e) => {
    assert.ok(e instanceof Pending);
    assert.deepEqual(e.missing, [{ evidence: "confirmation", need: 1, have: 0 }]);
    assert.match(e.message, /pending evidence: confirmation \(need 1, have 0\)/);
    return true;
  });
  given.push({ kind: "confirmation" });
  assert.equal(guard.check("notes.delete", { name: "a" }).decision, "allow");
});

test("a guard needs one chain, and builds the request from its context", () => {
  assert.throws(() => new Guard(policy, { workflow: "w" }), TypeError);
  assert.throws(() => new Guard(policy, { workflow: "w", chain: [owner], principal: owner }), TypeError);
  const guard = new Guard(policy, { workflow: "w", chain: [owner], context: { c: 1 }, subject: "s", cwd: "/x" });
  assert.deepEqual(guard.request("t", { a: 1 }), {
    action: "call", workflow: "w", tool: "t", args: { a: 1 }, chain: [owner],
    context: { c: 1 }, subject: "s", cwd: "/x",
  });
});

test("guardTool answers MCP error results instead of running the handler", async () => {
  const guard = policy.guard({ workflow: "assistant", principal: owner, agent: "assistant" });
  let ran = 0;
  const handler = guardTool(guard, "notes.read", async ({ name }) => { ran += 1; return { content: [{ type: "text", text: name }] }; });
  assert.deepEqual(await handler({ name: "a" }, {}), { content: [{ type: "text", text: "a" }] });
  // The SDK calls a tool without an input schema with `extra` alone: no arguments.
  const list = guardTool(guard, "notes.list", async (extra) => ({ content: [{ type: "text", text: String(extra.requestId) }] }));
  assert.equal((await list({ requestId: 7, signal: null })).content[0].text, "7");
  const denied = await handler({ name: "a.secret" }, {});
  assert.equal(denied.isError, true);
  assert.equal(denied.content[0].text, "writ denied `notes.read`: secret notes stay with people");
  assert.equal(denied._meta.writ.decision, "deny");
  const unreadable = await handler({ name: 1n }, {});
  assert.equal(unreadable.isError, true);
  assert.match(unreadable.content[0].text, /could not read/);
  assert.equal(ran, 1);
  assert.ok(RequestError);
});
