//! `writ serve`: the decision server (the `writ-server` crate; `docs/server.md`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use writ_server::{Config, HistoryConfig, LogTarget, Source};

use crate::cmd::gateway::ModeArg;
use crate::output::{self, FAILED, OK, USAGE};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["policy", "bundle", "bundle_url"])))]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them, compiled at start and on reload.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// A bundle built by `writ build`, verified at start and on reload.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// A bundle fetched over HTTP or HTTPS (with `ETag`s), or from an OCI registry
    /// (`oci://HOST[:PORT]/REPOSITORY:TAG` or `@sha256:...`, pushed by `writ bundle push`; by
    /// manifest digest), polled every `--poll`, and verified as `--bundle` is; a fetch that
    /// fails or a bundle that is refused keeps the one served.
    #[arg(long, value_name = "URL")]
    bundle_url: Option<String>,
    /// With `--bundle-url oci://...`: the registry's credentials and plain-HTTP registries.
    #[command(flatten)]
    registry: crate::cmd::registry::RegistryArgs,
    /// Trust the CA certificates of this PEM file for `https://` servers, besides the
    /// platform's roots (a private CA): `--bundle-url` (its server or registry) and
    /// `--decision-log-url`.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// How often `--bundle-url` is fetched: `500ms`, `30s`, `2m` (failures back off from it).
    #[arg(long, value_name = "DURATION", requires = "bundle_url", default_value = "30s",
          value_parser = parse_interval)]
    poll: Duration,
    /// A public key file (`writ keygen`): the bundle must be signed by its private key.
    #[arg(long)]
    verify_key: Option<PathBuf>,
    /// Refuse bundles whose version (`writ build --version`) is lower than N, at start as on
    /// reloads. Reloads never go below the version served anyway; this carries that floor
    /// across restarts (set it to the version last deployed).
    #[arg(long, value_name = "N")]
    min_bundle_version: Option<u64>,
    /// The address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8181")]
    addr: SocketAddr,
    /// How many threads serve HTTP, each with its own listener on `--addr` (`SO_REUSEPORT`:
    /// the kernel spreads connections over them) and all one policy, log and history. Default:
    /// the number of CPUs this process may run on.
    #[arg(long, value_name = "N")]
    workers: Option<std::num::NonZeroUsize>,
    /// Write one hash-chained JSON line per decision to this file (appended to; `-` for
    /// standard output). Check it with `writ log verify`.
    #[arg(long, value_name = "FILE|-")]
    decision_log: Option<String>,
    /// Also POST the decision log's lines, in gzip-compressed batches, to this collector URL
    /// (with or without `--decision-log`).
    #[arg(long, value_name = "URL")]
    decision_log_url: Option<String>,
    /// The most lines in one batch to `--decision-log-url`.
    #[arg(long, value_name = "N", requires = "decision_log_url",
          default_value_t = writ_server::ShipConfig::new("").batch,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    decision_log_batch: usize,
    /// Send a batch at least this often while lines wait: `500ms`, `1s`, `1m`.
    #[arg(long, value_name = "DURATION", requires = "decision_log_url", default_value = "1s",
          value_parser = parse_interval)]
    decision_log_flush: Duration,
    /// The most lines waiting in memory for the collector; past it, lines go to
    /// `--decision-log-spill`, or (without it) decisions wait.
    #[arg(long, value_name = "N", requires = "decision_log_url",
          default_value_t = writ_server::ShipConfig::new("").queue,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    decision_log_queue: usize,
    /// Where lines the collector has not taken yet go when the queue is full or the server
    /// stops (appended; shipped first on the next start).
    #[arg(long, value_name = "FILE", requires = "decision_log_url")]
    decision_log_spill: Option<PathBuf>,
    /// Replace this request field's value with `"[masked]"` before a decision log line is
    /// written (and hashed): `args.NAME`, `context.NAME`, `chain.id`, `chain.attrs.NAME`, ...
    /// (docs/decision-log.md). Repeat for several.
    #[arg(long, value_name = "FIELD")]
    log_mask: Vec<String>,
    /// Answer 413 to request bodies larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = writ_server::DEFAULT_BODY_LIMIT)]
    max_body: usize,
    /// Close a connection that has not sent a request's head within this many seconds (of
    /// opening, or of its previous answer).
    #[arg(long, value_name = "SECONDS", default_value_t = writ_server::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Answer 400 to a request whose body has not arrived within this many seconds of its
    /// head, and close its connection.
    #[arg(long, value_name = "SECONDS", default_value_t = writ_server::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Do not reload when the policy files or the bundle change (SIGHUP still reloads).
    #[arg(long)]
    no_watch: bool,
    /// Start even when the policy does not load: `/v1/health` answers 503, and decisions 503,
    /// until a reload succeeds (for a bundle that arrives after the server starts).
    #[arg(long)]
    allow_unready: bool,
    /// After SIGTERM or SIGINT, how many seconds requests in flight may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace: u64,
    /// `enforce` answers what writ decides; `log-only` answers allow to every decision (for
    /// rolling a policy out) and logs what writ decided, marked `"mode": "log-only"`.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,
    /// Answer 400 to a request with a key the schema does not have (`evidance`,
    /// `chain[0].rolse`) instead of ignoring the key.
    #[arg(long)]
    strict: bool,
    /// Where the runs named by the `writ-run` header are kept: `memory` (this process), or
    /// `redis://HOST:PORT/DB` (shared by replicas).
    #[arg(long, value_name = "memory|redis://...", default_value = "memory")]
    history: String,
    /// The prefix of every Redis key (with `--history redis://...`).
    #[arg(long, value_name = "PREFIX", default_value = writ_server::DEFAULT_PREFIX)]
    history_prefix: String,
    /// The most live runs kept in memory; past it, starts are denied (with `--history memory`).
    #[arg(long, value_name = "N", default_value_t = writ_server::DEFAULT_MAX_RUNS)]
    max_runs: usize,
    /// A trust file (docs/evidence.md): take signed statements on `POST /v1/evidence`, list
    /// them on `GET /v1/evidence?subject=S`, and add the held ones for a request's subject to
    /// its evidence on `/v1/decide`. They are kept where `--history` keeps runs.
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
    /// With `--trust`: drop the evidence items requests carry themselves, so that only signed
    /// statements count (a gateway can then not claim a giver).
    #[arg(long, requires = "trust")]
    signed_evidence_only: bool,
    /// Sign a checkpoint of the decision log (`writ log verify --checkpoint`) every this many
    /// seconds while decisions are logged, and when the server stops. Needs `--checkpoint-key`
    /// and a `--decision-log FILE`.
    #[arg(long, value_name = "SECONDS", requires = "checkpoint_key",
          value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: Option<u64>,
    /// The secret key file (`writ keygen`) checkpoints are signed with.
    #[arg(long, value_name = "KEYFILE", requires = "checkpoint_every")]
    checkpoint_key: Option<PathBuf>,
    /// Where the checkpoint is written (default: the decision log's path and `.checkpoint`).
    #[arg(long, value_name = "FILE", requires = "checkpoint_every")]
    checkpoint_file: Option<PathBuf>,
    /// Serve the playground (`/playground`): a page to edit a policy and a request, with the
    /// compiler's diagnostics, the decision and the reach table (docs/playground.md). Its
    /// endpoints compile the text they are sent: offer it only where that is wanted.
    #[arg(long)]
    playground: bool,
    /// Also serve Envoy's external authorization (`envoy.service.auth.v3.Authorization`) over
    /// gRPC on this address, deciding MCP `tools/call`s (docs/envoy.md).
    #[arg(long, value_name = "ADDR")]
    grpc: Option<SocketAddr>,
    /// The MCP server's name in tool names (`mcp.SERVER.TOOL`) for routes whose
    /// `context_extensions` give no `writ_mcp_server`.
    #[arg(long, value_name = "NAME", requires = "grpc")]
    envoy_mcp_server: Option<String>,
    /// The workflow for requests whose route (`writ_workflow`) and headers (`x-writ-workflow`)
    /// name none.
    #[arg(long, value_name = "NAME", requires = "grpc")]
    envoy_workflow: Option<String>,
    /// The key of the verified JWT payload under the `envoy.filters.http.jwt_authn` metadata
    /// (jwt_authn's `payload_in_metadata`).
    #[arg(long, value_name = "KEY", requires = "grpc",
          default_value = writ_server::envoy::DEFAULT_PAYLOAD_KEY)]
    envoy_payload_key: String,
    /// The claim that is the principal's id.
    #[arg(long, value_name = "CLAIM", requires = "grpc", default_value = "sub")]
    envoy_id_claim: String,
    /// The claim holding the principal's roles: a list of strings, or a string of
    /// space-separated names (`scope`).
    #[arg(long, value_name = "CLAIM", requires = "grpc", default_value = "roles")]
    envoy_roles_claim: String,
    /// The principal's kind, for every token: `human`, `service` or `agent`.
    #[arg(
        long,
        value_name = "KIND",
        requires = "grpc",
        default_value = "human",
        conflicts_with = "envoy_kind_claim"
    )]
    envoy_kind: String,
    /// A claim holding the principal's kind (`human`, `service` or `agent`), instead of
    /// `--envoy-kind`.
    #[arg(long, value_name = "CLAIM", requires = "grpc")]
    envoy_kind_claim: Option<String>,
    /// A claim copied into the principal's attributes (under its name made a writ word);
    /// repeat for several.
    #[arg(long, value_name = "CLAIM", requires = "grpc")]
    envoy_attr_claim: Vec<String>,
    /// A claim naming the agent that acts for the principal (`azp`, `client_id`): when a token
    /// has it, the chain is the principal, then that agent.
    #[arg(long, value_name = "CLAIM", requires = "grpc")]
    envoy_agent_claim: Option<String>,
}

