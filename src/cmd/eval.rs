//! `writ eval`: decisions for requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::{Value as Json, json};
use writ_agents::evidence::{self, Loaded};
use writ_evaluator::statement::Trust;
use writ_evaluator::{Policy, Request, UnknownKeys};

use crate::Format;
use crate::output::{self, OK, USAGE};

/// Where the policy comes from: policy files, or a bundle (verified with a key when given).
struct Source<'a> {
    policy: Option<&'a Path>,
    bundle: Option<&'a Path>,
    verify_key: Option<&'a Path>,
}

/// How requests are read and decisions printed.
#[derive(Clone, Copy)]
struct How {
    pub explain: Explain,
    pub keys: UnknownKeys,
    pub format: Format,
}

/// Whether a decision comes with its trace (and the request's ignored keys noted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Explain {
    No,
    Trace,
}

/// Signed statements to decide with (`--trust FILE --evidence PATH...`).
struct Evidence<'a> {
    pub trust: Option<&'a Path>,
    pub paths: &'a [std::path::PathBuf],
}

/// The trust file and the statements read, once for every request.
struct Statements {
    trust: Trust,
    loaded: Vec<Loaded>,
}

impl Statements {
    fn load(evidence: &Evidence<'_>) -> Result<Option<Statements>, u8> {
        let Some(path) = evidence.trust else { return Ok(None) };
        let trust = evidence::load_trust(path).map_err(|e| {
            output::error(e);
            USAGE
        })?;
        let read = evidence::read_paths(evidence.paths);
        if let Some(problem) = read.problems.first() {
            output::error(problem);
            return Err(USAGE);
        }
        Ok(Some(Statements { trust, loaded: read.loaded }))
    }

    /// Adds the statements that verify for `request` to its evidence; reports the others on
    /// standard error. Returns the report for `--explain`.
    fn admit(&self, request: &mut Request) -> Json {
        let admitted = evidence::admit(&self.trust, request, &self.loaded);
        for line in evidence::rejections(&admitted, &self.loaded) {
            eprintln!("writ: {line}");
        }
        evidence::report_json(&admitted, &self.loaded)
    }
}

/// `writ eval (--policy PATH | --bundle FILE [--verify-key KEY]) (--request FILE | --requests
/// FILE) [--explain] [--strict] [--format F] [--trust FILE --evidence PATH...]`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a `.writ` file or a directory of them.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    policy: Option<std::path::PathBuf>,
    /// A bundle built by `writ build`, instead of `--policy`.
    #[arg(long)]
    bundle: Option<std::path::PathBuf>,
    /// A public key file (`writ keygen`): the bundle must be signed by its secret key.
    #[arg(long, requires = "bundle")]
    verify_key: Option<std::path::PathBuf>,
    /// One JSON request (a file, or `-` for standard input).
    #[arg(long, conflicts_with = "requests", required_unless_present = "requests")]
    request: Option<String>,
    /// JSON Lines, one request per line (a file, or `-`); one decision per line, in order.
    #[arg(long)]
    requests: Option<String>,
    /// Add a step-by-step trace of the decision procedure (and note request keys that
    /// the schema does not have, which decoding ignores).
    #[arg(long)]
    explain: bool,
    /// Make a request key the schema does not have (`evidance`, `chain[0].rolse`) an
    /// error instead of ignoring it.
    #[arg(long)]
    strict: bool,
    /// `json` (default) prints decisions as JSON; `human` as text.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// A trust file (docs/evidence.md): the signers whose statements count, and who they are.
    #[arg(long, value_name = "FILE")]
    trust: Option<std::path::PathBuf>,
    /// Signed statements (`writ attest`): files or directories of them. Those that verify
    /// for the request's subject are added to its evidence; the others are reported on
    /// standard error (and under `--explain`) and ignored.
    #[arg(long, value_name = "PATH", num_args = 1.., requires = "trust")]
    evidence: Vec<std::path::PathBuf>,
}

