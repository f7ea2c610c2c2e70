// An MCP server of notes (stdio, @modelcontextprotocol/sdk), every tool guarded by writ.
//
//   NOTES_DIR=/tmp/notes node examples/notes-server.mjs
//
// Each call is decided by examples/notes/policy.writ (or WRIT_POLICY) before its handler runs,
// for the person in NOTES_USER with the roles in NOTES_ROLES (default ana, owner), through the
// agent "assistant". notes.delete needs a confirmation, counted when NOTES_CONFIRMED=1 (a real
// client would ask the person). A refused call answers an isError result saying why.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { Policy } from "writ";
import { guardTool } from "writ/mcp";

const here = path.dirname(fileURLToPath(import.meta.url));
const notes = process.env.NOTES_DIR || "notes";
const policy = Policy.load(process.env.WRIT_POLICY || path.join(here, "../../../examples/notes/policy.writ"));

const guard = policy.guard({
  workflow: "assistant",
  principal: {
    id: process.env.NOTES_USER || "ana",
    kind: "human",
    roles: (process.env.NOTES_ROLES || "owner").split(","),
  },
  agent: "assistant",
  evidence: () => (process.env.NOTES_CONFIRMED === "1" ? [{ kind: "confirmation" }] : []),
});

function note(name) {
  if (!name || name.includes("/") || name.startsWith(".")) throw new Error(`\`${name}\` is not a note name`);
  return path.join(notes, name);
}
const text = (t) => ({ content: [{ type: "text", text: t }] });

const server = new McpServer({ name: "notes", version: "0.1.0" });

server.registerTool("list_notes", { description: "The notes' names." },
  guardTool(guard, "notes.list", async () => text(fs.readdirSync(notes).sort().join("\n"))));

server.registerTool("read_note", { description: "A note's text.", inputSchema: { name: z.string() } },
  guardTool(guard, "notes.read", async ({ name }) => text(fs.readFileSync(note(name), "utf8"))));

server.registerTool("write_note",
  { description: "Writes a note.", inputSchema: { name: z.string(), text: z.string() } },
  guardTool(guard, "notes.write", async ({ name, text: body }) => {
    fs.writeFileSync(note(name), body);
    return text(`wrote ${name}`);
  }));

server.registerTool("delete_note",
  { description: "Deletes a note (needs a confirmation).", inputSchema: { name: z.string() } },
  guardTool(guard, "notes.delete", async ({ name }) => {
    fs.unlinkSync(note(name));
    return text(`deleted ${name}`);
  }));

fs.mkdirSync(notes, { recursive: true });
await server.connect(new StdioServerTransport());
