"""Formatting: the same formatter as `writ fmt`; a file with syntax errors is left alone."""

from lsprotocol import types

from conftest import apply_edits, open_doc, read, request, uri, writ_fmt

MESSY = """// Who the people are.
/// Everyone who writes code here.
role  developer{may repo.read
 may repo.push when branch!="main"   // not main
}
/// Owns a service.
role maintainer extends developer { may repo.merge
      may deploy when env=="staging" }



attribute team:string
"""


async def format_doc(client, name: str):
    return await request(
        client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=uri(name)),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
    )


async def test_formatting_is_writ_fmt(client):
    assert client.init_result.capabilities.document_formatting_provider
    open_doc(client, "identities.writ", MESSY)
    edits = await format_doc(client, "identities.writ")
    assert edits, "no edits for a badly laid out file"
    expected = writ_fmt(MESSY)
    assert expected.returncode == 0, expected.stderr
    assert apply_edits(MESSY, edits) == expected.stdout


async def test_formatted_file_needs_no_edits(client):
    text = open_doc(client, "workflows.writ")
    assert writ_fmt(text).stdout == text
    edits = await format_doc(client, "workflows.writ")
    assert apply_edits(text, edits or []) == text


async def test_formatting_with_non_ascii_text(client):
    """Edits are in UTF-16 positions: text after a character outside the BMP lands right."""
    line = 'tool deploy(env: "staging" | "prod", service: string) [write, prod]\n'
    messy = 'tool deploy(env: "staging"|"prod", service:string)   [write,prod]\n' + (
        'deny   deploy when service=="\U0001f680 \u00e9" because   "no rockets"\n'
    )
    current = read("tools.writ").replace(line, messy)
    assert current != read("tools.writ")
    open_doc(client, "tools.writ", current)
    edits = await format_doc(client, "tools.writ")
    expected = writ_fmt(current)
    assert expected.returncode == 0, expected.stderr
    assert apply_edits(current, edits) == expected.stdout


async def test_file_with_syntax_errors_is_not_formatted(client):
    text = MESSY.replace("may repo.merge", "may repo.merge when (")
    assert writ_fmt(text).returncode != 0
    open_doc(client, "identities.writ", text)
    try:
        edits = await format_doc(client, "identities.writ")
    except Exception:
        return  # refusing with an error is also leaving the file alone
    assert not edits, f"a file with syntax errors was reformatted: {edits}"
