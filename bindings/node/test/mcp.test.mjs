// The notes MCP server (examples/notes-server.mjs, @modelcontextprotocol/sdk) spawned over
// stdio and driven by the SDK's own client: writ decides every tool call.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.join(here, "../examples/notes-server.mjs");

async function session(notes, env, body) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [server],
    env: { ...process.env, NOTES_DIR: notes, ...env },
    stderr: "inherit",
  });
  const client = new Client({ name: "test", version: "0.0.0" });
  await client.connect(transport);
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

const text = (r) => r.content.map((c) => c.text ?? "").join("");
const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "writ-notes-"));

test("allowed calls run and refused ones do not", async () => {
  const notes = dir();
  fs.writeFileSync(path.join(notes, "todo"), "buy milk");
  fs.writeFileSync(path.join(notes, "plan.keep"), "the plan");
  fs.writeFileSync(path.join(notes, "pin.secret"), "1234");
  await session(notes, {}, async (client) => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["delete_note", "list_notes", "read_note", "write_note"]);

    const listed = await client.callTool({ name: "list_notes", arguments: {} });
    assert.ok(!listed.isError && text(listed).includes("todo"));
    const read = await client.callTool({ name: "read_note", arguments: { name: "todo" } });
    assert.equal(text(read), "buy milk");

    const secret = await client.callTool({ name: "read_note", arguments: { name: "pin.secret" } });
    assert.equal(secret.isError, true);
    assert.equal(text(secret), "writ denied `notes.read`: secret notes stay with people");
    assert.equal(secret._meta.writ.decision, "deny");

    const kept = await client.callTool({ name: "write_note", arguments: { name: "plan.keep", text: "x" } });
    assert.equal(kept.isError, true);
    assert.match(text(kept), /kept notes are never changed/);
    assert.equal(fs.readFileSync(path.join(notes, "plan.keep"), "utf8"), "the plan");

    const pending = await client.callTool({ name: "delete_note", arguments: { name: "todo" } });
    assert.equal(pending.isError, true);
    assert.match(text(pending), /pending evidence: confirmation \(need 1, have 0\)/);
    assert.deepEqual(pending._meta.writ.missing, [{ evidence: "confirmation", need: 1, have: 0 }]);
    assert.ok(fs.existsSync(path.join(notes, "todo")));

    const written = await client.callTool({ name: "write_note", arguments: { name: "new", text: "hello" } });
    assert.ok(!written.isError);
    assert.equal(fs.readFileSync(path.join(notes, "new"), "utf8"), "hello");
  });
});

test("evidence turns pending into allow", async () => {
  const notes = dir();
  fs.writeFileSync(path.join(notes, "todo"), "buy milk");
  await session(notes, { NOTES_CONFIRMED: "1" }, async (client) => {
    const deleted = await client.callTool({ name: "delete_note", arguments: { name: "todo" } });
    assert.ok(!deleted.isError, text(deleted));
  });
  assert.ok(!fs.existsSync(path.join(notes, "todo")));
});

test("a reader cannot write", async () => {
  const notes = dir();
  await session(notes, { NOTES_ROLES: "reader", NOTES_USER: "rui" }, async (client) => {
    const written = await client.callTool({ name: "write_note", arguments: { name: "x", text: "t" } });
    assert.equal(written.isError, true);
    assert.match(text(written), /not entitled/);
  });
  assert.ok(!fs.existsSync(path.join(notes, "x")));
});
