//! The decision log writer: one thread owns the hash-chained log (`writ_evaluator::log`) behind
//! a buffered writer, fed by a bounded channel.
//!
//! Handlers render their decision's line (everything but its `prev`: the request digest, the
//! JSON) on their own worker and send it *before* they answer, so a decision that was answered
//! is in the channel; the writer only chains lines (one hash each, in the order they arrive)
//! and writes them; the writer flushes whenever the channel runs dry (so an idle server's log is on
//! disk), then sleeps half a millisecond so that under load it writes records in batches
//! instead of being woken for each, and, on shutdown, drains the channel, flushes and reports. A full channel makes
//! handlers wait (back-pressure) rather than drop records.

use std::fs::OpenOptions;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use writ_evaluator::bundle::SigningKey;
use writ_evaluator::log::checkpoint::Checkpoint;
use writ_evaluator::log::{DecisionLog, LineFormat, Mode, Unchained, tail};
use writ_evaluator::{Decision, Request};

use crate::metrics::{ErrorKind, Metrics};
use crate::ship::{ShipConfig, Shipping};

/// Records queued before handlers wait for the writer.
const QUEUE: usize = 16 * 1024;
/// The writer's buffer.
const BUFFER: usize = 256 * 1024;
/// How long the writer sleeps after it has drained the channel and flushed.
const LINGER: std::time::Duration = std::time::Duration::from_micros(500);

/// Where decision log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    /// Appended to; an existing log is continued (its chain resumes from its last line).
    File(PathBuf),
}

impl LogTarget {
    /// `-` is standard output.
    pub fn parse(text: &str) -> LogTarget {
        if text == "-" { LogTarget::Stdout } else { LogTarget::File(text.into()) }
    }
}

impl std::fmt::Display for LogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogTarget::Stdout => f.write_str("-"),
            LogTarget::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `--checkpoint-every N --checkpoint-key KEY`: a signed checkpoint of the log file
/// (`writ_evaluator::log::checkpoint`), rewritten at most every `every` and when the server
/// stops.
#[derive(Clone, Debug)]
pub struct CheckpointConfig {
    pub key: SigningKey,
    pub every: std::time::Duration,
    /// Where the checkpoint is written (replaced atomically).
    pub path: PathBuf,
}

/// The writer's checkpoint state: the config, the lines in the file, when it last wrote one.
struct Checkpoints {
    config: CheckpointConfig,
    lines: u64,
    written: std::time::Instant,
}

impl Checkpoints {
    fn write(&mut self, last: Option<&str>) {
        let checkpoint =
            Checkpoint::sign(&self.config.key, self.lines, last, writ_evaluator::statement::now());
        let path = &self.config.path;
        let mut temp = path.clone().into_os_string();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let text = format!("{}\n", checkpoint.to_json());
        let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            eprintln!("writ serve: error: cannot write checkpoint `{}`: {e}", path.display());
        }
        self.written = std::time::Instant::now();
    }
}

enum Message {
    /// A line to chain and write.
    Line(Unchained),
    /// Everything sent before this is written: flush, and stop.
    Close,
}

/// The handlers' end of the log: renders lines and queues them.
#[derive(Clone)]
pub struct LogSender {
    tx: mpsc::Sender<Message>,
    format: LineFormat,
    metrics: Arc<Metrics>,
}

impl LogSender {
    /// Renders the line of `decision` on `request` (on the caller's thread) and queues it,
    /// waiting while the queue is full. A line that cannot be rendered (only a bug can cause
    /// it) or a writer that is gone (likewise) is counted as a decision log error.
    pub async fn send(
        &self,
        request: &Request<'_>,
        decision: &Decision,
        at: SystemTime,
        id: &str,
        statements: &[writ_evaluator::statement::Counted],
    ) {
        let policy = &decision.policy;
        let line = match self.format.render(request, decision, policy, at, id, statements) {
            Ok(line) => line,
            Err(e) => {
                self.metrics.error(ErrorKind::DecisionLog);
                eprintln!("error: cannot write the decision log: {e}");
                return;
            }
        };
        if self.tx.send(Message::Line(line)).await.is_err() {
            self.metrics.error(ErrorKind::DecisionLog);
        }
    }
}

/// The writer thread, and the shipper task with `--decision-log-url`.
pub struct LogWriter {
    tx: mpsc::Sender<Message>,
    thread: std::thread::JoinHandle<Result<u64, String>>,
    shipper: Option<(Arc<Shipping>, tokio::task::JoinHandle<()>)>,
    /// How long the shipper may take to drain on shutdown.
    grace: std::time::Duration,
}

/// Where the writer's lines go: the file or standard output, and the shipper's queue. The log
/// writes each line with one `write_all`, which here is one `write` of the whole line.
struct Sink {
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    ship: Option<Arc<Shipping>>,
}

