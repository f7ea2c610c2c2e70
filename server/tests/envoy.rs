//! Envoy's ext_authz (`writ serve --grpc`): a tonic client sends real `CheckRequest`s, shaped as
//! Envoy sends them (the body from `with_request_body`, the JWT payload from `jwt_authn` in the
//! metadata, the route's `context_extensions`), to a server on loopback ports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use std::collections::HashMap;

use common::*;
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::google::protobuf::{ListValue, Struct, Value as PbValue, value::Kind};
use serde_json::{Value as Json, json};
use writ_server::{Config, EnvoyConfig, LogTarget, Mode, Source};

const POLICY: &str = r#"role dev {
  may mcp.fs.*
}

tool mcp.fs.read_file(path: string)
tool mcp.fs.write_file(path: string)

evidence approval by human

attribute team: string

workflow mcp {
  start by dev
  allow mcp.fs.read_file when path matches "/srv/*"
  allow mcp.fs.write_file require approval
  deny mcp.fs.read_file when path matches "/srv/secret*" because "secrets stay put"
  deny mcp.fs.read_file when caller.kind == agent and path matches "/srv/private*" because "agents read no private files"
  deny mcp.fs.read_file when path matches "/srv/ops*" and initiator.team != "platform" because "ops files are the platform team's"
}
"#;

struct Envoy {
    server: TestServer,
    dir: std::path::PathBuf,
}

fn start(name: &str, change: impl FnOnce(&mut Config)) -> Envoy {
    let dir = temp_dir(name);
    let policy = policy_file(&dir, POLICY);
    let mut config = config(Source::Policy(policy));
    let mut envoy = EnvoyConfig::new("127.0.0.1:0".parse().unwrap());
    envoy.mcp_server = Some("fs".into());
    config.envoy = Some(envoy);
    config.decision_log = Some(LogTarget::File(dir.join("decisions.jsonl")));
    change(&mut config);
    Envoy { server: TestServer::start(config), dir }
}

impl Envoy {
    fn check(&self, request: CheckRequest) -> Result<CheckResponse, tonic::Status> {
        let addr = self.server.grpc.expect("a gRPC listener");
        self.server.runtime.block_on(async move {
            let mut client = AuthorizationClient::connect(format!("http://{addr}")).await.unwrap();
            client.check(request).await.map(tonic::Response::into_inner)
        })
    }

    fn ok(&self, request: CheckRequest) -> Checked {
        Checked(self.check(request).expect("a CheckResponse"))
    }

    /// Stops the server; what it reports and its decision log's lines.
    fn stop(self) -> (writ_server::Summary, Vec<Json>) {
        let summary = self.server.stop();
        let text = std::fs::read_to_string(self.dir.join("decisions.jsonl")).unwrap_or_default();
        (summary, text.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
    }
}

/// A `CheckResponse`, read as Envoy reads it.
#[derive(Debug)]
struct Checked(CheckResponse);

impl Checked {
    fn code(&self) -> i32 {
        self.0.status.as_ref().map_or(-1, |s| s.code)
    }
    fn allowed(&self) -> bool {
        self.code() == 0 && matches!(self.0.http_response, Some(HttpResponse::OkResponse(_)))
    }
    /// The upstream headers (allow) or the client's answer's headers (deny).
    fn header(&self, name: &str) -> Option<String> {
        let headers = match &self.0.http_response {
            Some(HttpResponse::OkResponse(ok)) => &ok.headers,
            Some(HttpResponse::DeniedResponse(denied)) => &denied.headers,
            _ => return None,
        };
        headers
            .iter()
            .filter_map(|h| h.header.as_ref())
            .find(|h| h.key == name)
            .map(|h| h.value.clone())
    }
    /// The denied answer: its HTTP status and JSON body.
    fn denied(&self) -> (i32, Json) {
        match &self.0.http_response {
            Some(HttpResponse::DeniedResponse(d)) => (
                d.status.as_ref().map_or(0, |s| s.code),
                serde_json::from_str(&d.body).unwrap_or_else(|_| panic!("not JSON: {}", d.body)),
            ),
            other => panic!("not denied: {other:?}"),
        }
    }
}

fn pb(value: &Json) -> PbValue {
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue { values: items.iter().map(pb).collect() }),
        Json::Object(map) => Kind::StructValue(Struct {
            fields: map.iter().map(|(k, v)| (k.clone(), pb(v))).collect(),
        }),
    };
    PbValue { kind: Some(kind) }
}

