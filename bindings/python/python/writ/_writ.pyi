"""The native module (Rust). Import from `writ`, not from here."""

import os
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from ._guard import Guard

Request = Union[Mapping[str, Any], str, bytes]
"""A request: a dict (JSON values only: str, int, float, bool, None, list, dict) or its JSON text."""

Decision = dict[str, Any]
"""`{"decision", "missing", "rules", "reasons", "ttl_seconds", "policy"}`, as `writ eval` prints it."""

MAX_DEPTH: int

class Policy:
    """A compiled policy. Immutable and thread-safe; deciding releases the GIL."""

    @staticmethod
    def load(path: Union[str, os.PathLike[str]]) -> Policy:
        """Compiles a `.writ` file or a directory of them. Raises `PolicyError`."""
    @staticmethod
    def from_bundle(bundle: bytes, verify_key: Union[str, bytes, None] = None) -> Policy:
        """Loads a `writ build` bundle; with `verify_key` (a `writ keygen` public key's text)
        only a bundle signed by it. Raises `PolicyError`."""
    @property
    def hash(self) -> str:
        """The policy digest, `sha256:<hex>`."""
    def decide(self, request: Request) -> Decision:
        """Decides one request. Raises `RequestError` for a malformed one (treat as deny)."""
    def decide_json(self, request: str) -> str:
        """Decides a request's JSON text; answers the decision's JSON text."""
    def decide_many(self, requests: Iterable[Request]) -> list[dict[str, Any]]:
        """Decides each request in order. A malformed one is `{"error", "field", "kind",
        "index"}` in its place (treat as deny)."""
    def explain(self, request: Request) -> dict[str, Any]:
        """The decision with its trace under `explain` (and ignored request keys under
        `unknown_keys`), as `writ eval --explain --format json`."""
    def guard(
        self,
        *,
        workflow: str,
        chain: Any = None,
        principal: Any = None,
        agent: Any = None,
        evidence: Any = None,
        context: Any = None,
        subject: Any = None,
        cwd: Any = None,
        tool: Optional[str] = None,
        ignore: Iterable[str] = (),
        refuse: Any = None,
    ) -> Guard:
        """A `writ.Guard` deciding with this policy."""

def _check(path: Union[str, os.PathLike[str]]) -> list[dict[str, Any]]: ...
