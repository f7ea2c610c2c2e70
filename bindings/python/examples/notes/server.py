"""An MCP server of notes (stdio), every tool guarded by writ.

    NOTES_DIR=/tmp/notes python server.py

Each tool call is decided by examples/notes/policy.writ (or `WRIT_POLICY`) before it runs,
for the person in `NOTES_USER` with the roles in `NOTES_ROLES` (default `ana`, `owner`),
through the agent `assistant`. `notes.delete` needs a confirmation: this server counts one
when `NOTES_CONFIRMED=1` (a real client would ask the person and send signed evidence).
A refused call reaches the client as a tool error saying why; the tool does not run.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    from mcp.server.mcpserver import MCPServer  # mcp 2: FastMCP is named MCPServer
except ImportError:  # mcp 1
    from mcp.server.fastmcp import FastMCP as MCPServer

import writ
import writ.mcp

HERE = Path(__file__).resolve().parent
NOTES = Path(os.environ.get("NOTES_DIR", "notes"))
# The example policy of the repository (examples/notes), or `WRIT_POLICY`.
policy = writ.Policy.load(os.environ.get("WRIT_POLICY", HERE.parents[3] / "examples" / "notes" / "policy.writ"))


def confirmations() -> list[dict[str, str]]:
    return [{"kind": "confirmation"}] if os.environ.get("NOTES_CONFIRMED") == "1" else []


guard = writ.mcp.guard(
    policy,
    workflow="assistant",
    principal={
        "id": os.environ.get("NOTES_USER", "ana"),
        "kind": "human",
        "roles": os.environ.get("NOTES_ROLES", "owner").split(","),
    },
    agent="assistant",
    evidence=confirmations,
)

server = MCPServer("notes")


def note(name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"`{name}` is not a note name")
    return NOTES / name


@server.tool()
@guard("notes.list")
def list_notes() -> list[str]:
    """The notes' names."""
    return sorted(p.name for p in NOTES.iterdir() if p.is_file())


@server.tool()
@guard("notes.read")
def read_note(name: str) -> str:
    """A note's text."""
    return note(name).read_text()


@server.tool()
@guard("notes.write")
def write_note(name: str, text: str) -> str:
    """Writes a note."""
    note(name).write_text(text)
    return f"wrote {name}"


@server.tool()
@guard("notes.delete")
async def delete_note(name: str) -> str:
    """Deletes a note (needs a confirmation)."""
    note(name).unlink()
    return f"deleted {name}"


if __name__ == "__main__":
    NOTES.mkdir(parents=True, exist_ok=True)
    server.run()
