"""Hover, go to definition and find references, across the files of the workspace."""

import pytest
from lsprotocol import types

from conftest import find, locations, open_doc, read, request, slice_range, text_of_hover, uri


def doc_pos(name: str, needle: str, nth: int = 0, delta: int = 1):
    return types.TextDocumentPositionParams(
        text_document=types.TextDocumentIdentifier(uri=uri(name)), position=find(read(name), needle, nth, delta)
    )


async def hover(client, name, needle, nth=0, delta=1):
    p = doc_pos(name, needle, nth, delta)
    return await request(
        client.text_document_hover_async(types.HoverParams(text_document=p.text_document, position=p.position))
    )


@pytest.mark.parametrize(
    "name,needle,nth,expected",
    [
        # A role: its doc comment and its extends chain.
        ("workflows.writ", "maintainer", 0, ["Owns a service", "developer"]),
        # A tool: its doc comment and its signature.
        ("workflows.writ", "repo.read", 0, ["Reads a file", "path: string"]),
        # A tool with an enumeration argument and tags.
        ("workflows.writ", "deploy", 0, ["Ships a service", "staging", "prod", "write"]),
        # An evidence kind: doc comment, who gives it, bound.
        ("workflows.writ", "code_review", 0, ["A human code review", "bound"]),
        # A workflow used in a test.
        ("tests.writ", "feature_agent", 0, ["A coding agent"]),
        # An attribute read in a condition.
        ("workflows.writ", "team", 0, ["The team a person belongs to", "string"]),
    ],
)
async def test_hover(client, name, needle, nth, expected):
    assert client.init_result.capabilities.hover_provider
    open_doc(client, name)
    text = text_of_hover(await hover(client, name, needle, nth))
    for part in expected:
        assert part in text, f"hover on `{needle}` lacks `{part}`: {text!r}"


async def test_hover_on_a_rule_says_what_it_does(client):
    open_doc(client, "workflows.writ")
    text = text_of_hover(await hover(client, "workflows.writ", "allow repo.merge", delta=2))
    assert "repo.merge" in text and "code_review" in text, text


async def test_hover_on_nothing_is_empty(client):
    open_doc(client, "workflows.writ")
    # On the blank line between the workflow and the guardrail: no hover (or an empty one).
    result = await hover(client, "workflows.writ", "}\n\ndeny", delta=2)
    assert result is None or text_of_hover(result).strip() == "", text_of_hover(result)


@pytest.mark.parametrize(
    "name,needle,delta,target_file,target_needle",
    [
        ("workflows.writ", "maintainer", 1, "identities.writ", "role maintainer"),
        ("identities.writ", "extends developer", 9, "identities.writ", "role developer"),
        ("workflows.writ", "repo.merge", 6, "tools.writ", "tool repo.merge"),
        ("workflows.writ", "tests_passed", 1, "tools.writ", "evidence tests_passed"),
        ("workflows.writ", "team", 1, "identities.writ", "attribute team"),
        ("tests.writ", "feature_agent", 1, "workflows.writ", "workflow feature_agent"),
        ("tests.writ", "calls deploy", 7, "tools.writ", "tool deploy"),
        ("tests.writ", "rita, tests_passed", 1, "tests.writ", "fixture rita"),
    ],
)
async def test_definition(client, name, needle, delta, target_file, target_needle):
    assert client.init_result.capabilities.definition_provider
    open_doc(client, name)
    p = doc_pos(name, needle, 0, delta)
    result = await request(
        client.text_document_definition_async(
            types.DefinitionParams(text_document=p.text_document, position=p.position)
        )
    )
    found = locations(result)
    assert len(found) == 1, found
    file, r = found[0]
    assert file == target_file
    declared = target_needle.split(" ", 1)[1]
    target_text = read(target_file)
    assert r.start.line == find(target_text, target_needle).line
    # The range is the declared name (or the whole declaration around it).
    assert declared in slice_range(target_text, r), slice_range(target_text, r)


async def test_definition_of_a_keyword_is_nothing(client):
    open_doc(client, "workflows.writ")
    p = doc_pos("workflows.writ", "allow repo.read", 0, 1)
    result = await request(
        client.text_document_definition_async(types.DefinitionParams(text_document=p.text_document, position=p.position))
    )
    assert locations(result) == []


async def references(client, name, needle, include_declaration, delta=1):
    p = doc_pos(name, needle, 0, delta)
    result = await request(
        client.text_document_references_async(
            types.ReferenceParams(
                text_document=p.text_document,
                position=p.position,
                context=types.ReferenceContext(include_declaration=include_declaration),
            )
        )
    )
    return sorted((f, r.start.line, slice_range(read(f), r)) for f, r in locations(result))


async def test_references_across_files(client):
    assert client.init_result.capabilities.references_provider
    open_doc(client, "tools.writ")
    uses = [
        ("tests.writ", 6, "tests_passed"),
        ("tests.writ", 8, "tests_passed"),
        ("tests.writ", 13, "tests_passed"),
        ("workflows.writ", 4, "tests_passed"),
        ("workflows.writ", 5, "tests_passed"),
        ("workflows.writ", 6, "tests_passed"),
    ]
    assert await references(client, "tools.writ", "evidence tests_passed", False, delta=10) == uses
    with_decl = await references(client, "tools.writ", "evidence tests_passed", True, delta=10)
    assert with_decl == sorted(uses + [("tools.writ", 7, "tests_passed")])


async def test_references_of_a_role_from_a_use(client):
    open_doc(client, "workflows.writ")
    found = await references(client, "workflows.writ", "developer", True)
    assert found == [
        ("identities.writ", 3, "developer"),
        ("identities.writ", 9, "developer"),
        ("tests.writ", 0, "developer"),
        ("workflows.writ", 2, "developer"),
    ]


async def test_references_of_a_dotted_tool(client):
    open_doc(client, "tools.writ")
    found = await references(client, "tools.writ", "repo.push", True)
    assert found == [
        ("identities.writ", 5, "repo.push"),
        ("tools.writ", 2, "repo.push"),
        ("workflows.writ", 4, "repo.push"),
    ]
