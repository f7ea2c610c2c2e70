//! A structured hunt of the shell analysis: every string of LEN pieces drawn from an alphabet,
//! each given to [`writ_evaluator::shell::parse`], reporting any panic inside it (caught ones
//! too: the panic hook sees them) and any string it takes more than 3 s on. libFuzzer mutates
//! bytes and reaches brush-parser's quoting and here-document states slowly; enumeration
//! reaches them at once (RELIABILITY.md, "Structured hunts of the shell parser", records the
//! runs). A hunt is timed, so it is a tool to run by hand, never a test:
//!
//! ```text
//! cargo run --release -p writ-fuzz --bin shell-hunt -- 7 '$(' '(' ')' '+(' '"' '$"' '<<E\n'
//! ```
//!
//! `\n` and `\t` in a piece are a line break and a tab. Exit 0 when nothing was found, 1 on a
//! panic or a hang (the hang is printed and the hunt stops), 2 on bad arguments.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use writ_evaluator::shell::{self, CommandLine};

/// How long one string may take before the hunt calls it a hang.
const HANG_AFTER: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let len = args.next().and_then(|a| a.parse::<u32>().ok());
    let pieces: Vec<String> = args.map(|a| a.replace("\\n", "\n").replace("\\t", "\t")).collect();
    let (Some(len), false) = (len, pieces.is_empty()) else {
        eprintln!("usage: shell-hunt LEN PIECE... (every string of LEN pieces)");
        return ExitCode::from(2);
    };
    let Some(total) = u64::try_from(pieces.len()).ok().and_then(|k| k.checked_pow(len)) else {
        eprintln!("shell-hunt: {} pieces to the power {len} is too many strings", pieces.len());
        return ExitCode::from(2);
    };
    let current = Arc::new(Mutex::new(String::new()));
    let done = Arc::new(AtomicU64::new(0));
    let panics = Arc::new(AtomicU64::new(0));
    report_panics(Arc::clone(&current), Arc::clone(&panics));
    watch_for_hangs(Arc::clone(&current), Arc::clone(&done));
    let mut unknown = 0u64;
    let mut line = String::new();
    for n in 0..total {
        string_number(n, len, &pieces, &mut line);
        if let Ok(mut shared) = current.lock() {
            shared.clone_from(&line);
        }
        if matches!(shell::parse(&line), CommandLine::Unknown(_)) {
            unknown += 1;
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    let panics = panics.load(Ordering::Relaxed);
    println!("{total} strings: {} known, {unknown} unknown, {panics} panics", total - unknown);
    if panics == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The `n`th string of `len` pieces, into `line`.
fn string_number(n: u64, len: u32, pieces: &[String], line: &mut String) {
    line.clear();
    let k = pieces.len() as u64;
    let mut rest = n;
    for _ in 0..len {
        if let Some(piece) = usize::try_from(rest % k).ok().and_then(|i| pieces.get(i)) {
            line.push_str(piece);
        }
        rest /= k;
    }
}

/// Prints every panic with the string being parsed, and counts it.
fn report_panics(current: Arc<Mutex<String>>, panics: Arc<AtomicU64>) {
    std::panic::set_hook(Box::new(move |info| {
        panics.fetch_add(1, Ordering::Relaxed);
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let line = current.try_lock().map(|s| s.clone()).unwrap_or_default();
        println!("PANIC {at} {line:?}");
    }));
}

/// Stops the hunt, printing the string, when no string finishes for [`HANG_AFTER`].
fn watch_for_hangs(current: Arc<Mutex<String>>, done: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        loop {
            std::thread::sleep(HANG_AFTER);
            let now = done.load(Ordering::Relaxed);
            if now == last {
                let line = current.lock().map(|s| s.clone()).unwrap_or_default();
                println!("HANG {line:?}");
                std::process::exit(1);
            }
            last = now;
        }
    });
}
