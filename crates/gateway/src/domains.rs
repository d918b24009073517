//! TLS by domain: the server config a handshake gets is chosen from the client's SNI before
//! the handshake goes on, so each custom domain has its own protocol versions and its own
//! client-certificate verifier (mutual TLS with its trust store and CRLs), while certificates
//! still come from the one [`CertStore`]. Rebuilt on reload; connections keep the config they
//! started with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use model::{DomainConfig, MutualTlsMode, SecurityPolicy};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

use crate::tls::{CertStore, TlsError};

/// One way to accept a handshake: a server config, and the custom domain it belongs to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The rustls config.
    pub config: Arc<ServerConfig>,
    /// The custom domain's name as configured, or `None` for the default endpoint.
    pub domain: Option<Arc<str>>,
    /// `Strict-Transport-Security` for this domain, when it sets its own.
    pub hsts: Option<Option<http::HeaderValue>>,
}

/// Endpoints by SNI name.
#[derive(Debug)]
pub struct TlsSelector {
    current: ArcSwap<Endpoints>,
    /// ACME TLS-ALPN-01 validations in progress.
    challenges: Arc<crate::certificates::Challenges>,
    /// Modification times of the trust stores and CRLs in use, to notice edits.
    stamps: parking_lot::Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
}

#[derive(Debug, Default)]
struct Endpoints {
    exact: HashMap<String, Endpoint>,
    wildcard: HashMap<String, Endpoint>,
    default: Option<Endpoint>,
}

// === impl TlsSelector ===

impl TlsSelector {
    /// A selector that gives every handshake `config` (the admin listener).
    pub fn single(config: Arc<ServerConfig>) -> Self {
        let default = Some(Endpoint { config, domain: None, hsts: None });
        Self {
            current: ArcSwap::from_pointee(Endpoints { default, ..Endpoints::default() }),
            challenges: Arc::default(),
            stamps: parking_lot::Mutex::default(),
        }
    }

    /// The endpoints of `config`'s domains and its default endpoint, certificates from `certs`;
    /// ACME validation handshakes are answered from `challenges`.
    pub fn build(
        config: &model::Config,
        certs: &Arc<CertStore>,
        challenges: Arc<crate::certificates::Challenges>,
    ) -> Result<Self, TlsError> {
        let current = ArcSwap::from_pointee(endpoints(config, certs)?);
        Ok(Self { current, challenges, stamps: parking_lot::Mutex::new(stamps(config)) })
    }

    /// Rebuilds the endpoints if a trust store or CRL file changed on disk (a CA added, a
    /// certificate revoked): `Ok(true)` when it did. On error the old endpoints serve.
    pub fn reload_if_changed(&self, config: &model::Config, certs: &Arc<CertStore>) -> Result<bool, TlsError> {
        let now = stamps(config);
        if *self.stamps.lock() == now {
            return Ok(false);
        }
        // Remember the new times even on failure, so a broken file is reported once.
        *self.stamps.lock() = now;
        self.current.store(Arc::new(endpoints(config, certs)?));
        Ok(true)
    }

    /// The config for an ACME TLS-ALPN-01 validation: a handshake that offers only
    /// `acme-tls/1` for a name whose order is under way.
    pub(crate) fn acme_validation(&self, hello: &rustls::server::ClientHello<'_>) -> Option<Arc<ServerConfig>> {
        let mut alpn = hello.alpn()?;
        if alpn.next()? != crate::certificates::ACME_TLS_ALPN || alpn.next().is_some() {
            return None;
        }
        self.challenges.tls_alpn01(hello.server_name()?)
    }

    /// Rebuilds from a new config (trust stores and CRLs are read again). On error nothing
    /// changes.
    pub fn replace(&self, config: &model::Config, certs: &Arc<CertStore>) -> Result<(), TlsError> {
        self.current.store(Arc::new(endpoints(config, certs)?));
        *self.stamps.lock() = stamps(config);
        Ok(())
    }

    /// The endpoint for a handshake naming `sni`; `None` refuses it.
    pub fn select(&self, sni: Option<&str>) -> Option<Endpoint> {
        let e = self.current.load();
        let Some(name) = sni.map(str::to_ascii_lowercase) else { return e.default.clone() };
        let by_wildcard = || name.split_once('.').and_then(|(_, parent)| e.wildcard.get(parent));
        e.exact.get(&name).or_else(by_wildcard).or(e.default.as_ref()).cloned()
    }

