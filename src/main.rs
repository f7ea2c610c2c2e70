//! `writ`: the command-line interface.
//!
//! Exit codes: 0 success, 1 policy errors / failed tests / unformatted files, 2 usage or I/O
//! errors (and malformed requests).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// See the root `Cargo.toml`: the server's per-decision allocations are cheaper with mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod ci;
mod cmd;
mod output;

#[derive(Parser)]
#[command(
    name = "writ",
    version,
    about = "Policies for AI-agent workflows: check, evaluate, test, format"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text (diagnostics as annotated source snippets).
    Human,
    /// JSON, for machines.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
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

#[derive(Subcommand)]
enum Command {
    /// Check policies and report every error and warning.
    Check {
        /// Policy files or directories (each is one policy). Default: the current directory.
        paths: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
    },
    /// Decide requests (JSON, see docs/language.md#requests) against a policy.
    Eval {
        /// The policy: a `.writ` file or a directory of them.
        #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
        policy: Option<std::path::PathBuf>,
        /// A bundle built by `writ build`, instead of `--policy`.
        #[arg(long)]
        bundle: Option<std::path::PathBuf>,
        /// A public key file (`writ keygen`): the bundle must be signed by its secret key.
        #[arg(long, requires = "bundle")]
        verify_key: Option<std::path::PathBuf>,
        /// One JSON request (a file, or `-` for standard input).
        #[arg(long, conflicts_with = "requests", required_unless_present = "requests")]
        request: Option<String>,
        /// JSON Lines, one request per line (a file, or `-`); one decision per line, in order.
        #[arg(long)]
        requests: Option<String>,
        /// Add a step-by-step trace of the decision procedure (and note request keys that
        /// the schema does not have, which decoding ignores).
        #[arg(long)]
        explain: bool,
        /// Make a request key the schema does not have (`evidance`, `chain[0].rolse`) an
        /// error instead of ignoring it.
        #[arg(long)]
        strict: bool,
        /// `json` (default) prints decisions as JSON; `human` as text.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// A trust file (docs/evidence.md): the signers whose statements count, and who they are.
        #[arg(long, value_name = "FILE")]
        trust: Option<std::path::PathBuf>,
        /// Signed statements (`writ attest`): files or directories of them. Those that verify
        /// for the request's subject are added to its evidence; the others are reported on
        /// standard error (and under `--explain`) and ignored.
        #[arg(long, value_name = "PATH", num_args = 1.., requires = "trust")]
        evidence: Vec<std::path::PathBuf>,
    },
    /// Run the `test` blocks of a policy.
    Test {
        /// The policy: a `.writ` file or a directory of them. Default: the current directory.
        path: Option<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = cmd::test::TestFormat::Human)]
        format: cmd::test::TestFormat,
        /// Run only the tests whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Report the rules no test exercised.
        #[arg(long)]
        coverage: bool,
        /// Fail when fewer than this percentage of the rules were exercised (implies --coverage).
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        coverage_min: Option<f64>,
    },
    /// Prove the policy's assertions (`assert "NAME" { never ... }`) over every possible
    /// request: each claim holds, fails with a counterexample request, or is unknown with the
    /// reason. Exit 0 when every claim holds, 1 when one fails or is unknown, 2 for policy
    /// errors.
    Verify {
        /// A `.writ` file or a directory of them.
        path: std::path::PathBuf,
        #[arg(long, value_enum, default_value_t = cmd::verify::VerifyFormat::Human)]
        format: cmd::verify::VerifyFormat,
    },
    /// Access review: what each role can reach through the policy's agent workflows.
    Reach {
        /// The policy: a `.writ` file or a directory of them.
        #[arg(long)]
        policy: std::path::PathBuf,
        /// Only this role (default: every role).
        #[arg(long, conflicts_with = "fixture")]
        role: Option<String>,
        /// A `fixture` of the policy instead: its roles and attributes are known.
        #[arg(long)]
        fixture: Option<String>,
        #[arg(long, value_enum, default_value_t = cmd::reach::ReachFormat::Table)]
        format: cmd::reach::ReachFormat,
    },
    /// Compare two versions of a policy: each role's reach, and decisions on recorded requests.
    Diff {
        /// The policy before the change (a `.writ` file or a directory).
        old: std::path::PathBuf,
        /// The policy after the change.
        new: std::path::PathBuf,
        /// JSON Lines of recorded requests (a file, or `-`): report each whose decision changes.
        #[arg(long)]
        requests: Option<String>,
        #[arg(long, value_enum, default_value_t = cmd::diff::DiffFormat::Human)]
        format: cmd::diff::DiffFormat,
        /// Exit 1 when any role's reach widened (gained, or reached under changed conditions).
        #[arg(long)]
        fail_on_widen: bool,
    },
    /// Compile a policy into a bundle (a versioned binary file, optionally signed) for gateways.
    Build(cmd::build::Args),
    /// Make an ed25519 key pair for signing bundles and statements (NAME.key and NAME.pub).
    Keygen(cmd::keygen::Args),
    /// Sign an evidence statement: SIGNER attests KIND (with fields) for a subject, for a while.
    Attest(cmd::attest::Args),
    /// Start a policy from elsewhere: `writ import mcp tools.json` declares an MCP server's tools.
    Import {
        #[command(subcommand)]
        command: cmd::import::ImportCommand,
    },
    /// Decision logs: check their hash chain.
    Log {
        #[command(subcommand)]
        command: cmd::log::LogCommand,
    },
    /// Format policies in writ's one canonical layout.
    Fmt {
        /// Files or directories to format in place (`-` reads standard input and writes
        /// standard output). Default: the current directory.
        paths: Vec<std::path::PathBuf>,
        /// Change nothing; list the files that would change and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server (LSP over standard input and output), for editors.
    Lsp,
    /// Serve decisions over HTTP for gateways, reloading the policy when it changes.
    Serve(Box<cmd::serve::Args>),
    /// Hooks for coding agents: `writ hook claude-code`, `writ hook codex` and `writ hook
    /// gemini` decide Claude Code's, Codex CLI's and Gemini CLI's tool calls.
    Hook {
        #[command(subcommand)]
        command: cmd::hook::HookCommand,
    },
    /// A stdio MCP proxy that decides every tool call with its arguments.
    McpProxy(cmd::mcp_proxy::Args),
}

fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a percentage from 0 to 100, found `{text}`")),
    }
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check { paths, format } => cmd::check::run(&paths, format),
        Command::Eval {
            policy,
            bundle,
            verify_key,
            request,
            requests,
            explain,
            strict,
            format,
            trust,
            evidence,
        } => {
            let source = cmd::eval::Source {
                policy: policy.as_deref(),
                bundle: bundle.as_deref(),
                verify_key: verify_key.as_deref(),
            };
            let how = cmd::eval::How {
                explain: if explain { cmd::eval::Explain::Trace } else { cmd::eval::Explain::No },
                keys: if strict {
                    writ_evaluator::UnknownKeys::Reject
                } else {
                    writ_evaluator::UnknownKeys::Ignore
                },
                format,
            };
            let evidence = cmd::eval::Evidence { trust: trust.as_deref(), paths: &evidence };
            cmd::eval::run(&source, &evidence, request.as_deref(), requests.as_deref(), how)
        }
        Command::Test { path, format, filter, coverage, coverage_min } => {
            let path = path.unwrap_or_else(|| ".".into());
            cmd::test::run(&cmd::test::Options {
                path: &path,
                format,
                filter: filter.as_deref(),
                coverage,
                coverage_min,
            })
        }
        Command::Verify { path, format } => cmd::verify::run(&path, format),
        Command::Reach { policy, role, fixture, format } => cmd::reach::run(&cmd::reach::Options {
            policy: &policy,
            role: role.as_deref(),
            fixture: fixture.as_deref(),
            format,
        }),
        Command::Diff { old, new, requests, format, fail_on_widen } => {
            cmd::diff::run(&cmd::diff::Options {
                old: &old,
                new: &new,
                requests: requests.as_deref(),
                format,
                fail_on_widen,
            })
        }
        Command::Fmt { paths, check } => cmd::fmt::run(&paths, check),
        Command::Log { command } => cmd::log::run(&command),
        Command::Import { command } => cmd::import::run(&command),
        Command::Build(args) => cmd::build::run(&args),
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Attest(args) => cmd::attest::run(&args),
        Command::Lsp => cmd::lsp::run(),
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Hook { command } => cmd::hook::run(command),
        Command::McpProxy(args) => cmd::mcp_proxy::run(args),
    };
    ExitCode::from(code)
}

/// A reader that stops early (`writ eval --requests big.jsonl | head`) closes the pipe; the
/// next `print!` then panics with "failed printing to stdout". That is not a crash of writ: end
/// quietly with status 0, as `grep` and `rg` do. Every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
