//! A minimal Kubernetes API client for one job: a node-scoped list + watch of Pods
//! (`fieldSelector=spec.nodeName=<node>`) with the in-cluster service account, feeding a
//! [`PodStore`]. Built on hyper/hyper-rustls; reads only the Pod fields in [`super::pod`].
//!
//! Owns the HTTP requests, the watch-stream framing and the relist/backoff loop. Does not
//! decide workload names (see [`super::pod`]) nor touch `/proc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use super::pod::{Pod, PodList};
use super::store::PodStore;

/// Standard in-cluster service-account directory.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Longest watch line accepted (one Pod object); longer ones end the watch with an error.
const MAX_LINE: usize = 8 << 20;
/// Server-side watch duration; the client reconnects from the last resource version.
const WATCH_SECS: u64 = 290;
/// Longest silence on an open watch before it is considered dead.
const IDLE: Duration = Duration::from_secs(WATCH_SECS + 40);
/// Timeout of a list request (connect to last byte).
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors talking to the API server. None carries the token.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Required environment or node name missing or malformed.
    #[error("kubernetes config: {0}")]
    Config(String),
    /// A service-account file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The CA bundle could not be used.
    #[error("kubernetes CA: {0}")]
    Tls(String),
    /// Connection or protocol failure.
    #[error("kubernetes API request: {0}")]
    Http(String),
    /// The API server answered with a non-success status.
    #[error("kubernetes API status {0}")]
    Status(u16),
    /// The resource version is too old (410 Gone): relist.
    #[error("watch resource version expired")]
    Gone,
    /// A response body was not the expected JSON.
    #[error("kubernetes API decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// No answer in time.
    #[error("kubernetes API timeout")]
    Timeout,
}

/// Where and as whom to reach the API server.
#[derive(Clone, Debug)]
pub struct KubeConfig {
    /// `https://host:port` (or `http://…` in tests).
    pub base_url: String,
    /// Bearer token file, re-read on every request (projected tokens rotate).
    pub token_file: Option<PathBuf>,
    /// CA bundle (PEM) for the API server; `None` uses the public web roots.
    pub ca_file: Option<PathBuf>,
    /// This node's name (the `spec.nodeName` field selector).
    pub node_name: String,
}

