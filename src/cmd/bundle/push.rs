//! `writ bundle push BUNDLE oci://HOST[:PORT]/REPOSITORY:TAG`: a bundle published to an OCI
//! registry (`writ_server::oci`: one layer of media type `application/vnd.writ.bundle.layer.v1`,
//! artifact type `application/vnd.writ.bundle.v1`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use writ_evaluator::bundle;

use crate::Format;
use crate::cmd::build::read_key;
use crate::cmd::registry::RegistryArgs;
use crate::output::{self, FAILED, OK, USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The bundle file (`writ build`). It is pushed byte for byte, after its checksum (and,
    /// with `--verify-key`, its signature) is checked.
    bundle: PathBuf,
    /// Where: `oci://HOST[:PORT]/REPOSITORY:TAG`.
    #[arg(value_name = "oci://HOST[:PORT]/REPOSITORY:TAG")]
    reference: String,
    /// Refuse to push unless the bundle is signed by this public key's secret key.
    #[arg(long, value_name = "PUB")]
    verify_key: Option<PathBuf>,
    /// How long the whole push may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Trust the CA certificates of this PEM file for the registry's HTTPS certificate,
    /// besides the platform's roots (a registry with a private CA).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn run(args: &Args) -> u8 {
    let registry = match args.registry.registry() {
        Ok(r) => r,
        Err(message) => {
            output::error(message);
            return USAGE;
        }
    };
    if let Err(e) = writ_server::oci::parse(&args.reference) {
        output::error(e);
        return USAGE;
    }
    let roots = match crate::cmd::registry::roots(args.ca_cert.as_deref()) {
        Ok(roots) => roots,
        Err(code) => return code,
    };
    let key = match &args.verify_key {
        None => None,
        Some(path) => match read_key(path, bundle::parse_verifying_key) {
            Ok(key) => Some(key),
            Err(code) => return code,
        },
    };
    let bytes = match std::fs::read(&args.bundle) {
        Ok(b) => b,
        Err(e) => {
            output::error(format_args!("cannot read bundle `{}`: {e}", args.bundle.display()));
            return USAGE;
        }
    };
    // A bundle that `writ serve` would refuse is not published.
    let info = match bundle::load(&bytes, key.as_ref()) {
        Ok((info, _)) => info,
        Err(e) => {
            output::error(format_args!("bundle `{}` not pushed: {e}", args.bundle.display()));
            return FAILED;
        }
    };
    let annotations = BTreeMap::from([
        ("org.opencontainers.image.version".to_string(), info.version.to_string()),
        (
            "org.opencontainers.image.created".to_string(),
            writ_evaluator::log::rfc3339_millis(info.built_at),
        ),
        ("writ.policy.hash".to_string(), info.policy_hash.clone()),
    ]);
    let timeout = Duration::from_secs(args.timeout.max(1));
    let pushed = match writ_server::oci::push(
        &args.reference,
        &bytes,
        annotations,
        &registry,
        &roots,
        timeout,
    ) {
        Ok(p) => p,
        Err(e) => {
            output::error(e);
            return USAGE;
        }
    };
    // The reference with the tag replaced by the digest: it names exactly this bundle.
    let repository = args.reference.rsplit_once(':').map_or(args.reference.as_str(), |(r, tag)| {
        if tag.contains('/') { args.reference.as_str() } else { r }
    });
    let pinned = format!("{repository}@{}", pushed.digest);
    match args.format {
        Format::Json => println!(
            "{}",
            json!({
                "reference": args.reference,
                "digest": pushed.digest,
                "pinned": pinned,
                "version": info.version,
                "policy_hash": info.policy_hash,
                "bytes": bytes.len(),
                "signed": info.signed,
            })
        ),
        Format::Human => println!(
            "pushed `{}` to `{}`: version {}, policy {}, {} bytes, {}\nmanifest {} (pinned: {pinned})",
            args.bundle.display(),
            args.reference,
            info.version,
            info.policy_hash,
            bytes.len(),
            if info.signed { "signed" } else { "unsigned" },
            pushed.digest,
        ),
    }
    OK
}
