"use strict";
// writ in front of the tools of an MCP server written with @modelcontextprotocol/sdk.
//
//   const { guardTool } = require("writ/mcp");
//   server.registerTool("read_note", { inputSchema: { name: z.string() } },
//     guardTool(guard, "notes.read", async ({ name }) => ({ content: [...] })));
//
// A refused call answers the client with an `isError` tool result whose text says why, with the
// decision under `structuredContent.writ`; the handler does not run. A request writ cannot read
// is refused the same way (fail closed).

const { Refused, RequestError } = require("./index.js");

function refusal(message, writ) {
  return {
    content: [{ type: "text", text: message }],
    isError: true,
    _meta: { writ },
  };
}

/**
 * Wraps an MCP tool handler: it runs only when `guard` allows the call. The SDK calls a tool
 * registered with an `inputSchema` as `handler(args, extra)` and one without as
 * `handler(extra)`; the wrapper follows: with one parameter the call has no arguments.
 */
function guardTool(guard, tool, handler) {
  return async function guarded(...params) {
    const args = params.length >= 2 ? params[0] || {} : {};
    try {
      guard.check(tool, args);
    } catch (e) {
      if (e instanceof Refused) return refusal(e.message, e.decision);
      if (e instanceof RequestError) {
        return refusal(`writ could not read the call of \`${tool}\`: ${e.message}`, {
          error: e.message, field: e.field, kind: e.kind,
        });
      }
      throw e;
    }
    return handler(...params);
  };
}

module.exports = { guardTool };
