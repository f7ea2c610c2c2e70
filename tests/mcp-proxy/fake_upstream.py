"""A tiny MCP server for the proxy's Rust tests (tests/mcp_proxy.rs). Every line it receives is
appended to RECORD, so a test can tell exactly what reached the upstream.

Usage: fake_upstream.py MODE RECORD
  normal  answers initialize, tools/list, tools/call (echoing name and arguments) and ping
  crash   exits with status 3 on a tools/call, without answering
  hang    never answers a tools/call
  late    answers a tools/call after 5 seconds
  noisy   before each answer writes a malformed line, a batch, an answer to an unknown id and
          a message with a duplicate key
"""

import json
import sys
import time

mode, record = sys.argv[1], sys.argv[2]
TOOLS = [
    {"name": n, "inputSchema": {"type": "object"}}
    for n in ["read_text_file", "write_file", "move_file", "create_directory"]
]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    with open(record, "a") as f:
        f.write(line if line.endswith("\n") else line + "\n")
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if "method" not in message or "id" not in message:
        continue
    method, id = message["method"], message["id"]
    if mode == "noisy":
        sys.stdout.write("this is not json\n")
        sys.stdout.write('[{"jsonrpc": "2.0", "id": 1, "result": {}}]\n')
        send({"jsonrpc": "2.0", "id": 999, "result": {}})
        sys.stdout.write('{"jsonrpc": "2.0", "id": %s, "id": 7, "result": {}}\n' % json.dumps(id))
        sys.stdout.flush()
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "1"},
        }})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": id, "result": {"tools": TOOLS, "nextCursor": "page-2"}})
    elif method == "tools/call":
        if mode == "crash":
            sys.exit(3)
        if mode == "hang":
            continue
        if mode == "late":
            time.sleep(5)
        params = message["params"]
        text = "called %s %s" % (params["name"], json.dumps(params.get("arguments"), sort_keys=True))
        send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
    else:
        send({"jsonrpc": "2.0", "id": id, "result": {}})
