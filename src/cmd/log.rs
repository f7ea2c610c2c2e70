//! `writ log verify`: check a decision log's hash chain; `writ log checkpoint`: sign where it
//! stands, so that a later `verify --checkpoint` detects a cut tail or a rewritten chain
//! (docs/decision-log.md).

use std::io::BufReader;
use std::path::Path;

use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

use writ_evaluator::bundle;
use writ_evaluator::log::checkpoint::Checkpoint;
use writ_evaluator::log::{LogError, VerifyOptions, verify_with};

use crate::Format;
use crate::output::{self, FAILED, OK, USAGE};

/// `writ log verify|checkpoint ...`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LogCommand,
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check that no line of a decision log was altered, deleted, inserted or reordered, and
    /// print the hash of its last line (keep it: with `--last` it also detects a cut tail).
    Verify {
        /// The decision log (JSON Lines, as `writ serve --decision-log` writes it), or `-`.
        file: String,
        /// The hash of the log's last line, kept elsewhere: fail unless the log ends there.
        #[arg(long, value_name = "HASH")]
        last: Option<String>,
        /// The log continues another (after rotation) whose last line hashes to this.
        #[arg(long, value_name = "HASH")]
        after: Option<String>,
        /// A checkpoint (`writ log checkpoint`, or `writ serve --checkpoint-every`): the log
        /// must still hold the lines it saw, unchanged. Needs `--verify-key`.
        #[arg(long, value_name = "FILE", requires = "verify_key")]
        checkpoint: Option<PathBuf>,
        /// The public key (`writ keygen`) the checkpoint must be signed with.
        #[arg(long, value_name = "PUB", requires = "checkpoint")]
        verify_key: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Sign where a decision log stands (its line count and last line's hash, now): one line
    /// of JSON, kept apart from the log (standard output, or `-o FILE`).
    Checkpoint {
        /// The decision log; its chain is verified first.
        file: PathBuf,
        /// The secret key file (`writ keygen`) to sign with.
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// Write the checkpoint to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(command: &LogCommand) -> u8 {
    match command {
        LogCommand::Verify { file, last, after, checkpoint, verify_key, format } => {
            let checkpoint = match (checkpoint, verify_key) {
                (Some(c), Some(k)) => match read_checkpoint(c, k) {
                    Ok(c) => Some(c),
                    Err(code) => return code,
                },
                _ => None,
            };
            verify(file, last.as_deref(), after.as_deref(), checkpoint.as_ref(), *format)
        }
        LogCommand::Checkpoint { file, key, output } => {
            sign_checkpoint(file, key, output.as_deref())
        }
    }
}

/// Reads a checkpoint and checks its signature; `Err(exit code)` after printing why.
fn read_checkpoint(path: &Path, key: &Path) -> Result<Checkpoint, u8> {
    let key = super::build::read_key(key, bundle::parse_verifying_key)?;
    let bytes = std::fs::read(path).map_err(|e| {
        output::error(format_args!("cannot read checkpoint `{}`: {e}", path.display()));
        USAGE
    })?;
    let checkpoint = Checkpoint::parse(&bytes).map_err(|e| {
        output::error(format_args!("checkpoint `{}`: {e}", path.display()));
        FAILED
    })?;
    checkpoint.verify(&key).map_err(|e| {
        output::error(format_args!("checkpoint `{}`: {e}", path.display()));
        FAILED
    })?;
    Ok(checkpoint)
}

fn sign_checkpoint(file: &Path, key: &Path, out: Option<&Path>) -> u8 {
    let key = match super::build::read_key(key, bundle::parse_signing_key) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let summary = match std::fs::File::open(file) {
        Ok(f) => verify_with(BufReader::new(f), VerifyOptions::default()),
        Err(e) => Err(LogError::Io(e)),
    };
    let summary = match summary {
        Ok(s) => s,
        Err(LogError::Io(e)) => {
            output::error(format_args!("cannot read log `{}`: {e}", file.display()));
            return USAGE;
        }
        Err(e) => {
            output::error(format_args!(
                "`{}` does not verify, so it is not signed: {e}",
                file.display()
            ));
            return FAILED;
        }
    };
    let checkpoint = Checkpoint::sign(
        &key,
        summary.lines as u64,
        summary.last_hash.as_deref(),
        writ_evaluator::statement::now(),
    );
    let text = format!("{}\n", checkpoint.to_json());
    match out {
        None => {
            print!("{text}");
            OK
        }
        Some(path) => match super::build::write_atomically(path, text.as_bytes()) {
            Ok(()) => OK,
            Err(e) => {
                output::error(format_args!("cannot write `{}`: {e}", path.display()));
                USAGE
            }
        },
    }
}

fn verify(
    file: &str,
    last: Option<&str>,
    after: Option<&str>,
    checkpoint: Option<&Checkpoint>,
    format: Format,
) -> u8 {
    let options =
        VerifyOptions { last, after, checkpoint: checkpoint.map(|c| (c.lines, c.last.as_deref())) };
    let result = if file == "-" {
        verify_with(std::io::stdin().lock(), options)
    } else {
        match std::fs::File::open(Path::new(file)) {
            Ok(f) => verify_with(BufReader::new(f), options),
            Err(e) => Err(LogError::Io(e)),
        }
    };
    match result {
        Ok(summary) => {
            match format {
                Format::Human => {
                    println!(
                        "ok: `{file}`: {} decision{}, chain intact{}",
                        summary.lines,
                        if summary.lines == 1 { "" } else { "s" },
                        if last.is_some() { ", ends at the expected line" } else { "" }
                    );
                    if let Some(c) = checkpoint {
                        println!("checkpoint: line {} as signed at {}", c.lines, c.at);
                    }
                    match &summary.last_hash {
                        Some(hash) => println!("last: {hash}"),
                        None => println!("last: none (the log is empty)"),
                    }
                }
                Format::Json => println!(
                    "{}",
                    json!({
                        "ok": true,
                        "lines": summary.lines,
                        "first_prev": summary.first_prev,
                        "last": summary.last_hash,
                        "checkpoint": checkpoint.map(|c| json!({"lines": c.lines, "at": c.at.to_string()})),
                    })
                ),
            }
            OK
        }
        Err(LogError::Io(e)) => {
            output::error(format_args!("cannot read log `{file}`: {e}"));
            USAGE
        }
        Err(e) => {
            match format {
                Format::Human => output::error(format_args!("`{file}`: {e}")),
                Format::Json => {
                    let line = match &e {
                        LogError::Line { line, .. } => Some(*line),
                        _ => None,
                    };
                    println!("{}", json!({"ok": false, "line": line, "error": e.to_string()}));
                }
            }
            FAILED
        }
    }
}
