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

/// Each subcommand's arguments are declared in its own module (`src/cmd/NAME.rs`).
#[derive(Subcommand)]
enum Command {
    /// Check policies and report every error and warning.
    Check(cmd::check::Args),
    /// Decide requests (JSON, see docs/language.md#requests) against a policy.
    Eval(cmd::eval::Args),
    /// Run the `test` blocks and the assertions of a policy.
    Test(cmd::test::Args),
    /// Prove the policy's assertions (`assert "NAME" { never ... }`) over every possible
    /// request: each claim holds, fails with a counterexample request, or is unknown with the
    /// reason. Exit 0 when every claim holds, 1 when one fails or is unknown, 2 for policy
    /// errors.
    Verify(cmd::verify::Args),
    /// Access review: what each role can reach through the policy's agent workflows.
    Reach(cmd::reach::Args),
    /// Compare two versions of a policy: the requests the change newly allows (widenings),
    /// each role's reach, and decisions on recorded requests.
    Diff(cmd::diff::Args),
    /// Compile a policy into a bundle (a versioned binary file, optionally signed) for gateways.
    Build(cmd::build::Args),
    /// Bundles: `writ bundle push BUNDLE oci://HOST/REPOSITORY:TAG` publishes one to an OCI
    /// registry, for `writ serve --bundle-url oci://...`.
    Bundle(cmd::bundle::Args),
    /// Make an ed25519 key pair for signing bundles and statements (NAME.key and NAME.pub).
    Keygen(cmd::keygen::Args),
    /// Sign an evidence statement: SIGNER attests KIND (with fields) for a subject, for a while.
    Attest(cmd::attest::Args),
    /// Start a policy from elsewhere: `writ import mcp tools.json` declares an MCP server's tools.
    Import(cmd::import::Args),
    /// Decision logs: check their hash chain, sign and check checkpoints.
    Log(cmd::log::Args),
    /// Format policies in writ's one canonical layout.
    Fmt(cmd::fmt::Args),
    /// Run the language server (LSP over standard input and output), for editors.
    Lsp,
    /// Serve decisions over HTTP for gateways, reloading the policy when it changes.
    Serve(Box<cmd::serve::Args>),
    /// Hooks for coding agents: `writ hook claude-code`, `writ hook codex` and `writ hook
    /// gemini` decide Claude Code's, Codex CLI's and Gemini CLI's tool calls.
    Hook(cmd::hook::Args),
    /// A stdio MCP proxy that decides every tool call with its arguments.
    McpProxy(cmd::mcp_proxy::Args),
    /// An HTTP gateway in front of a Streamable-HTTP MCP server: bearer tokens, and every tool
    /// call decided with its arguments.
    McpGateway(Box<cmd::mcp_gateway::Args>),
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => cmd::check::run(&args),
        Command::Eval(args) => cmd::eval::run(&args),
        Command::Test(args) => cmd::test::run(&args),
        Command::Verify(args) => cmd::verify::run(&args),
        Command::Reach(args) => cmd::reach::run(&args),
        Command::Diff(args) => cmd::diff::run(&args),
        Command::Fmt(args) => cmd::fmt::run(&args),
        Command::Log(args) => cmd::log::run(&args.command),
        Command::Import(args) => cmd::import::run(&args.command),
        Command::Build(args) => cmd::build::run(&args),
        Command::Bundle(args) => cmd::bundle::run(args.command),
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Attest(args) => cmd::attest::run(&args),
        Command::Lsp => cmd::lsp::run(),
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Hook(args) => cmd::hook::run(args.command),
        Command::McpProxy(args) => cmd::mcp_proxy::run(args),
        Command::McpGateway(args) => cmd::mcp_gateway::run(*args),
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