    /// The custom domain a `Host` (port removed) names, if any: requests must arrive on a
    /// connection made for the same one.
    pub fn domain_of_host(&self, host: &str) -> Option<Arc<str>> {
        let e = self.current.load();
        if e.exact.is_empty() && e.wildcard.is_empty() {
            return None;
        }
        let name = host.to_ascii_lowercase();
        let by_wildcard = || name.split_once('.').and_then(|(_, parent)| e.wildcard.get(parent));
        e.exact.get(&name).or_else(by_wildcard).and_then(|ep| ep.domain.clone())
    }

    /// Whether any custom domain is configured.
    pub fn has_domains(&self) -> bool {
        let e = self.current.load();
        !(e.exact.is_empty() && e.wildcard.is_empty())
    }
}

fn endpoints(config: &model::Config, certs: &Arc<CertStore>) -> Result<Endpoints, TlsError> {
    let mut out = Endpoints::default();
    if config.tls.default_endpoint {
        let cfg = certs.server_config_with(SecurityPolicy::Tls12, None)?;
        out.default = Some(Endpoint { config: cfg, domain: None, hsts: None });
    }
    for d in &config.domains {
        let verifier = match &d.mutual_tls {
            Some(m) => Some(client_verifier(&m.truststore, &m.crls, m.mode)?),
            None => None,
        };
        let config = certs.server_config_with(d.security_policy, verifier)?;
        let hsts = d.hsts.as_ref().map(|h| h.header_value().and_then(|v| http::HeaderValue::from_str(&v).ok()));
        let endpoint = Endpoint { config, domain: Some(Arc::from(d.name.as_str())), hsts };
        insert(&mut out, d, endpoint);
    }
    Ok(out)
}

/// The trust-store and CRL files of `config` with their modification times.
fn stamps(config: &model::Config) -> Vec<(PathBuf, Option<SystemTime>)> {
    let files =
        config.domains.iter().filter_map(|d| d.mutual_tls.as_ref()).flat_map(|m| m.truststore.iter().chain(&m.crls));
    files.map(|p| (p.clone(), std::fs::metadata(p).and_then(|m| m.modified()).ok())).collect()
}

fn insert(out: &mut Endpoints, d: &DomainConfig, endpoint: Endpoint) {
    let name = d.name.to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(parent) => out.wildcard.insert(parent.to_owned(), endpoint),
        None => out.exact.insert(name, endpoint),
    };
}

/// A verifier for client certificates chaining to any certificate in `truststore`, refusing
/// those the CRLs revoke; `optional` lets clients without a certificate through.
fn client_verifier(
    truststore: &[std::path::PathBuf],
    crls: &[std::path::PathBuf],
    mode: MutualTlsMode,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let bad = |path: &Path, reason: String| TlsError::File { path: path.to_owned(), reason };
    let mut roots = rustls::RootCertStore::empty();
    for path in truststore {
        let mut found = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(path, format!("cannot read: {e}")))? {
            let cert = cert.map_err(|e| bad(path, format!("malformed PEM: {e}")))?;
            roots.add(cert).map_err(|e| bad(path, format!("not a usable CA certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(bad(path, "no CERTIFICATE block".into()));
        }
    }
    let mut lists = Vec::new();
    for path in crls {
        for crl in
            CertificateRevocationListDer::pem_file_iter(path).map_err(|e| bad(path, format!("cannot read: {e}")))?
        {
            lists.push(crl.map_err(|e| bad(path, format!("malformed PEM: {e}")))?);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Revocation is checked for the client's own certificate, against a CRL of its issuer; when
    // CRLs are given, a certificate whose issuer has none is refused (its status is unknown).
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(lists)
        .only_check_end_entity_revocation();
    let builder = match mode {
        MutualTlsMode::Required => builder,
        MutualTlsMode::Optional => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|e| TlsError::File {
        path: truststore.first().cloned().unwrap_or_default(),
        reason: format!("cannot build the client-certificate verifier: {e}"),
    })
}
