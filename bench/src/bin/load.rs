//! A load generator for `writ serve`: decisions per second and latency over HTTP on loopback,
//! with the policy changing (and so reloading) every second.
//!
//! ```text
//! cargo build --release --bin writ -p writ-bench --bin load
//! target/release/load [--writ target/release/writ] [--seconds 30] [--connections 64]
//!                     [--reload-every 1] [--decision-log FILE] [--client-threads 2] [--json]
//!                     [--history redis://127.0.0.1:6379/0] [--workers N]
//! ```
//!
//! `--workers N` is passed to `writ serve` (its HTTP threads; without it, the server's default,
//! one per CPU). A `writ` from before `--workers` existed refuses it.
//!
//! With `--history URL` (`memory` or a Redis URL) the server keeps runs there, and the load is
//! that of agents in runs: the policy is [`RUNS_POLICY`] (rate limits by `calls(... within
//! ...)`), each connection is one run (`writ-run: load-PID-N`) that it starts first, then calls
//! round-robin from [`RUN_CALLS`], so that every call reads the run's history from the store
//! and every allowed counted call records into it.
//!
//! It copies `examples/coding-agents/policy` to a temporary directory, starts `writ serve` on
//! it (port 0 on 127.0.0.1), and opens `--connections` keep-alive HTTP/1.1 connections, each
//! sending the requests of `examples/coding-agents/requests.jsonl` round-robin to `/v1/decide`,
//! one at a time, for `--seconds` (after one second of warm-up that is not measured). Every
//! `--reload-every` seconds it rewrites a policy file (alternating two versions whose hashes
//! differ), which the server's watcher reloads. An error is any answer but a 200 with a
//! decision, and any failed connection. At the end it stops the server with SIGTERM (which must
//! exit 0) and prints decisions/s, p50/p90/p99/p99.9/max latency, errors, the server's reload
//! counts, the CPU time the server and the load generator each spent per decision while
//! measuring (user + system, from `/proc`), and the machine's load average. Exits 1 when there
//! were errors or failed reloads.
//!
//! The client is deliberately cheap, like `wrk`: each of `--client-threads` threads runs its
//! share of the connections on a single-threaded runtime, writes pre-serialized request bytes
//! and parses answers with a minimal HTTP/1.1 reader (status line, `content-length`,
//! `connection: close`), so that its own CPU time, which competes with the server's on a small
//! machine, stays a small part of the total. Latencies go into an HDR-style histogram (under
//! 0.8% relative error).
//!
//! Traffic goes to 127.0.0.1 only; the run is bounded by `--seconds` (at most 600).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

struct Options {
    writ: PathBuf,
    seconds: u64,
    connections: usize,
    reload_every: f64,
    decision_log: Option<String>,
    client_threads: usize,
    json: bool,
    history: Option<String>,
    /// `writ serve --workers N`, when given.
    workers: Option<usize>,
}

/// The policy of the `--history` load: reads are free, CI runs and deploys are rate limited per
/// run (so the store holds at most a few dozen calls per run).
const RUNS_POLICY: [(&str, &str); 2] = [
    (
        "tools.writ",
        "tool repo.read(repo: string, path: string)\n\
         tool ci.run(pipeline: string)\n\
         tool deploy(env: \"staging\" | \"prod\", service: string) [prod]\n",
    ),
    (
        "workflow.writ",
        "role developer {\n  may repo.read\n  may ci.run\n  may deploy when env == \"staging\"\n}\n\n\
         workflow agent {\n  start by developer\n  ttl 24h\n  allow repo.read\n  \
         allow ci.run when calls(ci.run within 10s) < 20\n  \
         allow deploy when calls(deploy within 1h) < 3\n}\n",
    ),
];

const RUN_CHAIN: &str =
    r#"[{"id": "dana", "kind": "human", "roles": ["developer"]}, {"id": "bot", "kind": "agent"}]"#;

