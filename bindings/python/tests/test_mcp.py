"""The notes MCP server (examples/notes/server.py, the `mcp` SDK's FastMCP/MCPServer) spawned
over stdio and driven by the SDK's own client: writ decides every tool call."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from conftest import EXAMPLE


async def session_calls(notes: Path, calls: list[tuple[str, dict]], **env: str) -> tuple[list, list]:
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(EXAMPLE / "server.py")],
        env={"NOTES_DIR": str(notes), **env},
        cwd=str(notes),
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            results = [await session.call_tool(name, args) for name, args in calls]
    return [t.name for t in tools.tools], results


def text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def run(notes: Path, calls: list[tuple[str, dict]], **env: str):
    return anyio.run(lambda: session_calls(notes, calls, **env))


def test_allowed_calls_run_and_refused_ones_do_not(tmp_path: Path):
    (tmp_path / "todo").write_text("buy milk")
    (tmp_path / "plan.keep").write_text("the plan")
    (tmp_path / "pin.secret").write_text("1234")
    names, (listed, read, secret, kept, pending, written) = run(
        tmp_path,
        [
            ("list_notes", {}),
            ("read_note", {"name": "todo"}),
            ("read_note", {"name": "pin.secret"}),
            ("write_note", {"name": "plan.keep", "text": "overwritten"}),
            ("delete_note", {"name": "todo"}),
            ("write_note", {"name": "new", "text": "hello"}),
        ],
    )
    assert sorted(names) == ["delete_note", "list_notes", "read_note", "write_note"]
    assert not listed.is_error and "todo" in text(listed)
    assert not read.is_error and text(read) == "buy milk"

    assert secret.is_error
    assert "writ denied `notes.read`: secret notes stay with people" in text(secret)
    assert "1234" not in text(secret)

    assert kept.is_error and "kept notes are never changed" in text(kept)
    assert (tmp_path / "plan.keep").read_text() == "the plan"

    assert pending.is_error
    assert "pending evidence: confirmation (need 1, have 0)" in text(pending)
    assert (tmp_path / "todo").exists()

    assert not written.is_error and (tmp_path / "new").read_text() == "hello"


def test_evidence_turns_pending_into_allow(tmp_path: Path):
    (tmp_path / "todo").write_text("buy milk")
    _, (deleted,) = run(tmp_path, [("delete_note", {"name": "todo"})], NOTES_CONFIRMED="1")
    assert not deleted.is_error, text(deleted)
    assert not (tmp_path / "todo").exists()


def test_a_reader_cannot_write(tmp_path: Path):
    _, (written,) = run(
        tmp_path, [("write_note", {"name": "x", "text": "t"})], NOTES_ROLES="reader", NOTES_USER="rui"
    )
    assert written.is_error and "not entitled" in text(written)
    assert not (tmp_path / "x").exists()