impl KubeConfig {
    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT`, the service-account
    /// token and CA, and `NODE_NAME` (downward API). `Ok(None)` when not in a cluster
    /// (no service host or no token file); an error when in one but `NODE_NAME` is unusable.
    pub fn in_cluster() -> Result<Option<KubeConfig>, KubeError> {
        let Ok(host) = std::env::var("KUBERNETES_SERVICE_HOST") else {
            return Ok(None);
        };
        let sa = Path::new(SERVICE_ACCOUNT_DIR);
        let token = sa.join("token");
        if !token.exists() {
            return Ok(None);
        }
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let node = std::env::var("NODE_NAME")
            .map_err(|_| KubeError::Config("NODE_NAME is not set (downward API)".into()))?;
        Ok(Some(KubeConfig {
            base_url: format!("https://{host}:{port}"),
            token_file: Some(token),
            ca_file: Some(sa.join("ca.crt")),
            node_name: node,
        }))
    }
}

/// One line of a watch stream.
#[derive(Debug, Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: serde_json::Value,
}

/// The client: a hyper connection pool plus the config.
pub struct KubeClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    cfg: KubeConfig,
    pods_path: String,
}

impl KubeClient {
    /// Build the client (loads the CA bundle once).
    pub fn new(cfg: KubeConfig) -> Result<KubeClient, KubeError> {
        let node_ok = !cfg.node_name.is_empty()
            && cfg
                .node_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !node_ok {
            return Err(KubeError::Config(format!(
                "invalid node name {:?}",
                cfg.node_name
            )));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match &cfg.ca_file {
            Some(ca) => builder.with_tls_config(tls_config(ca)?),
            None => builder.with_webpki_roots(),
        };
        let https = builder.https_or_http().enable_http1().wrap_connector(http);
        let pods_path = format!(
            "/api/v1/pods?fieldSelector=spec.nodeName%3D{}",
            cfg.node_name
        );
        Ok(KubeClient {
            client: Client::builder(TokioExecutor::new()).build(https),
            cfg,
            pods_path,
        })
    }

    async fn get(&self, path_and_query: &str) -> Result<Response<Incoming>, KubeError> {
        let uri: Uri = format!("{}{}", self.cfg.base_url, path_and_query)
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| KubeError::Config(e.to_string()))?;
        let mut req = Request::get(uri).header("accept", "application/json");
        if let Some(f) = &self.cfg.token_file {
            let t = std::fs::read_to_string(f).map_err(|source| KubeError::Io {
                path: f.clone(),
                source,
            })?;
            req = req.header("authorization", format!("Bearer {}", t.trim()));
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| KubeError::Http(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| KubeError::Http(e.to_string()))?;
        match resp.status() {
            s if s.is_success() => Ok(resp),
            StatusCode::GONE => Err(KubeError::Gone),
            s => Err(KubeError::Status(s.as_u16())),
        }
    }

    /// List this node's pods.
    pub async fn list_pods(&self) -> Result<PodList, KubeError> {
        let fut = async {
            let resp = self.get(&self.pods_path).await?;
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| KubeError::Http(e.to_string()))?
                .to_bytes();
            Ok(serde_json::from_slice::<PodList>(&body)?)
        };
        tokio::time::timeout(LIST_TIMEOUT, fut)
            .await
            .map_err(|_| KubeError::Timeout)?
    }

    /// Watch this node's pods from `resource_version`, applying each event to `store`.
    /// Returns the last resource version seen when the server ends the watch normally.
    pub async fn watch_pods(
        &self,
        resource_version: &str,
        store: &PodStore,
    ) -> Result<String, KubeError> {
        let mut rv = resource_version.to_string();
        let path = format!(
            "{}&watch=1&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECS}&resourceVersion={rv}",
            self.pods_path
        );
        let resp = tokio::time::timeout(LIST_TIMEOUT, self.get(&path))
            .await
            .map_err(|_| KubeError::Timeout)??;
        let mut body = resp.into_body();
        let mut buf = BytesMut::new();
        loop {
            let frame = match tokio::time::timeout(IDLE, body.frame()).await {
                Err(_) => return Err(KubeError::Timeout),
                Ok(None) => return Ok(rv),
                Ok(Some(f)) => f.map_err(|e| KubeError::Http(e.to_string()))?,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line = buf.split_to(pos + 1);
                if let Some(v) = apply_line(&line[..pos], store)? {
                    rv = v;
                }
            }
            if buf.len() > MAX_LINE {
                return Err(KubeError::Http("watch line exceeds 8 MiB".into()));
            }
        }
    }
}

/// Apply one watch line; returns the resource version it carried.
fn apply_line(line: &[u8], store: &PodStore) -> Result<Option<String>, KubeError> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    let ev: WatchEvent = serde_json::from_slice(line)?;
    if ev.kind == "ERROR" {
        let code = ev.object.get("code").and_then(serde_json::Value::as_u64);
        return Err(match code {
            Some(410) => KubeError::Gone,
            Some(c) => KubeError::Status(u16::try_from(c).unwrap_or(0)),
            None => KubeError::Http("watch error event".into()),
        });
    }
    let pod: Pod = serde_json::from_value(ev.object)?;
    let rv = pod.metadata.resource_version.clone();
    match ev.kind.as_str() {
        "ADDED" | "MODIFIED" => store.upsert(&pod),
        "DELETED" => store.remove(&pod.metadata.uid),
        _ => {} // BOOKMARK: only the resource version matters.
    }
    Ok(rv)
}

fn tls_config(ca: &Path) -> Result<rustls::ClientConfig, KubeError> {
    let pem = std::fs::read(ca).map_err(|source| KubeError::Io {
        path: ca.into(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| KubeError::Tls(e.to_string()))?;
        roots.add(cert).map_err(|e| KubeError::Tls(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(KubeError::Tls(format!(
            "no certificate in {}",
            ca.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| KubeError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// List, then watch until the store is dropped; relist on 410 or any error, with capped
/// exponential backoff and jitter. Logs carry the error, never the token or pod contents.
pub async fn run(client: KubeClient, store: Weak<PodStore>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let Some(s) = store.upgrade() else {
            return;
        };
        let result = match client.list_pods().await {
            Ok(list) => {
                s.replace_all(&list.items);
                tracing::info!(pods = list.items.len(), node = %client.cfg.node_name, "pod list synced");
                backoff = Duration::from_secs(1);
                let mut rv = list.metadata.resource_version.unwrap_or_default();
                loop {
                    let started = tokio::time::Instant::now();
                    match client.watch_pods(&rv, &s).await {
                        Ok(next) => rv = next,
                        Err(e) => break e,
                    }
                    // A server that ends watches at once must not make this a busy loop.
                    if started.elapsed() < Duration::from_secs(1) {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    if Arc::strong_count(&s) == 1 {
                        return; // Only this task holds the store: the attributor is gone.
                    }
                }
            }
            Err(e) => e,
        };
        drop(s);
        if matches!(result, KubeError::Gone) {
            tracing::debug!("pod watch expired; relisting");
            continue;
        }
        tracing::warn!(error = %result, retry_in_ms = backoff.as_millis() as u64, "pod watch failed");
        let jitter = Duration::from_millis(fastrand::u64(0..=backoff.as_millis() as u64 / 2));
        tokio::time::sleep(backoff + jitter).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_lines_apply_and_errors_map() {
        let store = PodStore::new(8);
        let add = br#"{"type":"ADDED","object":{"metadata":{"name":"p","namespace":"n","uid":"u1","resourceVersion":"5"}}}"#;
        assert_eq!(apply_line(add, &store).ok().flatten().as_deref(), Some("5"));
        assert!(store.get("u1").is_some());
        let bm = br#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}"#;
        assert_eq!(apply_line(bm, &store).ok().flatten().as_deref(), Some("9"));
        let del =
            br#"{"type":"DELETED","object":{"metadata":{"uid":"u1","resourceVersion":"10"}}}"#;
        assert!(apply_line(del, &store).is_ok());
        assert!(store.get("u1").is_none());
        let gone = br#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#;
        assert!(matches!(apply_line(gone, &store), Err(KubeError::Gone)));
        assert!(apply_line(b"not json", &store).is_err());
        assert!(apply_line(b"  ", &store).is_ok());
    }

    #[test]
    fn unusable_ca_bundles_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            tls_config(&dir.path().join("missing.crt")),
            Err(KubeError::Io { .. })
        ));
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        assert!(matches!(tls_config(&empty), Err(KubeError::Tls(_))));
    }

    #[test]
    fn bad_node_name_is_refused() {
        let cfg = KubeConfig {
            base_url: "http://127.0.0.1:1".into(),
            token_file: None,
            ca_file: None,
            node_name: "bad name&x=1".into(),
        };
        assert!(matches!(KubeClient::new(cfg), Err(KubeError::Config(_))));
    }
}
