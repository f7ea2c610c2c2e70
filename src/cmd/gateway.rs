//! What the commands that stand where agents act (`writ hook`, `writ mcp-proxy`, `writ serve`)
//! share on the command line: the enforcement mode, the state directory, and where signed
//! evidence statements come from.

use std::path::PathBuf;

use writ_agents::evidence::{self, GateEvidence, ServerUrl, Source};
use writ_agents::net::{self, Reuse, Roots};
use writ_evaluator::log::Mode;

/// `--mode`: whether the gateway acts on writ's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Answer what writ decides.
    #[default]
    Enforce,
    /// Shadow mode, for rolling a policy out: log what writ decides (the decision log marks
    /// the lines `"mode": "log-only"`) and enforce nothing.
    LogOnly,
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Mode {
        match arg {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::LogOnly => Mode::LogOnly,
        }
    }
}

/// The directory for run state when none is given: `WRIT_STATE_DIR`, else
/// `$XDG_STATE_HOME/writ`, else `$HOME/.local/state/writ`.
pub fn default_state_dir() -> Result<PathBuf, String> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("WRIT_STATE_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("writ"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".local/state/writ")),
        None => Err("no state directory: give `--state-dir DIR` or set `WRIT_STATE_DIR` (HOME \
                     is not set)"
            .to_string()),
    }
}

/// `--trust FILE` with `--evidence PATH...` or `--evidence-server URL`: the signed statements
/// the hook and the proxy decide calls with (docs/evidence.md).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EvidenceArgs {
    /// A trust file: the signers whose statements count, and who they are.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Files or directories of signed statements (`writ attest`), read at every call.
    #[arg(long, value_name = "PATH", num_args = 1.., requires = "trust", conflicts_with = "evidence_server")]
    pub evidence: Vec<PathBuf>,
    /// Ask a `writ serve --trust` for the statements it holds for each call
    /// (`http://HOST:PORT` or `https://HOST:PORT`). Unreachable, or a certificate that does not
    /// verify: no statements (a pending call stays pending).
    #[arg(long, value_name = "URL", requires = "trust")]
    pub evidence_server: Option<String>,
    /// Trust the CA certificates of this PEM file for `https://` URLs, besides the platform's
    /// roots (a private CA): the evidence server's and, for `writ mcp-gateway`, the upstream's
    /// and `--jwks-url`'s.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl EvidenceArgs {
    /// The evidence configured, if any; `Err` (a start-up error) for a trust file that cannot
    /// be used or a bad URL.
    pub fn load(&self) -> Result<Option<GateEvidence>, String> {
        let Some(path) = &self.trust else { return Ok(None) };
        let trust = evidence::load_trust(path).map_err(|e| e.to_string())?;
        let source = match &self.evidence_server {
            Some(url) => Source::Server {
                url: ServerUrl::parse(url).map_err(|e| format!("`--evidence-server`: {e}"))?,
                client: net::client(&self.roots()?, Reuse::Never).map_err(|e| e.to_string())?,
            },
            None if self.evidence.is_empty() => {
                return Err("`--trust` needs `--evidence PATH...` or `--evidence-server URL`: \
                            where the statements are"
                    .to_string());
            }
            None => Source::Paths(self.evidence.clone()),
        };
        Ok(Some(GateEvidence { trust, source }))
    }

    /// The roots `https://` servers are verified against (`--ca-cert`); `Err` for a file that
    /// cannot be used.
    pub fn roots(&self) -> Result<Roots, String> {
        Roots::load(self.ca_cert.as_deref()).map_err(|e| e.to_string())
    }
}
