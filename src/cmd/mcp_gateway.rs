//! `writ mcp-gateway`: an HTTP gateway in front of a Streamable-HTTP MCP server that decides
//! every `tools/call` (see `writ_agents::mcp_gateway`, docs/mcp-gateway.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use writ_agents::claims::{ClaimMap, KindFrom, principal_kind};
use writ_agents::declog::LogFile;
use writ_agents::evidence::ServerUrl;
use writ_agents::gate::Gate;
use writ_agents::mcp_gateway::{self, KeySource, Limits, TokenForwarding};
use writ_agents::run::{MemoryStore, RunStore, SqliteStore};

use crate::cmd::gateway::ModeArg;
use crate::output::{self, USAGE};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["jwks", "jwks_url"])))]
pub struct Args {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The upstream MCP server's Streamable-HTTP endpoint: `http://HOST:PORT/PATH` or
    /// `https://HOST:PORT/PATH` (verified against the platform's roots and `--ca-cert`).
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long)]
    policy: PathBuf,
    /// The workflow every call is decided in.
    #[arg(long)]
    workflow: String,
    /// The server's name in writ tool names: the upstream's tool `T` is `mcp.SERVER.T`.
    #[arg(long)]
    server: String,
    /// The path the gateway serves the MCP endpoint on (default: the upstream URL's path).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// This endpoint's public URL, the protected resource named in the metadata and the
    /// `WWW-Authenticate` challenge (default: `http://LISTEN/PATH`).
    #[arg(long, value_name = "URL")]
    resource: Option<String>,
    /// An authorization server that issues tokens for this resource (listed in the
    /// protected-resource metadata); repeat for several.
    #[arg(long, value_name = "URL")]
    authorization_server: Vec<String>,
    /// The JSON Web Key Set the tokens are verified with (a file).
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// The JSON Web Key Set's URL (`https://` or `http://`; fetched at start, and again for an
    /// unknown `kid` at most every 30 seconds).
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
    /// The tokens' issuer (`iss`), required.
    #[arg(long)]
    issuer: String,
    /// The audience the tokens must be for (`aud`), required: this resource.
    #[arg(long)]
    audience: String,
    /// The claim that is the principal's id.
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    id_claim: String,
    /// The claim holding the principal's roles: a list of strings, or a string of
    /// space-separated names (`scope`).
    #[arg(long, value_name = "CLAIM", default_value = "roles")]
    roles_claim: String,
    /// The principal's kind, for every token: `human`, `service` or `agent`.
    #[arg(long, value_name = "KIND", default_value = "human", conflicts_with = "kind_claim")]
    kind: String,
    /// A claim holding the principal's kind, instead of `--kind`.
    #[arg(long, value_name = "CLAIM")]
    kind_claim: Option<String>,
    /// A claim copied into the principal's attributes (under its name made a writ word);
    /// repeat for several.
    #[arg(long, value_name = "CLAIM")]
    attr_claim: Vec<String>,
    /// A claim naming the agent that acts for the principal (`azp`, `client_id`).
    #[arg(long, value_name = "CLAIM")]
    agent_claim: Option<String>,
    /// The agent's id when the token names none: the chain is the token's principal, then
    /// this agent.
    #[arg(long, value_name = "ID", default_value = "mcp-client")]
    agent: String,
    /// Pass the client's `Authorization` header upstream (by default it is removed: the
    /// upstream never sees a token issued for the gateway).
    #[arg(long)]
    forward_token: bool,
    /// The directory the upstream resolves relative `path` arguments against.
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    /// Append each decision to this decision log (hash-chained JSON Lines).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Keep the runs' admission and history in a SQLite database in this directory, instead
    /// of in memory.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// `enforce` answers what writ decides; `log-only` forwards every call, lists every tool,
    /// and logs what writ would have answered.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,
    /// Answer 413 to request bodies larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    max_body: usize,
    /// Close a connection that has not sent a request's head within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Answer 408 to a request whose body has not arrived within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Seconds the upstream may take to answer (and an SSE stream answering a POST may stay
    /// silent); then the client gets a JSON-RPC error.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Serve at most this many client connections at once; further ones wait in the listen
    /// backlog, unanswered, until one closes.
    #[arg(long, value_name = "N", default_value_t = mcp_gateway::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    #[command(flatten)]
    evidence: crate::cmd::gateway::EvidenceArgs,
}

pub fn run(args: Args) -> u8 {
    let setup = || -> Result<mcp_gateway::Options, String> {
        let gate = Gate::load(&args.policy, &args.workflow)?.with_evidence(args.evidence.load()?);
        let upstream =
            ServerUrl::parse(&args.upstream).map_err(|e| format!("`--upstream`: {e}"))?;
        let keys = match (&args.jwks, &args.jwks_url) {
            (Some(path), _) => KeySource::File(path.clone()),
            (None, Some(url)) => {
                KeySource::Url(ServerUrl::parse(url).map_err(|e| format!("`--jwks-url`: {e}"))?)
            }
            (None, None) => return Err("give `--jwks FILE` or `--jwks-url URL`".to_string()),
        };
        let kind = match &args.kind_claim {
            Some(claim) => KindFrom::Claim(claim.clone()),
            None => KindFrom::Fixed(principal_kind(&args.kind).ok_or_else(|| {
                format!("`--kind {}`: expected `human`, `service` or `agent`", args.kind)
            })?),
        };
        let path = match &args.path {
            Some(path) if path.starts_with('/') => path.clone(),
            Some(path) => {
                return Err(format!("`--path {path}`: expected a path starting with `/`"));
            }
            None if upstream.base.is_empty() => "/".to_string(),
            None => upstream.base.clone(),
        };
        let mode = args.mode.into();
        let log = args.decision_log.as_deref().map(|p| LogFile::open(p, mode)).transpose()?;
        let store: Box<dyn RunStore> = match &args.state_dir {
            Some(dir) => Box::new(SqliteStore::open(dir).map_err(|e| e.to_string())?),
            None => Box::new(MemoryStore::default()),
        };
        Ok(mcp_gateway::Options {
            gate,
            upstream,
            server: args.server.clone(),
            path,
            resource: args.resource.clone(),
            authorization_servers: args.authorization_server.clone(),
            issuer: args.issuer.clone(),
            audience: args.audience.clone(),
            keys,
            claims: ClaimMap {
                id: args.id_claim.clone(),
                roles: Some(args.roles_claim.clone()).filter(|c| !c.is_empty()),
                kind,
                attrs: args.attr_claim.clone(),
                agent: args.agent_claim.clone(),
            },
            agent: args.agent.clone(),
            forwarding: if args.forward_token {
                TokenForwarding::Forward
            } else {
                TokenForwarding::Strip
            },
            limits: Limits {
                max_body: args.max_body,
                header_timeout: Duration::from_secs(args.header_timeout),
                body_timeout: Duration::from_secs(args.body_timeout),
                upstream_timeout: Duration::from_secs(args.timeout),
                max_connections: args.max_connections,
                ..Limits::default()
            },
            log,
            store,
            cwd: args.cwd.clone(),
            mode,
            roots: args.evidence.roots()?,
        })
    };
    match setup() {
        Ok(options) => mcp_gateway::run(options, args.listen),
        Err(e) => {
            output::error(e);
            USAGE
        }
    }
}
