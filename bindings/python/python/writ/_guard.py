"""`writ.Guard`: decide each call of a Python tool function before it runs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional, TypeVar, Union, overload

from ._errors import Denied, Pending, Refused

F = TypeVar("F", bound=Callable[..., Any])

Principal = Mapping[str, Any]
Supplier = Union[Any, Callable[[], Any]]


def _now(value: Supplier) -> Any:
    """A value given as itself or as a function that gives it at each call."""
    return value() if callable(value) else value


class Guard:
    """Holds the context of a request (workflow, chain, evidence, context values) and decides
    each call of a guarded function with its arguments before it runs: the function runs only
    on `allow`; `deny` raises `writ.Denied`, `pending` raises `writ.Pending` (its `missing`
    says which evidence is needed), and a request writ cannot read raises `writ.RequestError`.

    Any of `chain`, `principal`, `evidence`, `context`, `subject` and `cwd` may be a function
    of no arguments, called at each call (the principal of the current session, the evidence
    held so far).

    ```python
    guard = policy.guard(workflow="coding", principal={"id": "ana", "kind": "human",
                         "roles": ["engineer"]}, agent="claude")

    @guard("fs.read")
    def read_file(file: str) -> str: ...
    ```
    """

    def __init__(
        self,
        policy: Any,
        *,
        workflow: str,
        chain: Optional[Supplier] = None,
        principal: Optional[Supplier] = None,
        agent: Union[str, Principal, None] = None,
        evidence: Optional[Supplier] = None,
        context: Optional[Supplier] = None,
        subject: Optional[Supplier] = None,
        cwd: Optional[Supplier] = None,
        tool: Optional[str] = None,
        ignore: Iterable[str] = (),
        refuse: Optional[Callable[[Refused], BaseException]] = None,
    ) -> None:
        if chain is None and principal is None:
            raise TypeError("a guard needs `chain=[...]` or `principal={...}`")
        if chain is not None and (principal is not None or agent is not None):
            raise TypeError("give either `chain` or `principal` (with `agent`), not both")
        self.policy = policy
        self.workflow = workflow
        self._chain = chain
        self._principal = principal
        self._agent: Optional[dict[str, Any]] = (
            {"id": agent, "kind": "agent"} if isinstance(agent, str) else
            dict(agent) if agent is not None else None
        )
        self._evidence = evidence
        self._context = context
        self._subject = subject
        self._cwd = cwd
        self._tool = tool
        self._ignore = frozenset(ignore)
        self._refuse = refuse

    # -- deciding -----------------------------------------------------------------------------

    def request(self, tool: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The request a call of `tool` with `args` is decided with."""
        if self._chain is not None:
            chain = list(_now(self._chain))
        else:
            chain = [_now(self._principal)]
            if self._agent is not None:
                chain.append(self._agent)
        request: dict[str, Any] = {
            "action": "call",
            "workflow": self.workflow,
            "tool": tool,
            "args": dict(args),
            "chain": chain,
        }
        for key, supplier in (
            ("evidence", self._evidence),
            ("context", self._context),
            ("subject", self._subject),
            ("cwd", self._cwd),
        ):
            if supplier is not None:
                value = _now(supplier)
                if value is not None:
                    request[key] = value
        return request

    def check(self, tool: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Decides a call of `tool` with `args`: the decision on allow; `Denied` or `Pending`
        raised otherwise (or what `refuse` makes of them)."""
        decision = self.policy.decide(self.request(tool, args))
        outcome = decision.get("decision")
        if outcome == "allow":
            return decision
        refused: Refused = (
            Pending(tool, decision) if outcome == "pending" else Denied(tool, decision)
        )
        if self._refuse is not None:
            raise self._refuse(refused) from refused
        raise refused

    # -- decorating ---------------------------------------------------------------------------

    @overload
    def __call__(self, tool: F, /) -> F: ...
    @overload
    def __call__(self, tool: Optional[str] = None, /, *, ignore: Iterable[str] = ()) -> Callable[[F], F]: ...

    def __call__(self, tool: Any = None, /, *, ignore: Iterable[str] = ()) -> Any:
        """`@guard("fs.read")` guards a function as the writ tool `fs.read`; `@guard` alone
        uses the guard's `tool=`, or else the function's name. `ignore` names parameters
        that are not the tool's arguments (an MCP `ctx`)."""
        if callable(tool):
            return self._wrap(tool, self._tool or tool.__name__, frozenset())
        return lambda fn: self._wrap(fn, tool or self._tool or fn.__name__, frozenset(ignore))

    def tool(self, name: Optional[str] = None, *, ignore: Iterable[str] = ()) -> Callable[[F], F]:
        """The same as `guard(name)`."""
        return self(name, ignore=ignore)

    def _wrap(self, fn: F, tool: str, ignore: frozenset[str]) -> F:
        signature = inspect.signature(fn)
        skip = ignore | self._ignore

        def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            out: dict[str, Any] = {}
            for name, value in bound.arguments.items():
                if name in skip:
                    continue
                kind = signature.parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    out.update({k: v for k, v in value.items() if k not in skip})
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    continue
                else:
                    out[name] = value
            return out

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                self.check(tool, arguments(args, kwargs))
                return await fn(*args, **kwargs)

            guarded_async.__writ_tool__ = tool  # type: ignore[attr-defined]
            return guarded_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.check(tool, arguments(args, kwargs))
            return fn(*args, **kwargs)

        guarded.__writ_tool__ = tool  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
