"""End to end: a real MCP client (the `mcp` Python SDK's stdio client) talks to the reference
filesystem MCP server (@modelcontextprotocol/server-filesystem) through `writ mcp-proxy`.

Usage: e2e.py WRIT SERVER_JS   (run by .ci/mcp-proxy.sh)

Checks: the run's start is decided at `initialize`; the listed tools are filtered by the
policy; an allowed read returns the file; `..` in a path never escapes a rule on the project
(the server is given the project's parent, which holds a secret); a denied
write never reaches the server (the file is unchanged); a pending write names the evidence it
lacks and creates nothing; a tool the run may never call is refused without reaching the
server; the decision log verifies and shows the human and the agent in every chain.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = os.path.dirname(os.path.abspath(__file__))
checks = []


def check(name, ok, detail=""):
    checks.append((name, bool(ok)))
    print(("ok     " if ok else "FAILED ") + name + ("" if ok else f": {detail}"), flush=True)


def text_of(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def session(writ, server_js, root, project, log):
    params = StdioServerParameters(
        command=writ,
        args=[
            "mcp-proxy",
            "--policy", os.path.join(HERE, "policy.writ"),
            "--workflow", "fs_agent",
            "--identity", os.path.join(HERE, "identity.json"),
            "--server", "fs",
            "--decision-log", log,
            "--",
            "node", server_js, root,
        ],
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()

            listed = {t.name for t in (await s.list_tools()).tools}
            want = {
                "read_text_file", "read_file", "list_directory", "list_allowed_directories",
                "write_file", "edit_file",
            }
            check("tools/list lists exactly the tools the run may call", listed == want,
                  f"listed {sorted(listed)}")
            check("tools/list hides move_file (declared, never allowed)", "move_file" not in listed)
            check("tools/list hides undeclared tools", "create_directory" not in listed)

            hello = os.path.join(project, "hello.txt")
            r = await s.call_tool("read_text_file", {"path": hello})
            check("an allowed read returns the file", not r.is_error and "hello from the project" in text_of(r),
                  text_of(r))

            for attempt in [
                os.path.join(project, "..", "secret.txt"),
                project + "/./../secret.txt",
                project + "//..//secret.txt",
                os.path.join(project, "drafts", "..", "..", "secret.txt"),
            ]:
                r = await s.call_tool("read_text_file", {"path": attempt})
                check(f"a read of {attempt} (outside the project) is denied",
                      r.is_error and "writ denied" in text_of(r) and "TOKEN" not in text_of(r), text_of(r))

            r = await s.call_tool("read_text_file", {"path": "/etc/hostname"})
            check("a read outside the project is denied", r.is_error and "writ denied" in text_of(r), text_of(r))

            readme = os.path.join(project, "README.md")
            r = await s.call_tool("write_file", {"path": readme, "content": "overwritten by an agent"})
            check("a denied write is refused with the policy's reason",
                  r.is_error and "documentation is written by people" in text_of(r), text_of(r))
            with open(readme) as f:
                check("a denied write never reaches the server (file unchanged)", f.read() == "# Project\n")

            draft = os.path.join(project, "drafts", "plan.txt")
            r = await s.call_tool("write_file", {"path": draft, "content": "step 1"})
            check("a pending write names its missing evidence",
                  r.is_error and "1 approval by lead (0 given)" in text_of(r), text_of(r))
            check("a pending write never reaches the server (no file)", not os.path.exists(draft))

            moved = os.path.join(project, "moved.txt")
            r = await s.call_tool("move_file", {"source": hello, "destination": moved})
            check("a hidden tool called anyway is refused", r.is_error and "writ denied" in text_of(r), text_of(r))
            check("a refused move leaves the files alone", os.path.exists(hello) and not os.path.exists(moved))

            r = await s.call_tool("list_directory", {"path": project})
            check("an allowed listing reaches the server", not r.is_error and "hello.txt" in text_of(r), text_of(r))


def main():
    writ, server_js = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = os.path.realpath(tmp)
        project = os.path.join(tmp, "project")
        os.makedirs(os.path.join(project, "drafts"))
        with open(os.path.join(project, "hello.txt"), "w") as f:
            f.write("hello from the project\n")
        with open(os.path.join(project, "README.md"), "w") as f:
            f.write("# Project\n")
        with open(os.path.join(tmp, "secret.txt"), "w") as f:
            f.write("TOKEN=do-not-leak\n")
        log = os.path.join(tmp, "decisions.jsonl")

        asyncio.run(session(writ, server_js, tmp, project, log))

        with open(log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        check("the run's start is decided (and logged) first",
              lines and lines[0]["action"] == "start" and lines[0]["decision"] == "allow", lines[:1])
        decisions = [(l["tool"], l["decision"]) for l in lines if l["action"] == "call"]
        check("every call was logged, in order", decisions == [
            ("mcp.fs.read_text_file", "allow"),
            ("mcp.fs.read_text_file", "deny"),
            ("mcp.fs.read_text_file", "deny"),
            ("mcp.fs.read_text_file", "deny"),
            ("mcp.fs.read_text_file", "deny"),
            ("mcp.fs.read_text_file", "deny"),
            ("mcp.fs.write_file", "deny"),
            ("mcp.fs.write_file", "pending"),
            ("mcp.fs.move_file", "deny"),
            ("mcp.fs.list_directory", "allow"),
        ], decisions)
        chains = {json.dumps(l["chain"]) for l in lines}
        check("the log shows the human and the agent in every chain", chains == {json.dumps([
            {"id": "dana@acme.dev", "kind": "human"},
            {"id": "mcp-client/mcp", "kind": "agent"},
        ])}, chains)
        verify = subprocess.run([writ, "log", "verify", log], capture_output=True, text=True)
        check("the decision log verifies", verify.returncode == 0, verify.stdout + verify.stderr)

    failed = sum(1 for _, ok in checks if not ok)
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
