//! Embedding writ: load a bundle (`writ build`), decide one request, print the decision.
//!
//! ```text
//! writ-embed BUNDLE REQUEST.json [PUBLIC_KEY]
//! ```
//!
//! Depends on `writ-evaluator` alone. Fails closed: any error (an unreadable or refused bundle,
//! a malformed request) prints a message on standard error, exits 2, and counts as deny.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use writ_evaluator::{Policy, Request, bundle};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(decision) => {
            println!("{decision}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<String, String> {
    let (bundle_path, request_path, key_path) = match args.as_slice() {
        [b, r] => (b, r, None),
        [b, r, k] => (b, r, Some(k)),
        _ => return Err("usage: writ-embed BUNDLE REQUEST.json [PUBLIC_KEY]".into()),
    };
    let key = match key_path {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read key `{path}`: {e}"))?;
            Some(bundle::parse_verifying_key(&text).map_err(|e| format!("key `{path}`: {e}"))?)
        }
    };
    let bytes =
        std::fs::read(bundle_path).map_err(|e| format!("cannot read `{bundle_path}`: {e}"))?;
    let policy = Policy::from_bundle(&bytes, key.as_ref())
        .map_err(|e| format!("bundle `{bundle_path}` refused: {e}"))?;
    let text = std::fs::read_to_string(request_path)
        .map_err(|e| format!("cannot read `{request_path}`: {e}"))?;
    let request = Request::from_json(&text).map_err(|e| format!("invalid request: {e}"))?;
    Ok(policy.decide(&request).to_json())
}
