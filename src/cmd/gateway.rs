//! What the commands that stand where agents act (`writ hook`, `writ mcp-proxy`, `writ serve`)
//! share on the command line: the enforcement mode and the state directory.

use std::path::PathBuf;

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
