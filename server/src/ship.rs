//! `--decision-log-url`: the decision log's lines shipped to a collector.
//!
//! ```text
//! log writer thread ──line──▶ queue (bounded, in memory) ──batch──▶ shipper task ──POST──▶ collector
//!                      └─ queue full, or spilling ─▶ spill file ──(after the queue)──┘
//! ```
//!
//! - The lines are the decision log's own (`declog.rs` writes each line once, to the file and
//!   here), so the collector's copy is the same hash chain: `writ log verify` passes on what
//!   it stores, concatenated in the order it accepted the batches.
//! - A batch is up to `batch` lines, sent when that many are waiting or `flush` after the
//!   shipper last looked; its body is the lines gzip-compressed (`Content-Type:
//!   application/x-ndjson`, `Content-Encoding: gzip`). A 2xx answer accepts it; anything else
//!   (an error status, no answer, a timeout) is retried, the same batch, with backoff. A batch
//!   is removed from the queue only once accepted: delivery is at least once (a batch the
//!   collector stored but whose answer was lost is sent again; see `docs/decision-log.md`).
//! - Order is kept: when the queue is full, the line and every line after it go to the spill
//!   file (appended) until the shipper has shipped the queue and then the whole spill file,
//!   which it then truncates. Without a spill file, a full queue makes the writer wait, and so
//!   the handlers (back-pressure, as the file log does): a decision is never dropped silently.
//! - A spill file left by an earlier run is shipped first, and truncated only once the
//!   collector accepted all of it.
//! - On shutdown, the shipper ships what it can within the grace period, then appends what is
//!   left in the queue to the spill file. Only without a spill file (or when it cannot be
//!   written) are lines dropped, counted in `writ_decision_log_lines_dropped_total` and
//!   reported on standard error.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{Value as Json, json};
use writ_evaluator::log::rfc3339_millis;

use crate::backoff::Backoff;
use crate::metrics::{Metrics, Ship};

/// The default batch size (`--decision-log-batch`).
pub const DEFAULT_BATCH: usize = 500;
/// The default flush interval (`--decision-log-flush`).
pub const DEFAULT_FLUSH: Duration = Duration::from_secs(1);
/// The default queue size, in lines (`--decision-log-queue`).
pub const DEFAULT_QUEUE: usize = 10_000;
/// How long one POST may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry waits about this long; retries back off to [`RETRY_CAP`].
pub const RETRY_BASE: Duration = Duration::from_millis(100);
pub const RETRY_CAP: Duration = Duration::from_secs(30);
/// The most bytes of the spill file read for one batch.
const SPILL_READ: u64 = 4 * 1024 * 1024;

/// Where and how decision log lines are shipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipConfig {
    /// `http://` or `https://`: batches are POSTed here.
    pub url: String,
    /// The most lines in one batch.
    pub batch: usize,
    /// A batch is sent at least this often while lines wait.
    pub flush: Duration,
    /// The most lines waiting in memory.
    pub queue: usize,
    /// Lines that do not fit the queue (or are left at shutdown) are appended here.
    pub spill: Option<PathBuf>,
    /// How long one POST may take.
    pub timeout: Duration,
    /// The certificate authorities an `https://` collector may chain to: the platform's, and
    /// those of `--ca-cert`.
    pub roots: writ_agents::net::Roots,
}

impl ShipConfig {
    pub fn new(url: impl Into<String>) -> ShipConfig {
        ShipConfig {
            url: url.into(),
            batch: DEFAULT_BATCH,
            flush: DEFAULT_FLUSH,
            queue: DEFAULT_QUEUE,
            spill: None,
            timeout: DEFAULT_TIMEOUT,
            roots: writ_agents::net::Roots::platform(),
        }
    }
}

/// The spill file: lines appended by the writer, shipped from `shipped` on by the shipper.
struct Spill {
    path: PathBuf,
    file: File,
    /// Bytes of the file the collector accepted.
    shipped: u64,
    /// Bytes in the file.
    len: u64,
}

struct Inner {
    lines: VecDeque<Vec<u8>>,
    /// Lines go to the spill file (not the queue) until the shipper has caught up with it.
    spilling: bool,
    spill: Option<Spill>,
    /// No more lines will come: drain, then stop.
    closing: bool,
    /// The shutdown's end: attempts stop here, and what is left is spilled.
    deadline: Option<tokio::time::Instant>,
    /// The shipper stopped: lines left are spilled (or dropped) by the writer.
    stopped: bool,
    last_attempt: Option<SystemTime>,
    last_success: Option<SystemTime>,
    last_error: Option<(SystemTime, String)>,
    failures: u32,
}

