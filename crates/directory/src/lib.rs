//! IAM principals kept in the store, as the gateway uses them.
//!
//! [`Directory::authenticate`] turns a parsed SigV4 signature into a [`Caller`]: the user or
//! role session behind the access key, its policies, and its secret (opened by the KMS),
//! cached for `cache_ttl` so the hot path is a map lookup and one HMAC. Unknown keys are
//! cached too, briefly, so a flood of random key ids does not become a flood of queries.
//!
//! The admin API's IAM operations live here as well (`ops.rs`); each one drops the cache, so
//! a change made on this node applies to its next request.

mod api_keys;
mod caller;
mod error;
mod names;
mod ops;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam::policy::{managed, Policy, PolicyKind, Principal, PrincipalKind};
use iam::sigv4::{SigV4Error, Signature};
use kms::{EncryptionContext, Kms};
use parking_lot::RwLock;
use store::{AnyStore, Credential, EntityKind, KeyInsert, Relation, Store as _};
use zeroize::Zeroizing;

pub use api_keys::{ApiKeys, KeyInfo, Lookup, NewApiKey, API_KEY_SECRET};
pub use caller::Caller;
pub use error::{AuthError, DirectoryError};
pub use names::{entity_arn, session_arn};
pub use ops::{
    certificate_key_context, AccessKey, NewAccessKey, TemporaryCredentials, ROLE_SESSION_MAX_SECS,
    ROLE_SESSION_MIN_SECS,
};

/// Entries kept before the cache is emptied and refilled; bounds memory under key-id floods.
const CACHE_CAP: usize = 100_000;
/// How long an unknown access key id is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Unknown ids kept before that map is emptied.
const NEGATIVE_CAP: usize = 10_000;

/// What the directory needs from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The account id in ARNs.
    pub account_id: String,
    /// How long a cached caller is trusted.
    pub cache_ttl: Duration,
    /// How long past `cache_ttl` a cached caller still answers while the store cannot be read.
    pub serve_stale_for: Duration,
}

/// The IAM directory: store-backed, cached.
#[derive(Debug)]
pub struct Directory {
    store: AnyStore,
    kms: Kms,
    settings: RwLock<Settings>,
    cache: RwLock<HashMap<String, Cached>>,
    /// Access key ids known to be unknown, until when: apart from `cache`, so that a flood of
    /// random ids can fill and empty only this map, never evict the callers in use.
    unknown: RwLock<HashMap<String, Instant>>,
    /// When each access key's last use was written to the store. Kept apart from the cache,
    /// which every IAM change empties, so that a burst of changes does not become a burst of
    /// writes.
    touched: parking_lot::Mutex<HashMap<String, i64>>,
    /// Bumped by every invalidation, under the cache's write lock.
    generation: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone)]
struct Cached {
    caller: Arc<Caller>,
    until: Instant,
}

/// The encryption context of an access key's secret: a sealed secret moved to another key's
/// row does not open.
pub(crate) fn secret_context(access_key_id: &str) -> EncryptionContext {
    EncryptionContext::new().with("purpose", "iam-secret-access-key").with("access_key_id", access_key_id)
}

// === impl Directory ===

