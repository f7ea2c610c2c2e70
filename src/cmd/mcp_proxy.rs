//! `writ mcp-proxy`: a stdio MCP proxy that decides every `tools/call` (see `writ_agents::mcp`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use writ_agents::declog::LogFile;
use writ_agents::gate::{Gate, load_identity};
use writ_agents::mcp;

use crate::output::{self, USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long)]
    policy: PathBuf,
    /// The workflow the agent runs in.
    #[arg(long)]
    workflow: String,
    /// The accountable principal: a JSON file `{"id", "kind", "roles", "attrs"}`.
    #[arg(long)]
    identity: PathBuf,
    /// The server's name in writ tool names: the upstream's tool `T` is `mcp.SERVER.T`.
    #[arg(long)]
    server: String,
    /// Append each decision to this decision log (hash-chained JSON Lines).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// The agent principal's id (default: `mcp-client/NAME`, from the client's `initialize`).
    #[arg(long)]
    agent: Option<String>,
    /// Seconds to wait for the upstream's answer to a forwarded tool call before answering it
    /// with an error (and telling the upstream to cancel it).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The longest message (one JSON-RPC line) read from the client or the upstream; a longer
    /// one from the client is answered with an error and never forwarded.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_message_bytes: u64,
    /// The upstream MCP server's command and arguments.
    #[arg(last = true, required = true, value_name = "UPSTREAM")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> u8 {
    let setup = || -> Result<mcp::Options, String> {
        let gate = Gate::load(&args.policy, &args.workflow)?;
        let identity = load_identity(&args.identity)?;
        let log = args.decision_log.as_deref().map(LogFile::open).transpose()?;
        Ok(mcp::Options {
            gate,
            identity,
            agent: args.agent.clone(),
            server: args.server.clone(),
            timeout: Duration::from_secs(args.timeout),
            max_message_bytes: usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX),
            log,
            command: args.command.clone(),
        })
    };
    match setup() {
        Ok(options) => mcp::run(options),
        Err(e) => {
            output::error(e);
            USAGE
        }
    }
}
