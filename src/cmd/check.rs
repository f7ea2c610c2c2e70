//! `writ check`: every diagnostic of one or more policies.

use std::path::PathBuf;

use crate::Format;
use crate::output::{self, FAILED, OK, USAGE};

pub fn run(paths: &[PathBuf], format: Format) -> u8 {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut code = OK;
    let mut json = Vec::new();
    for path in paths {
        let compiler = match output::compile(path) {
            Ok(c) => c,
            Err(c) => {
                code = code.max(c);
                continue;
            }
        };
        let compilation = compiler.compilation();
        let sources = compiler.sources();
        if compilation.has_errors() {
            code = code.max(FAILED);
        }
        match format {
            Format::Human => {
                print!(
                    "{}",
                    output::render_human(
                        &compilation.diagnostics,
                        &sources,
                        output::stdout_color()
                    )
                );
                let files = sources.len();
                println!(
                    "{}: {} in {} file{}",
                    path.display(),
                    output::summary(compilation),
                    files,
                    if files == 1 { "" } else { "s" }
                );
            }
            Format::Json => {
                json.extend(output::json_diagnostics(&compilation.diagnostics, &sources))
            }
        }
    }
    if format == Format::Json {
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        }
    }
    code
}
