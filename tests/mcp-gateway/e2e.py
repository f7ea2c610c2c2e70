"""End to end: the `mcp` Python SDK's Streamable-HTTP client, with a bearer token, talks to a
real MCPServer (FastMCP) notes server on the Streamable-HTTP transport through
`writ mcp-gateway`.

Usage: e2e.py WRIT   (run by .ci/mcp-gateway.sh)

Checks: a request without a token is 401 with the protected-resource challenge, and the
metadata document names the resource and the authorization server; with a token (signed by an
Ed25519 key made here, verified against a JWKS file), the session starts; the listed tools are
those the token's principal may call; an allowed call returns the note; a denied call is a tool
error naming writ's reason and never runs on the server; an allowed delete runs; a token from
another issuer is 401; the decision log verifies.
"""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx2 as httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

HERE = os.path.dirname(os.path.abspath(__file__))
ISSUER = "https://issuer.example"
checks = []


def check(name, ok, detail=""):
    checks.append((name, bool(ok)))
    print(("ok     " if ok else "FAILED ") + name + ("" if ok else f": {detail}"), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def text_of(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def session(url, token):
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client:
        async with streamable_http_client(url, http_client=client) as (read, write, *_):
            async with ClientSession(read, write) as s:
                await s.initialize()
                listed = sorted(t.name for t in (await s.list_tools()).tools)
                check("tools/list lists exactly the tools the principal may call",
                      listed == ["delete_note", "read_note"], listed)
                r = await s.call_tool("read_note", {"name": "plan"})
                check("an allowed call returns the server's answer",
                      not r.is_error and text_of(r) == "ship on friday", r)
                r = await s.call_tool("delete_note", {"name": "keep"})
                check("a denied call is a tool error with writ's reason",
                      r.is_error and "writ denied `mcp.notes.delete_note`" in text_of(r), text_of(r))
                r = await s.call_tool("admin_reset", {})
                check("a tool the principal may never call is refused",
                      r.is_error and "writ denied" in text_of(r), text_of(r))
                r = await s.call_tool("delete_note", {"name": "draft-1"})
                check("an allowed delete runs", not r.is_error and text_of(r) == "deleted draft-1", r)


def main():
    writ = sys.argv[1]
    work = tempfile.mkdtemp(prefix="writ-mcp-gateway-")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwks = os.path.join(work, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "k1",
                             "alg": "EdDSA", "use": "sig"}]}, f)
    ran = os.path.join(work, "ran.jsonl")
    open(ran, "w").close()
    log = os.path.join(work, "decisions.jsonl")
    up_port, gw_port = free_port(), free_port()
    resource = f"http://127.0.0.1:{gw_port}/mcp"

    upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), str(up_port)],
                                env={**os.environ, "RAN": ran})
    gateway = None
    try:
        wait_for(up_port, upstream, "the notes server")
        gateway = subprocess.Popen([
            writ, "mcp-gateway",
            "--listen", f"127.0.0.1:{gw_port}",
            "--upstream", f"http://127.0.0.1:{up_port}/mcp",
            "--policy", os.path.join(HERE, "policy.writ"),
            "--workflow", "notes",
            "--server", "notes",
            "--jwks", jwks,
            "--issuer", ISSUER,
            "--audience", resource,
            "--authorization-server", ISSUER,
            "--decision-log", log,
        ])
        wait_for(gw_port, gateway, "writ mcp-gateway")

        r = httpx.post(resource, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                       headers={"accept": "application/json, text/event-stream"})
        challenge = r.headers.get("www-authenticate", "")
        check("no token: 401 with the protected-resource challenge",
              r.status_code == 401 and challenge ==
              f'Bearer resource_metadata="http://127.0.0.1:{gw_port}/.well-known/oauth-protected-resource/mcp"',
              (r.status_code, challenge))
        doc = httpx.get(f"http://127.0.0.1:{gw_port}/.well-known/oauth-protected-resource/mcp").json()
        check("the metadata names the resource and its authorization server",
              doc.get("resource") == resource and doc.get("authorization_servers") == [ISSUER], doc)

        now = int(time.time())
        claims = {"iss": ISSUER, "aud": resource, "sub": "ada", "roles": ["writer"], "exp": now + 300}
        token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
        asyncio.run(session(resource, token))

        with open(ran) as f:
            runs = [json.loads(line) for line in f if line.strip()]
        check("only the allowed calls ran on the server",
              runs == [{"tool": "read_note", "name": "plan"}, {"tool": "delete_note", "name": "draft-1"}], runs)

        other = jwt.encode({**claims, "iss": "https://evil.example"}, key, algorithm="EdDSA", headers={"kid": "k1"})
        r = httpx.post(resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       headers={"authorization": f"Bearer {other}", "accept": "application/json, text/event-stream"})
        check("a token from another issuer: 401 invalid_token",
              r.status_code == 401 and 'error="invalid_token"' in r.headers.get("www-authenticate", ""),
              (r.status_code, r.headers))

        verified = subprocess.run([writ, "log", "verify", log], capture_output=True, text=True)
        check("the decision log verifies", verified.returncode == 0, verified.stdout + verified.stderr)
        with open(log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        decided = [(l["tool"], l["decision"]) for l in lines if l["action"] == "call"]
        check("the log holds the calls and their decisions, in order", decided == [
            ("mcp.notes.read_note", "allow"), ("mcp.notes.delete_note", "deny"),
            ("mcp.notes.admin_reset", "deny"), ("mcp.notes.delete_note", "allow")], decided)
        chains = {json.dumps([p["id"] for p in l["chain"]]) for l in lines}
        check("every decision's chain is the token's principal, then the agent",
              chains == {json.dumps(["ada", "mcp-client"])}, chains)
    finally:
        for p in (gateway, upstream):
            if p is not None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()

    failed = [n for n, ok in checks if not ok]
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


main()
