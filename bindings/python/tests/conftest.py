from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "notes"
POLICY = ROOT / "examples" / "notes" / "policy.writ"


@pytest.fixture(scope="session")
def policy_path() -> Path:
    return POLICY


@pytest.fixture(scope="session")
def policy(policy_path: Path):
    import writ

    return writ.Policy.load(policy_path)


@pytest.fixture(scope="session")
def writ_bin() -> str:
    """The `writ` binary, for bundles and keys: `WRIT_BIN`, else the release build."""
    found = os.environ.get("WRIT_BIN") or shutil.which("writ")
    if not found and (ROOT / "target" / "release" / "writ").exists():
        found = str(ROOT / "target" / "release" / "writ")
    if not found:
        pytest.fail("no writ binary: set WRIT_BIN or build it (cargo build --release)")
    return found


def call(tool: str, args: dict | None = None, roles: list[str] | None = None, **extra) -> dict:
    request = {
        "action": "call",
        "workflow": "assistant",
        "tool": tool,
        "args": args or {},
        "chain": [
            {"id": "ana", "kind": "human", "roles": roles if roles is not None else ["owner"]},
            {"id": "assistant", "kind": "agent"},
        ],
    }
    request.update(extra)
    return request
