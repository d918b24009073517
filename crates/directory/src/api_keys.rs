//! API keys: generated (a readable prefix and 40 random characters) or imported (20–128
//! characters), shown once at creation, and stored only as a short prefix and an
//! HMAC-SHA256 under a server secret. A lookup computes the HMAC and reads one indexed row,
//! and is cached: no password KDF ever runs on the hot path, because a key has enough entropy
//! that a keyed hash is enough (and an imported key is checked for length).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use sha2::Sha256;
use store::{AnyStore, ApiKey, ApiKeyInsert, Store as _};
use zeroize::Zeroizing;

use crate::names::{new_api_key, new_api_key_id, API_KEY_PREFIX};
use crate::DirectoryError;

/// The name of the server secret the HMACs are keyed with.
pub const API_KEY_SECRET: &str = "api-key-hmac";
/// How long an unknown key is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Known keys kept before that cache is emptied.
const CACHE_CAP: usize = 100_000;
/// Unknown values kept before that cache is emptied. Kept apart from known keys, so that a
/// flood of random values can fill and empty only this one, never evict the keys in use.
const NEGATIVE_CAP: usize = 10_000;

/// What the hot path needs to know about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id (never its value).
    pub id: Arc<str>,
    /// The key's customer, for usage records.
    pub customer_id: Arc<str>,
    /// Whether it may be used.
    pub enabled: bool,
    /// The usage plans it is attached to.
    pub plans: Vec<Arc<str>>,
}

/// What a new key is made from. (`Debug` never shows an imported value.)
#[derive(Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A name for people.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: String,
    /// The customer the key belongs to (for billing exports).
    #[serde(default)]
    pub customer_id: String,
    /// A value to import instead of generating one.
    #[serde(default)]
    pub value: Option<String>,
    /// Whether the key may be used at once (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("customer_id", &self.customer_id)
            .field("value", &self.value.as_ref().map(|_| "…"))
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Cached {
    info: Arc<KeyInfo>,
    until: Instant,
}

/// What the cache knows about a value.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Known: the key (`None`: no key has this value).
    Cached(Option<Arc<KeyInfo>>),
    /// Not cached: [`ApiKeys::load`] this hash from the store.
    Miss([u8; 32]),
}

/// API keys, store-backed and cached.
pub struct ApiKeys {
    store: AnyStore,
    /// The HMAC keyed with the server secret, its pads computed once: each lookup clones it.
    mac: Hmac<Sha256>,
    cache: RwLock<HashMap<[u8; 32], Cached>>,
    /// Values known to be no key, until when.
    negative: RwLock<HashMap<[u8; 32], Instant>>,
    ttl: RwLock<Duration>,
    /// How long past `ttl` a cached key still answers while the store cannot be read.
    stale: RwLock<Duration>,
    generation: AtomicU64,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").field("cached", &self.cache.read().len()).finish_non_exhaustive()
    }
}

// === impl ApiKeys ===

