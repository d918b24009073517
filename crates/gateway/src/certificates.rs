//! Certificates kept in the store: imported through the admin API, or obtained from an ACME CA
//! (RFC 8555) for the custom domains that ask for one — ordered at start when the store has
//! none (or one due for renewal), renewed when a third of the lifetime remains, retried with
//! back-off. Every node installs what the store holds into its [`CertStore`] without a restart,
//! and checks again every minute, so an import or a renewal made by one node reaches the
//! others. HTTP-01 tokens are answered by the plain-HTTP listener from [`Challenges`].
//!
//! One node at a time orders for a name (a lease in the store). Private keys and the ACME
//! account are sealed by the KMS.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use parking_lot::RwLock;
use sha2::{Digest as _, Sha256};
use store::{AnyStore, CertificateSource, Store as _, StoredCertificate};
use tokio::sync::watch;

use crate::tls::CertStore;

/// Challenge answers in progress: HTTP-01 token → key authorization, and TLS-ALPN-01 domain →
/// the server config that presents its validation certificate.
#[derive(Debug, Default)]
pub struct Challenges {
    http01: RwLock<HashMap<String, String>>,
    /// The ACME account's key thumbprint, once known: any node then answers any HTTP-01 token
    /// for that account ("stateless" HTTP-01), so in a cluster the node the CA reaches need
    /// not be the one that ordered.
    thumbprint: RwLock<Option<String>>,
    tls_alpn01: RwLock<HashMap<String, Arc<rustls::ServerConfig>>>,
}

/// The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737).
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

// === impl Challenges ===

impl Challenges {
    /// The key authorization for an HTTP-01 `token`, while its order is under way.
    pub fn http01(&self, token: &str) -> Option<String> {
        if let Some(answer) = self.http01.read().get(token) {
            return Some(answer.clone());
        }
        // A token is base64url (RFC 8555 §8.1); anything else is not a challenge.
        let token_ok = !token.is_empty()
            && token.len() <= 256
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let thumbprint = self.thumbprint.read();
        Some(format!("{token}.{}", thumbprint.as_deref().filter(|_| token_ok)?))
    }

    fn set(&self, token: &str, key_authorization: &str) {
        self.http01.write().insert(token.to_owned(), key_authorization.to_owned());
    }

    fn clear(&self, token: &str) {
        self.http01.write().remove(token);
    }

    /// The server config for a TLS-ALPN-01 validation handshake naming `domain`, while its
    /// order is under way.
    pub fn tls_alpn01(&self, domain: &str) -> Option<Arc<rustls::ServerConfig>> {
        self.tls_alpn01.read().get(&domain.to_ascii_lowercase()).cloned()
    }

    /// Prepares the validation certificate for `domain`: self-signed, the domain its only
    /// SAN, the key authorization's SHA-256 in the critical `acmeIdentifier` extension.
    fn set_alpn(&self, domain: &str, digest: &[u8]) -> Result<(), String> {
        let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(|e| e.to_string())?;
        params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let signer = provider.key_provider.load_private_key(der).map_err(|e| e.to_string())?;
        // Not `with_single_cert`: it parses the certificate with webpki, which refuses the
        // critical extension every validation certificate carries.
        let validation = Arc::new(rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signer));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Validation(validation)));
        cfg.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        self.tls_alpn01.write().insert(domain.to_ascii_lowercase(), Arc::new(cfg));
        Ok(())
    }

    fn clear_alpn(&self, domain: &str) {
        self.tls_alpn01.write().remove(&domain.to_ascii_lowercase());
    }
}