pub fn run(args: &Args) -> u8 {
    let source = Source {
        policy: args.policy.as_deref(),
        bundle: args.bundle.as_deref(),
        verify_key: args.verify_key.as_deref(),
    };
    let how = How {
        explain: if args.explain { Explain::Trace } else { Explain::No },
        keys: if args.strict { UnknownKeys::Reject } else { UnknownKeys::Ignore },
        format: args.format,
    };
    let evidence = Evidence { trust: args.trust.as_deref(), paths: &args.evidence };
    decide_all(&source, &evidence, args.request.as_deref(), args.requests.as_deref(), how)
}

fn decide_all(
    source: &Source<'_>,
    evidence: &Evidence<'_>,
    request: Option<&str>,
    requests: Option<&str>,
    how: How,
) -> u8 {
    let policy = match (source.policy, source.bundle) {
        (_, Some(bundle)) => super::build::load_bundle(bundle, source.verify_key),
        (Some(_), None) if source.verify_key.is_some() => {
            output::error("`--verify-key` checks a bundle: give `--bundle FILE` with it");
            return USAGE;
        }
        (Some(policy_path), None) => output::compile(policy_path)
            .and_then(|compiler| output::require_policy(&compiler, policy_path)),
        (None, None) => {
            output::error("give `--policy PATH` or `--bundle FILE`");
            return USAGE;
        }
    };
    let policy = match policy {
        Ok(p) => p,
        Err(code) => return code,
    };
    let statements = match Statements::load(evidence) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let with = With { policy: &policy, statements: statements.as_ref(), how };
    match (request, requests) {
        (Some(source), _) => one(&with, source),
        (None, Some(source)) => many(&with, source),
        (None, None) => {
            output::error("give `--request FILE` or `--requests FILE`");
            USAGE
        }
    }
}

fn open(source: &str) -> std::io::Result<Box<dyn Read>> {
    if source == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(std::fs::File::open(source)?))
    }
}

/// What every request is decided with.
struct With<'a> {
    policy: &'a Policy,
    statements: Option<&'a Statements>,
    how: How,
}

/// The decision as JSON; with `Explain::Trace`, also its trace (under `explain`), the keys of
/// `text` that decoding ignored (under `unknown_keys`) and the statements counted and ignored
/// (under `statements`).
fn decide(with: &With<'_>, mut request: Request, text: &[u8]) -> (Json, Option<Explained>) {
    let statements = with.statements.map(|s| s.admit(&mut request));
    if with.how.explain == Explain::Trace {
        let (decision, trace) = with.policy.decide_explained(&request);
        let mut value = decision.to_value();
        if let Json::Object(map) = &mut value {
            map.insert("explain".into(), serde_json::to_value(&trace).unwrap_or(Json::Null));
            let unknown: Vec<Json> = Request::unknown_keys(text)
                .into_iter()
                .map(|k| json!({"field": k.field, "did_you_mean": k.did_you_mean}))
                .collect();
            if !unknown.is_empty() {
                map.insert("unknown_keys".into(), Json::Array(unknown));
            }
            if let Some(statements) = &statements {
                map.insert("statements".into(), statements.clone());
            }
        }
        (value, Some(Explained { trace, statements }))
    } else {
        (with.policy.decide(&request).to_value(), None)
    }
}

/// What `--explain` adds.
struct Explained {
    trace: writ_evaluator::Trace,
    statements: Option<Json>,
}