/// A check request as Envoy sends one: method POST, the headers, the body, the JWT payload
/// (`None`: no jwt_authn metadata) and the route's context extensions.
fn envoy_request(
    body: &str,
    payload: Option<Json>,
    headers: &[(&str, &str)],
    extensions: &[(&str, &str)],
) -> CheckRequest {
    let mut all: HashMap<String, String> = HashMap::from([
        (":method".into(), "POST".into()),
        (":path".into(), "/mcp".into()),
        ("content-type".into(), "application/json".into()),
        ("mcp-session-id".into(), "s-1".into()),
    ]);
    for (name, value) in headers {
        all.insert((*name).into(), (*value).into());
    }
    let metadata = payload.map(|payload| Metadata {
        filter_metadata: HashMap::from([(
            "envoy.filters.http.jwt_authn".to_string(),
            Struct { fields: HashMap::from([("jwt_payload".to_string(), pb(&payload))]) },
        )]),
        ..Default::default()
    });
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    id: "req-1".into(),
                    method: "POST".into(),
                    headers: all,
                    path: "/mcp".into(),
                    host: "mcp.example".into(),
                    scheme: "http".into(),
                    size: body.len() as i64,
                    protocol: "HTTP/1.1".into(),
                    body: body.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: extensions
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            metadata_context: metadata,
            ..Default::default()
        }),
    }
}

fn ada() -> Option<Json> {
    Some(
        json!({"iss": "https://issuer.example", "sub": "ada", "roles": ["dev"], "exp": 1_900_000_000}),
    )
}

fn tools_call(tool: &str, arguments: Json) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
    .to_string()
}

const WORKFLOW: &[(&str, &str)] = &[("writ_workflow", "mcp")];

#[test]
fn an_allowed_call_goes_upstream_with_its_decision_id_and_is_logged() {
    let envoy = start("envoy-allow", |_| {});
    let body = tools_call("read_file", json!({"path": "/srv/notes.txt", "encoding": "utf-8"}));
    let checked = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW));
    assert!(checked.allowed(), "{checked:?}");
    assert_eq!(checked.header("x-writ-decision").as_deref(), Some("allow"));
    let id = checked.header("x-writ-decision-id").expect("a decision id");
    let metadata = checked.0.dynamic_metadata.as_ref().expect("dynamic metadata");
    assert_eq!(metadata.fields["decision_id"], pb(&json!(id)));

    let (summary, log) = envoy.stop();
    assert_eq!(summary.logged, 1);
    assert_eq!(log[0]["id"], json!(id));
    // The proxy's mapping: `mcp.SERVER.TOOL` (and only declared arguments: `encoding` is
    // dropped, where an undeclared argument would deny).
    let line = &log[0];
    assert_eq!(line["tool"], "mcp.fs.read_file");
    assert_eq!(line["workflow"], "mcp");
    assert_eq!(line["chain"][0]["id"], "ada");
    assert_eq!(line["chain"][0]["kind"], "human");
    assert_eq!(line["decision"], "allow");
}

#[test]
fn a_denied_call_is_a_403_with_the_reasons() {
    let envoy = start("envoy-deny", |_| {});
    let body = tools_call("read_file", json!({"path": "/srv/secret.key"}));
    let checked = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW));
    assert_eq!(checked.code(), tonic::Code::PermissionDenied as i32);
    let (status, answer) = checked.denied();
    assert_eq!(status, 403);
    assert_eq!(answer["decision"], "deny");
    assert_eq!(answer["reasons"], json!(["secrets stay put"]));
    assert_eq!(answer["tool"], "mcp.fs.read_file");
    assert_eq!(checked.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(checked.header("x-writ-decision-id"), answer["id"].as_str().map(String::from));

    // A tool the policy does not declare: denied too.
    let body = tools_call("delete_everything", json!({}));
    let (status, answer) = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW)).denied();
    assert_eq!(status, 403);
    assert_eq!(answer["decision"], "deny");
    assert_eq!(envoy.server.stop().logged, 2);
}

