//! Pooled HTTP(S) clients for upstream calls: one per (connect timeout, trust roots) in use.
//! Clients are carried over from the previous runtime on reload so pools stay warm.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::body::ReqBody;

/// An upstream client.
pub(crate) type UpstreamClient = Client<HttpsConnector<HttpConnector>, ReqBody>;

/// What tells two clients apart.
pub(crate) type ClientKey = (Duration, Option<PathBuf>);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A `ca_file` could not be read.
    #[error("ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the settings.
    #[error("upstream TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// A JWT authorizer's provider cannot be reached as configured (its `ca_file`).
    #[error("JWT authorizer: {0}")]
    Provider(String),
}

/// Clients by key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clients {
    by_key: HashMap<ClientKey, UpstreamClient>,
}

// === impl Clients ===

impl Clients {
    /// Clients for every key in `keys`, reusing those of `previous` (a changed `ca_file` is
    /// read again, since its contents may have changed).
    pub(crate) fn build(keys: impl Iterator<Item = ClientKey>, previous: Option<&Self>) -> Result<Self, ClientError> {
        let mut by_key = HashMap::new();
        for key in keys {
            if by_key.contains_key(&key) {
                continue;
            }
            let reused = previous.filter(|_| key.1.is_none()).and_then(|p| p.by_key.get(&key)).cloned();
            let client = match reused {
                Some(c) => c,
                None => new_client(key.0, key.1.as_deref())?,
            };
            by_key.insert(key, client);
        }
        Ok(Self { by_key })
    }

    /// The client for `key`.
    pub(crate) fn get(&self, key: &ClientKey) -> Option<&UpstreamClient> {
        self.by_key.get(key)
    }
}

pub(crate) fn new_client(connect_timeout: Duration, ca_file: Option<&Path>) -> Result<UpstreamClient, ClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match ca_file {
        None => builder.with_provider_and_webpki_roots(provider)?,
        Some(path) => {
            let bad = |reason: String| ClientError::CaFile { path: path.to_owned(), reason };
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
                roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("no CERTIFICATE block".into()));
            }
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder.with_tls_config(tls)
        }
    };
    let connector = builder.https_or_http().enable_http1().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector))
}
