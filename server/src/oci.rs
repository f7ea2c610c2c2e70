//! Bundles in OCI registries: `--bundle-url oci://HOST[:PORT]/REPOSITORY:TAG` (or
//! `@sha256:...`) pulls one, `writ bundle push BUNDLE oci://...` publishes one (`docs/server.md`,
//! "Bundles from an OCI registry").
//!
//! A bundle is stored as an OCI artifact (image-spec 1.1): an image manifest whose
//! `artifactType` is [`ARTIFACT_TYPE`], whose config is the empty descriptor (`{}`,
//! [`EMPTY_CONFIG_MEDIA_TYPE`]), and whose one layer, of media type [`LAYER_MEDIA_TYPE`], is the
//! bundle file byte for byte (as `writ build` wrote it: the bundle carries its own checksum and
//! signature, so nothing is wrapped around it). A pull accepts nothing else: another layer
//! media type, another artifact type, more or fewer layers, a layer over the size limit, or a
//! layer whose bytes do not have the digest the manifest names is refused before the bundle is
//! verified; then the bytes go through [`Source::verify`](crate::Source::verify) and the
//! rollback check like any other bundle's.
//!
//! Change detection is by manifest digest, the registry's equivalent of an `ETag`: each poll
//! asks for the digest under the reference (a `HEAD` of the manifest); the digest of the
//! bundle served means there is nothing to do. Only a new digest fetches the manifest and the
//! layer.
//!
//! The registry is reached over HTTPS, except the registries named by `--oci-insecure
//! HOST[:PORT]` (plain HTTP, for a local or test registry); credentials are never sent over
//! plain HTTP except to a loopback address. Authentication is anonymous, or HTTP basic with
//! [`Credentials`]; a registry that answers with a bearer challenge (the distribution token
//! flow) gets the token from its realm, with the same credentials, as `oci-client` does it.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use writ_agents::net::Roots;

use crate::remote::Fetched;

/// The `artifactType` of a writ bundle's manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.writ.bundle.v1";
/// The media type of the one layer of a writ bundle's manifest: the bundle file's bytes.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.writ.bundle.layer.v1";
/// The empty descriptor's media type (image-spec 1.1), used as the artifact's config.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's content.
const EMPTY_CONFIG: &[u8] = b"{}";
/// The URL scheme of a bundle in a registry.
pub const SCHEME: &str = "oci://";

/// How writ reaches registries: its credentials, and the registries it may reach over plain
/// HTTP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    /// HTTP basic credentials (also sent to a bearer token realm); `None`: anonymous.
    pub credentials: Option<Credentials>,
    /// `HOST[:PORT]` of registries reached over plain HTTP (`--oci-insecure`), written as in
    /// the reference; every other registry is reached over HTTPS.
    pub insecure: Vec<String>,
}

/// A registry user name and password. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// What went wrong with a registry. The message names the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OciError {
    /// Not an `oci://HOST[:PORT]/REPOSITORY(:TAG|@DIGEST)` reference (a usage error).
    Reference { url: String, reason: String },
    /// The options do not allow this reference (credentials over plain HTTP, say).
    Refused { url: String, reason: String },
    /// The registry could not be reached or answered an error, fetching.
    Registry { url: String, message: String },
    /// The registry could not be reached or answered an error, pushing.
    Push { url: String, message: String },
    /// What the registry holds under the reference is not a writ bundle, is too large, or its
    /// bytes do not match their digest.
    NotABundle { url: String, reason: String },
    /// The whole exchange took longer than the fetch timeout.
    Timeout { url: String, after: Duration },
}

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OciError::Reference { url, reason } => write!(
                f,
                "`{url}` is not a bundle reference: {reason} (expected \
                 `oci://HOST[:PORT]/REPOSITORY:TAG` or `oci://HOST[:PORT]/REPOSITORY@sha256:...`)"
            ),
            OciError::Refused { url, reason } => write!(f, "`{url}` refused: {reason}"),
            OciError::Registry { url, message } => {
                write!(f, "cannot fetch the bundle at `{url}`: {message}")
            }
            OciError::Push { url, message } => {
                write!(f, "cannot push the bundle to `{url}`: {message}")
            }
            OciError::NotABundle { url, reason } => {
                write!(f, "the bundle at `{url}` refused: {reason}")
            }
            OciError::Timeout { url, after } => write!(
                f,
                "cannot reach the registry of `{url}`: no answer within {} ms",
                after.as_millis()
            ),
        }
    }
}

impl std::error::Error for OciError {}