#[test]
fn a_pending_call_is_a_403_naming_the_missing_evidence() {
    let envoy = start("envoy-pending", |_| {});
    let body = tools_call("write_file", json!({"path": "/srv/out.txt"}));
    let checked = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW));
    assert_eq!(checked.code(), tonic::Code::PermissionDenied as i32);
    let (status, answer) = checked.denied();
    assert_eq!(status, 403);
    assert_eq!(answer["decision"], "pending");
    assert_eq!(answer["missing"][0]["evidence"], "approval");
    assert_eq!(answer["missing"][0]["need"], 1);
}

#[test]
fn malformed_messages_are_400s() {
    let envoy = start("envoy-malformed", |_| {});
    let cases: &[(&str, &str)] = &[
        ("{\"jsonrpc\": \"2.0\", \"method\": \"tools/call\", ", ""),
        (r#"[{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}]"#, ""),
        (r#""tools/call""#, ""),
        (r#"{"jsonrpc": "2.0", "id": 1, "id": 2, "method": "tools/call"}"#, ""),
        (r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}"#, "params.name"),
        (
            r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read_file", "arguments": [1]}}"#,
            "params.arguments",
        ),
        ("", ""),
    ];
    for (body, field) in cases {
        let checked = envoy.ok(envoy_request(body, ada(), &[], WORKFLOW));
        assert_eq!(checked.code(), tonic::Code::InvalidArgument as i32, "{body}");
        let (status, answer) = checked.denied();
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["field"], *field, "{body}: {answer}");
    }
    // No workflow anywhere.
    let body = tools_call("read_file", json!({"path": "/srv/a"}));
    let (status, answer) = envoy.ok(envoy_request(&body, ada(), &[], &[])).denied();
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "x-writ-workflow");
    // A bad run id.
    let (status, answer) =
        envoy.ok(envoy_request(&body, ada(), &[("writ-run", "a b")], WORKFLOW)).denied();
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "writ-run");
    // None of these is a decision.
    assert_eq!(envoy.server.stop().logged, 0);
}

#[test]
fn a_call_without_an_identity_is_a_401() {
    let envoy = start("envoy-identity", |_| {});
    let body = tools_call("read_file", json!({"path": "/srv/a"}));
    let checked = envoy.ok(envoy_request(&body, None, &[], WORKFLOW));
    assert_eq!(checked.code(), tonic::Code::Unauthenticated as i32);
    let (status, answer) = checked.denied();
    assert_eq!(status, 401);
    assert!(answer["error"].as_str().unwrap().contains("no verified identity"), "{answer}");

    let bad = [
        json!({"roles": ["dev"]}),
        json!({"sub": 42, "roles": ["dev"]}),
        json!({"sub": "ada", "roles": [1, 2]}),
        json!({"sub": "  ada", "roles": ["dev"]}),
    ];
    for payload in bad {
        let checked = envoy.ok(envoy_request(&body, Some(payload.clone()), &[], WORKFLOW));
        assert_eq!(checked.denied().0, 401, "{payload}");
    }
    assert_eq!(envoy.server.stop().logged, 0);
}

#[test]
fn other_methods_pass_without_a_decision() {
    let envoy = start("envoy-other", |_| {});
    let bodies = [
        r#"{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}}"#,
        r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
        r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}"#,
        r#"{"jsonrpc": "2.0", "id": 3, "method": "ping"}"#,
        r#"{"jsonrpc": "2.0", "id": 9, "result": {}}"#,
    ];
    for body in bodies {
        // Even without an identity: they decide nothing.
        let checked = envoy.ok(envoy_request(body, None, &[], &[]));
        assert!(checked.allowed(), "{body}: {checked:?}");
        assert_eq!(checked.header("x-writ-decision-id"), None);
    }
    // The event stream (GET) and the session's end (DELETE) carry no message.
    for method in ["GET", "DELETE"] {
        let mut request = envoy_request("", None, &[], &[]);
        let http = request.attributes.as_mut().unwrap().request.as_mut().unwrap();
        http.http.as_mut().unwrap().method = method.into();
        assert!(envoy.ok(request).allowed(), "{method}");
    }
    assert_eq!(envoy.server.stop().logged, 0);
}

