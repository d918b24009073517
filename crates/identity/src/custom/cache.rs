//! Cached authorizer answers, keyed on the identity sources (reference §3.7).
//!
//! - **Keys** are an HMAC of the authorizer's fingerprint, the stage and the identity values
//!   under a server secret: a token never appears in memory dumps of the map or in Redis.
//! - **In the node**: a bounded map, checked first, without I/O.
//! - **In Redis** (when the cluster shares state): each entry is sealed with AES-256-GCM under a
//!   key of its own (derived from the server secret and a random salt), with the cache key as
//!   associated data. Whoever can write to Redis cannot forge an allow; whoever can read it
//!   learns nothing. An entry that does not open is a miss.
//! - **One call at a time per key**: requests that miss on the same key while a call is under
//!   way wait for its answer instead of calling the function again.
//!
//! Only answers are cached (a policy, a simple yes/no, or `Unauthorized` when its TTL is set);
//! failures never are.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use hmac::{Hmac, Mac};
use limits::RedisLink;
use parking_lot::{Mutex, RwLock};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::answer::{CallError, Verdict};

/// How many answers one node keeps at most. Past it, expired entries are swept, and if the map
/// is still full new answers are not cached until room frees up.
const MAX_ENTRIES: usize = 100_000;
const SALT_LEN: usize = 16;

/// A cache key: an HMAC, never the identity values themselves.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheKey({})", hex::encode(&self.0[..6]))
    }
}

/// What a call to the function produced.
#[derive(Debug)]
pub struct Called {
    /// The answer.
    pub verdict: Verdict,
    /// How long it may be cached (zero: not at all).
    pub ttl: Duration,
    /// The function's HTTP status.
    pub status: u16,
    /// How long the call took.
    pub latency: Duration,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node's cache.
    Node,
    /// The cluster's cache in Redis.
    Shared,
    /// A call to the function (this request's, or one it waited for).
    Function {
        /// The function's HTTP status.
        status: u16,
        /// How long the call took.
        latency: Duration,
    },
}

/// An answer and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The answer.
    pub verdict: Arc<Verdict>,
    /// Its source.
    pub source: Source,
}

type Pending = Shared<BoxFuture<'static, Result<Resolved, CallError>>>;

/// The cache: this node's map, Redis if configured, and the calls under way.
pub struct DecisionCache {
    mac: Hmac<Sha256>,
    seal: Hmac<Sha256>,
    local: RwLock<HashMap<CacheKey, Entry>>,
    redis: Option<(Arc<RedisLink>, String)>,
    inflight: Mutex<HashMap<CacheKey, Pending>>,
}

struct Entry {
    verdict: Arc<Verdict>,
    expires: Instant,
}

/// An answer as stored in Redis (inside the sealed box).
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Expiry, milliseconds since the epoch: a node caches a shared entry no longer than this.
    exp: u64,
    v: StoredVerdict,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind")]
enum StoredVerdict {
    Policy { principal_id: String, policy: Value, context: Map<String, Value>, usage_key: Option<String> },
    Simple { authorized: bool, context: Map<String, Value> },
    Unauthorized,
}

// === impl DecisionCache ===