/// Parses `oci://HOST[:PORT]/REPOSITORY:TAG` or `...@sha256:HEX`. The registry host must be
/// written out (no implicit Docker Hub), and so must the tag or digest (no implicit `latest`).
pub fn parse(url: &str) -> Result<Reference, OciError> {
    let wrong = |reason: &str| OciError::Reference { url: url.to_string(), reason: reason.into() };
    let Some(rest) = url.strip_prefix(SCHEME) else {
        return Err(wrong("it does not start with `oci://`"));
    };
    let Some((host, path)) = rest.split_once('/') else {
        return Err(wrong("it names no repository"));
    };
    let reference = Reference::try_from(rest).map_err(|e| wrong(&e.to_string()))?;
    if reference.registry() != host {
        return Err(wrong("it names no registry host"));
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    if !last.contains(':') && !last.contains('@') {
        return Err(wrong("it names no tag or digest"));
    }
    Ok(reference)
}

/// Whether `registry` (`HOST[:PORT]`, as in a reference; the reference grammar has no IPv6
/// literals) is a loopback address.
fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(host, _)| host);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A client for `reference`'s registry: HTTPS unless it is named insecure, rustls with ring,
/// verified against the platform's roots and `roots`' (`--ca-cert`), a timeout on connecting
/// and on each read.
fn client(
    url: &str,
    reference: &Reference,
    registry: &Registry,
    roots: &Roots,
    timeout: Duration,
) -> Result<(Client, RegistryAuth), OciError> {
    let host = reference.registry();
    let plain = registry.insecure.iter().any(|h| h == host);
    if plain && registry.credentials.is_some() && !is_loopback(host) {
        return Err(OciError::Refused {
            url: url.to_string(),
            reason: format!(
                "credentials are not sent to `{host}` over plain HTTP (`--oci-insecure`); \
                 reach it over HTTPS, or on a loopback address"
            ),
        });
    }
    writ_agents::net::install_provider()
        .map_err(|e| OciError::Registry { url: url.to_string(), message: e.to_string() })?;
    let config = ClientConfig {
        protocol: if plain { ClientProtocol::Http } else { ClientProtocol::Https },
        read_timeout: Some(timeout),
        connect_timeout: Some(timeout),
        user_agent: concat!("writ/", env!("CARGO_PKG_VERSION")),
        platform_resolver: None,
        extra_root_certificates: roots
            .extra_der()
            .map(|der| Certificate { encoding: CertificateEncoding::Der, data: der.to_vec() })
            .collect(),
        ..ClientConfig::default()
    };
    let client = Client::try_from(config).map_err(|e| OciError::Registry {
        url: url.to_string(),
        message: format!("cannot create the registry client: {}", crate::remote::describe(&e)),
    })?;
    let auth = match &registry.credentials {
        None => RegistryAuth::Anonymous,
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
    };
    Ok((client, auth))
}

/// Pulls the bundle under one reference, for the poller (`remote.rs`).
pub struct Puller {
    url: String,
    reference: Reference,
    client: Client,
    auth: RegistryAuth,
    timeout: Duration,
    max_bytes: u64,
}

impl Puller {
    pub fn new(remote: &crate::Remote) -> Result<Puller, OciError> {
        let reference = parse(&remote.url)?;
        let (client, auth) =
            client(&remote.url, &reference, &remote.registry, &remote.roots, remote.timeout)?;
        Ok(Puller {
            url: remote.url.clone(),
            reference,
            client,
            auth,
            timeout: remote.timeout,
            max_bytes: remote.max_bytes,
        })
    }

    /// The bundle under the reference, unless its manifest digest is `served`
    /// ([`Fetched::NotModified`]). The body's "ETag" is the manifest digest.
    pub async fn fetch(&self, served: Option<&str>) -> Result<Fetched, OciError> {
        tokio::time::timeout(self.timeout, self.fetch_within(served))
            .await
            .map_err(|_| OciError::Timeout { url: self.url.clone(), after: self.timeout })?
    }

