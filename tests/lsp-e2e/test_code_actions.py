"""Code actions: apply "did you mean"; declare a missing role, tool or evidence kind; remove an
unused declaration. Each action's edit is applied and the result checked with `writ check`."""

from lsprotocol import types

from conftest import (
    apply_workspace_edit,
    open_doc,
    read,
    request,
    uri,
    wait_diagnostics,
    writ_check_json,
)


async def actions_for(client, name: str, diagnostics: list[types.Diagnostic]):
    assert diagnostics
    result = await request(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri(name)),
                range=diagnostics[0].range,
                context=types.CodeActionContext(
                    diagnostics=diagnostics, trigger_kind=types.CodeActionTriggerKind.Invoked
                ),
            )
        )
    )
    actions = [a for a in result or [] if isinstance(a, types.CodeAction)]
    resolved = []
    for action in actions:
        if action.edit is None and action.command is None and action.data is not None:
            action = await request(client.code_action_resolve_async(action))
        resolved.append(action)
    return resolved


def pick(actions, *words):
    titles = [a.title for a in actions]
    for a in actions:
        if all(w.lower() in a.title.lower() for w in words):
            return a
    raise AssertionError(f"no action titled with {words}; offered {titles}")


async def apply_action(client, action, name, text):
    assert action.kind is None or action.kind.startswith("quickfix") or action.kind.startswith("refactor")
    if action.edit is not None:
        return apply_workspace_edit(action.edit, {name: text})
    assert action.command is not None, f"action `{action.title}` has neither an edit nor a command"
    before = len(client.applied_edits)
    await request(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
        )
    )
    assert len(client.applied_edits) > before, "the command applied no edit"
    texts = {name: text}
    for applied in client.applied_edits[before:]:
        texts = apply_workspace_edit(applied.edit, texts)
    return texts


async def test_did_you_mean(client, tmp_path):
    assert client.init_result.capabilities.code_action_provider
    text = read("workflows.writ").replace("allow repo.read", "allow repo.raed")
    open_doc(client, "workflows.writ", text)
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "unknown tool")
    action = pick(await actions_for(client, "workflows.writ", found), "repo.read")
    if action.is_preferred is not None:
        assert action.is_preferred
    texts = await apply_action(client, action, "workflows.writ", text)
    assert texts["workflows.writ"] == read("workflows.writ")
    assert writ_check_json(texts, tmp_path) == []


async def test_declare_a_missing_role(client, tmp_path):
    text = read("workflows.writ").replace("start by developer, maintainer", "start by developer, maintainer, auditor")
    open_doc(client, "workflows.writ", text)
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "unknown role")
    action = pick(await actions_for(client, "workflows.writ", found), "auditor")
    texts = await apply_action(client, action, "workflows.writ", text)
    assert any("role auditor" in t for t in texts.values()), texts
    codes = [c["code"] for c in writ_check_json(texts, tmp_path)]
    assert "writ::unknown_role" not in codes, codes


async def test_declare_a_missing_tool(client, tmp_path):
    text = read("workflows.writ").replace("  allow repo.read\n", "  allow repo.read\n  allow issues.create\n")
    open_doc(client, "workflows.writ", text)
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "unknown tool")
    action = pick(await actions_for(client, "workflows.writ", found), "issues.create")
    texts = await apply_action(client, action, "workflows.writ", text)
    assert any("tool issues.create" in t for t in texts.values()), texts
    codes = [c["code"] for c in writ_check_json(texts, tmp_path)]
    assert "writ::unknown_tool" not in codes, codes


async def test_declare_a_missing_evidence_kind(client, tmp_path):
    text = read("workflows.writ").replace("  allow repo.read\n", "  allow repo.read require ticket\n")
    open_doc(client, "workflows.writ", text)
    found = await wait_diagnostics(client, "workflows.writ", lambda ds: len(ds) > 0, "unknown evidence")
    action = pick(await actions_for(client, "workflows.writ", found), "ticket")
    texts = await apply_action(client, action, "workflows.writ", text)
    assert any("evidence ticket" in t for t in texts.values()), texts
    codes = [c["code"] for c in writ_check_json(texts, tmp_path)]
    assert not any(c.startswith("writ::unknown") for c in codes), codes


async def test_remove_an_unused_declaration(client, tmp_path):
    text = read("tools.writ") + "/// Nobody needs this.\nevidence signed_commit\n"
    open_doc(client, "tools.writ", text)
    found = await wait_diagnostics(client, "tools.writ", lambda ds: len(ds) > 0, "unused declaration")
    action = pick(await actions_for(client, "tools.writ", found), "signed_commit")
    texts = await apply_action(client, action, "tools.writ", text)
    assert "signed_commit" not in texts["tools.writ"]
    assert texts["tools.writ"].rstrip("\n") == read("tools.writ").rstrip("\n")
    assert writ_check_json(texts, tmp_path) == []
