//! `writ keygen`: an ed25519 key pair for signing bundles (docs/bundles.md).

use std::io::Write;
use std::path::PathBuf;

use writ_evaluator::bundle;

use crate::output::{self, OK, USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// Writes NAME.key (the secret key, readable by its owner only) and NAME.pub (the public
    /// key, for `--verify-key`). Existing files are never overwritten.
    #[arg(short, long, value_name = "NAME")]
    output: PathBuf,
}

pub fn run(args: &Args) -> u8 {
    let with_ext = |ext: &str| {
        let mut name = args.output.clone().into_os_string();
        name.push(ext);
        PathBuf::from(name)
    };
    let (secret_path, public_path) = (with_ext(".key"), with_ext(".pub"));
    for path in [&secret_path, &public_path] {
        if path.exists() {
            output::error(format_args!("`{}` exists: refusing to overwrite it", path.display()));
            return USAGE;
        }
    }
    let key = match super::build::new_signing_key() {
        Ok(k) => k,
        Err(e) => {
            output::error(format_args!("cannot get random bytes for a key: {e}"));
            return USAGE;
        }
    };
    let files = [
        (&secret_path, bundle::encode_signing_key(&key), true),
        (&public_path, bundle::encode_verifying_key(&key.verifying_key()), false),
    ];
    for (path, text, secret) in files {
        if let Err(e) = create_new(path, text.as_bytes(), secret) {
            output::error(format_args!("cannot write `{}`: {e}", path.display()));
            if !secret {
                // Leave no secret key without its public half.
                let _ = std::fs::remove_file(&secret_path);
            }
            return USAGE;
        }
    }
    println!(
        "wrote `{}` (secret: keep it safe) and `{}`",
        secret_path.display(),
        public_path.display()
    );
    OK
}

/// Creates `path`, failing if it exists; a secret file is created readable by its owner only.
fn create_new(path: &PathBuf, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
