//! `writ attest`: a signed evidence statement (docs/evidence.md).

use std::path::PathBuf;

use writ_evaluator::statement::{self, Statement};
use writ_evaluator::{RequestValue, Timestamp, bundle, parse_duration};

use crate::output::{self, OK, USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The evidence kind attested (`approval`, `tests_passed`, ...), as the policy declares it.
    kind: String,
    /// The signer's secret key file (`writ keygen`); its public key must be in the gateway's
    /// trust file.
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// What the statement is for: the request's `subject` (for a tool call, the subject the
    /// hook or proxy printed with its pending answer).
    #[arg(long)]
    subject: String,
    /// A field of the evidence, `NAME=VALUE`; VALUE is read as JSON when it is (`3`, `true`,
    /// `["a","b"]`, `"123"`), else as a string (`project=REL`). Repeatable.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// How long the statement is valid, from now (`30m`, `24h`, `7d`).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    expires: String,
    /// When the statement takes effect (RFC 3339; default: now). It is not valid before.
    #[arg(long, value_name = "TIMESTAMP")]
    issued_at: Option<String>,
    /// Write the statement to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> u8 {
    match statement(args) {
        Ok(statement) => write(args, &statement),
        Err(message) => {
            output::error(message);
            USAGE
        }
    }
}

fn statement(args: &Args) -> Result<Statement, String> {
    let key = super::build::read_key(&args.key, bundle::parse_signing_key)
        .map_err(|_| format!("cannot sign with `{}`", args.key.display()))?;
    if args.kind.trim().is_empty() {
        return Err("the evidence kind is empty".into());
    }
    if args.subject.trim().is_empty() {
        return Err("`--subject` is empty: a statement always names what it is for".into());
    }
    let seconds = parse_duration(&args.expires).ok_or_else(|| {
        format!("`--expires {}`: expected a duration such as `30m`, `24h` or `7d`", args.expires)
    })?;
    let issued_at = match &args.issued_at {
        None => {
            let now = statement::now().as_unix_nanos();
            Timestamp::from_unix_nanos(now - now.rem_euclid(1_000_000_000))
                .unwrap_or(Timestamp::MIN)
        }
        Some(text) => Timestamp::parse(text)
            .map_err(|e| format!("`--issued-at {text}`: not an RFC 3339 timestamp ({e})"))?,
    };
    let expires_at = Timestamp::from_unix_nanos(
        issued_at.as_unix_nanos().saturating_add(i128::from(seconds) * 1_000_000_000),
    )
    .ok_or_else(|| format!("`--expires {}`: too far in the future", args.expires))?;
    let mut fields = Vec::with_capacity(args.fields.len());
    for field in &args.fields {
        let Some((name, value)) = field.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(format!("`--field {field}`: expected NAME=VALUE"));
        };
        fields.push((name.to_owned().into(), field_value(value)));
    }
    if let Some((name, value)) = fields.iter().find(|(_, v)| matches!(v, RequestValue::Other(_))) {
        return Err(format!(
            "`--field {name}`: a field is a string, an integer, a boolean or a list of strings, \
             found {}",
            value.describe()
        ));
    }
    let key_path = args.key.display();
    Statement::sign(&key, &args.kind, &args.subject, fields, issued_at, expires_at)
        .ok_or_else(|| format!("cannot sign the statement with `{key_path}`"))
}

/// JSON when it parses as a JSON value, else the text as a string.
fn field_value(text: &str) -> RequestValue<'static> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(s)) => RequestValue::Str(s.into()),
        Ok(serde_json::Value::Bool(b)) => RequestValue::Bool(b),
        Ok(serde_json::Value::Number(n)) if n.as_i64().is_some() => {
            RequestValue::Int(n.as_i64().unwrap_or_default())
        }
        Ok(serde_json::Value::Array(items)) if items.iter().all(|i| i.is_string()) => {
            RequestValue::StrList(
                items.into_iter().filter_map(|i| i.as_str().map(|s| s.to_owned().into())).collect(),
            )
        }
        Ok(
            other @ (serde_json::Value::Number(_)
            | serde_json::Value::Array(_)
            | serde_json::Value::Object(_)),
        ) => RequestValue::Other(Box::new(other)),
        Ok(serde_json::Value::Null) | Err(_) => RequestValue::Str(text.to_owned().into()),
    }
}

fn write(args: &Args, statement: &Statement) -> u8 {
    let text = format!("{}\n", statement.to_json());
    match &args.output {
        None => {
            print!("{text}");
            OK
        }
        Some(path) => match super::build::write_atomically(path, text.as_bytes()) {
            Ok(()) => {
                eprintln!(
                    "wrote `{}`: {} for `{}`, valid until {} ({})",
                    path.display(),
                    statement.kind(),
                    statement.subject(),
                    statement.expires_at(),
                    statement.digest()
                );
                OK
            }
            Err(e) => {
                output::error(format_args!("cannot write `{}`: {e}", path.display()));
                USAGE
            }
        },
    }
}