/// Presents one TLS-ALPN-01 validation certificate.
#[derive(Debug)]
struct Validation(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Validation {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// One domain's ACME settings.
#[derive(Debug, Clone)]
struct AcmeDomain {
    /// The domain name.
    name: String,
    /// Its settings.
    acme: model::AcmeConfig,
}

/// Installs the store's certificates; orders and renews those of the ACME domains.
#[derive(Debug)]
pub struct CertificateManager {
    domains: Vec<AcmeDomain>,
    store: AnyStore,
    kms: kms::Kms,
    certs: Arc<CertStore>,
    challenges: Arc<Challenges>,
    /// Who holds a lease: unique per process.
    node: String,
    metrics: Arc<telemetry::Metrics>,
    /// How often the store is read again (imports and other nodes' renewals picked up).
    pub sync_every: Duration,
    /// How often ACME certificates are checked for renewal.
    pub check_every: Duration,
    /// How often each stapled OCSP response is fetched again.
    pub ocsp_every: Duration,
    /// When each leaf's OCSP response was last fetched.
    ocsp_fetched: parking_lot::Mutex<HashMap<Vec<u8>, tokio::time::Instant>>,
}

/// The longest a lease lasts: an order that takes longer is someone else's to retry.
const LEASE: Duration = Duration::from_secs(600);
/// First retry after a failed order; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

// === impl CertificateManager ===

impl CertificateManager {
    /// A manager for the store's certificates and the ACME domains of `config`.
    pub fn new(
        config: &model::Config,
        store: AnyStore,
        kms: kms::Kms,
        certs: Arc<CertStore>,
        challenges: Arc<Challenges>,
        metrics: Arc<telemetry::Metrics>,
    ) -> Self {
        let domains: Vec<AcmeDomain> = config
            .domains
            .iter()
            .filter_map(|d| Some(AcmeDomain { name: d.name.to_ascii_lowercase(), acme: d.acme.clone()? }))
            .collect();
        let node = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Self {
            domains,
            store,
            kms,
            certs,
            challenges,
            node,
            metrics,
            sync_every: Duration::from_secs(60),
            check_every: Duration::from_secs(3600),
            ocsp_every: Duration::from_secs(6 * 3600),
            ocsp_fetched: parking_lot::Mutex::default(),
        }
    }

    /// After a failed fetch, tries again in five minutes rather than after `ocsp_every`.
    fn retry_ocsp_soon(&self, leaf: &[u8]) {
        let retry = Duration::from_secs(300).min(self.ocsp_every);
        if let Some(at) = tokio::time::Instant::now().checked_sub(self.ocsp_every - retry) {
            self.ocsp_fetched.lock().insert(leaf.to_vec(), at);
        }
    }

    /// Fetches OCSP responses for the certificates in service that name a responder, when
    /// none was fetched yet or the last is older than `ocsp_every`, and staples them. A failed
    /// fetch keeps the previous response (clients check its dates themselves).
    async fn staple_all(&self) {
        let keys = self.certs.in_service();
        let due: Vec<_> = {
            let fetched = self.ocsp_fetched.lock();
            keys.into_iter()
                .filter(|k| {
                    k.cert
                        .first()
                        .is_some_and(|leaf| fetched.get(leaf.as_ref()).is_none_or(|t| t.elapsed() >= self.ocsp_every))
                })
                .collect()
        };
        for key in due {
            let (Some(leaf), Some(issuer)) = (key.cert.first(), key.cert.get(1)) else { continue };
            self.ocsp_fetched.lock().insert(leaf.as_ref().to_vec(), tokio::time::Instant::now());
            let Some((url, request)) = crate::ocsp::request_for(leaf, issuer) else { continue };
            match fetch_ocsp(&url, request).await {
                Ok(response) if crate::ocsp::is_successful(&response) => {
                    self.certs.staple(&key, Some(response));
                    tracing::debug!(responder = %url, "OCSP response stapled");
                }
                Ok(_) => {
                    self.retry_ocsp_soon(leaf.as_ref());
                    tracing::warn!(responder = %url, "the OCSP responder did not answer `successful`; not stapled");
                }
                Err(e) => {
                    self.retry_ocsp_soon(leaf.as_ref());
                    tracing::warn!(responder = %url, error = %e, "OCSP fetch failed; the previous response stays");
                }
            }
        }
    }

    /// Installs every certificate of the store that is still valid, and removes from the
    /// running set those no longer there (a deleted import). Updates the expiry metric.
    pub async fn sync(&self) -> Result<(), String> {
        let now = now_ms();
        let rows = self.store.certificates().await.map_err(|e| e.to_string())?;
        let mut keep = Vec::new();
        for row in &rows {
            if row.not_after_ms > now {
                match self.install(row) {
                    Ok(()) => keep.push(row.name.to_ascii_lowercase()),
                    Err(e) => tracing::warn!(certificate = %row.name, error = %e, "a stored certificate does not load"),
                }
            }
        }
        self.certs.retain_installed(&keep);
        self.staple_all().await;
        let files = self.certs.inventory();
        for c in &files {
            self.metrics.certificate_expiry(&c.name, c.source, c.not_after_ms / 1000);
        }
        for row in &rows {
            self.metrics.certificate_expiry(&row.name, row.source.as_str(), row.not_after_ms / 1000);
        }
        let soon = now + 14 * 86_400_000;
        let expiring =
            files.iter().map(|c| c.not_after_ms).chain(rows.iter().map(|r| r.not_after_ms)).filter(|t| *t < soon);
        self.metrics.certificates_expiring_soon(i64::try_from(expiring.count()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Loads what the store holds, then keeps every certificate valid until `shutdown`.
    pub async fn run(self: std::sync::Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff: HashMap<String, (Duration, tokio::time::Instant)> = HashMap::new();
        let mut last_check: Option<tokio::time::Instant> = None;
        let mut accounts_loaded = self.domains.is_empty();
        loop {
            if !accounts_loaded {
                match self.load_accounts().await {
                    Ok(()) => accounts_loaded = true,
                    Err(e) => tracing::warn!(error = %e, "ACME: cannot load the account yet"),
                }
            }
            if let Err(e) = self.sync().await {
                tracing::warn!(error = %e, "cannot read certificates from the store");
            }
            let check = last_check.is_none_or(|t| t.elapsed() >= self.check_every) || !backoff.is_empty();
            if !check {
                tokio::select! {
                    () = tokio::time::sleep(self.sync_every) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            last_check = Some(tokio::time::Instant::now());
            for d in &self.domains {
                if backoff.get(&d.name).is_some_and(|(_, at)| tokio::time::Instant::now() < *at) {
                    continue;
                }
                match self.ensure(d).await {
                    Ok(()) => {
                        backoff.remove(&d.name);
                    }
                    Err(e) => {
                        let wait = backoff.get(&d.name).map_or(FIRST_BACKOFF, |(w, _)| (*w * 2).min(MAX_BACKOFF));
                        tracing::warn!(domain = %d.name, error = %e, retry_in = ?wait, "ACME: no certificate yet");
                        backoff.insert(d.name.clone(), (wait, tokio::time::Instant::now() + wait));
                    }
                }
            }
            let next = backoff.values().map(|(_, at)| *at).min().map_or(self.sync_every, |at| {
                at.saturating_duration_since(tokio::time::Instant::now()).min(self.sync_every)
            });
            tokio::select! {
                () = tokio::time::sleep(next.max(Duration::from_millis(100))) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Makes sure `d` has a valid certificate installed: the store's if it is good, else a new
    /// one ordered under the lease.
    async fn ensure(&self, d: &AcmeDomain) -> Result<(), String> {
        let now = now_ms();
        if let Some(stored) = self.store.certificate(&d.name).await.map_err(|e| e.to_string())? {
            // A certificate still valid serves while its renewal is ordered (or retried); one
            // renewed by another node is picked up here too.
            if stored.not_after_ms > now {
                self.install(&stored)?;
            }
            if !due(&stored, now) {
                return Ok(());
            }
            tracing::info!(domain = %d.name, not_after_ms = stored.not_after_ms, "ACME: renewing");
        }
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        if !self.store.try_lock_certificate(&d.name, &self.node, now, until).await.map_err(|e| e.to_string())? {
            return Err("another node is ordering this certificate".into());
        }
        let result = self.order(d).await;
        let _ = self.store.release_certificate_lock(&d.name, &self.node).await;
        let stored = result?;
        self.install(&stored)?;
        tracing::info!(domain = %d.name, not_after_ms = stored.not_after_ms, "ACME: certificate issued");
        Ok(())
    }

    fn install(&self, stored: &StoredCertificate) -> Result<(), String> {
        let key = self
            .kms
            .open_text(&directory::certificate_key_context(&stored.name), &stored.key_enc)
            .map_err(|e| e.to_string())?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| "the sealed key is not PEM".to_owned())?;
        self.certs.install(&stored.name, &stored.cert_pem, &key).map_err(|e| e.to_string())
    }

    /// Orders a certificate for `d` with HTTP-01 and stores it.
    async fn order(&self, d: &AcmeDomain) -> Result<StoredCertificate, String> {
        let account = self.account(&d.acme).await?;
        let ids = [Identifier::Dns(d.name.clone())];
        let mut order = account.new_order(&NewOrder::new(&ids)).await.map_err(|e| format!("new order: {e}"))?;
        let mut tokens = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            if authz.status == instant_acme::AuthorizationStatus::Valid {
                continue;
            }
            match d.acme.challenge {
                model::AcmeChallenge::Http01 => {
                    let mut challenge = authz
                        .challenge(ChallengeType::Http01)
                        .ok_or("the CA offers no http-01 challenge for this name")?;
                    self.challenges.set(&challenge.token, challenge.key_authorization().as_str());
                    tokens.push(challenge.token.clone());
                    challenge.set_ready().await.map_err(|e| format!("challenge: {e}"))?;
                }
                model::AcmeChallenge::TlsAlpn01 => {
                    let mut challenge = authz
                        .challenge(ChallengeType::TlsAlpn01)
                        .ok_or("the CA offers no tls-alpn-01 challenge for this name")?;
                    self.challenges
                        .set_alpn(&d.name, challenge.key_authorization().digest().as_ref())
                        .map_err(|e| format!("validation certificate: {e}"))?;
                    challenge.set_ready().await.map_err(|e| format!("challenge: {e}"))?;
                }
            }
        }
        let status = order.poll_ready(&RetryPolicy::default()).await;
        for t in &tokens {
            self.challenges.clear(t);
        }
        self.challenges.clear_alpn(&d.name);
        match status.map_err(|e| format!("validation: {e}"))? {
            OrderStatus::Ready => {}
            other => return Err(format!("the CA left the order {other:?}")),
        }
        let key_pem = order.finalize().await.map_err(|e| format!("finalize: {e}"))?;
        let chain = order.poll_certificate(&RetryPolicy::default()).await.map_err(|e| format!("certificate: {e}"))?;
        let (issuer, not_after_ms) = leaf_facts(&chain)?;
        let key_enc = self
            .kms
            .seal_text(&directory::certificate_key_context(&d.name), key_pem.as_bytes())
            .map_err(|e| e.to_string())?;
        let stored = StoredCertificate {
            name: d.name.clone(),
            cert_pem: chain,
            key_enc,
            source: CertificateSource::Acme,
            issuer,
            not_after_ms,
            updated_at_ms: now_ms(),
        };
        self.store.put_certificate(&stored).await.map_err(|e| e.to_string())?;
        Ok(stored)
    }

    /// Loads (or creates) each ACME account, so that this node can answer HTTP-01 tokens of
    /// orders other nodes make.
    async fn load_accounts(&self) -> Result<(), String> {
        for d in &self.domains {
            if d.acme.challenge == model::AcmeChallenge::Http01 {
                self.account(&d.acme).await?;
            }
        }
        Ok(())
    }

    /// The account for this CA: from the store, or created and stored (sealed). Two nodes that
    /// race both create one; the first stored wins and the other's is never used again.
    async fn account(&self, acme: &model::AcmeConfig) -> Result<Account, String> {
        let name = format!("acme-account:{}", hex::encode(&Sha256::digest(acme.directory.as_bytes())[..8]));
        // Sealed like every row of the secrets table, so `portcullis kms rewrap` moves it too.
        let ctx = kms::EncryptionContext::new().with("purpose", "server-secret").with("name", &name);
        let builder = || match &acme.ca_file {
            Some(path) => Account::builder_with_root(path).map_err(|e| format!("{}: {e}", path.display())),
            None => Account::builder().map_err(|e| e.to_string()),
        };
        if let Some(sealed) = self.store.secret(&name).await.map_err(|e| e.to_string())? {
            let json = self.kms.open_text(&ctx, &sealed).map_err(|e| e.to_string())?;
            let creds: AccountCredentials = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
            let account = builder()?.from_credentials(creds).await.map_err(|e| format!("account: {e}"))?;
            *self.challenges.thumbprint.write() = Some(account.key_thumbprint().to_owned());
            return Ok(account);
        }
        let contact: Vec<&str> = acme.contact.iter().map(String::as_str).collect();
        let new = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, creds) =
            builder()?.create(&new, acme.directory.clone(), None).await.map_err(|e| format!("new account: {e}"))?;
        let json = serde_json::to_vec(&creds).map_err(|e| e.to_string())?;
        let sealed = self.kms.seal_text(&ctx, &json).map_err(|e| e.to_string())?;
        self.store.create_secret(&name, &sealed, now_ms()).await.map_err(|e| e.to_string())?;
        // Another node may have stored its account first: use the stored one.
        match self.store.secret(&name).await.map_err(|e| e.to_string())? {
            Some(stored) if stored != sealed => Box::pin(self.account(acme)).await,
            _ => {
                *self.challenges.thumbprint.write() = Some(account.key_thumbprint().to_owned());
                Ok(account)
            }
        }
    }
}

/// POSTs an OCSP request (RFC 6960 appendix A) and reads at most 64 KiB of answer in 10 s.
async fn fetch_ocsp(url: &str, request: Vec<u8>) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt as _;
    let client = crate::upstream::new_client(Duration::from_secs(5), None).map_err(|e| e.to_string())?;
    let mut req = http::Request::new(crate::body::ReqBody::from_bytes(request.into()));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = url.parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
    req.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/ocsp-request"));
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body =
            http_body_util::Limited::new(resp.into_body(), 64 * 1024).collect().await.map_err(|e| e.to_string())?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.map_err(|_| "no answer within 10 s".to_owned())?
}

/// Whether the leaf of a PEM chain names `name` among its DNS subject alternative names (an
/// exact match, or the same wildcard).
pub fn covers(chain_pem: &str, name: &str) -> bool {
    use rustls_pki_types::pem::PemObject as _;
    let Some(Ok(leaf)) = rustls_pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes()).next() else {
        return false;
    };
    crate::client_cert::ClientCert::parse(&leaf).is_some_and(|c| c.sans.iter().any(|s| s.eq_ignore_ascii_case(name)))
}

/// Due for renewal: a third of the lifetime (counted from when it was written) or less left.
fn due(c: &StoredCertificate, now_ms: i64) -> bool {
    let lifetime = (c.not_after_ms - c.updated_at_ms).max(0);
    c.not_after_ms - now_ms <= lifetime / 3
}

/// The leaf's issuer DN and expiry (ms since the epoch) of a PEM chain.
pub fn leaf_facts(chain_pem: &str) -> Result<(String, i64), String> {
    use rustls_pki_types::pem::PemObject as _;
    let leaf = rustls_pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .next()
        .ok_or("no certificate in the PEM")?
        .map_err(|e| e.to_string())?;
    crate::client_cert::issuer_and_expiry(&leaf).ok_or_else(|| "the certificate does not parse".to_owned())
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(updated: i64, not_after: i64) -> StoredCertificate {
        StoredCertificate {
            name: "a".into(),
            cert_pem: String::new(),
            key_enc: String::new(),
            source: CertificateSource::Acme,
            issuer: String::new(),
            not_after_ms: not_after,
            updated_at_ms: updated,
        }
    }

    #[test]
    fn any_token_is_answered_for_the_account_once_its_thumbprint_is_known() {
        let c = Challenges::default();
        assert_eq!(c.http01("abc"), None, "nothing before the account is loaded");
        *c.thumbprint.write() = Some("THUMB".into());
        assert_eq!(c.http01("abc_-9").as_deref(), Some("abc_-9.THUMB"));
        assert_eq!(c.http01("../etc"), None, "not a token");
        c.set("mine", "mine.OTHER");
        assert_eq!(c.http01("mine").as_deref(), Some("mine.OTHER"), "this node's own order first");
    }

    #[test]
    fn renewal_starts_when_a_third_of_the_lifetime_remains() {
        // 90 days from day 0: due from day 60 on.
        let day = 86_400_000;
        let c = cert(0, 90 * day);
        assert!(!due(&c, 59 * day));
        assert!(due(&c, 60 * day));
        assert!(due(&c, 91 * day), "expired");
    }
}
