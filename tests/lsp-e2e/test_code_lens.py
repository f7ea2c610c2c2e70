"""A code lens on each `test` runs it and reports the result (and on failure, why)."""

import asyncio

from lsprotocol import types

from conftest import HANG_GUARD, find, open_doc, read, request, uri


async def lenses(client, open_first=True):
    if open_first:
        open_doc(client, "tests.writ")
    result = await request(
        client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri("tests.writ")))
        )
    )
    out = []
    for lens in result or []:
        if lens.command is None:
            lens = await request(client.code_lens_resolve_async(lens))
        out.append(lens)
    return out


async def run(client, lens) -> str:
    """Executes a lens's command; everything the server said back, as one text."""
    before_messages = len(client.messages)
    before_requests = len(client.message_requests)
    result = await request(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=lens.command.command, arguments=lens.command.arguments)
        )
    )
    said = [] if result is None else [str(result)]
    # A report by window/showMessage may follow the command's answer: wait for one if the
    # answer itself said nothing.
    if result is None and len(client.messages) == before_messages and len(client.message_requests) == before_requests:
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_SHOW_MESSAGE), HANG_GUARD)
    said += [m.message for m in client.messages[before_messages:]]
    said += [m.message for m in client.message_requests[before_requests:]]
    return "\n".join(said)


async def test_a_lens_on_each_test(client):
    assert client.init_result.capabilities.code_lens_provider is not None
    found = await lenses(client)
    text = read("tests.writ")
    lines = sorted(lens.range.start.line for lens in found)
    assert lines == [find(text, 'test "maintainers').line, find(text, 'test "deliberately').line], found
    commands = client.init_result.capabilities.execute_command_provider
    assert commands is not None, "the server lists no commands, so clients cannot run the lenses"
    for lens in found:
        assert lens.command is not None and lens.command.title
        assert lens.command.command in commands.commands


async def test_running_a_passing_test(client):
    found = await lenses(client)
    lens = min(found, key=lambda l: l.range.start.line)
    said = await run(client, lens)
    assert "maintainers merge reviewed changes" in said, said
    assert "pass" in said.lower() or "ok" in said.lower(), said
    assert "fail" not in said.lower(), said


async def test_running_a_failing_test_says_why(client):
    found = await lenses(client)
    lens = max(found, key=lambda l: l.range.start.line)
    said = await run(client, lens)
    assert "deliberately failing" in said, said
    assert "fail" in said.lower(), said
    # Why: the expected and actual decision, and the reason.
    assert "deny" in said.lower(), said
    assert "not entitled" in said, said


async def test_a_lens_shows_the_last_result(client):
    found = await lenses(client)
    failing = max(found, key=lambda l: l.range.start.line)
    before = failing.command.title
    await run(client, failing)
    again = await lenses(client, open_first=False)
    after = max(again, key=lambda l: l.range.start.line).command.title
    assert after != before, f"the lens still says `{after}` after a run"
    assert "fail" in after.lower() or "✗" in after, after
