//! Server certificates: loading PEM files, choosing one by SNI, reloading them when the files
//! change, and the development certificate for `localhost` made when none is configured.
//! TLS itself is rustls with TLS 1.2 and 1.3 only; every suite rustls offers is an AEAD with
//! forward secrecy, so no weak suite can be switched on.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use model::CertificateConfig;
use parking_lot::Mutex;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM object of the right kind.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A certificate given as text (an import, an ACME issuance) is unusable.
    #[error("certificate for {name}: {reason}")]
    Certificate {
        /// The name it was for.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The development certificate could not be made.
    #[error("cannot create the development certificate: {0}")]
    DevCert(String),
    /// rustls refused the settings.
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The development certificate, when one is in use.
#[derive(Debug, Clone)]
pub struct DevCert {
    /// Its PEM file (give it to clients as a trust root).
    pub cert_path: PathBuf,
    /// SHA-256 fingerprint, colon-separated hex.
    pub fingerprint: String,
    /// Whether it was made on this start.
    pub created: bool,
}

/// The certificates in use, swappable while serving.
pub struct CertStore {
    set: ArcSwap<CertSet>,
    sources: Mutex<Vec<Source>>,
    /// Certificates obtained at run time (ACME), by exact name; they win over files.
    installed: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    /// Copies of certificates in service with an OCSP response attached, by leaf DER.
    stapled: ArcSwap<HashMap<Vec<u8>, Arc<CertifiedKey>>>,
}

struct CertSet {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
    /// What each file certificate is, for the inventory.
    files: Vec<CertInfo>,
}

/// A certificate in service, as the inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The names it answers for, comma-separated.
    pub name: String,
    /// `file` or `development`.
    pub source: &'static str,
    /// The leaf's issuer DN.
    pub issuer: String,
    /// The leaf's expiry, milliseconds since the epoch.
    pub not_after_ms: i64,
}

#[derive(Clone)]
struct Source {
    cfg: CertificateConfig,
    stamps: [Option<SystemTime>; 2],
}

// === impl CertStore ===

impl CertStore {
    /// Loads `certs`, or the development certificate in `data_dir` when `certs` is empty.
    pub fn load(certs: &[CertificateConfig], data_dir: &Path) -> Result<(Self, Option<DevCert>), TlsError> {
        let (sources, dev) = sources_for(certs, data_dir)?;
        let set = build_set(&sources)?;
        let (installed, stapled) = (ArcSwap::from_pointee(HashMap::new()), ArcSwap::from_pointee(HashMap::new()));
        Ok((Self { set: ArcSwap::from_pointee(set), sources: Mutex::new(sources), installed, stapled }, dev))
    }

    /// Replaces the certificates with those of a new config. On error nothing changes.
    pub fn replace(&self, certs: &[CertificateConfig], data_dir: &Path) -> Result<Option<DevCert>, TlsError> {
        let (sources, dev) = sources_for(certs, data_dir)?;
        let set = build_set(&sources)?;
        self.set.store(Arc::new(set));
        *self.sources.lock() = sources;
        Ok(dev)
    }

