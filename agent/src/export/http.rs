//! The metrics HTTP server: `/metrics` (Prometheus text), `/healthz` (process alive) and
//! `/readyz` (a readiness closure). HTTP/1 only, GET/HEAD only. Owns serving; does not own
//! metric values or the readiness decision.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::metrics::ExportMetrics;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be bound.
    #[error(
        "cannot listen for metrics on {addr}: {source} (is another process using it? set --metrics-addr)"
    )]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Decides `/readyz`.
pub type Readiness = Arc<dyn Fn() -> bool + Send + Sync>;

/// A running server.
pub struct MetricsServer {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Stop accepting and drop open connections.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn text(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ctype));
    r
}

/// Route one request.
fn route(
    req: &Request<Incoming>,
    metrics: &ExportMetrics,
    ready: &Readiness,
) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "method not allowed\n",
        );
    }
    match req.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n"),
        "/readyz" if ready() => text(StatusCode::OK, PLAIN, "ready\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "not ready\n"),
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n"),
    }
}

/// Bind `addr` now (so errors surface at start) and serve in the background.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<ExportMetrics>,
    ready: Readiness,
) -> Result<MetricsServer, HttpError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| HttpError::Bind { addr, source })?;
    tracing::info!(addr = %local_addr, "metrics server listening");
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "metrics accept failed");
                    continue;
                }
            };
            let metrics = Arc::clone(&metrics);
            let ready = Arc::clone(&ready);
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let resp = route(&req, &metrics, &ready);
                    async move { Ok::<_, Infallible>(resp) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    tracing::debug!(error = %e, "metrics connection ended with error");
                }
            });
        }
    });
    Ok(MetricsServer { local_addr, task })
}
