//! `writ log verify`: check a decision log's hash chain (docs/decision-log.md).

use std::io::BufReader;
use std::path::Path;

use clap::Subcommand;
use serde_json::json;
use writ_evaluator::log::{LogError, VerifyOptions, verify_with};

use crate::Format;
use crate::output::{self, FAILED, OK, USAGE};

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
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

pub fn run(command: &LogCommand) -> u8 {
    match command {
        LogCommand::Verify { file, last, after, format } => {
            verify(file, last.as_deref(), after.as_deref(), *format)
        }
    }
}

fn verify(file: &str, last: Option<&str>, after: Option<&str>, format: Format) -> u8 {
    let options = VerifyOptions { last, after };
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
