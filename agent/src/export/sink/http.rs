//! The `http(s)://` and `otlp+http(s)://` sinks: one POST per batch (NDJSON or OTLP protobuf),
//! optionally gzipped, with an optional secret auth header. One attempt per call; the status
//! is mapped by `delivery::retry::classify_status`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{AuthHeader, SinkError, otlp};
use crate::export::config::HttpSinkConfig;
use crate::export::delivery::retry::{classify_status, parse_retry_after};
use crate::export::delivery::{SendError, SendFuture, Transport};
use crate::export::event::EncodedEvent;

/// Response bodies are read (for connection reuse) up to this size, then discarded.
const MAX_RESPONSE_BODY: usize = 64 << 10;

/// What the request body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// Concatenated NDJSON lines, `application/x-ndjson`.
    Ndjson,
    /// OTLP `ExportLogsServiceRequest`, `application/x-protobuf`.
    Otlp,
}

/// An HTTP POST sink.
pub struct HttpSink {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    auth: Option<AuthHeader>,
    gzip: bool,
    timeout: Duration,
    body: Body,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("host", &self.uri.authority().map(|a| a.as_str()))
            .field("auth", &self.auth)
            .field("gzip", &self.gzip)
            .field("body", &self.body)
            .finish()
    }
}

impl HttpSink {
    /// Build the client and load the auth value (once, at start).
    pub fn new(uri: Uri, cfg: &HttpSinkConfig, body: Body) -> Result<Self, SinkError> {
        let timeout = Duration::from_millis(cfg.request_timeout_ms);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpSink {
            client: Client::builder(TokioExecutor::new()).build(https),
            uri,
            auth: AuthHeader::load(cfg)?,
            gzip: cfg.gzip,
            timeout,
            body,
        })
    }

    fn encode(&self, batch: &[EncodedEvent]) -> Result<(Vec<u8>, &'static str), SendError> {
        let (raw, ctype) = match self.body {
            Body::Ndjson => {
                let mut v = Vec::with_capacity(batch.iter().map(EncodedEvent::size).sum());
                for ev in batch {
                    v.extend_from_slice(&ev.line);
                }
                (v, "application/x-ndjson")
            }
            Body::Otlp => (
                otlp::encode(batch, SystemTime::now()),
                "application/x-protobuf",
            ),
        };
        if !self.gzip {
            return Ok((raw, ctype));
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
        gz.write_all(&raw)
            .and_then(|()| gz.finish())
            .map(|v| (v, ctype))
            .map_err(|e| SendError::Permanent {
                reason: format!("gzip: {}", e.kind()),
            })
    }

    async fn post(&self, batch: &[EncodedEvent]) -> Result<(), SendError> {
        let (body, ctype) = self.encode(batch)?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, ctype)
            .header(USER_AGENT, concat!("llmtap/", env!("CARGO_PKG_VERSION")));
        if self.gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(a) = &self.auth {
            req = req.header(a.name.clone(), a.value.clone());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| SendError::Permanent {
                reason: "cannot build request".into(),
            })?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| SendError::Retryable {
                reason: if e.is_connect() {
                    "connect failed".into()
                } else {
                    "request failed".into()
                },
                retry_after: None,
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Read (bounded) and discard the body so the connection can be reused.
        let _ = Limited::new(resp.into_body(), MAX_RESPONSE_BODY)
            .collect()
            .await;
        classify_status(status, retry_after)
    }
}

impl Transport for HttpSink {
    fn kind(&self) -> &'static str {
        match self.body {
            Body::Ndjson => "http",
            Body::Otlp => "otlp",
        }
    }

    fn send<'a>(&'a self, batch: &'a [EncodedEvent]) -> SendFuture<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.post(batch)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Retryable {
                    reason: "request timed out".into(),
                    retry_after: None,
                }),
            }
        })
    }
}
