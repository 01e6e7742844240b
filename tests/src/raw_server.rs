//! A minimal HTTP/1.1 server over TLS that records, per connection, the exact plaintext it
//! received and sent. Tests compare those bytes with what the agent captured.
//!
//! Each request is answered with `200`, a fixed-size body derived from the request, and
//! `Connection: close`, unless the request asks for keep-alive with `x-keep-alive: 1`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

/// What one connection carried, in plaintext.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Bytes the server read (the client's requests).
    pub received: Vec<u8>,
    /// Bytes the server wrote (the responses).
    pub sent: Vec<u8>,
}

/// A running server.
pub struct RawServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every finished connection, in completion order.
    pub connections: Arc<Mutex<Vec<Recorded>>>,
    /// The certificate, in PEM.
    pub cert_pem: String,
}

/// The response body the server sends for a request body of `len` bytes.
pub fn response_body(len: usize) -> Vec<u8> {
    format!("{{\"ok\":true,\"received\":{len},\"note\":\"llmtap test server\"}}").into_bytes()
}

impl RawServer {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> anyhow::Result<RawServer> {
        let id = crate::tls::identity(&[b"http/1.1"])?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(Mutex::new(Vec::new()));
        let acceptor = TlsAcceptor::from(id.config);
        let conns = connections.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let conns = conns.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let rec = serve(tls).await;
                        if let Ok(mut c) = conns.lock() {
                            c.push(rec);
                        }
                    }
                });
            }
        });
        Ok(RawServer {
            addr,
            connections,
            cert_pem: id.cert_pem,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Wait until `n` connections have finished (or the timeout passes) and return them all.
    pub async fn wait_connections(&self, n: usize, timeout: std::time::Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self
                .connections
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

async fn serve(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Recorded {
    let mut rec = Recorded::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        // Read one request: headers, then Content-Length bytes of body.
        let (head_end, body_len, keep_alive) = loop {
            if let Some(pos) = find(&pending, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..pos]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0usize);
                let keep = head.lines().any(|l| l.trim() == "x-keep-alive: 1");
                break (pos + 4, len, keep);
            }
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return rec,
                Ok(n) => {
                    rec.received.extend_from_slice(&buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                }
            }
        };
        while pending.len() < head_end + body_len {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return rec,
                Ok(n) => {
                    rec.received.extend_from_slice(&buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                }
            }
        }
        pending.drain(..head_end + body_len);
        let body = response_body(body_len);
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {}\r\n\r\n",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        )
        .into_bytes();
        resp.extend_from_slice(&body);
        if tls.write_all(&resp).await.is_err() || tls.flush().await.is_err() {
            return rec;
        }
        rec.sent.extend_from_slice(&resp);
        if !keep_alive {
            let _ = tls.shutdown().await;
            // Let the client read our close_notify and finish its own reads.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), tls.read(&mut buf)).await;
            return rec;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