/// A decision for people: the outcome, then its reasons, missing evidence and rules.
fn human(decision: &Json, explained: Option<&Explained>) -> String {
    let mut out = String::new();
    let outcome = decision["decision"].as_str().unwrap_or("?");
    out.push_str(outcome);
    if let Some(ttl) = decision["ttl_seconds"].as_i64() {
        out.push_str(&format!(" (ttl {ttl}s)"));
    }
    out.push('\n');
    for reason in decision["reasons"].as_array().into_iter().flatten() {
        out.push_str(&format!("  reason: {}\n", reason.as_str().unwrap_or("")));
    }
    for m in decision["missing"].as_array().into_iter().flatten() {
        let by = m["by"].as_str().map(|b| format!(" by {b}")).unwrap_or_default();
        out.push_str(&format!(
            "  missing: {}{by} (need {}, have {})\n",
            m["evidence"].as_str().unwrap_or(""),
            m["need"],
            m["have"]
        ));
    }
    let rules: Vec<&str> =
        decision["rules"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
    if !rules.is_empty() {
        out.push_str(&format!("  rules: {}\n", rules.join(", ")));
    }
    out.push_str(&format!("  policy: {}\n", decision["policy"].as_str().unwrap_or("")));
    for key in decision.get("unknown_keys").and_then(Json::as_array).into_iter().flatten() {
        let field = key.get("field").and_then(Json::as_str).unwrap_or("?");
        let hint = match key.get("did_you_mean").and_then(Json::as_str) {
            Some(known) => format!(" (did you mean `{known}`?)"),
            None => String::new(),
        };
        out.push_str(&format!(
            "  note: request key `{field}` is not in the schema and was ignored{hint}\n"
        ));
    }
    let Some(explained) = explained else { return out };
    if let Some(statements) = &explained.statements {
        out.push_str("\nstatements:\n");
        for c in statements["counted"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  counted: {} ({} by {}, {})\n",
                c["source"].as_str().unwrap_or("?"),
                c["kind"].as_str().unwrap_or("?"),
                c["signer"].as_str().unwrap_or("?"),
                c["digest"].as_str().unwrap_or("?"),
            ));
        }
        for r in statements["rejected"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  ignored: {}: {}\n",
                r["source"].as_str().unwrap_or("?"),
                r["message"].as_str().unwrap_or("?"),
            ));
        }
    }
    out.push_str("\ntrace:\n");
    for line in explained.trace.to_string().lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn one(with: &With<'_>, source: &str) -> u8 {
    let mut text = String::new();
    if let Err(e) = open(source).and_then(|mut r| r.read_to_string(&mut text)) {
        output::error(format_args!("cannot read request `{source}`: {e}"));
        return USAGE;
    }
    let request = match Request::from_slice_with(text.as_bytes(), with.how.keys) {
        Ok(r) => r,
        Err(e) => {
            output::error(format_args!("invalid request: {e}"));
            return USAGE;
        }
    };
    let (decision, explained) = decide(with, request, text.as_bytes());
    match with.how.format {
        // `{:#}` is the value's pretty JSON text; it cannot fail.
        Format::Json => println!("{decision:#}"),
        Format::Human => print!("{}", human(&decision, explained.as_ref())),
    }
    OK
}

fn many(with: &With<'_>, source: &str) -> u8 {
    let format = with.how.format;
    let reader = match open(source) {
        Ok(r) => BufReader::new(r),
        Err(e) => {
            output::error(format_args!("cannot read requests `{source}`: {e}"));
            return USAGE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut code = OK;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_no = index + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                output::error(format_args!("cannot read requests `{source}`: {e}"));
                return USAGE;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let printed = match Request::from_slice_with(&line, with.how.keys) {
            Ok(request) => {
                let (decision, explained) = decide(with, request, &line);
                match format {
                    Format::Json => decision.to_string(),
                    Format::Human => {
                        format!("line {line_no}: {}", human(&decision, explained.as_ref()))
                    }
                }
            }
            Err(e) => {
                code = USAGE;
                match format {
                    Format::Json => json!({"error": e.to_string(), "line": line_no}).to_string(),
                    Format::Human => format!("line {line_no}: error: {e}\n"),
                }
            }
        };
        let written = if format == Format::Json {
            writeln!(out, "{printed}")
        } else {
            write!(out, "{printed}")
        };
        if written.is_err() {
            // The reader went away (a closed pipe): stop quietly.
            return code;
        }
    }
    if out.flush().is_err() {
        return code;
    }
    code
}