    async fn fetch_within(&self, served: Option<&str>) -> Result<Fetched, OciError> {
        let registry = |e: oci_client::errors::OciDistributionError| OciError::Registry {
            url: self.url.clone(),
            message: crate::remote::describe(&e),
        };
        let now = self
            .client
            .fetch_manifest_digest(&self.reference, &self.auth)
            .await
            .map_err(registry)?;
        if served == Some(now.as_str()) {
            return Ok(Fetched::NotModified);
        }
        // The digest of what is fetched, not of what the `HEAD` saw: the tag may have moved.
        let (body, digest) = self
            .client
            .pull_manifest_raw(&self.reference, &self.auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(registry)?;
        let layer = bundle_layer(&body, self.max_bytes)
            .map_err(|reason| OciError::NotABundle { url: self.url.clone(), reason })?;
        let mut out = Capped { bytes: Vec::new(), limit: self.max_bytes };
        self.client.pull_blob(&self.reference, &layer, &mut out).await.map_err(|e| {
            let reason = match e {
                oci_client::errors::OciDistributionError::DigestError(e) => {
                    format!("its layer does not match its digest: {e}")
                }
                e => return registry(e),
            };
            OciError::NotABundle { url: self.url.clone(), reason }
        })?;
        if u64::try_from(layer.size).ok() != Some(out.bytes.len() as u64) {
            return Err(OciError::NotABundle {
                url: self.url.clone(),
                reason: format!(
                    "its layer is {} bytes, but the manifest says {}",
                    out.bytes.len(),
                    layer.size
                ),
            });
        }
        Ok(Fetched::Body { bytes: out.bytes, etag: Some(digest) })
    }
}

/// The bundle's layer of a manifest, or why the manifest is not a writ bundle's.
fn bundle_layer(body: &[u8], max_bytes: u64) -> Result<OciDescriptor, String> {
    let manifest: OciImageManifest = serde_json::from_slice(body)
        .map_err(|e| format!("its manifest is not an OCI image manifest: {e}"))?;
    // The field is optional (the registry answered the one media type asked for).
    if let Some(media_type) = manifest.media_type.as_deref()
        && media_type != OCI_IMAGE_MEDIA_TYPE
    {
        return Err(format!(
            "its manifest's media type is `{media_type}`, not `{OCI_IMAGE_MEDIA_TYPE}`"
        ));
    }
    if let Some(artifact) = manifest.artifact_type.as_deref()
        && artifact != ARTIFACT_TYPE
    {
        return Err(format!("its artifact type is `{artifact}`, not `{ARTIFACT_TYPE}`"));
    }
    let [layer] = <[OciDescriptor; 1]>::try_from(manifest.layers).map_err(|layers| {
        format!("its manifest has {} layers, not one `{LAYER_MEDIA_TYPE}` layer", layers.len())
    })?;
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(format!(
            "its layer's media type is `{}`, not `{LAYER_MEDIA_TYPE}` (not a writ bundle)",
            layer.media_type
        ));
    }
    if u64::try_from(layer.size).map_or(true, |size| size > max_bytes) {
        return Err(format!(
            "its layer is {} bytes, over the limit of {max_bytes} bytes",
            layer.size
        ));
    }
    Ok(layer)
}

/// A buffer that refuses to grow past its limit (a registry may send more than it declared).
struct Capped {
    bytes: Vec<u8>,
    limit: u64,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.bytes.len() as u64 + buf.len() as u64 > this.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the layer is longer than the limit of {} bytes",
                this.limit
            ))));
        }
        this.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What `push` published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest's digest: `oci://HOST/REPOSITORY@DIGEST` names exactly this bundle.
    pub digest: String,
    /// The layer's (the bundle's) digest.
    pub layer_digest: String,
}

