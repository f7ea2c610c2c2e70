"""Three `writ serve` replicas behave as one (issue 17, "Replicas as one").

Usage: check.py WRIT WORKDIR

Starts a real redis-server, a bundle server (ETag, If-None-Match, 304), a decision-log collector
per replica (gzip batches of hash-chained lines), and three replicas of `writ serve` sharing the
Redis, each polling the bundle server (`--bundle-url --poll`), with a trust file for signed
evidence statements and `--decision-log-url`. A load generator (threads, one keep-alive
connection each) spreads requests over the replicas. Checks:

1. Rate limits hold across replicas: a run allowed at most N deploys (`calls(deploy within 1h)
   < N`) gets exactly N allows from concurrent calls spread over all three, for every run.
2. Evidence posted to one replica counts on the others: a prod deploy is pending everywhere,
   a signed approval is posted to replica 3, and the call is then allowed on replicas 1 and 2.
3. A replica stopped mid-load (SIGTERM, as a Kubernetes rollout does) loses no decision-log
   line it acknowledged: every decision id any replica answered is at its collector, and each
   collector's lines verify as one chain (`writ log verify`).
4. A bundle update reaches every replica within two poll intervals (`policy.bundle_version` in
   `/v1/status`), and the new policy decides.
Also: every flag the example manifests (examples/kubernetes/writ.yaml) give `writ serve` is
one `writ serve --help` lists, so the deployment example cannot drift from the binary.
Exits 1 on a failure.
"""

import gzip
import hashlib
import http.client
import http.server
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

LIMIT = 5
POLL_SECONDS = 2

POLICY = """role dev {
  may deploy
%(extra_may)s}
role lead {
  may deploy
}

tool deploy(env: "staging" | "prod")
%(extra_tool)s
evidence approval by human bound

workflow w {
  start by dev
  ttl 1h
  allow deploy when env == "staging" and calls(deploy within 1h) < %(limit)d
  allow deploy when env == "prod" require approval by lead
%(extra_allow)s}
"""