    /// Installs (or replaces) the certificate for `name` from PEM text: new handshakes use it at
    /// once; open connections keep theirs.
    pub fn install(&self, name: &str, chain_pem: &str, key_pem: &str) -> Result<(), TlsError> {
        let bad = |reason: String| TlsError::Certificate { name: name.to_owned(), reason };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("malformed certificate PEM: {e}")))?;
        if chain.is_empty() {
            return Err(bad("no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad(format!("no private key: {e}")))?;
        let signer = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| bad(format!("unusable private key: {e}")))?;
        let certified = Arc::new(CertifiedKey::new(chain, signer));
        if let Err(rustls::Error::InconsistentKeys(_)) = certified.keys_match() {
            return Err(bad("the private key does not belong to the certificate".into()));
        }
        let name = name.to_ascii_lowercase();
        if self.installed.load().get(&name).is_some_and(|k| k.cert == certified.cert) {
            return Ok(());
        }
        let mut map = HashMap::clone(&self.installed.load());
        map.insert(name, certified);
        self.installed.store(Arc::new(map));
        Ok(())
    }

    /// Stops serving the installed certificate for `name`.
    pub fn uninstall(&self, name: &str) {
        let names: Vec<String> =
            self.installed.load().keys().filter(|k| !k.eq_ignore_ascii_case(name)).cloned().collect();
        self.retain_installed(&names);
    }

    /// Removes installed certificates whose names are not in `names` (deleted from the store).
    pub fn retain_installed(&self, names: &[String]) {
        let current = self.installed.load();
        if current.keys().all(|k| names.contains(k)) {
            return;
        }
        let map = current.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        self.installed.store(Arc::new(map));
    }

    /// Every certificate chain in service (files and installed).
    pub(crate) fn in_service(&self) -> Vec<Arc<CertifiedKey>> {
        let set = self.set.load();
        let mut all: Vec<Arc<CertifiedKey>> = set.exact.values().chain(set.wildcard.values()).cloned().collect();
        all.push(set.default.clone());
        all.extend(self.installed.load().values().cloned());
        all.sort_by_key(|k| Arc::as_ptr(k) as usize);
        all.dedup_by(|a, b| Arc::ptr_eq(a, b));
        all
    }

    /// Sends `response` with every handshake that presents the chain of `key`; `None` stops.
    pub(crate) fn staple(&self, key: &CertifiedKey, response: Option<Vec<u8>>) {
        let Some(leaf) = key.cert.first() else { return };
        let mut map = HashMap::clone(&self.stapled.load());
        match response {
            Some(r) => {
                let stapled = CertifiedKey { cert: key.cert.clone(), key: key.key.clone(), ocsp: Some(r) };
                map.insert(leaf.as_ref().to_vec(), Arc::new(stapled));
            }
            None => {
                map.remove(leaf.as_ref());
            }
        }
        self.stapled.store(Arc::new(map));
    }

    /// The certificates loaded from files (the store's are listed by the store).
    pub fn inventory(&self) -> Vec<CertInfo> {
        self.set.load().files.clone()
    }

    /// Reloads the files if any changed on disk. `Ok(true)` when something was reloaded; on
    /// error the old certificates stay.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let mut sources = self.sources.lock().clone();
        let mut changed = false;
        for s in &mut sources {
            let now = stamps(&s.cfg);
            if now != s.stamps {
                s.stamps = now;
                changed = true;
            }
        }
        if !changed {
            return Ok(false);
        }
        let set = build_set(&sources);
        // Remember the new stamps even on failure, so a broken file is reported once.
        *self.sources.lock() = sources;
        self.set.store(Arc::new(set?));
        Ok(true)
    }

    /// A rustls server config that resolves certificates from this store (TLS 1.2 and 1.3,
    /// no client certificates).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        self.server_config_with(model::SecurityPolicy::Tls12, None)
    }

    /// A rustls server config with `policy`'s protocol versions and, for mutual TLS, a
    /// client-certificate verifier.
    pub fn server_config_with(
        self: &Arc<Self>,
        policy: model::SecurityPolicy,
        clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match policy {
            model::SecurityPolicy::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            model::SecurityPolicy::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = ServerConfig::builder_with_provider(provider).with_protocol_versions(versions)?;
        let builder = match clients {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder.with_cert_resolver(Arc::new(Resolver(self.clone())));
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.set.load();
        f.debug_struct("CertStore")
            .field("names", &set.exact.keys().chain(set.wildcard.keys()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Resolver(Arc<CertStore>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = self.choose(&hello)?;
        let stapled = self.0.stapled.load();
        if stapled.is_empty() {
            return Some(chosen);
        }
        let leaf = chosen.cert.first()?.as_ref();
        Some(stapled.get(leaf).cloned().unwrap_or(chosen))
    }
}

impl Resolver {
    fn choose(&self, hello: &ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.0.set.load();
        let Some(name) = hello.server_name() else { return Some(set.default.clone()) };
        let name = name.to_ascii_lowercase();
        let installed = self.0.installed.load();
        let wildcard = || name.split_once('.').and_then(|(_, parent)| installed.get(&format!("*.{parent}")));
        if let Some(k) = installed.get(&name).or_else(wildcard) {
            return Some(k.clone());
        }
        let by_wildcard = || name.split_once('.').and_then(|(_, parent)| set.wildcard.get(parent));
        Some(set.exact.get(&name).or_else(by_wildcard).unwrap_or(&set.default).clone())
    }
}

fn sources_for(certs: &[CertificateConfig], data_dir: &Path) -> Result<(Vec<Source>, Option<DevCert>), TlsError> {
    let (cfgs, dev) = if certs.is_empty() {
        let (cfg, dev) = dev_cert(data_dir)?;
        (vec![cfg], Some(dev))
    } else {
        (certs.to_vec(), None)
    };
    Ok((cfgs.into_iter().map(|cfg| Source { stamps: stamps(&cfg), cfg }).collect(), dev))
}

fn stamps(cfg: &CertificateConfig) -> [Option<SystemTime>; 2] {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [m(&cfg.cert), m(&cfg.key)]
}

fn build_set(sources: &[Source]) -> Result<CertSet, TlsError> {
    let mut exact = HashMap::new();
    let mut wildcard = HashMap::new();
    let mut default = None;
    let mut files = Vec::new();
    for s in sources {
        let (key, names) = load_pair(&s.cfg)?;
        if let Some((issuer, not_after_ms)) = key.end_entity_cert().ok().and_then(crate::client_cert::issuer_and_expiry)
        {
            let dev = s.cfg.cert.file_name().is_some_and(|f| f == "dev-cert.pem");
            let source = if dev { "development" } else { "file" };
            files.push(CertInfo { name: names.join(","), source, issuer, not_after_ms });
        }
        for name in names {
            match name.strip_prefix("*.") {
                Some(parent) => wildcard.entry(parent.to_owned()).or_insert_with(|| key.clone()),
                None => exact.entry(name).or_insert_with(|| key.clone()),
            };
        }
        default.get_or_insert(key);
    }
    let default = default.ok_or_else(|| TlsError::File { path: PathBuf::new(), reason: "no certificate".into() })?;
    Ok(CertSet { exact, wildcard, default, files })
}

fn load_pair(cfg: &CertificateConfig) -> Result<(Arc<CertifiedKey>, Vec<String>), TlsError> {
    let bad = |path: &Path, reason: String| TlsError::File { path: path.to_owned(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
        .map_err(|e| bad(&cfg.cert, format!("cannot read certificates: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&cfg.cert, format!("malformed PEM: {e}")))?;
    let leaf = chain.first().ok_or_else(|| bad(&cfg.cert, "no CERTIFICATE block".into()))?;
    let key =
        PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| bad(&cfg.key, format!("cannot read a private key: {e}")))?;
    let signer = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad(&cfg.key, format!("unusable private key: {e}")))?;
    let names = if cfg.server_names.is_empty() {
        let ee = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| bad(&cfg.cert, format!("unparsable certificate: {e:?}")))?;
        ee.valid_dns_names().map(str::to_ascii_lowercase).collect()
    } else {
        cfg.server_names.iter().map(|n| n.to_ascii_lowercase()).collect()
    };
    let certified = CertifiedKey::new(chain, signer);
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) = certified.keys_match() {
        return Err(bad(&cfg.key, format!("this key does not belong to the certificate in {}", cfg.cert.display())));
    }
    Ok((Arc::new(certified), names))
}

/// Finds or makes the development certificate in `data_dir`.
fn dev_cert(data_dir: &Path) -> Result<(CertificateConfig, DevCert), TlsError> {
    let cert = data_dir.join("dev-cert.pem");
    let key = data_dir.join("dev-key.pem");
    let created = !(cert.exists() && key.exists());
    if created {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
            .map_err(|e| TlsError::DevCert(e.to_string()))?;
        std::fs::create_dir_all(data_dir).map_err(|e| TlsError::DevCert(format!("{}: {e}", data_dir.display())))?;
        write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, made.cert.pem()).map_err(|e| TlsError::DevCert(format!("{}: {e}", cert.display())))?;
    }
    let der =
        CertificateDer::from_pem_file(&cert).map_err(|e| TlsError::DevCert(format!("{}: {e}", cert.display())))?;
    let fingerprint = Sha256::digest(der.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    let cfg = CertificateConfig { cert: cert.clone(), key, server_names: vec!["localhost".into()] };
    Ok((cfg, DevCert { cert_path: cert, fingerprint, created }))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| TlsError::DevCert(format!("{}: {e}", path.display())))?;
    f.write_all(bytes).map_err(|e| TlsError::DevCert(format!("{}: {e}", path.display())))
}