/// Publishes `bundle` (a bundle file's bytes) under `url` as a writ bundle artifact, with
/// `annotations` on its manifest. Runs on a runtime of its own (the CLI has none).
pub fn push(
    url: &str,
    bundle: &[u8],
    annotations: BTreeMap<String, String>,
    registry: &Registry,
    roots: &Roots,
    timeout: Duration,
) -> Result<Pushed, OciError> {
    let reference = parse(url)?;
    let (client, auth) = client(url, &reference, registry, roots, timeout)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            OciError::Push { url: url.to_string(), message: format!("no runtime: {e}") }
        })?;
    let failed = |e: oci_client::errors::OciDistributionError| OciError::Push {
        url: url.to_string(),
        message: crate::remote::describe(&e),
    };
    let layer = OciDescriptor {
        media_type: LAYER_MEDIA_TYPE.into(),
        digest: writ_evaluator::log::digest(bundle),
        size: i64::try_from(bundle.len()).unwrap_or(i64::MAX),
        ..OciDescriptor::default()
    };
    let config = OciDescriptor {
        media_type: EMPTY_CONFIG_MEDIA_TYPE.into(),
        digest: writ_evaluator::log::digest(EMPTY_CONFIG),
        size: EMPTY_CONFIG.len() as i64,
        ..OciDescriptor::default()
    };
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.into()),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: config.clone(),
        layers: vec![layer.clone()],
        subject: None,
        annotations: (!annotations.is_empty()).then_some(annotations),
    };
    let body = serde_json::to_vec(&manifest).map_err(|e| OciError::Push {
        url: url.to_string(),
        message: format!("cannot write the manifest: {e}"),
    })?;
    let digest = writ_evaluator::log::digest(&body);
    let exchange = async {
        client.store_auth_if_needed(reference.resolve_registry(), &auth).await;
        client.push_blob(&reference, bundle.to_vec(), &layer.digest).await.map_err(failed)?;
        client.push_blob(&reference, EMPTY_CONFIG, &config.digest).await.map_err(failed)?;
        let content_type = reqwest::header::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
        client.push_manifest_raw(&reference, body, content_type).await.map_err(failed)?;
        Ok::<_, OciError>(())
    };
    runtime
        .block_on(async { tokio::time::timeout(timeout, exchange).await })
        .map_err(|_| OciError::Timeout { url: url.to_string(), after: timeout })??;
    Ok(Pushed { digest, layer_digest: layer.digest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_registry_and_a_tag_or_digest() {
        let ok = parse("oci://registry.example:5000/team/policy:v3").unwrap();
        assert_eq!(
            (ok.registry(), ok.repository(), ok.tag()),
            ("registry.example:5000", "team/policy", Some("v3"))
        );
        let digest = format!("oci://127.0.0.1:5000/policy@sha256:{}", "a".repeat(64));
        assert!(parse(&digest).unwrap().digest().is_some());
        for (url, why) in [
            ("https://registry.example/policy:v1", "does not start with `oci://`"),
            ("oci://registry.example", "names no repository"),
            ("oci://team/policy:v1", "names no registry host"),
            ("oci://registry.example/policy", "names no tag or digest"),
            ("oci://registry.example/Policy:v1", "is not a bundle reference"),
        ] {
            let error = parse(url).unwrap_err().to_string();
            assert!(error.contains(why), "{url}: {error}");
        }
    }

    #[test]
    fn credentials_go_over_plain_http_only_to_loopback() {
        let registry = |host: &str| Registry {
            credentials: Some(Credentials { username: "u".into(), password: "p".into() }),
            insecure: vec![host.into()],
        };
        for host in ["127.0.0.1:5000", "localhost:5000", "127.0.0.2"] {
            let reference = parse(&format!("oci://{host}/policy:v1")).unwrap();
            assert!(
                client(
                    "u",
                    &reference,
                    &registry(host),
                    &Roots::platform(),
                    Duration::from_secs(1)
                )
                .is_ok()
            );
        }
        let reference = parse("oci://registry.example:5000/policy:v1").unwrap();
        let Err(error) = client(
            "oci://registry.example:5000/policy:v1",
            &reference,
            &registry("registry.example:5000"),
            &Roots::platform(),
            Duration::from_secs(1),
        ) else {
            panic!("credentials allowed over plain HTTP");
        };
        assert!(error.to_string().contains("not sent to `registry.example:5000`"), "{error}");
        assert!(!format!("{:?}", registry("h")).contains("\"p\""));
    }

    #[test]
    fn only_a_one_layer_writ_bundle_manifest_is_accepted() {
        let manifest = |media: &str, layers: &[(&str, i64)], artifact: Option<&str>| {
            serde_json::to_vec(&OciImageManifest {
                schema_version: 2,
                media_type: Some(media.into()),
                artifact_type: artifact.map(Into::into),
                config: OciDescriptor::default(),
                layers: layers
                    .iter()
                    .map(|(m, size)| OciDescriptor {
                        media_type: (*m).into(),
                        size: *size,
                        ..OciDescriptor::default()
                    })
                    .collect(),
                subject: None,
                annotations: None,
            })
            .unwrap()
        };
        let good = manifest(OCI_IMAGE_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, 10)], Some(ARTIFACT_TYPE));
        assert!(bundle_layer(&good, 10).is_ok());
        let cases = [
            (bundle_layer(&good, 9), "over the limit"),
            (
                bundle_layer(&manifest(OCI_IMAGE_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, -1)], None), 9),
                "over the limit",
            ),
            (
                bundle_layer(
                    &manifest(
                        OCI_IMAGE_MEDIA_TYPE,
                        &[("application/vnd.oci.image.layer.v1.tar", 1)],
                        None,
                    ),
                    9,
                ),
                "not a writ bundle",
            ),
            (
                bundle_layer(
                    &manifest(OCI_IMAGE_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, 1)], Some("x/y")),
                    9,
                ),
                "artifact type is `x/y`",
            ),
            (
                bundle_layer(
                    &manifest(
                        OCI_IMAGE_MEDIA_TYPE,
                        &[(LAYER_MEDIA_TYPE, 1), (LAYER_MEDIA_TYPE, 1)],
                        None,
                    ),
                    9,
                ),
                "has 2 layers",
            ),
            (
                bundle_layer(&manifest("application/json", &[(LAYER_MEDIA_TYPE, 1)], None), 9),
                "media type is",
            ),
            (bundle_layer(b"{}", 9), "not an OCI image manifest"),
        ];
        for (result, why) in cases {
            let error = result.unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }
}