#[test]
fn a_huge_body_is_refused() {
    let envoy = start("envoy-huge", |config| config.body_limit = 64 * 1024);
    // Over writ's limit (`--max-body`): a 413 that denies.
    let big = tools_call("read_file", json!({"path": "/srv/a", "pad": "x".repeat(100_000)}));
    let checked = envoy.ok(envoy_request(&big, ada(), &[], WORKFLOW));
    assert_eq!(checked.denied().0, 413);
    // Cut short by Envoy (`allow_partial_message`): never decided on part of a message.
    let small = tools_call("read_file", json!({"path": "/srv/a"}));
    let partial =
        envoy_request(&small[..20], ada(), &[("x-envoy-auth-partial-body", "true")], WORKFLOW);
    assert_eq!(envoy.ok(partial).denied().0, 413);
    // Over the gRPC message limit: a gRPC error, which Envoy answers per `failure_mode_allow`
    // (false: deny).
    let huge = tools_call("read_file", json!({"pad": "x".repeat(2 * 1024 * 1024)}));
    let status = envoy.check(envoy_request(&huge, ada(), &[], WORKFLOW)).unwrap_err();
    assert!(
        matches!(status.code(), tonic::Code::OutOfRange | tonic::Code::ResourceExhausted),
        "{status:?}"
    );
    // The server still answers.
    assert!(envoy.ok(envoy_request(&small, ada(), &[], WORKFLOW)).allowed());
}

#[test]
fn claims_map_to_the_chain_as_configured() {
    let envoy = start("envoy-claims", |config| {
        let envoy = config.envoy.as_mut().unwrap();
        envoy.claims.id = "email".into();
        envoy.claims.roles = Some("scope".into());
        envoy.claims.kind = writ_server::KindFrom::Claim("principal_kind".into());
        envoy.claims.attrs = vec!["team".into()];
        envoy.claims.agent = Some("azp".into());
        envoy.workflow = Some("mcp".into());
        envoy.mcp_server = None;
    });
    let payload = json!({"sub": "u-1", "email": "ada@example.com", "scope": "dev openid",
                         "principal_kind": "human", "team": "platform", "azp": "claude-desktop"});
    let extensions = &[("writ_mcp_server", "fs")];
    // The agent from `azp` is the caller: the policy denies agents private files.
    let body = tools_call("read_file", json!({"path": "/srv/private.txt"}));
    let (status, answer) =
        envoy.ok(envoy_request(&body, Some(payload.clone()), &[], extensions)).denied();
    assert_eq!(status, 403);
    assert_eq!(answer["reasons"], json!(["agents read no private files"]));
    // Roles from the space-separated `scope`: `dev` may read.
    let body = tools_call("read_file", json!({"path": "/srv/public.txt"}));
    assert!(envoy.ok(envoy_request(&body, Some(payload.clone()), &[], extensions)).allowed());
    // `team` from its claim: the platform team reads ops files; without the claim, denied.
    let ops = tools_call("read_file", json!({"path": "/srv/ops.txt"}));
    assert!(envoy.ok(envoy_request(&ops, Some(payload.clone()), &[], extensions)).allowed());
    let mut no_team = payload.clone();
    no_team.as_object_mut().unwrap().remove("team");
    let (_, answer) = envoy.ok(envoy_request(&ops, Some(no_team), &[], extensions)).denied();
    let reason = answer["reasons"][0].as_str().unwrap();
    assert!(reason.starts_with("ops files are the platform team's (a value"), "{reason}");
    // A kind claim that is not a kind.
    let mut wrong = payload.clone();
    wrong["principal_kind"] = json!("robot");
    assert_eq!(envoy.ok(envoy_request(&body, Some(wrong), &[], extensions)).denied().0, 401);
    // The header names the workflow when the route does not; an unknown one denies.
    let (status, answer) = envoy
        .ok(envoy_request(&body, Some(payload), &[("x-writ-workflow", "other")], extensions))
        .denied();
    assert_eq!(status, 403, "{answer}");

    let (_, log) = envoy.stop();
    let chain = &log[0]["chain"];
    assert_eq!(chain[0]["id"], "ada@example.com");
    assert_eq!(chain[1]["id"], "claude-desktop");
    assert_eq!(chain[1]["kind"], "agent");
}

#[test]
fn without_an_mcp_server_name_writ_fails_closed() {
    let envoy =
        start("envoy-unavailable", |config| config.envoy.as_mut().unwrap().mcp_server = None);
    let body = tools_call("read_file", json!({"path": "/srv/a"}));
    let checked = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW));
    assert_eq!(checked.code(), tonic::Code::Unavailable as i32);
    assert_eq!(checked.denied().0, 503);
}

