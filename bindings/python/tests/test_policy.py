"""The API of `writ.Policy` and `writ.check`, against `writ eval` where it has an answer."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

import writ
from conftest import call


def test_decide_allows_denies_and_holds_pending(policy):
    assert policy.decide(call("notes.read", {"name": "a"}))["decision"] == "allow"
    denied = policy.decide(call("notes.read", {"name": "a.secret"}))
    assert denied["decision"] == "deny"
    assert denied["reasons"] == ["secret notes stay with people"]
    pending = policy.decide(call("notes.delete", {"name": "a"}))
    assert pending["decision"] == "pending"
    assert pending["missing"] == [{"evidence": "confirmation", "need": 1, "have": 0}]
    confirmed = call("notes.delete", {"name": "a"}, evidence=[{"kind": "confirmation"}])
    assert policy.decide(confirmed)["decision"] == "allow"


def test_a_reader_is_not_entitled_to_write(policy):
    decision = policy.decide(call("notes.write", {"name": "a", "text": "x"}, roles=["reader"]))
    assert decision["decision"] == "deny"
    assert any("not entitled" in r for r in decision["reasons"]), decision


def test_the_decision_is_writ_evals(policy, policy_path, writ_bin, tmp_path: Path):
    for request in [
        call("notes.read", {"name": "a"}),
        call("notes.read", {"name": "a.secret"}),
        call("notes.delete", {"name": "a"}),
        call("notes.write", {"name": "x.keep", "text": "t"}),
        {"action": "start", "workflow": "assistant", "chain": [{"id": "ana", "kind": "human", "roles": ["owner"]}]},
    ]:
        path = tmp_path / "r.json"
        path.write_text(json.dumps(request))
        out = subprocess.run(
            [writ_bin, "eval", "--policy", str(policy_path), "--request", str(path), "--format", "json"],
            capture_output=True, text=True, check=False,
        )
        assert json.loads(out.stdout) == policy.decide(request)
        assert json.loads(policy.decide_json(json.dumps(request))) == policy.decide(request)
        assert policy.decide(json.dumps(request)) == policy.decide(request)
        assert policy.decide(json.dumps(request).encode()) == policy.decide(request)


def test_explain_is_writ_eval_explain(policy, policy_path, writ_bin, tmp_path: Path):
    request = call("notes.read", {"name": "a.secret"}, evidance=[])
    path = tmp_path / "r.json"
    path.write_text(json.dumps(request))
    out = subprocess.run(
        [writ_bin, "eval", "--explain", "--policy", str(policy_path), "--request", str(path), "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    explained = policy.explain(request)
    assert explained == json.loads(out.stdout)
    assert explained["decision"] == "deny"
    assert explained["unknown_keys"] == [{"field": "evidance", "did_you_mean": "evidence"}]
    assert explained["explain"]


def test_decide_many_answers_each_in_order(policy):
    out = policy.decide_many(
        [
            call("notes.read", {"name": "a"}),
            {"action": "call"},
            json.dumps(call("notes.read", {"name": "b.secret"})),
            {"action": "call", "when": object()},
        ]
    )
    assert [d.get("decision") for d in out] == ["allow", None, "deny", None]
    assert out[1] == {"error": "`workflow`: missing required field", "field": "workflow", "kind": "missing", "index": 1}
    assert out[3]["field"] == "when" and out[3]["kind"] == "wrong_type" and out[3]["index"] == 3
    assert policy.decide_many(iter([])) == []


@pytest.mark.parametrize(
    ("request_", "field", "kind"),
    [
        ({"action": "call"}, "workflow", "missing"),
        ({"action": "call", "workflow": "assistant", "tool": "notes.read", "chain": []}, "chain", "invalid_value"),
        ({"action": "call", "workflow": "assistant", "tool": "t", "chain": [{"id": "a", "kind": 3}]}, "chain[0].kind", "wrong_type"),
        ({"action": "call", "args": {"at": object()}}, "args.at", "wrong_type"),
        ({"action": "call", "args": {"x": float("inf")}}, "args.x", "wrong_type"),
        ({"action": "call", 1: "x"}, "", "wrong_type"),
        ({"action": "call", "args": {"s": "\ud800"}}, "args.s", "wrong_type"),
        ('{"action": "call", "action": "start"}', "action", "duplicate_key"),
        ("not json", "", "syntax"),
    ],
)
def test_a_malformed_request_is_a_request_error_naming_the_field(policy, request_, field, kind):
    with pytest.raises(writ.RequestError) as raised:
        policy.decide(request_)
    assert raised.value.field == field
    assert raised.value.kind == kind
    assert isinstance(raised.value, ValueError)
    with pytest.raises(writ.RequestError):
        policy.explain(request_)


def test_nesting_and_cycles_are_refused_not_crashed(policy):
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(writ.RequestError) as raised:
        policy.decide({"action": "call", "args": {"x": deep}})
    assert raised.value.kind == "syntax"
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(writ.RequestError):
        policy.decide({"action": "call", "args": {"x": cycle}})
    with pytest.raises(writ.RequestError):
        policy.decide_json("[" * 100_000)


def test_a_request_of_another_type_is_a_type_error(policy):
    with pytest.raises(TypeError):
        policy.decide(42)
    with pytest.raises(TypeError):
        policy.decide_json(b"{}")


def test_big_integers_and_floats_are_json(policy):
    # Not writ values: ill-typed arguments (deny), never a crash.
    decision = policy.decide(call("notes.read", {"name": 2**80}))
    assert decision["decision"] == "deny"
    assert policy.decide(call("notes.read", {"name": 1.5}))["decision"] == "deny"


def test_check_lists_diagnostics(tmp_path: Path, policy_path):
    assert writ.check(policy_path) == []
    bad = tmp_path / "bad.writ"
    bad.write_text("tool t\nworkflow w {\n  allow nope\n}\n")
    diagnostics = writ.check(bad)
    assert len(diagnostics) >= 1
    d = diagnostics[0]
    assert isinstance(d, writ.Diagnostic)
    assert (d.code, d.severity, d.file, d.line, d.column) == ("writ::unknown_tool", "error", str(bad), 3, 9)
    assert d.message == "unknown tool `nope`"
    assert d.help and d.is_error
    assert str(d).startswith(f"{bad}:3:9: error: unknown tool `nope`")
    # A directory names each file under it.
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "p.writ").write_text("workflow w { allow nope }\n")
    assert writ.check(tmp_path / "dir")[0].file == str(tmp_path / "dir" / "p.writ")
    # Warnings are diagnostics too.
    warn = tmp_path / "warn.writ"
    warn.write_text("role r\ntool t\nworkflow w { start by r\n allow t }\n")
    warnings = writ.check(warn)
    assert [(d.code, d.severity, d.is_error) for d in warnings] == [("writ::never_allows", "warning", False)]
    writ.Policy.load(warn)  # warnings never stop a policy from loading


def test_load_errors_are_policy_errors_with_diagnostics(tmp_path: Path):
    bad = tmp_path / "bad.writ"
    bad.write_text("workflow w { allow nope }\n")
    with pytest.raises(writ.PolicyError) as raised:
        writ.Policy.load(bad)
    assert raised.value.kind == "compile"
    assert [d.code for d in raised.value.diagnostics] == ["writ::unknown_tool"]
    assert "bad.writ:1:20: unknown tool `nope`" in str(raised.value)
    with pytest.raises(writ.PolicyError) as raised:
        writ.Policy.load(tmp_path / "missing")
    assert raised.value.kind == "io" and raised.value.diagnostics == []
    with pytest.raises(writ.PolicyError) as raised:
        writ.check(tmp_path / "missing")
    assert raised.value.kind == "io"
    (tmp_path / "empty").mkdir()
    with pytest.raises(writ.PolicyError):
        writ.Policy.load(str(tmp_path / "empty"))


def test_bundles_load_and_verify(policy, policy_path, writ_bin, tmp_path: Path):
    bundle = tmp_path / "p.bundle"
    subprocess.run([writ_bin, "keygen", "--output", str(tmp_path / "k")], check=True)
    subprocess.run([writ_bin, "keygen", "--output", str(tmp_path / "other")], check=True)
    subprocess.run(
        [writ_bin, "build", "--policy", str(policy_path), "--output", str(bundle), "--sign", str(tmp_path / "k.key")],
        check=True,
    )
    data = bundle.read_bytes()
    key = (tmp_path / "k.pub").read_text()
    loaded = writ.Policy.from_bundle(data)
    assert loaded.hash == policy.hash
    verified = writ.Policy.from_bundle(data, verify_key=key)
    assert verified.decide(call("notes.read", {"name": "a"})) == policy.decide(call("notes.read", {"name": "a"}))
    assert writ.Policy.from_bundle(data, key.encode()).hash == policy.hash
    with pytest.raises(writ.PolicyError) as raised:
        writ.Policy.from_bundle(data, verify_key=(tmp_path / "other.pub").read_text())
    assert raised.value.kind == "bundle"
    with pytest.raises(writ.PolicyError) as raised:
        writ.Policy.from_bundle(data, verify_key=(tmp_path / "k.key").read_text())
    assert raised.value.kind == "key"
    with pytest.raises(writ.PolicyError) as raised:
        writ.Policy.from_bundle(data[:-1])
    assert raised.value.kind == "bundle"
    unsigned = tmp_path / "u.bundle"
    subprocess.run([writ_bin, "build", "--policy", str(policy_path), "--output", str(unsigned)], check=True)
    with pytest.raises(writ.PolicyError):
        writ.Policy.from_bundle(unsigned.read_bytes(), verify_key=key)


def test_policy_is_immutable_and_named(policy):
    assert repr(policy).startswith("<writ.Policy sha256:")
    assert policy.hash.startswith("sha256:")
    with pytest.raises(AttributeError):
        policy.hash = "x"  # type: ignore[misc]


def test_deciding_releases_the_gil(policy):
    """Another Python thread runs while a batch is decided: the GIL is not held meanwhile."""
    requests = [json.dumps(call("notes.read", {"name": f"n{i}"})) for i in range(200_000)]
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        before = counter[0]
        decisions = policy.decide_many(requests)
        during = counter[0] - before
    finally:
        stop.set()
        thread.join()
    assert len(decisions) == len(requests)
    assert during > 100, f"the counting thread advanced {during} times during the batch"


def test_threads_share_one_policy(policy):
    results: list[str] = []

    def work() -> None:
        for _ in range(2_000):
            results.append(policy.decide(call("notes.read", {"name": "a"}))["decision"])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["allow"] * 8_000
