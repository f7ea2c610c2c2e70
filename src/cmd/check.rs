//! `writ check`: every diagnostic of one or more policies.

use std::path::PathBuf;

use crate::output::{self, FAILED, OK, USAGE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// Annotated source snippets.
    Human,
    /// A JSON array of diagnostics.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
}

/// `writ check [PATH...] [--format F]`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy files or directories (each is one policy). Default: the current directory.
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    format: CheckFormat,
}

pub fn run(args: &Args) -> u8 {
    let (paths, format) = (&args.paths[..], args.format);
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut code = OK;
    let mut json = Vec::new();
    let mut findings = Vec::new();
    for path in paths {
        let compiler = match output::compile(path) {
            Ok(c) => c,
            Err(c) => {
                code = code.max(c);
                continue;
            }
        };
        let compilation = compiler.compilation();
        let sources = output::display_sources(&compiler, path);
        if compilation.has_errors() {
            code = code.max(FAILED);
        }
        match format {
            CheckFormat::Human => {
                let color = output::stdout_color();
                print!("{}", output::render_human(&compilation.diagnostics, &sources, color));
                let files = sources.len();
                // Lints judge a whole, correct program, so they run only once there are no
                // errors: say so, rather than let "0 warnings" read as a clean bill.
                let later = if compilation.has_errors() {
                    "; lints run once the errors are fixed"
                } else {
                    ""
                };
                println!(
                    "{}: {} in {} file{}{later}",
                    path.display(),
                    output::summary(compilation),
                    files,
                    if files == 1 { "" } else { "s" }
                );
            }
            CheckFormat::Json => {
                json.extend(output::json_diagnostics(&compilation.diagnostics, &sources))
            }
            CheckFormat::Sarif | CheckFormat::Github => {
                findings.extend(output::findings(&compilation.diagnostics, &sources))
            }
        }
    }
    let printed = match format {
        CheckFormat::Human => return code,
        CheckFormat::Json => serde_json::to_string_pretty(&json),
        CheckFormat::Sarif => serde_json::to_string_pretty(&crate::ci::sarif(&findings)),
        CheckFormat::Github => {
            print!("{}", crate::ci::github(&findings));
            return code;
        }
    };
    match printed {
        Ok(text) => println!("{text}"),
        Err(e) => {
            output::error(e);
            return USAGE;
        }
    }
    code
}
