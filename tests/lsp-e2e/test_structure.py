"""Document highlights, document and workspace symbols, semantic tokens and folding."""

from lsprotocol import types

from conftest import find, name_of, open_doc, read, request, slice_range, uri


def doc(name: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri(name))


async def test_document_highlights(client):
    assert client.init_result.capabilities.document_highlight_provider
    text = open_doc(client, "workflows.writ")
    result = await request(
        client.text_document_document_highlight_async(
            types.DocumentHighlightParams(text_document=doc("workflows.writ"), position=find(text, "maintainer", 0, 1))
        )
    )
    spans = sorted((h.range.start.line, slice_range(text, h.range)) for h in result or [])
    assert spans == [(2, "maintainer"), (5, "maintainer")], spans


def flatten(symbols):
    for s in symbols or []:
        yield s
        yield from flatten(getattr(s, "children", None))


async def test_document_symbols(client):
    assert client.init_result.capabilities.document_symbol_provider
    open_doc(client, "identities.writ")
    result = await request(
        client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc("identities.writ")))
    )
    names = [s.name for s in result or []]
    assert any("developer" in n for n in names) and any("maintainer" in n for n in names), names
    assert any("team" in n for n in names), names
    # Entitlements are nested under their role (hierarchical symbols).
    nested = [c.name for s in result if "maintainer" in s.name for c in (getattr(s, "children", None) or [])]
    assert any("repo.merge" in n for n in nested), nested


async def test_workspace_symbols(client):
    assert client.init_result.capabilities.workspace_symbol_provider
    result = await request(client.workspace_symbol_async(types.WorkspaceSymbolParams(query="repo")))
    found = {(s.name, name_of(s.location.uri)) for s in result or []}
    for tool in ["repo.read", "repo.push", "repo.merge"]:
        assert any(tool in n and f == "tools.writ" for n, f in found), (tool, found)


async def test_semantic_tokens(client):
    provider = client.init_result.capabilities.semantic_tokens_provider
    assert provider is not None
    legend = provider.legend
    text = open_doc(client, "identities.writ")
    result = await request(
        client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc("identities.writ")))
    )
    data = list(result.data)
    assert data and len(data) % 5 == 0
    tokens = {}
    line = col = 0
    lines = text.split("\n")
    for i in range(0, len(data), 5):
        d_line, d_col, length, kind, _mods = data[i : i + 5]
        line += d_line
        col = col + d_col if d_line == 0 else d_col
        tokens[(line, col)] = (lines[line][col : col + length], legend.token_types[kind])
    role = find(text, "role developer")
    assert tokens.get((role.line, role.character)) == ("role", "keyword"), tokens.get((role.line, role.character))
    name = find(text, "developer", 0)
    assert tokens.get((name.line, name.character), ("", ""))[0] == "developer"
    comment = find(text, "/// Everyone")
    assert tokens.get((comment.line, comment.character), ("", ""))[1] == "comment"


async def test_folding_ranges(client):
    assert client.init_result.capabilities.folding_range_provider
    text = open_doc(client, "workflows.writ")
    result = await request(
        client.text_document_folding_range_async(types.FoldingRangeParams(text_document=doc("workflows.writ")))
    )
    spans = {(r.start_line, r.end_line) for r in result or []}
    start = find(text, "workflow feature_agent").line
    end = find(text, "}\n").line
    assert any(s == start and e in (end - 1, end) for s, e in spans), spans