#[test]
fn runs_are_admitted_by_initialize_and_bind_their_calls() {
    let envoy = start("envoy-runs", |_| {});
    let initialize = r#"{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}"#;
    let run = &[("writ-run", "session-1")];
    let checked = envoy.ok(envoy_request(initialize, ada(), run, WORKFLOW));
    assert!(checked.allowed(), "{checked:?}");
    assert!(checked.header("x-writ-decision-id").is_some());
    // The same run again: a run id names one run.
    let (status, answer) = envoy.ok(envoy_request(initialize, ada(), run, WORKFLOW)).denied();
    assert_eq!(status, 403);
    assert!(answer["reasons"][0].as_str().unwrap().contains("already admitted"), "{answer}");

    let body = tools_call("read_file", json!({"path": "/srv/a"}));
    assert!(envoy.ok(envoy_request(&body, ada(), run, WORKFLOW)).allowed());
    // A run never admitted.
    let (status, answer) =
        envoy.ok(envoy_request(&body, ada(), &[("writ-run", "session-2")], WORKFLOW)).denied();
    assert_eq!(status, 403);
    assert!(answer["reasons"][0].as_str().unwrap().contains("was not admitted"), "{answer}");
    // Someone else's run.
    let ben = Some(json!({"sub": "ben", "roles": ["dev"]}));
    let (_, answer) = envoy.ok(envoy_request(&body, ben, run, WORKFLOW)).denied();
    assert!(answer["reasons"][0].as_str().unwrap().contains("was started by `ada`"), "{answer}");

    let (_, log) = envoy.stop();
    let decisions: Vec<&str> = log.iter().map(|l| l["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["allow", "deny", "allow", "deny", "deny"]);
    assert_eq!(log[0]["action"], "start");
}

#[test]
fn log_only_lets_a_denied_call_through_and_logs_what_writ_decided() {
    let envoy = start("envoy-log-only", |config| config.mode = Mode::LogOnly);
    let body = tools_call("read_file", json!({"path": "/srv/secret.key"}));
    let checked = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW));
    assert!(checked.allowed());
    assert_eq!(checked.header("x-writ-decision").as_deref(), Some("deny"));
    let (_, log) = envoy.stop();
    assert_eq!(log[0]["decision"], "deny");
    assert_eq!(log[0]["mode"], "log-only");
}

#[test]
fn held_statements_count_for_the_call_they_name() {
    use writ_evaluator::statement::{Statement, Trust};
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let public = writ_evaluator::bundle::encode_verifying_key(&key.verifying_key());
    let trust = json!({"signers": [{"key": public.trim(),
        "principal": {"id": "lee", "kind": "human", "roles": ["lead"]}}]});
    let trust = Trust::from_json(trust.to_string().as_bytes()).unwrap();
    let envoy = start("envoy-evidence", |config| config.trust = Some(trust));

    let body = tools_call("write_file", json!({"path": "/srv/out.txt"}));
    let (_, answer) = envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW)).denied();
    assert_eq!(answer["decision"], "pending");
    // The subject of this very call, as the proxy and the hooks compute it.
    let request = writ_evaluator::Request::from_json(
        &json!({"action": "call", "workflow": "mcp", "tool": "mcp.fs.write_file",
                "args": {"path": "/srv/out.txt"}, "chain": [{"id": "ada", "kind": "human"}]})
        .to_string(),
    )
    .unwrap()
    .into_owned();
    let subject = writ_evaluator::statement::request_call_subject(&request).unwrap();
    let now = writ_evaluator::statement::now();
    let later = writ_evaluator::Timestamp::from_unix_seconds(
        i64::try_from(now.as_unix_nanos() / 1_000_000_000).unwrap() + 3600,
    )
    .unwrap();
    let statement = Statement::sign(&key, "approval", &subject, vec![], now, later).unwrap();
    let posted = envoy.server.post("/v1/evidence", &statement.to_json());
    assert_eq!(posted.status, 201, "{}", posted.body);

    assert!(envoy.ok(envoy_request(&body, ada(), &[], WORKFLOW)).allowed());
    // Not for another file.
    let other = tools_call("write_file", json!({"path": "/srv/other.txt"}));
    assert_eq!(
        envoy.ok(envoy_request(&other, ada(), &[], WORKFLOW)).denied().1["decision"],
        "pending"
    );
    let (_, log) = envoy.stop();
    assert_eq!(log[1]["decision"], "allow");
    assert_eq!(log[1]["statements"].as_array().map(Vec::len), Some(1));
}