impl DecisionCache {
    /// A cache keyed under `secret` (the same on every node that shares Redis), with answers
    /// shared through `redis` (the link and the key prefix) if given.
    pub fn new(secret: &[u8], redis: Option<(Arc<RedisLink>, String)>) -> Self {
        let derive = |label: &[u8]| {
            let mut m = new_mac(secret);
            m.update(label);
            new_mac(&m.finalize().into_bytes())
        };
        Self {
            mac: derive(b"authorizer-cache/key"),
            seal: derive(b"authorizer-cache/seal"),
            local: RwLock::new(HashMap::new()),
            redis,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// The key of an answer: for this authorizer (its fingerprint), stage and identity values.
    pub fn key(&self, fingerprint: &[u8; 32], stage: &str, identity: &[String]) -> CacheKey {
        let mut m = self.mac.clone();
        m.update(fingerprint);
        for part in std::iter::once(stage).chain(identity.iter().map(String::as_str)) {
            // Length-prefixed, so ("a,b") and ("a", "b") never share a key.
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        CacheKey(m.finalize().into_bytes().into())
    }

    /// This node's cached answer, if fresh.
    pub fn cached(&self, key: &CacheKey) -> Option<Arc<Verdict>> {
        let map = self.local.read();
        let e = map.get(key)?;
        (e.expires > Instant::now()).then(|| e.verdict.clone())
    }

    /// Answers cached in this node (fresh or not yet swept).
    pub fn len(&self) -> usize {
        self.local.read().len()
    }

    /// Whether this node caches nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer for `key`: from this node, else from Redis, else from `call` — made once
    /// for all the requests that miss on the same key at the same time.
    pub async fn resolve<F>(self: &Arc<Self>, key: CacheKey, call: F) -> Result<Resolved, CallError>
    where
        F: Future<Output = Result<Called, CallError>> + Send + 'static,
    {
        if let Some(verdict) = self.cached(&key) {
            return Ok(Resolved { verdict, source: Source::Node });
        }
        let pending = {
            let mut inflight = self.inflight.lock();
            match inflight.get(&key) {
                Some(p) => p.clone(),
                None => {
                    let this = self.clone();
                    // The map holds a handle, so the call runs to its end even if the request
                    // that started it goes away; it removes itself when done.
                    let p = async move {
                        let r = this.fill(key, call).await;
                        this.inflight.lock().remove(&key);
                        r
                    }
                    .boxed()
                    .shared();
                    inflight.insert(key, p.clone());
                    p
                }
            }
        };
        pending.await
    }

    async fn fill<F>(&self, key: CacheKey, call: F) -> Result<Resolved, CallError>
    where
        F: Future<Output = Result<Called, CallError>>,
    {
        if let Some((verdict, ttl)) = self.shared_get(&key).await {
            self.put_local(key, verdict.clone(), ttl);
            return Ok(Resolved { verdict, source: Source::Shared });
        }
        let called = call.await?;
        let verdict = Arc::new(called.verdict);
        if !called.ttl.is_zero() {
            self.put_local(key, verdict.clone(), called.ttl);
            self.shared_put(&key, &verdict, called.ttl).await;
        }
        Ok(Resolved { verdict, source: Source::Function { status: called.status, latency: called.latency } })
    }

    fn put_local(&self, key: CacheKey, verdict: Arc<Verdict>, ttl: Duration) {
        let now = Instant::now();
        let mut map = self.local.write();
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            map.retain(|_, e| e.expires > now);
            if map.len() >= MAX_ENTRIES {
                return;
            }
        }
        map.insert(key, Entry { verdict, expires: now + ttl });
    }

    async fn shared_get(&self, key: &CacheKey) -> Option<(Arc<Verdict>, Duration)> {
        let (link, prefix) = self.redis.as_ref()?;
        let name = redis_name(prefix, key);
        let sealed: Option<Vec<u8>> =
            link.run(|mut c| async move { redis::cmd("GET").arg(name).query_async(&mut c).await }).await.ok()?;
        let stored = self.open(key, &sealed?)?;
        let left = Duration::from_millis(stored.exp.checked_sub(now_ms())?);
        Some((Arc::new(verdict_of(stored.v)?), left))
    }

    async fn shared_put(&self, key: &CacheKey, verdict: &Verdict, ttl: Duration) {
        let Some((link, prefix)) = self.redis.as_ref() else { return };
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let stored = Stored { exp: now_ms().saturating_add(ms), v: stored_of(verdict) };
        let Some(sealed) = self.seal(key, &stored) else { return };
        let name = redis_name(prefix, key);
        // A failure is logged by the link; the answer is then cached in this node only.
        let _ = link
            .run(|mut c| async move {
                redis::cmd("SET").arg(name).arg(sealed).arg("PX").arg(ms).query_async::<()>(&mut c).await
            })
            .await;
    }

    /// `salt ‖ AES-256-GCM(json)`, under a key for this salt alone (so no nonce repeats).
    fn seal(&self, key: &CacheKey, stored: &Stored) -> Option<Vec<u8>> {
        let mut salt = [0u8; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        let json = serde_json::to_vec(stored).ok()?;
        let sealed = self.entry_key(&salt).encrypt([0; 12], &key.0, &json).ok()?;
        Some([&salt[..], &sealed].concat())
    }

    fn open(&self, key: &CacheKey, sealed: &[u8]) -> Option<Stored> {
        let (salt, body) = sealed.split_at_checked(SALT_LEN)?;
        let plain = self.entry_key(salt).decrypt([0; 12], &key.0, body).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    fn entry_key(&self, salt: &[u8]) -> kms::DataKey {
        let mut m = self.seal.clone();
        m.update(salt);
        kms::DataKey::from_derived(m.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for DecisionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionCache")
            .field("entries", &self.len())
            .field("shared", &self.redis.as_ref().map(|(l, _)| l.display_url()))
            .finish_non_exhaustive()
    }
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this never fails.
    Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
}

fn redis_name(prefix: &str, key: &CacheKey) -> String {
    format!("{prefix}:az:{}", hex::encode(key.0))
}

fn now_ms() -> u64 {
    u64::try_from(limits::now_us() / 1000).unwrap_or(0)
}

fn stored_of(v: &Verdict) -> StoredVerdict {
    match v {
        Verdict::Policy { principal_id, policy, context, usage_key } => StoredVerdict::Policy {
            principal_id: principal_id.clone(),
            policy: policy.document().clone(),
            context: context.clone(),
            usage_key: usage_key.clone(),
        },
        Verdict::Simple { authorized, context } => {
            StoredVerdict::Simple { authorized: *authorized, context: context.clone() }
        }
        Verdict::Unauthorized => StoredVerdict::Unauthorized,
    }
}

fn verdict_of(s: StoredVerdict) -> Option<Verdict> {
    Some(match s {
        StoredVerdict::Policy { principal_id, policy, context, usage_key } => {
            Verdict::Policy { principal_id, policy: iam::policy::Policy::from_value(&policy).ok()?, context, usage_key }
        }
        StoredVerdict::Simple { authorized, context } => Verdict::Simple { authorized, context },
        StoredVerdict::Unauthorized => Verdict::Unauthorized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn called(ttl: u64) -> Result<Called, CallError> {
        Ok(Called {
            verdict: Verdict::Unauthorized,
            ttl: Duration::from_secs(ttl),
            status: 200,
            latency: Duration::ZERO,
        })
    }

    #[test]
    fn keys_depend_on_every_part_and_never_concatenate() {
        let c = DecisionCache::new(b"secret", None);
        let fp = [1u8; 32];
        let k = |stage: &str, ids: &[&str]| c.key(&fp, stage, &ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(k("prod", &["a", "b"]), k("prod", &["a", "b"]));
        assert_ne!(k("prod", &["a", "b"]), k("prod", &["a,b"]));
        assert_ne!(k("prod", &["ab"]), k("prod", &["a", "b"]));
        assert_ne!(k("prod", &["a"]), k("test", &["a"]));
        assert_ne!(c.key(&[2u8; 32], "prod", &["a".into()]), k("prod", &["a"]));
        // Another secret, another key: the keys say nothing without it.
        assert_ne!(DecisionCache::new(b"other", None).key(&fp, "prod", &["a".into()]), k("prod", &["a"]));
    }

    #[tokio::test]
    async fn a_cached_answer_is_served_until_its_ttl_and_failures_are_never_cached() {
        let c = Arc::new(DecisionCache::new(b"secret", None));
        let key = c.key(&[0; 32], "s", &["t".into()]);
        let r = c.resolve(key, async { Err(CallError::Failure("down".into())) }).await;
        assert!(r.is_err());
        assert!(c.cached(&key).is_none());
        let r = c.resolve(key, async { called(0) }).await;
        assert!(matches!(r.map(|r| r.source), Ok(Source::Function { .. })));
        assert!(c.cached(&key).is_none(), "a zero TTL is not cached");
        let _ = c.resolve(key, async { called(60) }).await;
        let r = c.resolve(key, async { Err(CallError::Failure("must not be called".into())) }).await;
        assert_eq!(r.map(|r| r.source).ok(), Some(Source::Node));
    }

    #[tokio::test]
    async fn concurrent_misses_on_one_key_make_one_call() {
        let c = Arc::new(DecisionCache::new(b"secret", None));
        let key = c.key(&[0; 32], "s", &["t".into()]);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (c, calls, mut rx) = (c.clone(), calls.clone(), rx.clone());
            waiting.push(tokio::spawn(async move {
                c.resolve(key, async move {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = rx.wait_for(|go| *go).await;
                    called(60)
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tx.send(true);
        for w in waiting {
            assert!(matches!(w.await, Ok(Ok(_))));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(rx);
    }

    #[test]
    fn sealed_entries_open_only_under_their_own_key() {
        let c = DecisionCache::new(b"secret", None);
        let (k1, k2) = (c.key(&[0; 32], "s", &["a".into()]), c.key(&[0; 32], "s", &["b".into()]));
        let stored = Stored { exp: 1, v: StoredVerdict::Unauthorized };
        let Some(mut sealed) = c.seal(&k1, &stored) else { panic!("sealing failed") };
        assert!(c.open(&k1, &sealed).is_some());
        assert!(c.open(&k2, &sealed).is_none(), "moved to another key");
        assert!(DecisionCache::new(b"other", None).open(&k1, &sealed).is_none(), "another secret");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(c.open(&k1, &sealed).is_none(), "tampered");
    }
}
