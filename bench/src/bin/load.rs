//! A load generator for `writ serve`: decisions per second and latency over HTTP on loopback,
//! with the policy changing (and so reloading) every second.
//!
//! ```text
//! cargo build --release --bin writ -p writ-bench --bin load
//! target/release/load [--writ target/release/writ] [--seconds 30] [--connections 64]
//!                     [--reload-every 1] [--decision-log FILE] [--client-threads 2] [--json]
//! ```
//!
//! It copies `examples/coding-agents/policy` to a temporary directory, starts `writ serve` on
//! it (port 0 on 127.0.0.1), and opens `--connections` keep-alive HTTP/1.1 connections, each
//! sending the requests of `examples/coding-agents/requests.jsonl` round-robin to `/v1/decide`,
//! one at a time, for `--seconds` (after one second of warm-up that is not measured). Every
//! `--reload-every` seconds it rewrites a policy file (alternating two versions whose hashes
//! differ), which the server's watcher reloads. An error is any answer but a 200 with a
//! decision, and any failed connection. At the end it stops the server with SIGTERM (which must
//! exit 0) and prints decisions/s, p50/p90/p99/p99.9/max latency, errors and the server's
//! reload counts. Exits 1 when there were errors or failed reloads.
//!
//! Traffic goes to 127.0.0.1 only; the run is bounded by `--seconds` (at most 600).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

struct Options {
    writ: PathBuf,
    seconds: u64,
    connections: usize,
    reload_every: f64,
    decision_log: Option<String>,
    client_threads: usize,
    json: bool,
}

fn usage(message: &str) -> ! {
    eprintln!("error: {message}");
    eprintln!(
        "usage: load [--writ PATH] [--seconds N] [--connections N] [--reload-every SECONDS] \
         [--decision-log FILE] [--client-threads N] [--json]"
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

/// What one connection saw.
#[derive(Default)]
struct Tally {
    /// Latencies of measured requests, in nanoseconds.
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One connection's loop: requests one at a time until `stop`.
async fn client(
    addr: SocketAddr,
    bodies: Arc<Vec<Bytes>>,
    offset: usize,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally { latencies: Vec::with_capacity(1 << 16), ..Tally::default() };
    let mut sender = None;
    let mut i = offset;
    while !stop.load(Ordering::Relaxed) {
        if sender.is_none() {
            match connect(addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    tally.error(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let body = bodies[i % bodies.len()].clone();
        i += 1;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/decide")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("a request");
        let started = Instant::now();
        let outcome = async {
            s.ready().await.map_err(|e| format!("connection: {e}"))?;
            let response = s.send_request(request).await.map_err(|e| format!("request: {e}"))?;
            let status = response.status();
            let bytes =
                response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
            if status != StatusCode::OK || !bytes.starts_with(b"{\"decision\":") {
                return Err(format!("answered {status}: {}", String::from_utf8_lossy(&bytes)));
            }
            Ok(())
        }
        .await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(()) => {
                if measuring.load(Ordering::Relaxed) {
                    tally.latencies.push(elapsed.as_nanos() as u64);
                }
            }
            Err(e) => {
                tally.error(e);
                sender = None;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1_000.0
}

/// The server's counter `name{labels}` from its metrics text.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse::<f64>().ok()))
        .map(|v| v as u64)
        .unwrap_or(0)
}

async fn fetch(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut sender = connect(addr).await?;
    let request = Request::builder()
        .uri(path)
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
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
    if let Err(e) = copy_dir(&root.join("examples/coding-agents/policy"), &policy) {
        usage(&format!("cannot copy the example policy: {e}"));
    }
    let requests = std::fs::read_to_string(root.join("examples/coding-agents/requests.jsonl"))
        .unwrap_or_else(|e| usage(&format!("cannot read the example requests: {e}")));
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        requests
            .lines()
            // The example file has one malformed request on purpose: leave it out.
            .filter(|l| writ_evaluator::Request::from_json(l).is_ok())
            .map(|l| Bytes::from(l.to_string()))
            .collect(),
    );

    let mut command = Command::new(&options.writ);
    command.args(["serve", "--addr", "127.0.0.1:0", "--policy"]).arg(&policy);
    if let Some(log) = &options.decision_log {
        command.args(["--decision-log", log]);
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
    let pid = server.id();
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
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

    let (tallies, measured) = runtime.block_on(async {
        let tasks: Vec<_> = (0..options.connections)
            .map(|i| tokio::spawn(client(addr, bodies.clone(), i, measuring.clone(), stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::SeqCst);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(options.seconds)).await;
        measuring.store(false, Ordering::SeqCst);
        let measured = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await.unwrap_or_default());
        }
        (tallies, measured)
    });
    let rewrites = reloader.join().unwrap_or(0);
    // Let the last rewrite's reload finish before reading the counters.
    std::thread::sleep(Duration::from_millis(500));
    let metrics = runtime.block_on(fetch(addr, "/metrics")).unwrap_or_default();
    let reloads_ok = metric(&metrics, "writ_reloads_total{result=\"ok\"}");
    let reloads_failed = metric(&metrics, "writ_reloads_total{result=\"failed\"}");

    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let exit = server.wait().ok().and_then(|s| s.code());
    let server_lines = server_log.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    let mut latencies: Vec<u64> =
        tallies.iter().flat_map(|t| t.latencies.iter().copied()).collect();
    latencies.sort_unstable();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let first_error = tallies.iter().find_map(|t| t.first_error.clone());
    let count = latencies.len() as u64;
    let rate = count as f64 / measured.as_secs_f64();
    let (p50, p90, p99, p999) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
    );
    let max = latencies.last().copied().unwrap_or(0) as f64 / 1_000.0;
    let ok = errors == 0 && reloads_failed == 0 && exit == Some(0);

    if options.json {
        let report = serde_json::json!({
            "seconds": measured.as_secs_f64(),
            "connections": options.connections,
            "client_threads": options.client_threads,
            "decision_log": options.decision_log,
            "decisions": count,
            "decisions_per_second": rate.round(),
            "latency_us": {"p50": p50, "p90": p90, "p99": p99, "p99_9": p999, "max": max},
            "errors": errors,
            "first_error": first_error,
            "policy_rewrites": rewrites,
            "reloads": {"ok": reloads_ok, "failed": reloads_failed},
            "server_exit": exit,
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!(
            "writ serve under load: {} connections, {:.1} s measured",
            options.connections,
            measured.as_secs_f64()
        );
        println!("  decision log:  {}", options.decision_log.as_deref().unwrap_or("off"));
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
    }
    if !ok {
        for line in server_lines.iter().rev().take(5).rev() {
            eprintln!("  server: {line}");
        }
        std::process::exit(1);
    }
}
