"""`writ.Guard`: a guarded function runs only on allow, with the arguments it was decided on."""

from __future__ import annotations

import asyncio

import pytest

import writ

OWNER = {"id": "ana", "kind": "human", "roles": ["owner"]}


def test_a_guarded_function_runs_only_on_allow(policy):
    guard = policy.guard(workflow="assistant", principal=OWNER, agent="assistant")
    ran: list[str] = []

    @guard("notes.read")
    def read(name: str) -> str:
        ran.append(name)
        return f"text of {name}"

    assert read("a") == "text of a"
    with pytest.raises(writ.Denied) as raised:
        read(name="b.secret")
    assert ran == ["a"]
    assert raised.value.tool == "notes.read"
    assert raised.value.reasons == ["secret notes stay with people"]
    assert raised.value.decision["decision"] == "deny"
    assert str(raised.value) == "writ denied `notes.read`: secret notes stay with people"
    assert isinstance(raised.value, writ.Refused)


def test_pending_carries_the_missing_evidence_and_evidence_is_read_per_call(policy):
    given: list[dict] = []
    guard = writ.Guard(
        policy, workflow="assistant", principal=OWNER, agent="assistant", evidence=lambda: given
    )
    deleted: list[str] = []

    @guard.tool("notes.delete")
    def delete(name: str) -> None:
        deleted.append(name)

    with pytest.raises(writ.Pending) as raised:
        delete("a")
    assert raised.value.missing == [{"evidence": "confirmation", "need": 1, "have": 0}]
    assert "confirmation (need 1, have 0)" in str(raised.value)
    assert deleted == []
    given.append({"kind": "confirmation"})
    delete("a")
    assert deleted == ["a"]


def test_defaults_keywords_and_kwargs_are_the_arguments(policy):
    seen: list[dict] = []

    class Recording:
        def decide(self, request):
            seen.append(request)
            return policy.decide(request)

    guard = writ.Guard(Recording(), workflow="assistant", chain=[OWNER], tool="notes.write")

    @guard
    def write(name: str, text: str = "default", *rest, **more) -> str:
        return name

    with pytest.raises(writ.Denied, match="has no argument `extra`"):
        write("a", extra=1)
    assert seen[-1]["tool"] == "notes.write"
    assert seen[-1]["args"] == {"name": "a", "text": "default", "extra": 1}
    assert seen[-1]["chain"] == [OWNER]

    @guard(ignore=["handle"])
    def write2(name: str, text: str, handle: object) -> str:
        return name

    assert write2("b", "t", handle=object()) == "b"
    assert seen[-1]["args"] == {"name": "b", "text": "t"}
    assert write2.__name__ == "write2" and write2.__wrapped__  # type: ignore[attr-defined]


def test_the_function_name_is_the_default_tool(policy):
    guard = policy.guard(workflow="assistant", principal=OWNER)

    @guard
    def unknown_tool() -> None:
        raise AssertionError("must not run")

    with pytest.raises(writ.Denied) as raised:
        unknown_tool()
    assert raised.value.tool == "unknown_tool"


def test_a_call_writ_cannot_read_does_not_run(policy):
    guard = policy.guard(workflow="assistant", principal=OWNER)

    @guard("notes.read")
    def read(name: object) -> None:
        raise AssertionError("must not run")

    with pytest.raises(writ.RequestError) as raised:
        read(object())
    assert raised.value.field == "args.name"


def test_async_functions_are_guarded(policy):
    guard = policy.guard(workflow="assistant", principal=OWNER, agent={"id": "bot", "kind": "agent"})

    @guard("notes.read")
    async def read(name: str) -> str:
        return name

    assert asyncio.run(read("a")) == "a"
    with pytest.raises(writ.Denied):
        asyncio.run(read("a.secret"))


def test_refuse_turns_refusals_into_the_callers_exceptions(policy):
    class Mine(Exception):
        pass

    guard = policy.guard(workflow="assistant", principal=OWNER, refuse=lambda r: Mine(str(r)))

    @guard("notes.read")
    def read(name: str) -> str:
        return name

    with pytest.raises(Mine) as raised:
        read("x.secret")
    assert isinstance(raised.value.__cause__, writ.Denied)


def test_a_guard_needs_one_chain(policy):
    with pytest.raises(TypeError):
        writ.Guard(policy, workflow="assistant")
    with pytest.raises(TypeError):
        writ.Guard(policy, workflow="assistant", chain=[OWNER], principal=OWNER)
    # Context, subject and cwd go into the request as given.
    guard = writ.Guard(policy, workflow="w", chain=lambda: [OWNER], context={"c": 1}, subject="s", cwd="/x")
    assert guard.request("t", {"a": 1}) == {
        "action": "call", "workflow": "w", "tool": "t", "args": {"a": 1}, "chain": [OWNER],
        "context": {"c": 1}, "subject": "s", "cwd": "/x",
    }
