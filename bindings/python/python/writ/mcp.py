"""writ in front of the tools of an MCP server written with the `mcp` SDK (FastMCP, named
`MCPServer` since mcp 2).

A refused call becomes the SDK's `ToolError`, so the client gets an `is_error` result whose text
says why (a plain exception would reach the model as only "Error executing tool"):

```python
from mcp.server.mcpserver import MCPServer
import writ, writ.mcp

policy = writ.Policy.load("policy/")
guard = writ.mcp.guard(policy, workflow="coding", principal=..., agent="claude")
server = MCPServer("files")

@server.tool()
@guard("fs.read")
def read_file(file: str) -> str: ...
```
"""

from __future__ import annotations

from typing import Any

from ._errors import Refused
from ._guard import Guard


def _tool_error_class() -> type[Exception]:
    try:
        from mcp.server.mcpserver.exceptions import ToolError  # mcp 2
    except ImportError:
        from mcp.server.fastmcp.exceptions import ToolError  # mcp 1 (FastMCP)
    return ToolError


def tool_error(refused: Refused) -> BaseException:
    """The SDK's `ToolError` for a refused call, with the writ exception's message."""
    return _tool_error_class()(str(refused))


def guard(policy: Any, **kwargs: Any) -> Guard:
    """A `writ.Guard` whose refusals are MCP tool errors. Takes `Guard`'s keywords; `ctx` (the
    SDK's context parameter) is never a tool argument."""
    kwargs.setdefault("refuse", tool_error)
    kwargs["ignore"] = frozenset(kwargs.get("ignore", ())) | {"ctx", "context"}
    return Guard(policy, **kwargs)
