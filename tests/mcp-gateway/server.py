"""A notes MCP server on the Streamable HTTP transport (the `mcp` SDK's MCPServer, FastMCP's
name in mcp 2), behind `writ mcp-gateway` in e2e.py. Every tool that runs appends a line to the
file in $RAN, so the test can tell which calls reached the server.

Usage: server.py PORT [CERT KEY]   (with CERT and KEY: over https, under uvicorn)
"""

import json
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")
NOTES = {"plan": "ship on friday", "draft-1": "a draft", "keep": "do not delete"}


def ran(tool, **args):
    with open(os.environ["RAN"], "a") as f:
        f.write(json.dumps({"tool": tool, **args}) + "\n")


@server.tool()
def read_note(name: str) -> str:
    """Read a note."""
    ran("read_note", name=name)
    return NOTES.get(name, "")


@server.tool()
def delete_note(name: str) -> str:
    """Delete a note."""
    ran("delete_note", name=name)
    NOTES.pop(name, None)
    return f"deleted {name}"


@server.tool()
def admin_reset() -> str:
    """Delete every note."""
    ran("admin_reset")
    NOTES.clear()
    return "reset"


if __name__ == "__main__":
    port = int(sys.argv[1])
    if len(sys.argv) == 4:
        import uvicorn

        app = server.streamable_http_app(streamable_http_path="/mcp", host="localhost")
        uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=sys.argv[2],
                    ssl_keyfile=sys.argv[3], log_level="warning")
    else:
        server.run("streamable-http", host="127.0.0.1", port=port, streamable_http_path="/mcp")