/// What the log writer and the shipper share.
pub struct Shipping {
    config: ShipConfig,
    inner: Mutex<Inner>,
    /// Signalled when the queue has room (the writer waits on it, without a spill file).
    room: Condvar,
    /// Wakes the shipper: a batch is ready, or shutdown.
    ready: tokio::sync::Notify,
    metrics: Arc<Metrics>,
}

impl Shipping {
    /// Opens the spill file (keeping what an earlier run left in it, to ship first).
    pub fn open(config: &ShipConfig, metrics: Arc<Metrics>) -> Result<Arc<Shipping>, String> {
        let spill = match &config.spill {
            None => None,
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open spill file `{}`: {e}", path.display()))?;
                let len = file
                    .metadata()
                    .map_err(|e| format!("cannot read spill file `{}`: {e}", path.display()))?
                    .len();
                Some(Spill { path: path.clone(), file, shipped: 0, len })
            }
        };
        let spilling = spill.as_ref().is_some_and(|s| s.len > 0);
        Ok(Arc::new(Shipping {
            config: config.clone(),
            inner: Mutex::new(Inner {
                lines: VecDeque::new(),
                spilling,
                spill,
                closing: false,
                deadline: None,
                stopped: false,
                last_attempt: None,
                last_success: None,
                last_error: None,
                failures: 0,
            }),
            room: Condvar::new(),
            ready: tokio::sync::Notify::new(),
            metrics,
        }))
    }

    /// The hash of the last line of a spill file an earlier run left, for the chain to go on
    /// from (`None`: no spill file, or an empty one).
    pub fn spilled_tail(config: &ShipConfig) -> Result<Option<String>, String> {
        let Some(path) = &config.spill else { return Ok(None) };
        match File::open(path) {
            Ok(file) => writ_evaluator::log::last_hash(std::io::BufReader::new(file))
                .map_err(|e| format!("cannot continue spill file `{}`: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read spill file `{}`: {e}", path.display())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug; the data (a queue) is still consistent.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues one line (the writer thread): into the queue, or the spill file when the queue
    /// is full or lines are being spilled; without a spill file, waits for room.
    pub fn push(&self, line: &[u8]) {
        let mut inner = self.lock();
        loop {
            if inner.stopped {
                // The shipper is gone (shutdown): straight to the spill file.
                self.spill(&mut inner, &[line.to_vec()]);
                return;
            }
            if inner.spill.is_some() && (inner.spilling || inner.lines.len() >= self.config.queue) {
                inner.spilling = true;
                self.spill(&mut inner, &[line.to_vec()]);
                drop(inner);
                self.ready.notify_one();
                return;
            }
            if inner.lines.len() < self.config.queue.max(1) {
                inner.lines.push_back(line.to_vec());
                let depth = inner.lines.len();
                self.metrics.ship_queue(depth);
                drop(inner);
                if depth >= self.config.batch {
                    self.ready.notify_one();
                }
                return;
            }
            self.ready.notify_one();
            inner = self.room.wait(inner).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Appends `lines` to the spill file; without one (or when it cannot be written) they are
    /// dropped, counted and reported.
    fn spill(&self, inner: &mut Inner, lines: &[Vec<u8>]) {
        if lines.is_empty() {
            return;
        }
        let n = lines.len() as u64;
        let Some(spill) = &mut inner.spill else {
            self.metrics.ship(Ship::Dropped, n);
            eprintln!(
                "writ serve: error: {n} decision log line(s) could not be shipped to `{}` and \
                 there is no spill file (`--decision-log-spill`): they are lost",
                self.config.url
            );
            return;
        };
        let bytes: Vec<u8> = lines.concat();
        match spill.file.write_all(&bytes).and_then(|()| spill.file.flush()) {
            Ok(()) => {
                spill.len += bytes.len() as u64;
                self.metrics.ship(Ship::Spilled, n);
            }
            Err(e) => {
                self.metrics.ship(Ship::Dropped, n);
                eprintln!(
                    "writ serve: error: cannot write spill file `{}`: {e}; {n} decision log \
                     line(s) are lost",
                    spill.path.display()
                );
            }
        }
    }

    /// The server is stopping: the shipper has `grace` from now to ship what comes, then
    /// spills what is left (lines may still come until [`Shipping::close`]).
    pub fn drain(&self, grace: Duration) {
        let mut inner = self.lock();
        if inner.deadline.is_none() {
            inner.deadline = Some(tokio::time::Instant::now() + grace);
        }
        drop(inner);
        self.ready.notify_one();
    }

    /// No more lines will come: the shipper ships what is left (within the grace period of
    /// [`Shipping::drain`]), then stops.
    pub fn close(&self) {
        self.lock().closing = true;
        self.ready.notify_one();
    }

    /// The `decision_log` object of `/v1/status`.
    pub fn status(&self, metrics: &Metrics) -> Json {
        let inner = self.lock();
        let time = |t: Option<SystemTime>| t.map(rfc3339_millis);
        json!({
            "url": self.config.url,
            "queue_depth": inner.lines.len(),
            "queue_limit": self.config.queue,
            "spill": inner.spill.as_ref().map(|s| json!({
                "path": s.path.display().to_string(),
                "unshipped_bytes": s.len.saturating_sub(s.shipped),
            })),
            "spilling": inner.spilling,
            "batches_sent": metrics.shipped(Ship::Sent),
            "batches_retried": metrics.shipped(Ship::Retried),
            "lines_spilled": metrics.shipped(Ship::Spilled),
            "lines_dropped": metrics.shipped(Ship::Dropped),
            "last_attempt_at": time(inner.last_attempt),
            "last_success_at": time(inner.last_success),
            "last_error": inner.last_error.as_ref().map(|(at, message)| {
                json!({"at": rfc3339_millis(*at), "message": message})
            }),
            "consecutive_failures": inner.failures,
        })
    }
}

/// What the shipper sends next.
enum Next {
    /// The first `n` lines of the queue.
    Queue(Vec<u8>, usize),
    /// Spill file bytes from where the collector accepted up to `to`.
    Spill(Vec<u8>, u64),
    /// Nothing waits (the spill file, if it was being shipped, is caught up and truncated).
    Nothing,
}

/// The shipper: runs until [`Shipping::close`] and everything is shipped, or the deadline of
/// [`Shipping::drain`] passes.
pub async fn run(shipping: Arc<Shipping>, client: reqwest::Client) {
    let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
    loop {
        let closing = shipping.lock().closing;
        let next = match shipping.next() {
            Ok(next) => next,
            Err(message) => {
                eprintln!("writ serve: error: {message}");
                Next::Nothing
            }
        };
        let body = match &next {
            Next::Nothing if closing => break,
            Next::Nothing => {
                // Wait for a full batch, or the flush interval.
                let _ =
                    tokio::time::timeout(shipping.config.flush, shipping.ready.notified()).await;
                continue;
            }
            Next::Queue(body, _) | Next::Spill(body, _) => body,
        };
        // Send this batch until it is accepted (or the grace period ends).
        loop {
            let deadline = {
                let mut inner = shipping.lock();
                inner.last_attempt = Some(SystemTime::now());
                inner.deadline
            };
            let attempt = post(&client, &shipping.config, body);
            let result = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, attempt)
                    .await
                    .unwrap_or_else(|_| Err("the grace period ran out".into())),
                None => attempt.await,
            };
            match result {
                Ok(()) => {
                    backoff.succeeded();
                    shipping.metrics.ship(Ship::Sent, 1);
                    {
                        let mut inner = shipping.lock();
                        inner.last_success = Some(SystemTime::now());
                        inner.last_error = None;
                        inner.failures = 0;
                    }
                    match &next {
                        Next::Queue(_, n) => shipping.shipped_queue(*n),
                        Next::Spill(_, to) => shipping.shipped_spill(*to),
                        Next::Nothing => {}
                    }
                    break;
                }
                Err(message) => {
                    let wait = backoff.failed();
                    {
                        let mut inner = shipping.lock();
                        inner.last_error = Some((SystemTime::now(), message.clone()));
                        inner.failures = backoff.failures();
                        if inner.failures == 1 {
                            eprintln!("writ serve: error: {message}; retrying");
                        }
                    }
                    if deadline.is_some_and(|d| tokio::time::Instant::now() + wait >= d) {
                        shipping.stop();
                        return;
                    }
                    shipping.metrics.ship(Ship::Retried, 1);
                    // Woken early by a shutdown, to try once more before its deadline.
                    let _ = tokio::time::timeout(wait, shipping.ready.notified()).await;
                }
            }
        }
    }
    shipping.stop();
}

impl Shipping {
    /// The next batch: the queue first (its lines are older than the spill file's), then the
    /// spill file.
    fn next(&self) -> Result<Next, String> {
        let mut inner = self.lock();
        if !inner.lines.is_empty() {
            let n = inner.lines.len().min(self.config.batch.max(1));
            let body: Vec<u8> = inner.lines.iter().take(n).flatten().copied().collect();
            return Ok(Next::Queue(body, n));
        }
        let batch = self.config.batch.max(1);
        let spilling = inner.spilling;
        let Some(spill) = inner.spill.as_mut() else { return Ok(Next::Nothing) };
        if spill.shipped >= spill.len {
            if spilling {
                // Caught up: the queue takes lines again, and the spill file starts empty.
                spill.file.set_len(0).map_err(|e| {
                    format!("cannot truncate spill file `{}`: {e}", spill.path.display())
                })?;
                spill.shipped = 0;
                spill.len = 0;
                inner.spilling = false;
            }
            return Ok(Next::Nothing);
        }
        let want = (spill.len - spill.shipped).min(SPILL_READ);
        let mut bytes = Vec::new();
        let mut file = &spill.file;
        file.seek(SeekFrom::Start(spill.shipped))
            .and_then(|_| file.take(want).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read spill file `{}`: {e}", spill.path.display()))?;
        // Whole lines only, at most a batch of them.
        let mut end = 0usize;
        let mut count = 0usize;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                end = i + 1;
                count += 1;
                if count >= batch {
                    break;
                }
            }
        }
        if end == 0 {
            return Err(format!(
                "spill file `{}` holds a line longer than {SPILL_READ} bytes, or one cut short, \
                 at byte {}: it cannot be shipped",
                spill.path.display(),
                spill.shipped
            ));
        }
        bytes.truncate(end);
        let to = spill.shipped + end as u64;
        Ok(Next::Spill(bytes, to))
    }

    fn shipped_queue(&self, n: usize) {
        let mut inner = self.lock();
        let n = n.min(inner.lines.len());
        inner.lines.drain(..n);
        self.metrics.ship_queue(inner.lines.len());
        drop(inner);
        self.room.notify_all();
    }

    fn shipped_spill(&self, to: u64) {
        if let Some(spill) = &mut self.lock().spill {
            spill.shipped = to;
        }
    }

    /// The shipper stops: what is still queued goes to the spill file (or is dropped), before
    /// the lines spilled and not shipped (the queue's lines are older), and so do lines that
    /// still come (after them).
    fn stop(&self) {
        let mut inner = self.lock();
        inner.stopped = true;
        let left: Vec<Vec<u8>> = inner.lines.drain(..).collect();
        self.metrics.ship_queue(0);
        if !left.is_empty() {
            eprintln!(
                "writ serve: {} decision log line(s) were not shipped to `{}` in time",
                left.len(),
                self.config.url
            );
            let n = left.len() as u64;
            match inner.spill.as_mut().map(|spill| prepend(spill, &left.concat())) {
                Some(Ok(())) => self.metrics.ship(Ship::Spilled, n),
                Some(Err(e)) => {
                    self.metrics.ship(Ship::Dropped, n);
                    eprintln!("writ serve: error: {e}; {n} decision log line(s) are lost");
                }
                None => self.spill(&mut inner, &left),
            }
        }
        drop(inner);
        self.room.notify_all();
    }
}

/// Rewrites the spill file as `lines` then its bytes not yet shipped (replacing it by rename,
/// so that a crash leaves the old file or the new one), and goes on appending to it.
fn prepend(spill: &mut Spill, lines: &[u8]) -> Result<(), String> {
    let describe =
        |e: std::io::Error| format!("cannot write spill file `{}`: {e}", spill.path.display());
    let mut rest = Vec::new();
    let mut file = &spill.file;
    file.seek(SeekFrom::Start(spill.shipped))
        .and_then(|_| file.read_to_end(&mut rest))
        .map_err(describe)?;
    let mut temp = spill.path.clone().into_os_string();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = (|| {
        let mut out = File::create(&temp)?;
        out.write_all(lines)?;
        out.write_all(&rest)?;
        out.sync_all()?;
        std::fs::rename(&temp, &spill.path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(describe(e));
    }
    spill.file = OpenOptions::new().read(true).append(true).open(&spill.path).map_err(describe)?;
    spill.shipped = 0;
    spill.len = (lines.len() + rest.len()) as u64;
    Ok(())
}

/// POSTs one batch, gzip-compressed; `Ok` on a 2xx answer.
async fn post(client: &reqwest::Client, config: &ShipConfig, lines: &[u8]) -> Result<(), String> {
    let url = &config.url;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(lines).map_err(|e| format!("cannot compress a batch: {e}"))?;
    let body = gzip.finish().map_err(|e| format!("cannot compress a batch: {e}"))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!("cannot ship decision log lines to `{url}`: {}", crate::remote::describe(&e))
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("cannot ship decision log lines to `{url}`: the collector answered {status}"))
    }
}

/// The HTTP client for the collector.
pub fn client(config: &ShipConfig) -> Result<reqwest::Client, String> {
    crate::remote::client(config.timeout, &config.roots)
}