impl ApiKeys {
    /// API keys in `store`, hashed under `secret` (the server secret [`API_KEY_SECRET`]);
    /// what a node caches is trusted for `ttl`.
    pub fn new(store: AnyStore, secret: &[u8], ttl: Duration) -> Self {
        // HMAC takes a key of any length, so this cannot fail; an empty key would be a bug.
        let mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable_mac());
        Self {
            store,
            mac,
            cache: RwLock::new(HashMap::new()),
            negative: RwLock::new(HashMap::new()),
            ttl: RwLock::new(ttl),
            stale: RwLock::new(Duration::ZERO),
            generation: AtomicU64::new(0),
        }
    }

    /// Changes how long cached keys are trusted, and how long past that they still answer
    /// while the store cannot be read (on start and reload).
    pub fn set_lifetimes(&self, ttl: Duration, serve_stale_for: Duration) {
        *self.ttl.write() = ttl;
        *self.stale.write() = serve_stale_for;
    }

    /// The stored hash of a key value.
    pub fn hash(&self, value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key with this value, if one exists (enabled or not): from the cache, else from
    /// the store.
    pub async fn lookup(&self, value: &str) -> Result<Option<Arc<KeyInfo>>, DirectoryError> {
        match self.cached(value) {
            Lookup::Cached(info) => Ok(info),
            Lookup::Miss(hash) => self.load(&hash).await,
        }
    }

    /// What the cache knows about a value: the hot path, one HMAC and a map lookup. A value
    /// longer than any key is known to be none.
    pub fn cached(&self, value: &str) -> Lookup {
        if value.len() > 128 || value.is_empty() {
            return Lookup::Cached(None);
        }
        let hash = self.hash(value);
        let now = Instant::now();
        if let Some(c) = self.cache.read().get(&hash) {
            if c.until > now {
                return Lookup::Cached(Some(c.info.clone()));
            }
        }
        if self.negative.read().get(&hash).is_some_and(|until| *until > now) {
            return Lookup::Cached(None);
        }
        Lookup::Miss(hash)
    }

    /// Reads the key with this hash from the store and caches the answer. When the store
    /// cannot be read, a cached answer that expired less than `serve_stale_for` ago is used.
    pub async fn load(&self, hash: &[u8; 32]) -> Result<Option<Arc<KeyInfo>>, DirectoryError> {
        let generation = self.generation.load(Ordering::Acquire);
        let now = Instant::now();
        let info = match self.read(hash).await {
            Ok(info) => info,
            Err(e) => return self.stale(hash, now).ok_or(e),
        };
        let ttl = *self.ttl.read();
        // A change made while this load ran must not be overwritten by what it read.
        match &info {
            Some(i) => {
                let mut cache = self.cache.write();
                if self.generation.load(Ordering::Acquire) == generation {
                    if cache.len() >= CACHE_CAP {
                        cache.clear();
                    }
                    cache.insert(*hash, Cached { info: i.clone(), until: now + ttl });
                }
            }
            None => {
                let mut negative = self.negative.write();
                if self.generation.load(Ordering::Acquire) == generation {
                    if negative.len() >= NEGATIVE_CAP {
                        negative.clear();
                    }
                    negative.insert(*hash, now + NEGATIVE_TTL.min(ttl));
                }
            }
        }
        Ok(info)
    }

    /// A cached answer past its lifetime but within `serve_stale_for`.
    fn stale(&self, hash: &[u8; 32], now: Instant) -> Option<Option<Arc<KeyInfo>>> {
        let stale = *self.stale.read();
        let hit = self.cache.read().get(hash).filter(|c| c.until + stale > now).map(|c| c.info.clone())?;
        tracing::debug!(key = %hit.id, "store unavailable: using the cached key");
        Some(Some(hit))
    }

    async fn read(&self, hash: &[u8; 32]) -> Result<Option<Arc<KeyInfo>>, DirectoryError> {
        let Some(k) = self.store.api_key_by_hash(&hex::encode(hash)).await? else { return Ok(None) };
        let plans = self.store.plans_of_key(&k.id).await?;
        Ok(Some(Arc::new(KeyInfo {
            id: Arc::from(k.id.as_str()),
            customer_id: Arc::from(k.customer_id.as_str()),
            enabled: k.enabled,
            plans: plans.iter().map(|p| Arc::from(p.as_str())).collect(),
        })))
    }

    /// Makes every cached key expire now, keeping it only as the answer of last resort while
    /// the store cannot be read (after another node's change, or when changes may have been
    /// missed).
    pub fn expire(&self) {
        let mut cache = self.cache.write();
        let mut negative = self.negative.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now();
        for c in cache.values_mut() {
            c.until = c.until.min(now);
        }
        negative.clear();
    }

    /// Forgets every cached key (after any change).
    pub fn invalidate(&self) {
        let mut cache = self.cache.write();
        let mut negative = self.negative.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
        negative.clear();
    }

    /// Creates a key; returns it and its value, which is never available again.
    pub async fn create(&self, new: NewApiKey, now_ms: i64) -> Result<(ApiKey, Zeroizing<String>), DirectoryError> {
        check_text("name", &new.name, 1, 1024)?;
        check_text("description", &new.description, 0, 1024)?;
        check_text("customer_id", &new.customer_id, 0, 256)?;
        let imported = new.value.is_some();
        let value = Zeroizing::new(match new.value {
            Some(v) => {
                check_value(&v)?;
                v
            }
            None => new_api_key(),
        });
        let shown = if imported { 4 } else { API_KEY_PREFIX.len() + 4 };
        let mut key = ApiKey {
            id: new_api_key_id(),
            name: new.name,
            description: new.description,
            customer_id: new.customer_id,
            prefix: value.chars().take(shown).collect(),
            hash: hex::encode(self.hash(&value)),
            enabled: new.enabled.unwrap_or(true),
            imported,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        for _ in 0..3 {
            match self.store.api_key_create(&key).await? {
                ApiKeyInsert::Stored => {
                    self.invalidate();
                    return Ok((key, value));
                }
                ApiKeyInsert::IdTaken => key.id = new_api_key_id(),
                ApiKeyInsert::ValueTaken => {
                    return Err(DirectoryError::AlreadyExists("an API key with this value exists".into()))
                }
            }
        }
        Err(DirectoryError::Clash("could not pick a free key id; try again".into()))
    }

    /// The key with this id.
    pub async fn get(&self, id: &str) -> Result<ApiKey, DirectoryError> {
        self.store.api_key(id).await?.ok_or_else(|| not_found(id))
    }

    /// Every key.
    pub async fn list(&self) -> Result<Vec<ApiKey>, DirectoryError> {
        Ok(self.store.api_keys().await?)
    }

    /// Enables or disables a key.
    pub async fn set_enabled(&self, id: &str, enabled: bool, now_ms: i64) -> Result<ApiKey, DirectoryError> {
        if !self.store.api_key_set_enabled(id, enabled, now_ms).await? {
            return Err(not_found(id));
        }
        self.invalidate();
        self.get(id).await
    }

    /// Deletes a key and its plan attachments; its recorded usage stays, for billing.
    pub async fn delete(&self, id: &str) -> Result<(), DirectoryError> {
        if !self.store.api_key_delete(id).await? {
            return Err(not_found(id));
        }
        self.invalidate();
        Ok(())
    }

    /// The plans a key is attached to.
    pub async fn plans_of(&self, id: &str) -> Result<Vec<String>, DirectoryError> {
        Ok(self.store.plans_of_key(id).await?)
    }

    /// The keys attached to a plan.
    pub async fn keys_of(&self, plan: &str) -> Result<Vec<String>, DirectoryError> {
        Ok(self.store.keys_of_plan(plan).await?)
    }

    /// Attaches a key to a plan. `clashes` says whether the plan shares a stage with one of
    /// the key's current plans (one plan per key per stage); the caller knows the config.
    pub async fn attach(
        &self,
        plan: &str,
        id: &str,
        now_ms: i64,
        clashes: impl Fn(&str) -> bool,
    ) -> Result<(), DirectoryError> {
        self.get(id).await?;
        let held = self.store.plans_of_key(id).await?;
        if let Some(other) = held.iter().find(|p| p.as_str() != plan && clashes(p)) {
            return Err(DirectoryError::Clash(format!(
                "key {id} is in plan `{other}`, which covers a stage of `{plan}` too: a key may be in one plan per stage"
            )));
        }
        if !self.store.plan_key_attach(plan, id, now_ms).await? {
            return Err(DirectoryError::AlreadyExists(format!("key {id} is already in plan `{plan}`")));
        }
        self.invalidate();
        Ok(())
    }

    /// Detaches a key from a plan.
    pub async fn detach(&self, plan: &str, id: &str) -> Result<(), DirectoryError> {
        if !self.store.plan_key_detach(plan, id).await? {
            return Err(DirectoryError::NotFound(format!("key {id} is not in plan `{plan}`")));
        }
        self.invalidate();
        Ok(())
    }
}

/// `Hmac::new_from_slice` accepts every key length; this is never reached.
fn unreachable_mac() -> Hmac<Sha256> {
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

fn not_found(id: &str) -> DirectoryError {
    DirectoryError::NotFound(format!("no API key has the id `{id}`"))
}

fn check_text(field: &str, v: &str, min: usize, max: usize) -> Result<(), DirectoryError> {
    let len = v.chars().count();
    if len < min || len > max || v.chars().any(char::is_control) {
        return Err(DirectoryError::Invalid(format!(
            "{field} must be {min}-{max} characters without control characters"
        )));
    }
    Ok(())
}

/// An imported value: 20–128 letters, digits, `-` or `_`. (The value never appears in the
/// message.)
fn check_value(v: &str) -> Result<(), DirectoryError> {
    let ok = (20..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "an imported API key value must be 20-128 letters, digits, `-` or `_` (got {} characters)",
            v.len()
        )))
    }
}
