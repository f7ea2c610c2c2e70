"""Shutdown and exit, and robustness: bad positions, unknown files, stale edits."""

import asyncio

from lsprotocol import types

from conftest import HANG_GUARD, change_doc, open_doc, read, replace_all, request, uri, wait_diagnostics


async def test_initialize_answers_with_server_info(client):
    info = client.init_result.server_info
    assert info is not None and info.name == "writ"
    sync = client.init_result.capabilities.text_document_sync
    kind = sync.change if isinstance(sync, types.TextDocumentSyncOptions) else sync
    assert kind in (types.TextDocumentSyncKind.Incremental, types.TextDocumentSyncKind.Full)


async def test_shutdown_then_exit_ends_the_process(client):
    # `shutdown` has no params: pygls sends `"params": null`, which must be accepted.
    result = await request(client.shutdown_async(None))
    assert result is None
    client.exit(None)
    code = await asyncio.wait_for(client._server.wait(), HANG_GUARD)
    assert code == 0


async def test_exit_without_shutdown_ends_the_process(client):
    client.exit(None)
    await asyncio.wait_for(client._server.wait(), HANG_GUARD)
    # LSP: the exit code is 1 when no shutdown came first.
    assert client._server.returncode == 1


async def still_answers(client):
    """The server is alive: a hover on a known name still answers."""
    text = read("workflows.writ")
    pos = text.index("maintainer")
    line = text[:pos].count("\n")
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    hover = await request(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri("workflows.writ")),
                position=types.Position(line=line, character=col),
            )
        )
    )
    assert hover is not None


async def answer_or_error(awaitable):
    try:
        return await request(awaitable)
    except Exception as e:  # an error response is a fine answer; a hang or a crash is not
        if "did not answer" in str(e):
            raise
        return e


async def test_positions_outside_the_document(client):
    open_doc(client, "workflows.writ")
    doc = types.TextDocumentIdentifier(uri=uri("workflows.writ"))
    text = read("workflows.writ")
    last_line = text.count("\n")
    for pos in [
        types.Position(line=10_000, character=0),
        types.Position(line=0, character=10_000),
        types.Position(line=last_line, character=5),
        types.Position(line=2**31 - 1, character=2**31 - 1),
    ]:
        await answer_or_error(client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos)))
        await answer_or_error(
            client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos))
        )
        await answer_or_error(
            client.text_document_completion_async(types.CompletionParams(text_document=doc, position=pos))
        )
    await still_answers(client)


async def test_a_position_inside_a_surrogate_pair(client):
    text = 'deny * when initiator.team == "\U0001f680\U0001f680" because "x"\n'
    open_doc(client, "extra.writ", text)
    doc = types.TextDocumentIdentifier(uri=uri("extra.writ"))
    inside = types.Position(line=0, character=text.index("\U0001f680") + 1)  # between the halves
    await answer_or_error(client.text_document_hover_async(types.HoverParams(text_document=doc, position=inside)))
    change_doc(
        client,
        "extra.writ",
        2,
        [types.TextDocumentContentChangePartial(range=types.Range(start=inside, end=inside), text="x")],
    )
    await still_answers(client)


async def test_unknown_documents(client):
    doc = types.TextDocumentIdentifier(uri="file:///nowhere/at/all.writ")
    await answer_or_error(
        client.text_document_hover_async(types.HoverParams(text_document=doc, position=types.Position(line=0, character=0)))
    )
    await answer_or_error(
        client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=doc, options=types.FormattingOptions(tab_size=2, insert_spaces=True))
        )
    )
    # A change to a document that was never opened is ignored.
    change_doc(client, "never-opened.writ", 5, [replace_all("role x")])
    await still_answers(client)


async def test_a_stale_change_is_ignored(client):
    original = open_doc(client, "workflows.writ", version=5)
    await wait_diagnostics(client, "workflows.writ", lambda ds: ds == [], "clean", version=5)
    change_doc(client, "workflows.writ", 3, [replace_all("this is not writ")])
    change_doc(client, "workflows.writ", 6, [replace_all(original.replace("repo.read", "repo.raed", 1))])
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "the newer change", version=6)
    assert [d.code for d in found] == ["writ::unknown_tool"], [d.message for d in found]
    await still_answers(client)
