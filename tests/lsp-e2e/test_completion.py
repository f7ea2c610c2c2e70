"""Completion that knows where it is."""

import pytest
from lsprotocol import types

from conftest import open_doc, position_at, read, request, uri


def with_line_in_workflow(line: str) -> tuple[str, int]:
    """workflows.writ with `line` added as the workflow's last rule; the offset of its end."""
    text = read("workflows.writ")
    anchor = "\n}\n\ndeny"
    assert anchor in text
    at = text.index(anchor) + 1
    new = text[:at] + line + "\n" + text[at:]
    return new, at + len(line)


def with_line_at_top(line: str) -> tuple[str, int]:
    text = read("workflows.writ") + "\n" + line
    return text, len(text)


def names(result) -> set[str]:
    """The names offered: each item's inserted text (text edit, insert text or label),
    without the quotes of a string literal."""
    items = result.items if isinstance(result, types.CompletionList) else (result or [])
    out = set()
    for item in items:
        for value in (item.label, item.insert_text, getattr(item.text_edit, "new_text", None)):
            if value:
                out.add(value.strip().strip('"'))
    return out


async def complete(client, text: str, offset: int):
    open_doc(client, "workflows.writ", text)
    return await request(
        client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri("workflows.writ")),
                position=position_at(text, offset),
            )
        )
    )


CASES = [
    # (what, how the text is made, expected names, names that must not be offered)
    ("keywords at the start of a rule", with_line_in_workflow("  "), {"allow", "deny", "require", "start"}, {"developer", "repo.read"}),
    ("keywords at the start of a declaration", with_line_at_top(""), {"role", "tool", "evidence", "workflow", "deny"}, {"repo.read"}),
    ("roles after `by`", with_line_in_workflow("  start by "), {"developer", "maintainer"}, {"repo.read", "tests_passed"}),
    ("roles after `extends`", with_line_at_top("role reviewer extends "), {"developer", "maintainer"}, {"repo.read"}),
    ("roles after `has role`", with_line_in_workflow("  allow repo.read when initiator has role "), {"developer", "maintainer"}, {"deploy"}),
    ("tools after `allow`", with_line_in_workflow("  allow "), {"repo.read", "repo.push", "repo.merge", "deploy"}, {"developer"}),
    ("tools after `deny`", with_line_at_top("deny "), {"repo.read", "deploy"}, {"maintainer"}),
    ("tools after `for`", with_line_at_top("require tests_passed for "), {"repo.merge", "deploy"}, {"maintainer"}),
    ("tags inside a target", with_line_in_workflow("  allow ["), {"write", "prod"}, {"developer"}),
    ("arguments in a condition", with_line_in_workflow("  allow repo.merge when "), {"repo", "base", "initiator", "caller"}, {"env"}),
    ("members after `initiator.`", with_line_in_workflow("  allow repo.read when initiator."), {"team", "id", "kind"}, {"deploy"}),
    ("enumeration values after `==`", with_line_in_workflow("  allow deploy when env == "), {"staging", "prod"}, {"developer"}),
    ("evidence after `require`", with_line_in_workflow("  allow repo.read require "), {"tests_passed", "code_review"}, {"developer", "deploy"}),
]


@pytest.mark.parametrize("what,made,expected,forbidden", CASES, ids=[c[0] for c in CASES])
async def test_completion(client, what, made, expected, forbidden):
    assert client.init_result.capabilities.completion_provider is not None
    text, offset = made
    offered = names(await complete(client, text, offset))
    missing = expected - offered
    assert not missing, f"{what}: {sorted(missing)} not offered; offered {sorted(offered)}"
    wrong = forbidden & offered
    assert not wrong, f"{what}: {sorted(wrong)} offered where they cannot go"


async def test_completion_of_a_partly_typed_tool_replaces_the_whole_name(client):
    """Accepting `repo.merge` after `repo.me` must leave `repo.merge`, not `repo.repo.merge`."""
    text, offset = with_line_in_workflow("  allow repo.me")
    result = await complete(client, text, offset)
    items = result.items if isinstance(result, types.CompletionList) else result
    item = next(i for i in items if i.label == "repo.merge")
    if item.text_edit is not None:
        edit = item.text_edit
        r = edit.range if isinstance(edit, types.TextEdit) else edit.replace
        start = r.start
        line = text.split("\n")[start.line]
        assert line[: start.character].endswith("allow "), f"the edit starts at {start}: {line!r}"
        assert edit.new_text == "repo.merge"
    else:
        # Without an edit, the client replaces the word before the cursor (VS Code's default
        # word pattern stops at `.`), so the inserted text must be what follows the dot.
        assert (item.insert_text or item.label) in ("merge", "repo.merge")
        pytest.fail("no text edit: a client would insert `repo.merge` after `repo.`")
