//! `--bundle-url`: the bundle fetched over HTTP(S), polled.
//!
//! A poll is a reload ([`State::reload`](crate::state::State::reload)): the bytes fetched go
//! through the same verification ([`Source::verify`]) and the same rollback check
//! ([`Source::admit`]) as a bundle file's, and the policy served changes only when both pass.
//! What is kept between polls is the `ETag` (sent back as `If-None-Match`: `304 Not Modified`
//! verifies nothing and reloads nothing) and the digest of the bundle served (a server without
//! `ETag`s sending the same bytes again reloads nothing either).
//!
//! A fetch that fails (no answer, an error status, a timeout, a body over the limit) or a
//! bundle that is refused keeps the policy served and backs off: the next poll waits
//! `min(poll, 1 s) · 2^(n-1)` after `n` failures in a row, at most `max(poll, 60 s)`, jittered
//! ([`Backoff`]). A success resets it.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Value as Json, json};
use writ_evaluator::log::rfc3339_millis;

use crate::backoff::Backoff;
use crate::source::Remote;

/// The most a failing fetch backs off to, unless the poll interval is longer.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// What a fetch brought.
pub enum Fetched {
    /// `304 Not Modified`.
    NotModified,
    /// A body (not yet verified) and its `ETag`.
    Body { bytes: Vec<u8>, etag: Option<String> },
}

/// The poller's client and what `/v1/status` shows of it.
pub struct Poller {
    transport: Transport,
    remote: Remote,
    state: Mutex<PollState>,
}

/// How the bundle is fetched: over HTTP(S), or from an OCI registry (`oci.rs`). A client that
/// could not be made is an error at every fetch.
enum Transport {
    Http(Result<reqwest::Client, String>),
    Oci(Box<Result<crate::oci::Puller, String>>),
}

#[derive(Default)]
struct PollState {
    /// What names the bundle served to its server: its `ETag` over HTTP, its manifest digest in
    /// a registry.
    etag: Option<String>,
    /// The digest of the bytes of the bundle served.
    digest: Option<String>,
    last_attempt: Option<SystemTime>,
    last_success: Option<SystemTime>,
    last_error: Option<(SystemTime, String)>,
    backoff: Option<Backoff>,
}

impl Poller {
    pub fn new(remote: &Remote) -> Poller {
        let transport = if remote.url.starts_with(crate::oci::SCHEME) {
            Transport::Oci(Box::new(crate::oci::Puller::new(remote).map_err(|e| e.to_string())))
        } else {
            Transport::Http(client(remote.timeout, &remote.roots))
        };
        Poller {
            transport,
            remote: remote.clone(),
            state: Mutex::new(PollState {
                backoff: Some(backoff(remote.poll)),
                ..PollState::default()
            }),
        }
    }

    /// Fetches the bundle, sending the `ETag` of the one served (from a registry: unless the
    /// manifest digest is the one served).
    pub async fn fetch(&self) -> Result<Fetched, String> {
        let etag = self
            .with(|s| {
                s.last_attempt = Some(SystemTime::now());
                s.etag.clone()
            })
            .flatten();
        match &self.transport {
            Transport::Http(client) => {
                fetch_http(client.as_ref().map_err(Clone::clone)?, &self.remote, etag).await
            }
            Transport::Oci(puller) => (**puller)
                .as_ref()
                .map_err(Clone::clone)?
                .fetch(etag.as_deref())
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

/// A fetch over HTTP(S), with `If-None-Match: ETAG` when a bundle is served.
async fn fetch_http(
    client: &reqwest::Client,
    remote: &Remote,
    etag: Option<String>,
) -> Result<Fetched, String> {
    let url = &remote.url;
    let mut request = client.get(url);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("cannot fetch the bundle at `{url}`: {}", describe(&e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("cannot fetch the bundle at `{url}`: the server answered {status}"));
    }
    let limit = remote.max_bytes;
    let too_large = |size: &str| {
        format!(
            "the bundle at `{url}` refused: its body is {size}, over the limit of {limit} bytes"
        )
    };
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(too_large(&format!("{length} bytes (Content-Length)")));
    }
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() as u64 + chunk.len() as u64 > limit {
                    return Err(too_large("longer"));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(format!(
                    "cannot fetch the bundle at `{url}`: reading its body: {}",
                    describe(&e)
                ));
            }
        }
    }
    Ok(Fetched::Body { bytes, etag })
}

impl Poller {
    /// Whether `digest` is the digest of the bundle served.
    pub fn is_served(&self, digest: &str) -> bool {
        self.with(|s| s.digest.as_deref() == Some(digest)).unwrap_or(false)
    }

    /// The fetch succeeded; with `served`, the `ETag` and digest of the bundle now served.
    pub fn succeeded(&self, served: Option<(Option<String>, String)>) {
        self.with(|s| {
            s.last_success = Some(SystemTime::now());
            s.last_error = None;
            if let Some(backoff) = &mut s.backoff {
                backoff.succeeded();
            }
            if let Some((etag, digest)) = served {
                s.etag = etag;
                s.digest = Some(digest);
            }
        });
    }

    pub fn failed(&self, message: &str) {
        self.with(|s| {
            s.last_error = Some((SystemTime::now(), message.to_string()));
            if let Some(backoff) = &mut s.backoff {
                backoff.failed();
            }
        });
    }

    /// How long to wait before the next poll: the poll interval, or the backoff after failures.
    pub fn next_poll(&self) -> Duration {
        self.with(|s| match &s.backoff {
            Some(b) if b.failures() > 0 => b.delay(),
            _ => self.remote.poll,
        })
        .unwrap_or(self.remote.poll)
    }

    /// The `source` object of `/v1/status`.
    pub fn status(&self) -> Json {
        let time = |t: Option<SystemTime>| t.map(rfc3339_millis);
        // A registry's "ETag" is the manifest digest.
        let etag = match self.transport {
            Transport::Http(_) => "etag",
            Transport::Oci(_) => "manifest_digest",
        };
        self.with(|s| {
            json!({
                "kind": "bundle-url",
                "url": self.remote.url,
                "poll_ms": u64::try_from(self.remote.poll.as_millis()).unwrap_or(u64::MAX),
                etag: s.etag,
                "last_attempt_at": time(s.last_attempt),
                "last_success_at": time(s.last_success),
                "last_error": s.last_error.as_ref().map(|(at, message)| {
                    json!({"at": rfc3339_millis(*at), "message": message})
                }),
                "consecutive_failures": s.backoff.as_ref().map_or(0, Backoff::failures),
            })
        })
        .unwrap_or(Json::Null)
    }

    fn with<T>(&self, f: impl FnOnce(&mut PollState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }
}

fn backoff(poll: Duration) -> Backoff {
    Backoff::new(poll.min(Duration::from_secs(1)), poll.max(BACKOFF_CAP))
}

/// The HTTP client: writ's one TLS setup ([`writ_agents::net::builder`]: rustls with ring,
/// `roots`), a timeout for each request (from connecting to its body's last byte).
pub fn client(
    timeout: Duration,
    roots: &writ_agents::net::Roots,
) -> Result<reqwest::Client, String> {
    writ_agents::net::builder(roots)
        .map_err(|e| e.to_string())?
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("cannot create the HTTP client: {}", describe(&e)))
}

/// An error with its causes (reqwest's own message is often just "error sending request").
pub use writ_agents::net::describe;
