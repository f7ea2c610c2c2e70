"""Diagnostics as you type: those of `writ check`, published per file, cleared when fixed."""

from lsprotocol import types

from conftest import (
    change_doc,
    open_doc,
    position_at,
    read,
    replace_all,
    replace_range,
    uri,
    utf16_len,
    wait_diagnostics,
    writ_check_json,
)

SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def code_of(d: types.Diagnostic) -> str:
    return str(d.code) if d.code is not None else ""


def all_text(d: types.Diagnostic) -> str:
    """What an editor shows of a diagnostic: its message and related information."""
    related = [r.message for r in d.related_information or []]
    return "\n".join([d.message, *related])


def expected_range(text: str, c: dict) -> types.Range:
    """The LSP range of a `writ check --format json` diagnostic (1-based character columns)."""
    lines = text.split("\n")

    def pos(line: int, column: int) -> types.Position:
        line_text = lines[line - 1] if line - 1 < len(lines) else ""
        return types.Position(line=line - 1, character=utf16_len(line_text[: column - 1]))

    return types.Range(start=pos(c["line"], c["column"]), end=pos(c["end_line"], c["end_column"]))


def assert_same_as_check(name: str, text: str, published: list[types.Diagnostic], check: list):
    expected = [c for c in check if c["file"] == name]
    assert len(published) == len(expected), (
        f"{name}: server published {[(code_of(d), d.message) for d in published]}, "
        f"writ check says {[(c['code'], c['message']) for c in expected]}"
    )
    by_key = {(code_of(d), d.range.start.line, d.range.start.character): d for d in published}
    for c in expected:
        r = expected_range(text, c)
        d = by_key.get((c["code"], r.start.line, r.start.character))
        assert d is not None, f"no published diagnostic {c['code']} at {r.start}: {c['message']}"
        assert d.range == r, f"{c['code']}: range {d.range} != {r}"
        assert d.severity == SEVERITY[c["severity"]]
        assert c["message"] in d.message
        if c.get("help"):
            assert c["help"] in all_text(d), f"help `{c['help']}` not shown: {all_text(d)!r}"


async def test_clean_workspace_publishes_no_errors(client, tmp_path):
    text = open_doc(client, "workflows.writ")
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: True, "any", version=1)
    assert found == [], [d.message for d in found]
    assert writ_check_json({"workflows.writ": text}, tmp_path) == []


async def test_diagnostics_appear_match_writ_check_and_clear(client, tmp_path):
    caps = client.init_result.capabilities
    assert caps.text_document_sync is not None

    original = read("workflows.writ")
    # A misspelt tool after a string with a character outside the BMP: the column must be
    # counted in UTF-16 code units.
    broken = original.replace(
        'allow deploy when env == "staging" require tests_passed',
        'allow deploy when env == "staging" and service != "\U0001f680" and envv == "x" require tests_passed',
    ).replace("allow repo.read", "allow repo.raed")
    assert broken != original
    open_doc(client, "workflows.writ", broken, version=1)
    found = await wait_diagnostics(
        client, "workflows.writ", lambda ds: len(ds) > 0, "errors appear", version=1
    )
    check = writ_check_json({"workflows.writ": broken}, tmp_path)
    assert {c["code"] for c in check} >= {"writ::unknown_tool"}, check
    assert_same_as_check("workflows.writ", broken, found, check)

    # Fix the misspelt tool with an incremental edit: only the other error stays.
    at = broken.index("repo.raed")
    change_doc(client, "workflows.writ", 2, [replace_range(broken, at, at + len("repo.raed"), "repo.read")])
    fixed_one = broken[:at] + "repo.read" + broken[at + len("repo.raed") :]
    found = await wait_diagnostics(
        client, "workflows.writ", lambda ds: len(ds) < len(check), "one error is fixed", version=2
    )
    assert_same_as_check("workflows.writ", fixed_one, found, writ_check_json({"workflows.writ": fixed_one}, tmp_path))

    # Back to the original text with a full-document change: the diagnostics clear.
    change_doc(client, "workflows.writ", 3, [replace_all(original)])
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: ds == [], "cleared", version=3)
    assert found == []


async def test_warnings_are_warnings(client, tmp_path):
    text = read("tools.writ") + "evidence signed_commit\n"
    open_doc(client, "tools.writ", text)
    found = await wait_diagnostics(client, "tools.writ", lambda ds: len(ds) > 0, "a warning appears")
    check = writ_check_json({"tools.writ": text}, tmp_path)
    assert [c["code"] for c in check] == ["writ::unused_declaration"], check
    assert_same_as_check("tools.writ", text, found, check)
    assert all(d.severity == types.DiagnosticSeverity.Warning for d in found)


async def test_syntax_errors_and_half_typed_text(client, tmp_path):
    original = read("workflows.writ")
    text = original.replace("  allow repo.read\n", "  allow repo.read when\n  allow (\n")
    open_doc(client, "workflows.writ", text)
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "syntax errors")
    assert_same_as_check("workflows.writ", text, found, writ_check_json({"workflows.writ": text}, tmp_path))
    assert any(code_of(d) == "writ::syntax" for d in found)


async def test_a_change_in_one_file_is_checked_across_the_program(client, tmp_path):
    """Renaming a role by hand in identities.writ breaks the files that use it, even those that
    are not open; undoing it clears them."""
    open_doc(client, "workflows.writ")
    original = open_doc(client, "identities.writ")
    await wait_diagnostics(client, "identities.writ", lambda ds: ds == [], "clean at first")
    broken = original.replace("role developer {", "role dev {")
    change_doc(client, "identities.writ", 2, [replace_all(broken)])
    check = writ_check_json({"identities.writ": broken}, tmp_path)
    files_with_errors = {c["file"] for c in check}
    assert files_with_errors >= {"identities.writ", "workflows.writ", "tests.writ"}, check
    for name in sorted(files_with_errors):
        text = broken if name == "identities.writ" else read(name)
        found = await wait_diagnostics(client, name, lambda ds: len(ds) > 0, "the role is missing")
        assert_same_as_check(name, text, found, check)

    change_doc(client, "identities.writ", 3, [replace_all(original)])
    for name in sorted(files_with_errors):
        await wait_diagnostics(client, name, lambda ds: ds == [], "cleared after the undo")


async def test_closing_a_document_returns_to_the_text_on_disk(client):
    text = read("workflows.writ").replace("allow repo.read", "allow repo.raed")
    open_doc(client, "workflows.writ", text)
    await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "an error")
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri("workflows.writ")))
    )
    await wait_diagnostics(client, "workflows.writ", lambda ds: ds == [], "cleared on close")


async def test_a_new_unsaved_file_joins_the_program(client, tmp_path):
    """A document opened in the folder but not on disk is part of the workspace's program."""
    text = "workflow review_agent {\n  start by maintainer\n  allow repo.read\n  allow deploy.nope\n}\n"
    open_doc(client, "new.writ", text)
    found = await wait_diagnostics(client, "new.writ", lambda ds: len(ds) > 0, "unknown tool")
    assert [code_of(d) for d in found] == ["writ::unknown_tool"]
    assert found[0].range.start == position_at(text, text.index("deploy.nope"))
