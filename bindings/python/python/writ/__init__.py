"""writ: decide AI-agent tool calls with a compiled writ policy.

```python
import writ

policy = writ.Policy.load("policy/")          # a .writ file or a directory of them
decision = policy.decide({
    "action": "call", "workflow": "coding", "tool": "fs.read",
    "args": {"file": "src/main.rs"}, "cwd": "/work/app",
    "chain": [{"id": "ana", "kind": "human", "roles": ["engineer"]},
              {"id": "claude", "kind": "agent"}],
})
decision["decision"]                            # "allow", "deny" or "pending"
```

Anything but an `allow` means the call does not run; a `writ.RequestError` is a deny too.
"""

from __future__ import annotations

import os
from typing import Union

from ._errors import (
    Denied,
    Diagnostic,
    Pending,
    PolicyError,
    Refused,
    RequestError,
    WritError,
)
from ._guard import Guard
from ._writ import Policy, _check

__all__ = [
    "Denied",
    "Diagnostic",
    "Guard",
    "Pending",
    "Policy",
    "PolicyError",
    "Refused",
    "RequestError",
    "WritError",
    "check",
]

__version__ = "0.1.0"


def check(path: Union[str, "os.PathLike[str]"]) -> list[Diagnostic]:
    """Every diagnostic of the policy at `path` (errors and warnings), as `writ check` finds
    them. An empty list is a clean policy. Raises `PolicyError` (kind `io`) only when the path
    cannot be read."""
    return [Diagnostic._from_json(d) for d in _check(path)]
