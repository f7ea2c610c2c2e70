import type { Guard } from "./index";

/** An MCP tool result (the SDK's `CallToolResult`, structurally). */
export interface ToolResult {
  content: { type: string; [key: string]: unknown }[];
  isError?: boolean;
  [key: string]: unknown;
}

/**
 * Wraps an MCP tool handler: it runs only when `guard` allows the call of `tool` with the
 * handler's arguments; a refused call answers an `isError` result saying why (the decision
 * under `_meta.writ`). A handler of one parameter (a tool without an `inputSchema`, which the
 * SDK calls with `extra` alone) is decided with no arguments.
 */
export function guardTool<A extends Record<string, unknown>, E, R extends ToolResult>(
  guard: Guard,
  tool: string,
  handler: (args: A, extra: E) => R | Promise<R>,
): (args: A, extra: E) => Promise<R | ToolResult>;
export function guardTool<E, R extends ToolResult>(
  guard: Guard,
  tool: string,
  handler: (extra: E) => R | Promise<R>,
): (extra: E) => Promise<R | ToolResult>;