CHAIN = [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot/1", "kind": "agent"}]
FAILURES = []


def fail(message):
    FAILURES.append(message)
    print("FAIL", message, flush=True)


def ok(message):
    print("ok:", message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")
    return False


class BundleServer(http.server.ThreadingHTTPServer):
    """Serves one bundle at /bundle with a strong ETag; answers 304 to a matching If-None-Match.
    Counts full answers and 304s."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), BundleHandler)
        self.body = b""
        self.etag = ""
        self.full = 0
        self.unchanged = 0
        self.lock = threading.Lock()

    def publish(self, body):
        with self.lock:
            self.body = body
            self.etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]


class BundleHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        s = self.server
        if os.environ.get("REPLICAS_DEBUG"):
            print("bundle GET", time.time(), dict(self.headers), flush=True)
        with s.lock:
            body, etag = s.body, s.etag
        if self.headers.get("If-None-Match") == etag:
            s.unchanged += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        s.full += 1
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Collector(http.server.ThreadingHTTPServer):
    """A decision-log service: takes gzip batches of JSON lines, keeps them in arrival order."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.lines = []
        self.batches = 0
        self.lock = threading.Lock()

    def snapshot(self):
        """The lines received so far, and the decision ids they hold."""
        with self.lock:
            lines = list(self.lines)
        return lines, {json.loads(l).get("id") for l in lines}


class CollectorHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = [l for l in body.decode().split("\n") if l]
        with self.server.lock:
            self.server.lines.extend(lines)
            self.server.batches += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve_forever(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Replica:
    def __init__(self, writ, work, n, args):
        self.n = n
        self.log = open(work / f"replica{n}.stderr", "w+")
        self.proc = subprocess.Popen(
            [writ, "serve", "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self.port = None
        def listening():
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if "listening on http://" in line:
                    self.port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
                    return True
            if self.proc.poll() is not None:
                raise OSError(f"replica {n} exited {self.proc.returncode}")
            return False
        wait_for(f"replica {n} to listen", listening)

    def stderr(self):
        self.log.seek(0)
        return self.log.read()


def request(port, method, path, body=None, run=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if run:
        headers["writ-run"] = run
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    return r.status, text, r.getheader("x-writ-decision-id")


def call(env, subject=None):
    body = {"action": "call", "workflow": "w", "tool": "deploy", "args": {"env": env}, "chain": CHAIN}
    if subject:
        body["subject"] = subject
    return body


START = {"action": "start", "workflow": "w", "chain": CHAIN}


class Load:
    """Threads, each with a keep-alive connection per replica, sending requests round-robin over
    the live replicas; records every answered decision (its id and outcome) per replica."""

    def __init__(self, replicas):
        self.replicas = replicas
        self.answered = {r.n: [] for r in replicas}  # replica -> [(id, decision, run)]
        self.errors = 0
        self.lock = threading.Lock()

    def run(self, jobs, threads=6):
        """jobs: list of (run, body). Returns when all are sent."""
        queue = list(enumerate(jobs))
        qlock = threading.Lock()

        def worker():
            conns = {}
            while True:
                with qlock:
                    if not queue:
                        break
                    i, (run, body) = queue.pop(0)
                live = [r for r in self.replicas if r.proc.poll() is None]
                replica = live[i % len(live)]
                for attempt in range(3):
                    try:
                        conn = conns.get(replica.n)
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=30)
                            conns[replica.n] = conn
                        conn.request("POST", "/v1/decide", body=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "writ-run": run})
                        r = conn.getresponse()
                        text = r.read()
                        if r.status == 200:
                            with self.lock:
                                self.answered[replica.n].append(
                                    (r.getheader("x-writ-decision-id"), json.loads(text)["decision"], run))
                        else:
                            with self.lock:
                                self.errors += 1
                        break
                    except (OSError, http.client.HTTPException):
                        # The replica went away between our choice and the send: the request was
                        # not answered, so it is not acknowledged; send it to another one.
                        conns.pop(replica.n, None)
                        live = [r for r in self.replicas if r.proc.poll() is None and r is not replica]
                        if not live:
                            break
                        replica = live[0]
        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


def status(port):
    code, text, _ = request(port, "GET", "/v1/status")
    return json.loads(text) if code == 200 else {}


def main():
    writ, work = sys.argv[1], pathlib.Path(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    redis_bin = shutil.which("redis-server")
    if not redis_bin:
        print("replicas: FAILED: redis-server is not installed", file=sys.stderr)
        return 1

    def sh(*args, check=True):
        r = subprocess.run([writ, *args], capture_output=True, text=True, cwd=work)
        if check and r.returncode:
            raise SystemExit(f"replicas: FAILED: writ {' '.join(args)}: {r.stderr}")
        return r

    # The example Deployment's flags exist.
    manifest = pathlib.Path(__file__).resolve().parents[2] / "examples/kubernetes/writ.yaml"
    flags = re.findall(r"^\s*- (--[a-z-]+)", manifest.read_text(), re.M)
    usage = sh("serve", "--help").stdout
    unknown = [f for f in flags if not re.search(re.escape(f) + r"\b", usage)]
    if not flags or unknown:
        fail(f"examples/kubernetes/writ.yaml gives writ serve unknown flags: {unknown or 'none found'}")
    else:
        ok(f"the example Deployment's {len(flags)} writ serve flags all exist")

    # Keys, trust file, two bundle versions.
    sh("keygen", "-o", "bundles")
    sh("keygen", "-o", "lee")
    lee_pub = (work / "lee.pub").read_text().strip()
    (work / "trust.json").write_text(json.dumps({"signers": [
        {"key": lee_pub, "principal": {"id": "lee", "kind": "human", "roles": ["lead"]}}]}))
    # Version 2 adds a tool `ping` that developers may call.
    for version, ping in [(1, False), (2, True)]:
        policy = work / f"v{version}.writ"
        policy.write_text(POLICY % {
            "limit": LIMIT,
            "extra_may": "  may ping\n" if ping else "",
            "extra_tool": "tool ping" if ping else "",
            "extra_allow": "  allow ping\n" if ping else "",
        })
        sh("build", "--policy", str(policy), "-o", str(work / f"v{version}.bundle"),
           "--sign", str(work / "bundles.key"), "--version", str(version))
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replicas = []
    try:
        def redis_up():
            with socket.create_connection(("127.0.0.1", redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        wait_for("redis-server", redis_up)
        bundles = serve_forever(BundleServer())
        bundles.publish((work / "v1.bundle").read_bytes())
        collectors = [serve_forever(Collector()) for _ in range(3)]
        bundle_url = f"http://127.0.0.1:{bundles.server_address[1]}/bundle"
        for n in range(3):
            replicas.append(Replica(writ, work, n + 1, [
                "--bundle-url", bundle_url, "--poll", f"{POLL_SECONDS}s",
                "--verify-key", str(work / "bundles.pub"),
                "--history", f"redis://127.0.0.1:{redis_port}/0",
                "--trust", str(work / "trust.json"),
                "--decision-log-url", f"http://127.0.0.1:{collectors[n].server_address[1]}/v1/logs",
                "--decision-log-flush", "200ms",
                "--decision-log-spill", str(work / f"spill{n + 1}.jsonl"),
                "--grace", "10",
            ]))
        for r in replicas:
            v = status(r.port).get("policy", {}).get("bundle_version")
            if v != 1:
                fail(f"replica {r.n} serves bundle version {v}, expected 1")
        ok("3 replicas serve bundle version 1 from the bundle server")

        # 1. Rate limits across replicas, concurrent, many runs.
        runs = [f"run-{i}" for i in range(8)]
        for i, run in enumerate(runs):
            code, text, _ = request(replicas[i % 3].port, "POST", "/v1/decide", START, run=run)
            if code != 200 or json.loads(text)["decision"] != "allow":
                fail(f"start of {run}: {code} {text}")
            # The run is known to the others: a second start is denied there.
            code, text, _ = request(replicas[(i + 1) % 3].port, "POST", "/v1/decide", START, run=run)
            if json.loads(text)["decision"] != "deny":
                fail(f"{run} started twice on two replicas")
        load = Load(replicas)
        jobs = [(run, call("staging")) for _ in range(4 * LIMIT) for run in runs]
        load.run(jobs)
        for run in runs:
            allows = sum(1 for r in load.answered.values() for (_, d, rr) in r if rr == run and d == "allow")
            if allows != LIMIT:
                fail(f"{run}: {allows} deploys allowed across 3 replicas, the limit is {LIMIT}")
        per_replica = {n: len(a) for n, a in load.answered.items()}
        if min(per_replica.values()) == 0:
            fail(f"the load did not reach every replica: {per_replica}")
        ok(f"{len(jobs)} concurrent calls over {len(runs)} runs spread over 3 replicas "
           f"{per_replica}: exactly {LIMIT} allowed per run")

        # 2. Evidence posted to one replica counts on the others.
        run = "run-evidence"
        request(replicas[0].port, "POST", "/v1/decide", START, run=run)
        subject = "sha256:change-42"
        code, text, _ = request(replicas[0].port, "POST", "/v1/decide", call("prod", subject), run=run)
        if json.loads(text)["decision"] != "pending":
            fail(f"a prod deploy without approval: {text}")
        statement = sh("attest", "approval", "--key", str(work / "lee.key"), "--subject", subject).stdout
        code, text, _ = request(replicas[2].port, "POST", "/v1/evidence", statement.encode())
        if code != 201:
            fail(f"posting the statement to replica 3: {code} {text}")
        for r in replicas[:2]:
            code, text, _ = request(r.port, "POST", "/v1/decide", call("prod", subject), run=run)
            if json.loads(text)["decision"] != "allow":
                fail(f"replica {r.n} does not count the approval posted to replica 3: {text}")
        code, text, _ = request(replicas[1].port, "POST", "/v1/decide", call("prod", "sha256:other"), run=run)
        if json.loads(text)["decision"] != "pending":
            fail(f"the approval counted for another change: {text}")
        ok("an approval posted to replica 3 counts on replicas 1 and 2, and only for its change")

        # 3. A replica stopped mid-load loses no acknowledged line.
        kill_runs = [f"kill-{i}" for i in range(6)]
        for i, run in enumerate(kill_runs):
            request(replicas[i % 3].port, "POST", "/v1/decide", START, run=run)
        load = Load(replicas)
        jobs = [(run, call("staging")) for _ in range(400) for run in kill_runs]
        stopped = threading.Event()

        def stop_replica_3():
            # Mid-load: once replica 3 has answered a hundred decisions.
            while not stopped.is_set():
                with load.lock:
                    if len(load.answered[3]) >= 100:
                        replicas[2].proc.send_signal(signal.SIGTERM)
                        stopped.set()
                        return
                time.sleep(0.005)
        stopper = threading.Thread(target=stop_replica_3)
        stopper.start()
        load.run(jobs, threads=6)
        if not stopped.is_set():
            stopped.set()
            fail("the load ended before replica 3 answered 100 decisions")
        stopper.join()
        try:
            replicas[2].proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("replica 3 did not stop within 30 s of SIGTERM")
        answered_by_3 = len(load.answered[3])
        if answered_by_3 == 0:
            fail("replica 3 answered nothing before it was stopped: the test proves nothing")
        for run in kill_runs:
            allows = sum(1 for r in load.answered.values() for (_, d, rr) in r if rr == run and d == "allow")
            if allows != LIMIT:
                fail(f"{run}: {allows} allowed while a replica stopped, the limit is {LIMIT}")
        # Every decision answered anywhere reaches its replica's collector.
        time.sleep(1.0)
        for n, collector in zip((1, 2, 3), collectors):
            if n != 3:
                def shipped(collector=collector, n=n):
                    got = collector.snapshot()[1]
                    return all(i in got for (i, _, _) in load.answered[n])
                wait_for(f"replica {n}'s lines at its collector", shipped, timeout=15)
            lines, ids = collector.snapshot()
            lost = [i for (i, _, _) in load.answered[n] if i not in ids]
            if lost:
                fail(f"replica {n}: {len(lost)} answered decisions missing at the collector")
            log = work / f"collected{n}.jsonl"
            log.write_text("".join(l + "\n" for l in lines))
            v = sh("log", "verify", str(log), check=False)
            if v.returncode:
                fail(f"replica {n}'s shipped lines do not verify as one chain: {v.stdout}{v.stderr}")
        ok(f"replica 3 stopped mid-load after answering {answered_by_3} decisions: every answered "
           f"decision of every replica is at its collector, each chain verifies")

        # 4. A bundle update reaches the live replicas within two poll intervals.
        live = [r for r in replicas if r.proc.poll() is None]
        # Unchanged polls send If-None-Match and are answered 304 (no download, no re-verify).
        wait_for("polls answered 304", lambda: bundles.unchanged >= len(live),
                 timeout=3 * POLL_SECONDS + 5)
        published = time.time()
        bundles.publish((work / "v2.bundle").read_bytes())
        def updated():
            return all(status(r.port).get("policy", {}).get("bundle_version") == 2 for r in live)
        if wait_for("bundle version 2 on every replica", updated, timeout=4 * POLL_SECONDS + 10):
            took = time.time() - published
            # Two poll intervals, plus the fetch and verification on a loaded machine.
            if took > 2 * POLL_SECONDS + 1.5:
                fail(f"the update took {took:.1f} s, more than two {POLL_SECONDS} s poll intervals")
            else:
                ok(f"bundle version 2 reached every live replica in {took:.1f} s (poll {POLL_SECONDS} s)")
        for r in live:
            code, text, _ = request(r.port, "POST", "/v1/decide",
                                    {"action": "call", "workflow": "w", "tool": "ping", "chain": CHAIN})
            # Version 1 does not know `ping` (deny, unknown tool); version 2 allows it.
            if code != 200 or json.loads(text)["decision"] != "allow":
                fail(f"replica {r.n} does not decide with version 2: {code} {text}")
        ok(f"bundle server: {bundles.full} full answers, {bundles.unchanged} answered 304")
    finally:
        for r in replicas:
            if r.proc.poll() is None:
                r.proc.send_signal(signal.SIGTERM)
        for r in replicas:
            try:
                r.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                fail(f"replica {r.n} did not stop on SIGTERM")
        redis.terminate()
        redis.wait()
    for r in replicas:
        if "panicked" in r.stderr():
            fail(f"replica {r.n} panicked:\n{r.stderr()}")
    print(f"replicas: {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
