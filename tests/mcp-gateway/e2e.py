"""End to end: the `mcp` Python SDK's Streamable-HTTP client, with a bearer token, talks to a
real MCPServer (FastMCP) notes server on the Streamable-HTTP transport through
`writ mcp-gateway`.

Usage: e2e.py WRIT   (run by .ci/mcp-gateway.sh)

The notes server and the key set are served over https (uvicorn, Python's ssl), with a
certificate for `localhost` signed by a CA made here (with `cryptography`); the gateway is
given the CA with `--ca-cert` and fetches the keys with `--jwks-url https://...`.

Checks: a request without a token is 401 with the protected-resource challenge, and the
metadata document names the resource and the authorization server; with a token (signed by an
Ed25519 key made here, verified against the JWKS fetched over https), the session starts; the
listed tools are those the token's principal may call; an allowed call returns the note; a
denied call is a tool error naming writ's reason and never runs on the server; an allowed
delete runs; a token from another issuer is 401; the decision log verifies and holds the
session's start once. Without `--ca-cert`, the same https upstream is refused (502 naming the
certificate, nothing ran on the server) and an https key set stops the gateway at start.
"""

import asyncio
import base64
import datetime
import http.server
import ipaddress
import ssl
import threading
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx2 as httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
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


def make_pki(work):
    """A CA, and a certificate it signed for localhost and 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "writ e2e CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(work, n) for n in ("ca.pem", "cert.pem", "key.pem")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def serve_https(directory, port, cert, key):
    """Serves `directory` over https on 127.0.0.1:port, in a thread."""
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=directory, **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


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
    ca, cert, tls_key = make_pki(work)
    keys_dir = os.path.join(work, "keys")
    os.mkdir(keys_dir)
    jwks = os.path.join(keys_dir, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "k1",
                             "alg": "EdDSA", "use": "sig"}]}, f)
    ran = os.path.join(work, "ran.jsonl")
    open(ran, "w").close()
    log = os.path.join(work, "decisions.jsonl")
    up_port, gw_port, keys_port, bare_port = free_port(), free_port(), free_port(), free_port()
    resource = f"http://127.0.0.1:{gw_port}/mcp"
    keys_server = serve_https(keys_dir, keys_port, cert, tls_key)
    jwks_url = f"https://localhost:{keys_port}/jwks.json"

    def gateway_args(port, *more):
        return [writ, "mcp-gateway",
                "--listen", f"127.0.0.1:{port}",
                "--upstream", f"https://localhost:{up_port}/mcp",
                "--policy", os.path.join(HERE, "policy.writ"),
                "--workflow", "notes",
                "--server", "notes",
                "--issuer", ISSUER,
                "--audience", f"http://127.0.0.1:{port}/mcp",
                "--authorization-server", ISSUER, *more]

    upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), str(up_port),
                                 cert, tls_key], env={**os.environ, "RAN": ran})
    gateway = bare = None
    try:
        wait_for(up_port, upstream, "the notes server")
        gateway = subprocess.Popen(gateway_args(gw_port, "--jwks-url", jwks_url, "--ca-cert", ca,
                                                "--decision-log", log))
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

        # Without --ca-cert: the https key set stops the gateway at start (exit 2) ...
        refused = subprocess.run(gateway_args(bare_port, "--jwks-url", jwks_url),
                                 capture_output=True, text=True, timeout=60)
        check("an https key set whose certificate does not verify stops the gateway (exit 2)",
              refused.returncode == 2 and "certificate" in refused.stderr,
              (refused.returncode, refused.stderr))
        # ... and the https upstream is a 502 naming the certificate; nothing runs.
        bare = subprocess.Popen(gateway_args(bare_port, "--jwks", jwks))
        wait_for(bare_port, bare, "writ mcp-gateway without --ca-cert")
        before = open(ran).read()
        bare_token = jwt.encode({**claims, "aud": f"http://127.0.0.1:{bare_port}/mcp"}, key,
                                algorithm="EdDSA", headers={"kid": "k1"})
        r = httpx.post(f"http://127.0.0.1:{bare_port}/mcp",
                       json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                           "protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "e2e", "version": "1"}}},
                       headers={"authorization": f"Bearer {bare_token}",
                                "accept": "application/json, text/event-stream"})
        message = r.json().get("error", {}).get("message", "") if r.status_code == 502 else r.text
        check("an https upstream whose certificate does not verify: 502 naming the certificate",
              r.status_code == 502 and "certificate" in message, (r.status_code, message))
        check("nothing ran on the server through the gateway without the CA",
              open(ran).read() == before)

        verified = subprocess.run([writ, "log", "verify", log], capture_output=True, text=True)
        check("the decision log verifies", verified.returncode == 0, verified.stdout + verified.stderr)
        with open(log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        decided = [(l["tool"], l["decision"]) for l in lines if l["action"] == "call"]
        check("the log holds the calls and their decisions, in order", decided == [
            ("mcp.notes.read_note", "allow"), ("mcp.notes.delete_note", "deny"),
            ("mcp.notes.admin_reset", "deny"), ("mcp.notes.delete_note", "allow")], decided)
        starts = [l for l in lines if l["action"] == "start"]
        check("the session's start is logged once", len(starts) == 1, len(starts))
        chains = {json.dumps([p["id"] for p in l["chain"]]) for l in lines}
        check("every decision's chain is the token's principal, then the agent",
              chains == {json.dumps(["ada", "mcp-client"])}, chains)
    finally:
        keys_server.shutdown()
        for p in (bare, gateway, upstream):
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