impl Directory {
    /// A directory over `store`, sealing secrets with `kms`.
    pub fn new(store: AnyStore, kms: Kms, settings: Settings) -> Self {
        Self {
            store,
            kms,
            settings: RwLock::new(settings),
            cache: RwLock::new(HashMap::new()),
            unknown: RwLock::new(HashMap::new()),
            touched: parking_lot::Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Applies new settings (after a config reload) and empties the cache.
    pub fn configure(&self, settings: Settings) {
        *self.settings.write() = settings;
        self.invalidate();
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> String {
        self.settings.read().account_id.clone()
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The KMS.
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// Forgets every cached caller (after any IAM change).
    pub fn invalidate(&self) {
        let mut cache = self.cache.write();
        let mut unknown = self.unknown.write();
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cache.clear();
        unknown.clear();
    }

    /// Makes every cached caller expire now, keeping it only as the answer of last resort
    /// while the store cannot be read (after another node's change, or when changes may have
    /// been missed).
    pub fn expire(&self) {
        let mut cache = self.cache.write();
        let mut unknown = self.unknown.write();
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let now = Instant::now();
        for c in cache.values_mut() {
            c.until = c.until.min(now);
        }
        unknown.clear();
    }

    /// Whether what is known about this access key id comes from the cache (no store read).
    pub fn is_cached(&self, id: &str) -> bool {
        self.cached(id).is_some()
    }

    /// The caller behind a signature's access key, with its session token checked. A store
    /// or KMS failure is logged and refused as [`AuthError::Unavailable`] (fail closed).
    pub async fn authenticate(&self, sig: &Signature, now_ms: i64) -> Result<Arc<Caller>, AuthError> {
        let caller = match self.cached(&sig.access_key_id) {
            Some(Some(c)) => c,
            Some(None) => return Err(SigV4Error::UnknownKey.into()),
            None => self.load(&sig.access_key_id).await?,
        };
        caller.check_token(sig.security_token.as_deref(), now_ms)?;
        Ok(caller)
    }

    /// Records a use of the caller's key (in the background, at most once a minute per key).
    /// Call it only once the signature verified: a key id alone is no proof of use.
    pub fn record_use(&self, caller: &Caller, now_ms: i64) {
        if self.should_touch(&caller.access_key_id, now_ms) {
            let store = self.store.clone();
            let id = caller.access_key_id.clone();
            tokio::spawn(async move {
                if let Err(e) = store.iam_touch_credential(&id, now_ms).await {
                    tracing::warn!(error = %e, access_key_id = %id, "could not record an access key's last use");
                }
            });
        }
    }

    /// Whether to record a use now: at most once a minute per key.
    fn should_touch(&self, id: &str, now_ms: i64) -> bool {
        let mut touched = self.touched.lock();
        if touched.get(id).is_some_and(|last| now_ms - last < 60_000) {
            return false;
        }
        if touched.len() >= CACHE_CAP {
            touched.clear();
        }
        touched.insert(id.to_owned(), now_ms);
        true
    }

    fn cached(&self, id: &str) -> Option<Option<Arc<Caller>>> {
        let now = Instant::now();
        if let Some(hit) = self.cache.read().get(id).filter(|hit| hit.until > now) {
            return Some(Some(hit.caller.clone()));
        }
        self.unknown.read().get(id).is_some_and(|until| *until > now).then_some(None)
    }

    async fn load(&self, id: &str) -> Result<Arc<Caller>, AuthError> {
        let ttl = self.settings.read().cache_ttl;
        // What was read before an invalidation must not be cached after it.
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        match self.resolve(id).await {
            Ok(Some(caller)) => {
                let caller = Arc::new(caller);
                self.remember(id, caller.clone(), ttl, generation);
                Ok(caller)
            }
            Ok(None) => {
                self.remember_unknown(id, NEGATIVE_TTL.min(ttl), generation);
                Err(SigV4Error::UnknownKey.into())
            }
            Err(e) => {
                if let Some(caller) = self.stale(id) {
                    tracing::debug!(error = %e, access_key_id = %id, "store unavailable: using the cached caller");
                    return Ok(caller);
                }
                tracing::error!(error = %e, access_key_id = %id, "cannot resolve an access key; refusing the request");
                Err(AuthError::Unavailable)
            }
        }
    }

    /// A cached caller past its lifetime but within `serve_stale_for`.
    fn stale(&self, id: &str) -> Option<Arc<Caller>> {
        let stale = self.settings.read().serve_stale_for;
        let now = Instant::now();
        self.cache.read().get(id).filter(|hit| hit.until + stale > now).map(|hit| hit.caller.clone())
    }

    fn remember(&self, id: &str, caller: Arc<Caller>, ttl: Duration, generation: u64) {
        let mut cache = self.cache.write();
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
            return;
        }
        if cache.len() >= CACHE_CAP {
            cache.clear();
        }
        cache.insert(id.to_owned(), Cached { caller, until: Instant::now() + ttl });
    }

    fn remember_unknown(&self, id: &str, ttl: Duration, generation: u64) {
        let mut unknown = self.unknown.write();
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
            return;
        }
        if unknown.len() >= NEGATIVE_CAP {
            unknown.clear();
        }
        unknown.insert(id.to_owned(), Instant::now() + ttl);
    }

    /// Reads an access key, its owner and the owner's policies from the store.
    async fn resolve(&self, id: &str) -> Result<Option<Caller>, DirectoryError> {
        let Some(cred) = self.store.iam_credential(id).await? else { return Ok(None) };
        if !cred.active {
            return Ok(None);
        }
        let account = self.account_id();
        let Some(owner) = self.store.iam_get(cred.owner_kind, &cred.owner_name).await? else { return Ok(None) };
        let secret = self.kms.open_text(&secret_context(id), &cred.secret_enc)?;
        let secret = Zeroizing::new(String::from_utf8_lossy(&secret).into_owned());
        let mut subjects = vec![names::subject(cred.owner_kind, &cred.owner_name)];
        let principal = match cred.owner_kind {
            EntityKind::User => {
                for g in self.store.iam_related(Relation::MemberOf, &cred.owner_name).await? {
                    subjects.push(names::subject(EntityKind::Group, &g));
                }
                Principal {
                    arn: entity_arn(&account, EntityKind::User, &owner.name),
                    account: account.clone(),
                    kind: PrincipalKind::User,
                    user_name: Some(owner.name.clone()),
                    user_id: owner.id.clone(),
                }
            }
            _ => {
                let session = cred.session_name.clone().unwrap_or_default();
                Principal {
                    arn: session_arn(&account, &owner.name, &session),
                    account: account.clone(),
                    kind: PrincipalKind::AssumedRole,
                    user_name: None,
                    user_id: format!("{}:{session}", owner.id),
                }
            }
        };
        let policies = self.policies_of(&subjects).await?;
        let session = match &cred.token_hash {
            Some(h) => {
                let mut token_hash = [0u8; 32];
                // A hash that does not decode matches no token: the key is then unusable.
                if hex::decode_to_slice(h, &mut token_hash).is_err() {
                    return Ok(None);
                }
                let expires_at_ms = cred.expires_at_ms.unwrap_or(0);
                Some(caller::Session { token_hash, expires_at_ms, issued_at_ms: cred.created_at_ms })
            }
            None => None,
        };
        Ok(Some(Caller::new(principal, cred.access_key_id, policies, secret, session)))
    }

    /// The policies attached to any of `subjects` (`user/NAME`, `group/NAME`, `role/NAME`).
    /// A customer policy deleted since it was attached is skipped with a warning.
    pub(crate) async fn policies_of(&self, subjects: &[String]) -> Result<Vec<Policy>, DirectoryError> {
        let mut out = Vec::new();
        for s in subjects {
            for arn in self.store.iam_related(Relation::Attached, s).await? {
                match self.policy(&arn).await? {
                    Some(p) => out.push(p),
                    None => tracing::warn!(policy = %arn, principal = %s, "attached policy no longer exists"),
                }
            }
        }
        Ok(out)
    }

    /// A managed policy by ARN: built in, or customer-managed in this account.
    pub async fn policy(&self, arn: &str) -> Result<Option<Policy>, DirectoryError> {
        if let Some(p) = managed::builtin(arn) {
            return Ok(Some(p.clone()));
        }
        let prefix = format!("arn:aws:iam::{}:policy/", self.account_id());
        let Some(name) = arn.strip_prefix(&prefix) else { return Ok(None) };
        let Some(entity) = self.store.iam_get(EntityKind::Policy, name).await? else { return Ok(None) };
        Ok(Some(Policy::parse_as(&entity.document, PolicyKind::Identity)?))
    }

    /// Records `cred` after sealing `secret` into it; a user key only while its user holds
    /// fewer than `max_user_keys`.
    pub(crate) async fn put_credential(
        &self,
        mut cred: Credential,
        secret: &str,
        max_user_keys: Option<i64>,
    ) -> Result<(), DirectoryError> {
        cred.secret_enc = self.kms.seal_text(&secret_context(&cred.access_key_id), secret.as_bytes())?;
        let outcome = match max_user_keys {
            Some(max) => self.store.iam_put_user_key(&cred, max).await?,
            None if self.store.iam_put_credential(&cred).await? => KeyInsert::Stored,
            None => KeyInsert::IdTaken,
        };
        match outcome {
            KeyInsert::Stored => Ok(()),
            KeyInsert::LimitReached => Err(DirectoryError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {}",
                max_user_keys.unwrap_or_default()
            ))),
            KeyInsert::IdTaken => {
                Err(DirectoryError::AlreadyExists(format!("access key {} exists", cred.access_key_id)))
            }
        }
    }
}