impl Write for Sink {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if let Some(out) = &mut self.out {
            out.write_all(line)?;
        }
        if let Some(ship) = &self.ship {
            ship.push(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

type Out = DecisionLog<Sink>;

/// Opens the log (continuing an existing file's chain) and starts its writer thread, and with
/// `ship` the shipper. Its lines are marked with `mode` (`"mode": "log-only"` in shadow mode).
/// `grace` is how long the shipper may take to drain on shutdown.
pub fn start(
    target: Option<&LogTarget>,
    ship: Option<&ShipConfig>,
    mode: Mode,
    metrics: Arc<Metrics>,
    checkpoint: Option<CheckpointConfig>,
    grace: std::time::Duration,
    mask: writ_evaluator::log::Mask,
) -> Result<(LogSender, LogWriter, Option<Arc<Shipping>>), String> {
    let mut lines = 0u64;
    if checkpoint.is_some() && !matches!(target, Some(LogTarget::File(_))) {
        return Err("checkpoints are written for a decision log file, not `-`".into());
    }
    let shipping = match ship {
        None => None,
        Some(config) => {
            let client = crate::ship::client(config)?;
            let shipping = Shipping::open(config, metrics.clone())?;
            Some((shipping, client, config))
        }
    };
    // Without a file, the chain goes on from the spill file an earlier run left (its lines are
    // shipped first), so that the collector's copy is one chain.
    let spilled = match (target, ship) {
        (None, Some(config)) => Shipping::spilled_tail(config)?,
        _ => None,
    };
    let sink = |out: Option<BufWriter<Box<dyn Write + Send>>>| Sink {
        out,
        ship: shipping.as_ref().map(|(s, _, _)| s.clone()),
    };
    let log: Out = match target {
        None => DecisionLog::resume(sink(None), spilled),
        Some(LogTarget::Stdout) => DecisionLog::new(sink(Some(BufWriter::with_capacity(
            BUFFER,
            Box::new(std::io::stdout()),
        )))),
        Some(LogTarget::File(path)) => {
            let describe = |e: &dyn std::fmt::Display| {
                format!("cannot open decision log `{}`: {e}", path.display())
            };
            let prev = match std::fs::File::open(path) {
                Ok(file) => {
                    let (count, prev) = tail(BufReader::new(file)).map_err(|e| {
                        format!("cannot continue decision log `{}`: {e}", path.display())
                    })?;
                    lines = count;
                    prev
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(describe(&e)),
            };
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| describe(&e))?;
            DecisionLog::resume(sink(Some(BufWriter::with_capacity(BUFFER, Box::new(file)))), prev)
        }
    };
    let log = log.with_mode(mode).with_mask(mask);
    let format = log.format().clone();
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer_metrics = metrics.clone();
    let thread = std::thread::Builder::new()
        .name("writ-decision-log".into())
        .spawn(move || {
            let checkpoints = checkpoint.map(|config| Checkpoints {
                config,
                lines,
                written: std::time::Instant::now(),
            });
            write_all(log, rx, &writer_metrics, checkpoints)
        })
        .map_err(|e| format!("cannot start the decision log writer: {e}"))?;
    let shipper = shipping.map(|(shipping, client, _)| {
        let task = tokio::spawn(crate::ship::run(shipping.clone(), client));
        (shipping, task)
    });
    let status = shipper.as_ref().map(|(s, _)| s.clone());
    Ok((
        LogSender { tx: tx.clone(), format, metrics },
        LogWriter { tx, thread, shipper, grace },
        status,
    ))
}

fn write_all(
    mut log: Out,
    mut rx: mpsc::Receiver<Message>,
    metrics: &Metrics,
    mut checkpoints: Option<Checkpoints>,
) -> Result<u64, String> {
    let mut written = 0u64;
    let mut failed = 0u64;
    let mut last_error: Option<String> = None;
    while let Some(message) = rx.blocking_recv() {
        match message {
            Message::Line(line) => {
                match log.append(&line) {
                    Ok(()) => {
                        written += 1;
                        if let Some(c) = &mut checkpoints {
                            c.lines += 1;
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        metrics.error(ErrorKind::DecisionLog);
                        if last_error.is_none() {
                            eprintln!("error: cannot write the decision log: {e}");
                        }
                        last_error = Some(e.to_string());
                    }
                }
                if rx.is_empty() {
                    if let Err(e) = log.flush() {
                        metrics.error(ErrorKind::DecisionLog);
                        eprintln!("error: cannot flush the decision log: {e}");
                    } else if let Some(c) = &mut checkpoints
                        && c.written.elapsed() >= c.config.every
                    {
                        c.write(log.last_hash());
                    }
                    // Linger before waiting on the channel again: a writer blocked on an empty
                    // channel must be woken (a futex call and a context switch) by the next
                    // handler to send, which under load is once per decision. Sleeping first
                    // lets records pile up and be written in one go, for at most LINGER of
                    // extra delay before they reach the buffer (never before they are answered:
                    // records are queued before the answer either way).
                    std::thread::sleep(LINGER);
                }
            }
            Message::Close => break,
        }
    }
    log.flush().map_err(|e| format!("cannot flush the decision log: {e}"))?;
    if let Some(c) = &mut checkpoints {
        c.write(log.last_hash());
    }
    match last_error {
        None => Ok(written),
        Some(e) => Err(format!("{failed} decision(s) could not be logged; the last error: {e}")),
    }
}

impl LogWriter {
    /// Writes everything queued, flushes, and stops; the number of lines written. Call it once
    /// no handler can send any more.
    pub async fn close(self) -> Result<u64, String> {
        // The grace period of the shipper starts now: a writer waiting for room in its queue
        // (a collector down, no spill file) is let go at its end.
        if let Some((shipping, _)) = &self.shipper {
            shipping.drain(self.grace);
        }
        // The thread may have stopped already (it only does when the channel closes).
        let _ = self.tx.send(Message::Close).await;
        drop(self.tx);
        let thread = self.thread;
        let written = tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|_| "the decision log writer stopped unexpectedly".to_string())?
            .map_err(|_| "the decision log writer panicked".to_string())?;
        // Every line is in the shipper's queue or its spill file now: drain them.
        if let Some((shipping, task)) = self.shipper {
            shipping.close();
            if task.await.is_err() {
                return Err("the decision log shipper stopped unexpectedly".into());
            }
        }
        written
    }
}
