"""The exceptions of the `writ` package and `Diagnostic`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the compiler, as `writ check --format json` gives it."""

    code: str
    """The stable code, `writ::unknown-tool`."""
    severity: str
    """`"error"` or `"warning"`."""
    message: str
    file: str
    """The file, as a path a person can open (under the policy directory)."""
    line: int
    """1-based."""
    column: int
    """1-based, in characters."""
    end_line: int
    end_column: int
    help: Optional[str] = None
    label: Optional[str] = None
    related: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}]"

    @classmethod
    def _from_json(cls, d: dict[str, Any]) -> "Diagnostic":
        return cls(
            code=d["code"],
            severity=d["severity"],
            message=d["message"],
            file=d["file"],
            line=d["line"],
            column=d["column"],
            end_line=d["end_line"],
            end_column=d["end_column"],
            help=d.get("help"),
            label=d.get("label"),
            related=list(d.get("related", [])),
        )


class WritError(Exception):
    """The base of every error the `writ` package raises."""


class RequestError(WritError, ValueError):
    """A request that is not a request: malformed JSON, a missing or ill-typed field, a value
    that is not JSON. Never a decision: a caller must treat it as deny."""

    field: str
    """Where: `chain[1].kind`, `args`, `workflow`; empty for the whole request."""
    kind: str
    """What is wrong: `syntax`, `duplicate_key`, `missing`, `wrong_type`, `invalid_value`,
    `unknown_key` or `gateway`."""

    def __init__(self, message: str, field: str = "", kind: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


class PolicyError(WritError):
    """A policy that could not be loaded: unreadable files, a policy with errors (see
    `diagnostics`), a refused bundle or verify key."""

    kind: str
    """`io`, `compile`, `invalid`, `bundle` or `key`."""
    diagnostics: list[Diagnostic]
    """On `compile`: every diagnostic of the policy, errors first as the compiler found them."""

    def __init__(self, message: str, kind: str = "io", diagnostics: Any = ()) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.diagnostics = [
            d if isinstance(d, Diagnostic) else Diagnostic._from_json(d) for d in diagnostics
        ]


class Refused(WritError):
    """A guarded call that did not run: `Denied` or `Pending`."""

    decision: dict[str, Any]
    """The decision, as `Policy.decide` returns it."""
    tool: str

    def __init__(self, tool: str, decision: dict[str, Any]) -> None:
        self.tool = tool
        self.decision = decision
        super().__init__(self._describe())

    @property
    def reasons(self) -> list[str]:
        return list(self.decision.get("reasons", []))

    def _describe(self) -> str:  # pragma: no cover - overridden
        return f"`{self.tool}`: {self.decision.get('decision')}"


class Denied(Refused):
    """The policy denied the call."""

    def _describe(self) -> str:
        reasons = "; ".join(self.reasons) or "denied"
        return f"writ denied `{self.tool}`: {reasons}"


class Pending(Refused):
    """The policy allows the call once more evidence is given: `missing` says which."""

    @property
    def missing(self) -> list[dict[str, Any]]:
        """Each unmet requirement: `{"evidence", "by", "fields", "need", "have"}`."""
        return list(self.decision.get("missing", []))

    def _describe(self) -> str:
        parts = []
        for m in self.missing:
            by = f" by {m['by']}" if m.get("by") else ""
            parts.append(f"{m['evidence']}{by} (need {m['need']}, have {m['have']})")
        return f"writ holds `{self.tool}` pending evidence: " + ", ".join(parts)
