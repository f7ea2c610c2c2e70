"""Fixtures and helpers for the end-to-end tests of `writ lsp`.

Each test starts its own `writ lsp` process (the binary named by $WRIT, by default
target/release/writ) and speaks LSP to it over stdio through pytest-lsp, as VS Code would
(pytest-lsp's recorded VS Code client capabilities). The workspace folder is
`workspace/`, a small policy of four files; tests change documents only in memory
(didOpen/didChange), never on disk.

Waits have generous limits that only guard against a hung server; no test asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORKSPACE = HERE / "workspace"
WRIT = str(Path(os.environ.get("WRIT", REPO / "target" / "release" / "writ")).resolve())

# How long a wait may take before the server counts as hung. A guard, not a measurement.
HANG_GUARD = 60.0

FILES = ["identities.writ", "tools.writ", "workflows.writ", "tests.writ"]


def uri(name: str) -> str:
    return (WORKSPACE / name).as_uri()


def read(name: str) -> str:
    return (WORKSPACE / name).read_text(encoding="utf-8")


def name_of(file_uri: str) -> str:
    """The workspace file name of a URI (the URI itself if it is outside the workspace)."""
    prefix = WORKSPACE.as_uri() + "/"
    return file_uri[len(prefix) :] if file_uri.startswith(prefix) else file_uri


# ---------------------------------------------------------------------------------------------
# Positions: LSP counts UTF-16 code units.


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def position_at(text: str, offset: int) -> types.Position:
    """The LSP position of Python string index `offset` in `text`."""
    before = text[:offset]
    line = before.count("\n")
    line_start = before.rfind("\n") + 1
    return types.Position(line=line, character=utf16_len(before[line_start:]))


def offset_at(text: str, pos: types.Position) -> int:
    """The Python string index of an LSP position (clamped to the line, as LSP says)."""
    lines = text.split("\n")
    if pos.line >= len(lines):
        return len(text)
    start = sum(len(l) + 1 for l in lines[: pos.line])
    line = lines[pos.line]
    units = 0
    for i, ch in enumerate(line):
        if units >= pos.character:
            return start + i
        units += utf16_len(ch)
    return start + len(line)


def find(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The position `delta` characters into the `nth` (0-based) occurrence of `needle`."""
    at = -1
    for _ in range(nth + 1):
        at = text.find(needle, at + 1)
        assert at >= 0, f"`{needle}` (#{nth}) not in the text"
    return position_at(text, at + delta)


def apply_edits(text: str, edits) -> str:
    """Applies LSP TextEdits (non-overlapping, any order) to `text`."""
    spans = [
        (offset_at(text, e.range.start), offset_at(text, e.range.end), e.new_text) for e in edits
    ]
    for start, end, new in sorted(spans, key=lambda s: (s[0], s[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def workspace_edit_changes(edit: types.WorkspaceEdit | None) -> dict[str, list]:
    """A WorkspaceEdit as {uri: [TextEdit]}, from `changes` or `documentChanges`."""
    assert edit is not None, "no workspace edit"
    out: dict[str, list] = {}
    for u, edits in (edit.changes or {}).items():
        out.setdefault(u, []).extend(edits)
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit), f"unexpected document change {change}"
        out.setdefault(change.text_document.uri, []).extend(change.edits)
    return out


def apply_workspace_edit(edit: types.WorkspaceEdit | None, texts: dict[str, str]) -> dict[str, str]:
    """Applies a WorkspaceEdit to `texts` ({file name: text}, disk text for the rest)."""
    result = dict(texts)
    for u, edits in workspace_edit_changes(edit).items():
        name = name_of(u)
        base = result[name] if name in result else read(name)
        result[name] = apply_edits(base, edits)
    return result


# ---------------------------------------------------------------------------------------------
# `writ` on the command line, the reference the server must agree with.


def writ_check_json(texts: dict[str, str], tmp_path: Path) -> list[dict[str, Any]]:
    """`writ check --format json` of a copy of the workspace with `texts` replacing files."""
    root = tmp_path / "policy"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(WORKSPACE, root)
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")
    out = subprocess.run(
        [WRIT, "check", "--format", "json", str(root)], capture_output=True, text=True
    )
    assert out.returncode in (0, 1), f"writ check failed: {out.stderr}"
    found = json.loads(out.stdout)
    for d in found:
        d["file"] = Path(d["file"]).resolve().relative_to(root.resolve()).as_posix()
    return found


def writ_fmt(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([WRIT, "fmt", "-"], input=text, capture_output=True, text=True)


# ---------------------------------------------------------------------------------------------
# The client.


def make_client() -> LanguageClient:
    """pytest-lsp's test client, recording every diagnostics notification with its version,
    and answering the requests a server may send to a client."""
    client = LanguageClient()
    client.published = {}  # uri -> PublishDiagnosticsParams (the latest)
    client.applied_edits = []
    client.message_requests = []

    def publish(c: LanguageClient, params: types.PublishDiagnosticsParams):
        c.diagnostics[params.uri] = params.diagnostics
        c.published[params.uri] = params

    def apply_edit(c: LanguageClient, params: types.ApplyWorkspaceEditParams):
        c.applied_edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    def show_message_request(c: LanguageClient, params: types.ShowMessageRequestParams):
        c.message_requests.append(params)
        return None

    def refresh(c: LanguageClient, params):
        return None

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features[types.WORKSPACE_APPLY_EDIT] = apply_edit
    features[types.WINDOW_SHOW_MESSAGE_REQUEST] = show_message_request
    features[types.WORKSPACE_CODE_LENS_REFRESH] = refresh
    features[types.WORKSPACE_SEMANTIC_TOKENS_REFRESH] = refresh
    features[types.WORKSPACE_INLAY_HINT_REFRESH] = refresh
    register_lsp_features(client, features)
    return client


def initialize_params() -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=WORKSPACE.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=WORKSPACE.as_uri(), name="workspace")],
    )


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[WRIT, "lsp"], client_factory=make_client)
)
async def client(lsp_client: LanguageClient):
    lsp_client.init_result = await asyncio.wait_for(
        lsp_client.initialize_session(initialize_params()), HANG_GUARD
    )
    yield
    server = lsp_client._server
    if server is not None and server.returncode is None:
        try:
            await asyncio.wait_for(lsp_client.shutdown_session(), HANG_GUARD)
        except Exception:
            server.kill()
            raise


