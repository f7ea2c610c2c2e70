//! `writ fmt`: one canonical layout.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::output::{self, FAILED, OK, USAGE};

/// `writ fmt [PATH...] [--check]`.
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to format in place (`-` reads standard input and writes
    /// standard output). Default: the current directory.
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if there are any.
    #[arg(long)]
    check: bool,
}

pub fn run(args: &Args) -> u8 {
    let (paths, check) = (&args.paths[..], args.check);
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut code = OK;
    for path in paths {
        code =
            code.max(if path.as_os_str() == "-" { stdin(check) } else { format_path(path, check) });
    }
    code
}

fn stdin(check: bool) -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        output::error(format_args!("cannot read standard input: {e}"));
        return USAGE;
    }
    match formatted("<stdin>", &text) {
        Some(out) if check => {
            if out != text {
                println!("<stdin>");
                return FAILED;
            }
            OK
        }
        Some(out) => {
            print!("{out}");
            OK
        }
        None => FAILED,
    }
}

/// The formatted text, or `None` (after reporting the syntax errors) when it does not parse.
fn formatted(name: &str, text: &str) -> Option<String> {
    if let Some(out) = writ_grammar::format(text) {
        return Some(out);
    }
    let compiler = writ_compiler::Compiler::new(vec![(name.to_string(), text.to_string())]);
    let syntax: Vec<_> = compiler
        .compilation()
        .diagnostics
        .iter()
        .filter(|d| {
            matches!(d.code, writ_compiler::Code::Syntax | writ_compiler::Code::ReservedWord)
        })
        .cloned()
        .collect();
    eprint!("{}", output::render_human(&syntax, &compiler.sources(), output::stderr_color()));
    output::error(format_args!("cannot format `{name}`: it has syntax errors"));
    None
}

fn format_path(path: &Path, check: bool) -> u8 {
    let files = match writ_compiler::load::find(path) {
        Ok(f) => f,
        Err(e) => {
            output::error(format_args!("cannot read `{}`: {e}", path.display()));
            return USAGE;
        }
    };
    let mut code = OK;
    for file in files {
        let text = match writ_compiler::load::read_text(&file.disk_path) {
            Ok(t) => t,
            Err(e) => {
                output::error(format_args!("cannot read `{}`: {e}", file.disk_path.display()));
                code = code.max(USAGE);
                continue;
            }
        };
        let Some(out) = formatted(&file.disk_path.display().to_string(), &text) else {
            code = code.max(FAILED);
            continue;
        };
        if out == text {
            continue;
        }
        if check {
            println!("{}", file.disk_path.display());
            code = code.max(FAILED);
        } else if let Err(e) = std::fs::write(&file.disk_path, out) {
            output::error(format_args!("cannot write `{}`: {e}", file.disk_path.display()));
            code = code.max(USAGE);
        }
    }
    code
}
