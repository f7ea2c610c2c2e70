//! `writ mcp-proxy`: a stdio MCP proxy that decides every `tools/call` (see `writ_agents::mcp`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use writ_agents::declog::LogFile;
use writ_agents::gate::{Gate, load_identity};
use writ_agents::mcp;
use writ_agents::run::{MemoryStore, RunStore, SqliteStore};

use crate::cmd::gateway::ModeArg;
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
    /// Keep the run's admission and history in a SQLite database in this directory (shared
    /// with other proxies and hooks given the same `--run`), instead of in memory.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The run this proxy's calls belong to (default: a new run per proxy). With
    /// `--state-dir`, processes that name the same run share its history.
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// `enforce` answers what writ decides; `log-only` forwards every call and lists every
    /// tool, and logs what writ would have answered.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,
    #[command(flatten)]
    evidence: crate::cmd::gateway::EvidenceArgs,
    /// The upstream MCP server's command and arguments.
    #[arg(last = true, required = true, value_name = "UPSTREAM")]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> u8 {
    let setup = || -> Result<mcp::Options, String> {
        let gate = Gate::load(&args.policy, &args.workflow)?.with_evidence(args.evidence.load()?);
        let identity = load_identity(&args.identity)?;
        let mode = args.mode.into();
        let log = args.decision_log.as_deref().map(|p| LogFile::open(p, mode)).transpose()?;
        let store: Box<dyn RunStore> = match &args.state_dir {
            Some(dir) => Box::new(SqliteStore::open(dir).map_err(|e| e.to_string())?),
            None => Box::new(MemoryStore::default()),
        };
        let run = match &args.run {
            Some(run) if run.is_empty() => return Err("`--run`: empty".to_string()),
            Some(run) => run.clone(),
            None => format!("mcp-proxy/{}", uuid_like()),
        };
        // The upstream starts in this directory, so it resolves relative paths against it.
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| d.to_str().map(str::to_string))
            .filter(|d| d.starts_with('/'));
        Ok(mcp::Options {
            gate,
            identity,
            agent: args.agent.clone(),
            server: args.server.clone(),
            timeout: Duration::from_secs(args.timeout),
            max_message_bytes: usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX),
            log,
            command: args.command.clone(),
            store,
            run,
            cwd,
            mode,
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

/// A random run id: 128 bits from the OS, as hex.
fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is still unique enough for one machine's processes.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ u128::from(std::process::id())).to_le_bytes();
    }
    writ_stdx::hex(&bytes)
}