/// `--poll`, `--decision-log-flush`: `500ms`, or a duration of the policy language (`30s`,
/// `2m`, `1h`); not zero.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let expected = || format!("`{text}`: expected a duration such as `500ms`, `30s` or `2m`");
    let duration = match text.strip_suffix("ms") {
        Some(millis) if !millis.is_empty() && millis.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_millis(millis.parse().map_err(|_| expected())?)
        }
        Some(_) => return Err(expected()),
        None => {
            let seconds = writ_evaluator::parse_duration(text).ok_or_else(expected)?;
            Duration::from_secs(u64::try_from(seconds).map_err(|_| expected())?)
        }
    };
    if duration.is_zero() {
        return Err(format!("`{text}`: must be more than zero"));
    }
    Ok(duration)
}

pub fn run(args: Args) -> u8 {
    let bundle = args.bundle.is_some() || args.bundle_url.is_some();
    if args.verify_key.is_some() && !bundle {
        output::error(
            "`--verify-key` verifies a bundle: give `--bundle FILE` or `--bundle-url URL` with it",
        );
        return USAGE;
    }
    if args.min_bundle_version.is_some() && !bundle {
        output::error(
            "`--min-bundle-version` guards a bundle: give `--bundle FILE` or `--bundle-url URL` \
             with it",
        );
        return USAGE;
    }
    let oci = args.bundle_url.as_deref().is_some_and(|u| u.starts_with(writ_server::oci::SCHEME));
    if args.registry.given() && !oci {
        output::error(
            "`--oci-username`, `--oci-password-file` and `--oci-insecure` go with `--bundle-url oci://...`",
        );
        return USAGE;
    }
    if let Some(url) = args.bundle_url.as_deref().filter(|_| oci)
        && let Err(e) = writ_server::oci::parse(url)
    {
        output::error(format_args!("`--bundle-url`: {e}"));
        return USAGE;
    }
    let registry = match args.registry.registry() {
        Ok(r) => r,
        Err(message) => {
            output::error(message);
            return USAGE;
        }
    };
    if args.ca_cert.is_some() && args.bundle_url.is_none() && args.decision_log_url.is_none() {
        output::error(
            "`--ca-cert` verifies the servers writ serve calls: give `--bundle-url URL` or \
             `--decision-log-url URL` with it",
        );
        return USAGE;
    }
    let roots = match crate::cmd::registry::roots(args.ca_cert.as_deref()) {
        Ok(roots) => roots,
        Err(code) => return code,
    };
    let http_urls = [
        ("--bundle-url", if oci { &None } else { &args.bundle_url }, ", `https://` or `oci://`"),
        ("--decision-log-url", &args.decision_log_url, " or `https://`"),
    ];
    for (flag, url, expected) in http_urls {
        if let Some(url) = url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            output::error(format!("`{flag} {url}`: expected an `http://`{expected} URL"));
            return USAGE;
        }
    }
    let source = match (args.policy, args.bundle, args.bundle_url) {
        (Some(policy), _, _) => Source::Policy(policy),
        (None, Some(path), _) => Source::Bundle {
            path,
            verify_key: args.verify_key,
            min_version: args.min_bundle_version.unwrap_or(0),
        },
        (None, None, Some(url)) => {
            let mut remote = writ_server::Remote::new(url);
            remote.registry = registry;
            remote.roots = roots.clone();
            remote.verify_key = args.verify_key;
            remote.min_version = args.min_bundle_version.unwrap_or(0);
            remote.poll = args.poll;
            Source::Url(remote)
        }
        // clap requires one of the three.
        (None, None, None) => return USAGE,
    };
    let history = if args.history == "memory" {
        HistoryConfig::Memory { max_runs: args.max_runs }
    } else if args.history.starts_with("redis://") {
        HistoryConfig::Redis { url: args.history, prefix: args.history_prefix }
    } else {
        output::error(format!(
            "`--history {}`: expected `memory` or a URL `redis://HOST:PORT/DB`",
            args.history
        ));
        return USAGE;
    };
    let trust = match &args.trust {
        None => None,
        Some(path) => match writ_agents::evidence::load_trust(path) {
            Ok(trust) => Some(trust),
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        },
    };
    let checkpoint = match (args.checkpoint_every, &args.checkpoint_key) {
        (Some(every), Some(key)) => {
            let Some(log) = args.decision_log.as_deref().filter(|l| *l != "-") else {
                output::error(
                    "`--checkpoint-every` signs a decision log file: give `--decision-log FILE`",
                );
                return USAGE;
            };
            let key = match super::build::read_key(key, writ_evaluator::bundle::parse_signing_key) {
                Ok(k) => k,
                Err(code) => return code,
            };
            let path = args
                .checkpoint_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{log}.checkpoint")));
            Some(writ_server::CheckpointConfig { key, every: Duration::from_secs(every), path })
        }
        _ => None,
    };
    let envoy = match args.grpc {
        None => None,
        Some(addr) => {
            let kind = match &args.envoy_kind_claim {
                Some(claim) => writ_server::KindFrom::Claim(claim.clone()),
                None => match writ_agents::claims::principal_kind(&args.envoy_kind) {
                    Some(kind) => writ_server::KindFrom::Fixed(kind),
                    None => {
                        output::error(format!(
                            "`--envoy-kind {}`: expected `human`, `service` or `agent`",
                            args.envoy_kind
                        ));
                        return USAGE;
                    }
                },
            };
            let mut envoy = writ_server::EnvoyConfig::new(addr);
            envoy.mcp_server = args.envoy_mcp_server.clone();
            envoy.workflow = args.envoy_workflow.clone();
            envoy.claims = writ_server::Claims {
                payload_key: args.envoy_payload_key.clone(),
                id: args.envoy_id_claim.clone(),
                roles: Some(args.envoy_roles_claim.clone()).filter(|c| !c.is_empty()),
                kind,
                attrs: args.envoy_attr_claim.clone(),
                agent: args.envoy_agent_claim.clone(),
                ..writ_server::Claims::default()
            };
            Some(envoy)
        }
    };
    let mut config = Config::new(source, args.addr);
    config.envoy = envoy;
    config.playground = args.playground;
    config.trust = trust;
    config.signed_evidence_only = if args.signed_evidence_only {
        writ_server::SignedOnly::Yes
    } else {
        writ_server::SignedOnly::No
    };
    config.checkpoint = checkpoint;
    config.history = history;
    config.mode = args.mode.into();
    if args.strict {
        config.unknown_keys = writ_evaluator::UnknownKeys::Reject;
    }
    config.decision_log = args.decision_log.as_deref().map(LogTarget::parse);
    config.log_mask = match writ_evaluator::log::Mask::new(&args.log_mask) {
        Ok(mask) => mask,
        Err(e) => {
            output::error(format!("`--log-mask`: {e}"));
            return USAGE;
        }
    };
    config.ship = args.decision_log_url.map(|url| {
        let mut ship = writ_server::ShipConfig::new(url);
        ship.batch = args.decision_log_batch;
        ship.flush = args.decision_log_flush;
        ship.queue = args.decision_log_queue;
        ship.spill = args.decision_log_spill;
        ship.roots = roots;
        ship
    });
    config.body_limit = args.max_body;
    config.header_timeout = Duration::from_secs(args.header_timeout);
    config.body_timeout = Duration::from_secs(args.body_timeout);
    config.watch = !args.no_watch;
    config.require_policy = !args.allow_unready;
    config.grace = Duration::from_secs(args.grace);
    config.workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN)
    });
    match writ_server::run(config) {
        Ok(()) => OK,
        Err(error) => {
            output::error(&error);
            match error {
                writ_server::Error::Policy(_) => FAILED,
                writ_server::Error::Io(_) => USAGE,
            }
        }
    }
}
