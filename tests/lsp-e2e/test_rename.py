"""Rename across files, and rename refused when the new name is reserved or taken."""

import re

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from conftest import (
    FILES,
    apply_workspace_edit,
    find,
    open_doc,
    read,
    request,
    slice_range,
    uri,
    writ_check_json,
)


def uses(text: str, word: str) -> list[int]:
    """The lines where `word` occurs as a name, outside strings and comments."""
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)
    code = re.sub(r"//[^\n]*", "", code)
    pattern = re.compile(r"(?<![\w])" + re.escape(word) + r"(?![\w])")
    return [n for n, line in enumerate(code.split("\n")) if pattern.search(line)]


def at(name: str, needle: str, delta: int = 1):
    return types.TextDocumentIdentifier(uri=uri(name)), find(read(name), needle, 0, delta)


async def rename(client, name, needle, new_name, delta=1):
    doc, pos = at(name, needle, delta)
    return await request(
        client.text_document_rename_async(types.RenameParams(text_document=doc, position=pos, new_name=new_name))
    )


@pytest.mark.parametrize(
    "name,needle,delta,old,new",
    [
        ("identities.writ", "role developer", 6, "developer", "engineer"),
        ("workflows.writ", "repo.read", 1, "repo.read", "repo.fetch"),
        ("tests.writ", "code_review", 1, "code_review", "review"),
        ("tests.writ", "feature_agent", 1, "feature_agent", "coding_agent"),
        ("tests.writ", "rita, tests_passed", 1, "rita", "rina"),
        ("workflows.writ", "team", 1, "team", "squad"),
    ],
)
async def test_rename_everywhere_and_the_policy_still_checks(client, tmp_path, name, needle, delta, old, new):
    caps = client.init_result.capabilities
    assert caps.rename_provider
    open_doc(client, name)
    doc, pos = at(name, needle, delta)
    if isinstance(caps.rename_provider, types.RenameOptions) and caps.rename_provider.prepare_provider:
        prepared = await request(
            client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=doc, position=pos))
        )
        assert prepared is not None, "prepareRename refused a renamable name"
        r = prepared if isinstance(prepared, types.Range) else getattr(prepared, "range", None)
        if r is not None:
            assert slice_range(read(name), r) == old
    edit = await rename(client, name, needle, new, delta)
    texts = apply_workspace_edit(edit, {})
    assert texts, "the rename changed nothing"
    for f in FILES:
        left = uses(texts.get(f, read(f)), old)
        assert left == [], f"{f}: `{old}` is still used at lines {left}"
    assert sum(len(uses(texts.get(f, read(f)), new)) for f in FILES) == sum(
        len(uses(read(f), old)) for f in FILES
    ), "not every use was renamed"
    assert writ_check_json(texts, tmp_path) == [], "the renamed policy does not check"


@pytest.mark.parametrize(
    "new,why",
    [
        ("maintainer", "taken"),
        ("deploy", "taken by a tool (one namespace)"),
        ("allow", "reserved"),
        ("not a name", "not a word"),
        ("9lives", "not a word"),
    ],
)
async def test_rename_refused_with_a_message(client, new, why):
    assert client.init_result.capabilities.rename_provider
    open_doc(client, "identities.writ")
    with pytest.raises(JsonRpcException) as refused:
        await rename(client, "identities.writ", "role developer", new, 6)
    message = str(refused.value)
    assert new in message, f"refusal ({why}) does not name `{new}`: {message}"


async def test_rename_to_a_word_the_parser_reserves_is_refused_or_checks(client, tmp_path):
    """`by` is not a keyword in LANGUAGE.md §1 but the grammar does not take it as a name: a
    rename to it must either be refused or leave a policy that still checks."""
    open_doc(client, "identities.writ")
    try:
        edit = await rename(client, "identities.writ", "role developer", "by", 6)
    except JsonRpcException as refused:
        assert "by" in str(refused)
        return
    texts = apply_workspace_edit(edit, {})
    problems = [(c["file"], c["line"], c["message"]) for c in writ_check_json(texts, tmp_path)]
    assert problems == [], f"renaming `developer` to `by` was accepted and broke the policy: {problems}"


async def test_rename_of_a_keyword_is_refused(client):
    open_doc(client, "workflows.writ")
    doc, pos = at("workflows.writ", "allow repo.read", 1)
    caps = client.init_result.capabilities
    assert caps.rename_provider
    if isinstance(caps.rename_provider, types.RenameOptions) and caps.rename_provider.prepare_provider:
        # LSP: null, or an error whose message the editor shows.
        try:
            prepared = await request(
                client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=doc, position=pos))
            )
        except JsonRpcException:
            prepared = None
        assert prepared is None
    with pytest.raises(JsonRpcException):
        await rename(client, "workflows.writ", "allow repo.read", "permit", 1)