/// The calls of a run in the `--history` load, round-robin: mostly reads, some counted calls.
const RUN_CALLS: [&str; 8] = [
    r#""tool": "repo.read", "args": {"repo": "api", "path": "src/lib.rs"}"#,
    r#""tool": "repo.read", "args": {"repo": "api", "path": "src/main.rs"}"#,
    r#""tool": "ci.run", "args": {"pipeline": "unit"}"#,
    r#""tool": "repo.read", "args": {"repo": "web", "path": "README.md"}"#,
    r#""tool": "repo.read", "args": {"repo": "api", "path": "Cargo.toml"}"#,
    r#""tool": "deploy", "args": {"env": "staging", "service": "api"}"#,
    r#""tool": "repo.read", "args": {"repo": "api", "path": "src/http.rs"}"#,
    r#""tool": "repo.read", "args": {"repo": "api", "path": "docs/index.md"}"#,
];

fn usage(message: &str) -> ! {
    eprintln!("error: {message}");
    eprintln!(
        "usage: load [--writ PATH] [--seconds N] [--connections N] [--reload-every SECONDS] \
         [--decision-log FILE] [--client-threads N] [--json] [--history memory|redis://...] \
         [--workers N]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let root = workspace_root();
    let mut options = Options {
        writ: root.join("target/release/writ"),
        seconds: 30,
        connections: 64,
        reload_every: 1.0,
        decision_log: None,
        client_threads: 2,
        json: false,
        history: None,
        workers: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().unwrap_or_else(|| usage(&format!("`{name}` needs a value")));
        match arg.as_str() {
            "--writ" => options.writ = value("--writ").into(),
            "--seconds" => {
                options.seconds = value("--seconds")
                    .parse()
                    .unwrap_or_else(|_| usage("`--seconds`: a whole number"))
            }
            "--connections" => {
                options.connections = value("--connections")
                    .parse()
                    .unwrap_or_else(|_| usage("`--connections`: a number"))
            }
            "--reload-every" => {
                options.reload_every = value("--reload-every")
                    .parse()
                    .unwrap_or_else(|_| usage("`--reload-every`: seconds"))
            }
            "--decision-log" => options.decision_log = Some(value("--decision-log")),
            "--client-threads" => {
                options.client_threads = value("--client-threads")
                    .parse()
                    .unwrap_or_else(|_| usage("`--client-threads`: a number"))
            }
            "--json" => options.json = true,
            "--history" => options.history = Some(value("--history")),
            "--workers" => {
                let workers = value("--workers")
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .unwrap_or_else(|| usage("`--workers`: a positive number"));
                options.workers = Some(workers);
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    if !(1..=600).contains(&options.seconds) {
        usage("`--seconds` must be from 1 to 600");
    }
    if options.connections == 0 || options.connections > 1024 {
        usage("`--connections` must be from 1 to 1024");
    }
    if options.reload_every <= 0.0 {
        usage("`--reload-every` must be positive");
    }
    options
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Latencies in nanoseconds, HDR-style: exact below 128 ns, then 128 linear sub-buckets per
/// power of two (a relative error under 0.8%).
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    fn new() -> Histogram {
        Histogram { counts: vec![0; (SUB * (65 - SUB_BITS as u64)) as usize], total: 0, max: 0 }
    }

    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        // `v` is in [2^k, 2^(k+1)) with k >= SUB_BITS: its top SUB_BITS + 1 bits pick the bucket.
        let k = 63 - v.leading_zeros();
        let shift = u64::from(k - SUB_BITS);
        let sub = (v >> shift) - SUB;
        (SUB * (shift + 1) + sub) as usize
    }

    /// The largest value that lands in bucket `index`.
    fn highest(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let shift = index / SUB - 1;
        let sub = index % SUB;
        ((SUB + sub + 1) << shift) - 1
    }

    fn record(&mut self, v: u64) {
        self.counts[Histogram::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `p`th percentile in microseconds (the highest value equivalent to its bucket's).
    fn percentile(&self, p: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Histogram::highest(index).min(self.max) as f64 / 1_000.0;
            }
        }
        self.max as f64 / 1_000.0
    }
}

/// What one client thread saw.
struct Tally {
    latencies: Histogram,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally { latencies: Histogram::new(), errors: 0, first_error: None }
    }

    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

/// `POST /v1/decide` with `body`, in `run` if given, as the bytes on the wire.
fn decide_request(body: &str, run: Option<&str>) -> Vec<u8> {
    let run = run.map(|r| format!("writ-run: {r}\r\n")).unwrap_or_default();
    format!(
        "POST /v1/decide HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         {run}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What each connection sends: the same requests for all, or (`--history`) a run each.
#[derive(Clone)]
enum Script {
    Shared(Arc<Vec<Vec<u8>>>),
    /// Connection N starts run `PREFIX-N`, then sends these bodies in it.
    Runs {
        prefix: String,
        calls: Arc<Vec<String>>,
    },
}

/// A parsed answer: its status, where its body is in the buffer, and whether the server
/// closes the connection after it.
struct Answer {
    status: u16,
    body: std::ops::Range<usize>,
    close: bool,
}

/// Parses one complete answer at the start of `bytes`: `Ok(None)` while it is incomplete, an
/// error when it is not HTTP/1.1 as expected (a status line, headers, a `content-length`).
fn parse_answer(bytes: &[u8]) -> Result<Option<Answer>, String> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        if bytes.len() > 16 * 1024 {
            return Err("an answer's head over 16 KiB".into());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| "a head that is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("a malformed status line `{status_line}`"))?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a malformed header `{line}`"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length =
                Some(value.parse::<usize>().map_err(|_| format!("`content-length: {value}`"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("`transfer-encoding: {value}` (expected a content-length)"));
        }
    }
    let length = length.ok_or("an answer without a content-length")?;
    let start = head_end + 4;
    if bytes.len() < start + length {
        return Ok(None);
    }
    Ok(Some(Answer { status, body: start..start + length, close }))
}

/// One connection's stream and read buffer.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    filled: usize,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Connection { stream, buffer: vec![0; 64 * 1024], filled: 0 })
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            let stream = &mut self.stream;
            let n = std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, bytes))
                .await
                .map_err(|e| format!("write: {e}"))?;
            if n == 0 {
                return Err("write: the connection is closed".into());
            }
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Reads one answer; checks it and consumes it (`Ok(close)`).
    async fn answer(&mut self) -> Result<bool, String> {
        loop {
            if let Some(answer) = parse_answer(&self.buffer[..self.filled])? {
                let body = &self.buffer[answer.body.clone()];
                if answer.status != 200 || !body.starts_with(b"{\"decision\":") {
                    return Err(format!(
                        "answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(body)
                    ));
                }
                let end = answer.body.end;
                self.buffer.copy_within(end..self.filled, 0);
                self.filled -= end;
                return Ok(answer.close);
            }
            if self.filled == self.buffer.len() {
                return Err("an answer over 64 KiB".into());
            }
            let (stream, spare) = (&mut self.stream, &mut self.buffer[self.filled..]);
            let n = std::future::poll_fn(|cx| {
                let mut read = ReadBuf::new(&mut *spare);
                Pin::new(&mut *stream).poll_read(cx, &mut read).map_ok(|()| read.filled().len())
            })
            .await
            .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.filled += n;
        }
    }
}

/// One connection's loop: requests one at a time until `stop`, each answer's latency recorded
/// while `measuring`.
async fn client(
    addr: SocketAddr,
    script: Script,
    offset: usize,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    tally: Rc<RefCell<Tally>>,
) {
    let requests: Arc<Vec<Vec<u8>>> = match script {
        Script::Shared(requests) => requests,
        Script::Runs { prefix, calls } => {
            let run = format!("{prefix}-{offset}");
            let start =
                format!(r#"{{"action": "start", "workflow": "agent", "chain": {RUN_CHAIN}}}"#);
            let mut first = match Connection::open(addr).await {
                Ok(c) => c,
                Err(e) => return tally.borrow_mut().error(e),
            };
            let started = match first.write_all(&decide_request(&start, Some(&run))).await {
                Ok(()) => first.answer().await,
                Err(e) => Err(e),
            };
            if let Err(e) = started {
                return tally.borrow_mut().error(format!("starting run {run}: {e}"));
            }
            Arc::new(calls.iter().map(|body| decide_request(body, Some(&run))).collect())
        }
    };
    let mut connection: Option<Connection> = None;
    let mut i = offset;
    while !stop.load(Ordering::Relaxed) {
        let c = match connection.as_mut() {
            Some(c) => c,
            None => match Connection::open(addr).await {
                Ok(c) => connection.insert(c),
                Err(e) => {
                    tally.borrow_mut().error(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let request = &requests[i % requests.len()];
        i += 1;
        let started = Instant::now();
        let outcome = match c.write_all(request).await {
            Ok(()) => c.answer().await,
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed();
        match outcome {
            Ok(close) => {
                if measuring.load(Ordering::Relaxed) {
                    tally.borrow_mut().latencies.record(elapsed.as_nanos() as u64);
                }
                if close {
                    connection = None;
                }
            }
            Err(e) => {
                tally.borrow_mut().error(e);
                connection = None;
            }
        }
    }
}

/// A client thread: its share of the connections on a single-threaded runtime.
fn client_thread(
    addr: SocketAddr,
    script: Script,
    connections: Vec<usize>,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let mut tally = Tally::new();
            tally.error(format!("cannot start a runtime: {e}"));
            return tally;
        }
    };
    let tally = Rc::new(RefCell::new(Tally::new()));
    let local = tokio::task::LocalSet::new();
    for i in connections {
        local.spawn_local(client(
            addr,
            script.clone(),
            i,
            measuring.clone(),
            stop.clone(),
            tally.clone(),
        ));
    }
    runtime.block_on(local);
    Rc::try_unwrap(tally).map(RefCell::into_inner).unwrap_or_else(|_| Tally::new())
}

/// The server's counter `name{labels}` from its metrics text.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse::<f64>().ok()))
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// `GET path` on a connection of its own; the body.
fn fetch(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(stream, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    match parse_answer(&bytes)? {
        Some(answer) => Ok(String::from_utf8_lossy(&bytes[answer.body]).into_owned()),
        None => Err("an incomplete answer".into()),
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from the state (field 3) on:
    // utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The 1-minute load average.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn main() {
    let options = options();
    let root = workspace_root();
    if !options.writ.exists() {
        usage(&format!(
            "no `{}`: build it first (`cargo build --release --bin writ`) or pass `--writ`",
            options.writ.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("writ-load-{}", std::process::id()));
    let policy = dir.join("policy");
    let script = if options.history.is_some() {
        let written = std::fs::create_dir_all(&policy).and_then(|()| {
            RUNS_POLICY.iter().try_for_each(|(name, text)| std::fs::write(policy.join(name), text))
        });
        if let Err(e) = written {
            usage(&format!("cannot write the runs policy: {e}"));
        }
        let calls = RUN_CALLS
            .iter()
            .map(|call| {
                format!(
                    r#"{{"action": "call", "workflow": "agent", {call}, "chain": {RUN_CHAIN}}}"#
                )
            })
            .collect();
        Script::Runs { prefix: format!("load-{}", std::process::id()), calls: Arc::new(calls) }
    } else {
        if let Err(e) = copy_dir(&root.join("examples/coding-agents/policy"), &policy) {
            usage(&format!("cannot copy the example policy: {e}"));
        }
        let requests = std::fs::read_to_string(root.join("examples/coding-agents/requests.jsonl"))
            .unwrap_or_else(|e| usage(&format!("cannot read the example requests: {e}")));
        Script::Shared(Arc::new(
            requests
                .lines()
                // The example file has one malformed request on purpose: leave it out.
                .filter(|l| writ_evaluator::Request::from_json(l).is_ok())
                .map(|l| decide_request(l, None))
                .collect(),
        ))
    };

    let mut command = Command::new(&options.writ);
    command.args(["serve", "--addr", "127.0.0.1:0", "--policy"]).arg(&policy);
    if let Some(history) = &options.history {
        command.args(["--history", history]);
        command.args(["--history-prefix", &format!("writ-load-{}:", std::process::id())]);
    }
    if let Some(log) = &options.decision_log {
        command.args(["--decision-log", log]);
    }
    if let Some(workers) = options.workers {
        command.args(["--workers", &workers.to_string()]);
    }
    let mut server = command
        .stdin(Stdio::null())
        .stdout(if options.decision_log.as_deref() == Some("-") {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| usage(&format!("cannot start `{}`: {e}", options.writ.display())));
    let pid = server.id().to_string();
    let stderr = server.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let server_log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("writ serve: listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>());
            }
            lines.push(line);
        }
        lines
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        _ => {
            let _ = server.kill();
            usage("`writ serve` did not start")
        }
    };

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));

    // The reloader: rewrites a policy file every `--reload-every` seconds.
    let tools = policy.join("tools.writ");
    let staged = dir.join("tools.writ.next");
    let original = std::fs::read_to_string(&tools).unwrap_or_default();
    let reloader = {
        let stop = stop.clone();
        let every = Duration::from_secs_f64(options.reload_every);
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut next = Instant::now() + every;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                if Instant::now() >= next {
                    n += 1;
                    let text = if n % 2 == 1 {
                        format!("{original}// revision {n}\n")
                    } else {
                        original.clone()
                    };
                    // Replaced whole (write, then rename), as deploy tools do.
                    if std::fs::write(&staged, text).is_ok() {
                        let _ = std::fs::rename(&staged, &tools);
                    }
                    next += every;
                }
            }
            n
        })
    };

    let threads = options.client_threads.clamp(1, options.connections);
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let share = (t..options.connections).step_by(threads).collect();
            let (script, measuring, stop) = (script.clone(), measuring.clone(), stop.clone());
            std::thread::spawn(move || client_thread(addr, script, share, measuring, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let me = std::process::id().to_string();
    let load_before = load_average();
    let cpu_before = (cpu_seconds(&pid), cpu_seconds(&me));
    measuring.store(true, Ordering::SeqCst);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(options.seconds));
    measuring.store(false, Ordering::SeqCst);
    let measured = started.elapsed();
    let cpu_after = (cpu_seconds(&pid), cpu_seconds(&me));
    let load_after = load_average();
    stop.store(true, Ordering::SeqCst);
    let tallies: Vec<Tally> = clients
        .into_iter()
        .map(|c| {
            c.join().unwrap_or_else(|_| {
                let mut tally = Tally::new();
                tally.error("a client thread panicked".into());
                tally
            })
        })
        .collect();
    let rewrites = reloader.join().unwrap_or(0);
    // Let the last rewrite's reload finish before reading the counters.
    std::thread::sleep(Duration::from_millis(500));
    let metrics = fetch(addr, "/metrics").unwrap_or_default();
    let reloads_ok = metric(&metrics, "writ_reloads_total{result=\"ok\"}");
    let reloads_failed = metric(&metrics, "writ_reloads_total{result=\"failed\"}");

    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let exit = server.wait().ok().and_then(|s| s.code());
    let server_lines = server_log.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    let mut latencies = Histogram::new();
    for tally in &tallies {
        latencies.merge(&tally.latencies);
    }
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let first_error = tallies.iter().find_map(|t| t.first_error.clone());
    let count = latencies.total;
    let rate = count as f64 / measured.as_secs_f64();
    let (p50, p90, p99, p999) = (
        latencies.percentile(50.0),
        latencies.percentile(90.0),
        latencies.percentile(99.0),
        latencies.percentile(99.9),
    );
    let max = latencies.max as f64 / 1_000.0;
    // CPU seconds while measuring, and microseconds of it per decision.
    let spent = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let server_cpu = spent(cpu_before.0, cpu_after.0);
    let client_cpu = spent(cpu_before.1, cpu_after.1);
    let per_decision = |cpu: Option<f64>| cpu.map(|s| s * 1e6 / count.max(1) as f64);
    let ok = errors == 0 && reloads_failed == 0 && exit == Some(0);

    if options.json {
        let report = serde_json::json!({
            "seconds": measured.as_secs_f64(),
            "connections": options.connections,
            "client_threads": threads,
            "decision_log": options.decision_log,
            "history": options.history,
            "workers": options.workers,
            "decisions": count,
            "decisions_per_second": rate.round(),
            "latency_us": {"p50": p50, "p90": p90, "p99": p99, "p99_9": p999, "max": max},
            "errors": errors,
            "first_error": first_error,
            "policy_rewrites": rewrites,
            "reloads": {"ok": reloads_ok, "failed": reloads_failed},
            "server_exit": exit,
            "cpu_seconds": {"server": server_cpu, "load_generator": client_cpu},
            "cpu_us_per_decision": {
                "server": per_decision(server_cpu),
                "load_generator": per_decision(client_cpu),
            },
            "load_average": {"start": load_before, "end": load_after},
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!(
            "writ serve under load: {} connections, {:.1} s measured",
            options.connections,
            measured.as_secs_f64()
        );
        println!("  decision log:  {}", options.decision_log.as_deref().unwrap_or("off"));
        println!(
            "  history:       {}",
            options.history.as_deref().map_or("none (stateless requests)".into(), |h| format!(
                "{h}, one run per connection"
            ))
        );
        println!("  decisions:     {count} ({rate:.0}/s)");
        println!(
            "  latency:       p50 {p50:.0} µs, p90 {p90:.0} µs, p99 {p99:.0} µs, p99.9 {p999:.0} µs, max {max:.0} µs"
        );
        println!(
            "  errors:        {errors}{}",
            first_error.map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
        println!(
            "  reloads:       {reloads_ok} ok (the first is the start), {reloads_failed} failed; {rewrites} policy rewrites"
        );
        println!(
            "  server exit:   {}",
            exit.map(|c| c.to_string()).unwrap_or_else(|| "killed".into())
        );
        let show = |cpu: Option<f64>| match cpu {
            Some(s) => format!("{s:.2} s ({:.1} µs/decision)", s * 1e6 / count.max(1) as f64),
            None => "unknown".into(),
        };
        println!(
            "  cpu:           server {}, load generator {} ({threads} threads)",
            show(server_cpu),
            show(client_cpu)
        );
        let shown = |l: Option<f64>| l.map_or("unknown".into(), |l| format!("{l:.2}"));
        println!(
            "  load average:  {} at the start, {} at the end (1 min)",
            shown(load_before),
            shown(load_after)
        );
    }
    if !ok {
        for line in server_lines.iter().rev().take(5).rev() {
            eprintln!("  server: {line}");
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_within_one_percent() {
        for v in [0u64, 1, 127, 128, 129, 255, 256, 1000, 123_456, 9_999_999, u64::MAX / 3] {
            let index = Histogram::index(v);
            let high = Histogram::highest(index);
            assert!(high >= v, "{v}: {high}");
            assert!((high - v) as f64 <= v as f64 / 128.0 + 1.0, "{v}: {high}");
            if index > 0 {
                assert!(Histogram::highest(index - 1) < v, "{v}");
            }
        }
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert!((h.percentile(50.0) - 500.0).abs() < 5.0, "{}", h.percentile(50.0));
        assert!((h.percentile(99.0) - 990.0).abs() < 8.0, "{}", h.percentile(99.0));
        assert_eq!(h.percentile(100.0), 1000.0);
    }

    #[test]
    fn answers_are_parsed_and_checked() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 5\r\n\r\nhelloHTTP";
        let answer = parse_answer(ok).unwrap().unwrap();
        assert_eq!(
            (answer.status, &ok[answer.body.clone()], answer.close),
            (200, &b"hello"[..], false)
        );
        assert!(parse_answer(&ok[..ok.len() - 6]).unwrap().is_none());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-len").unwrap().is_none());
        let closing =
            b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let answer = parse_answer(closing).unwrap().unwrap();
        assert_eq!((answer.status, answer.close), (503, true));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n").is_err());
    }
}
