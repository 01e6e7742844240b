//! A throw-away self-signed certificate for `localhost` / `127.0.0.1`, and rustls configs.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server identity plus its certificate in PEM, for clients that want a CA file.
pub struct Identity {
    /// rustls server config with ALPN as given.
    pub config: Arc<rustls::ServerConfig>,
    /// Certificate PEM.
    pub cert_pem: String,
}

/// Make a fresh identity; `alpn` lists protocols to offer (e.g. `[b"h2", b"http/1.1"]`).
pub fn identity(alpn: &[&[u8]]) -> anyhow::Result<Identity> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    let cert_pem = certified.cert.pem();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Identity {
        config: Arc::new(config),
        cert_pem,
    })
}
