//! `writ hook claude-code`, `writ hook codex`, `writ hook gemini`: the coding agents' tool hooks
//! (see `writ_agents::hook` and each agent's module).
//!
//! Always exits 0 with one answer on standard output, as the hook protocols expect: every
//! failure, even a panic, is answered `deny` in the agent's format with its reason. (Claude
//! Code, Codex and Gemini CLI all treat exit status 2 as a block and any other non-zero status
//! as a non-blocking error, which would let the call through: so the hook never exits non-zero
//! once its arguments are parsed.)

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use writ_agents::declog::LogFile;
use writ_agents::gate::{Gate, Judgement, load_identity};
use writ_agents::hook::{self, Agent, Answer, HookEvent};
use writ_agents::run::{DEFAULT_IDLE, Retention, RunGate, SqliteStore};

use crate::cmd::gateway::{self, ModeArg};

/// `writ hook AGENT ...`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(clap::Subcommand)]
pub enum HookCommand {
    /// Claude Code's hooks: on `PreToolUse`, reads the hook's JSON on standard input and
    /// prints allow, deny (with writ's reasons) or ask (naming the missing evidence); on
    /// `SessionStart`, decides the session's start; on `PostToolUse`, records the call.
    ClaudeCode(HookArgs),
    /// Codex CLI's hooks: on `PreToolUse`, prints a deny (with writ's reasons, or the missing
    /// evidence: Codex cannot ask) or nothing to object; on `SessionStart`, decides the
    /// session's start; on `PostToolUse`, records the call.
    Codex(HookArgs),
    /// Gemini CLI's hooks: on `BeforeTool`, prints allow or deny (with writ's reasons, or the
    /// missing evidence: Gemini cannot ask); on `SessionStart`, decides the session's start.
    Gemini(HookArgs),
}

/// The flags every agent's hook takes.
#[derive(clap::Args)]
pub struct HookArgs {
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long)]
    policy: PathBuf,
    /// The workflow the agent's session runs in.
    #[arg(long)]
    workflow: String,
    /// The accountable principal: a JSON file `{"id", "kind", "roles", "attrs"}`
    /// (default: the file named by `WRIT_IDENTITY`).
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Append each decision to this decision log (hash-chained JSON Lines).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Where each session's admission and history are kept (a SQLite database, `runs.sqlite3`;
    /// default: `WRIT_STATE_DIR`, else `$XDG_STATE_HOME/writ`, else `~/.local/state/writ`).
    /// Keep it where the agent cannot write.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// `enforce` answers what writ decides; `log-only` leaves every decision to the agent's own
    /// permissions and only logs what writ would have answered.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,
    #[command(flatten)]
    evidence: gateway::EvidenceArgs,
}

pub fn run(command: HookCommand) -> u8 {
    match command {
        HookCommand::ClaudeCode(args) => answer_hook(Agent::ClaudeCode, &args),
        HookCommand::Codex(args) => answer_hook(Agent::Codex, &args),
        HookCommand::Gemini(args) => answer_hook(Agent::Gemini, &args),
    }
}

fn answer_hook(agent: Agent, args: &HookArgs) -> u8 {
    let answer = std::panic::catch_unwind(|| decide(agent, args)).unwrap_or_else(|_| {
        Answer::failure(agent, "internal error (a bug in writ; please report it)")
    });
    if answer.event == HookEvent::AfterTool && !answer.reason.is_empty() {
        // The agent has nothing to do with it; the next call of the run fails closed if the
        // store does.
        eprintln!("writ: the call could not be recorded: {}", answer.reason);
    }
    // `Value`'s `Display` is its JSON text and cannot fail: never an empty answer, which the
    // agent would read as no objection.
    let text = answer.to_json().to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
    crate::output::OK
}

fn decide(agent: Agent, args: &HookArgs) -> Answer {
    let fail = |e: &dyn std::fmt::Display| Answer::failure(agent, e);
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return fail(&format_args!("cannot read the hook input: {e}"));
    }
    let gate = match Gate::load(&args.policy, &args.workflow) {
        Ok(g) => g,
        Err(e) => return fail(&e),
    };
    let gate = match args.evidence.load() {
        Ok(evidence) => gate.with_evidence(evidence),
        Err(e) => return fail(&e),
    };
    let identity = identity(args.identity.as_deref());
    let now = match writ_agents::run::now() {
        Ok(now) => now,
        Err(e) => return fail(&e),
    };
    let dir = match args.state_dir.clone().map_or_else(gateway::default_state_dir, Ok) {
        Ok(dir) => dir,
        Err(e) => return fail(&e),
    };
    let store = match SqliteStore::open(&dir) {
        Ok(store) => store,
        Err(e) => return fail(&e),
    };
    let mode = args.mode.into();
    let log = match args.decision_log.as_deref().map(|p| LogFile::open(p, mode)).transpose() {
        Ok(log) => log,
        Err(e) => return fail(&e),
    };
    let run_gate = RunGate {
        gate: &gate,
        store: &store,
        retention: Retention::for_policy(&gate, DEFAULT_IDLE),
        mode,
    };
    let identity = identity.as_ref().map_err(String::as_str);
    let answer = hook::answer(agent, &run_gate, identity, &input, now);
    if let Some(log) = &log {
        let judgements: [Option<&Judgement>; 2] =
            [answer.start.as_ref(), answer.judgement.as_ref()];
        for judgement in judgements.into_iter().flatten() {
            if let Err(e) = log.record(judgement) {
                return fail(&e);
            }
        }
    }
    answer
}

fn identity(path: Option<&Path>) -> Result<serde_json::Value, String> {
    let from_env = std::env::var_os("WRIT_IDENTITY").map(PathBuf::from);
    match path.map(Path::to_path_buf).or(from_env) {
        Some(path) => load_identity(&path),
        None => Err("no identity: give `--identity FILE` (a principal as JSON: `{\"id\": ..., \
                     \"kind\": \"human\", \"roles\": [...]}`) or set `WRIT_IDENTITY`"
            .to_string()),
    }
}