def capabilities(client: LanguageClient) -> types.ServerCapabilities:
    return client.init_result.capabilities


# ---------------------------------------------------------------------------------------------
# Documents and diagnostics.


def open_doc(client: LanguageClient, name: str, text: str | None = None, version: int = 1) -> str:
    text = read(name) if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri(name), language_id="writ", version=version, text=text
            )
        )
    )
    return text


def change_doc(client: LanguageClient, name: str, version: int, changes) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(name), version=version),
            content_changes=changes,
        )
    )


def replace_all(text: str) -> types.TextDocumentContentChangeWholeDocument:
    return types.TextDocumentContentChangeWholeDocument(text=text)


def replace_range(old: str, start: int, end: int, new: str):
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=position_at(old, start), end=position_at(old, end)), text=new
    )


async def wait_diagnostics(
    client: LanguageClient,
    name: str,
    predicate: Callable[[list[types.Diagnostic]], bool],
    what: str,
    version: int | None = None,
) -> list[types.Diagnostic]:
    """Waits until the latest diagnostics published for `name` satisfy `predicate` (and, when
    the server sends versions, are for `version` or later)."""
    file_uri = uri(name)

    def ready() -> bool:
        params = client.published.get(file_uri)
        if params is None:
            return False
        if version is not None and params.version is not None and params.version < version:
            return False
        return predicate(list(params.diagnostics))

    async def loop():
        while not ready():
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    try:
        await asyncio.wait_for(loop(), HANG_GUARD)
    except asyncio.TimeoutError:
        got = client.published.get(file_uri)
        shown = [(d.code, d.message) for d in got.diagnostics] if got else "nothing"
        pytest.fail(f"no diagnostics for {name} where {what}; last published: {shown}")
    return list(client.published[file_uri].diagnostics)


async def request(awaitable):
    """Awaits one request, failing (instead of hanging) if the server never answers."""
    try:
        return await asyncio.wait_for(awaitable, HANG_GUARD)
    except asyncio.TimeoutError:
        pytest.fail("the server did not answer")


def text_of_hover(hover: types.Hover | None) -> str:
    assert hover is not None, "no hover"
    contents = hover.contents
    items = list(contents) if isinstance(contents, (list, tuple)) else [contents]
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append(item)
        else:
            parts.append(item.value)
    return "\n".join(parts)


def locations(result) -> list[tuple[str, types.Range]]:
    """Definition/references results (Location, [Location] or [LocationLink]) as (file, range)."""
    if result is None:
        return []
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    out = []
    for item in items:
        if isinstance(item, types.LocationLink):
            out.append((name_of(item.target_uri), item.target_selection_range))
        else:
            out.append((name_of(item.uri), item.range))
    return out


def slice_range(text: str, r: types.Range) -> str:
    return text[offset_at(text, r.start) : offset_at(text, r.end)]
