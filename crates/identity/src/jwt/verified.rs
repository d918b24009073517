//! Tokens that passed every check, kept until they expire so that the signature is not checked
//! again on each request (an RS256 verification costs tens of microseconds; a lookup, one
//! SHA-256 of the token).
//!
//! Only verified tokens get in, so whoever fills the cache holds valid tokens; it is bounded
//! anyway. Keys are SHA-256 of the authorizer's fingerprint and the token: a forged token can
//! only hit an entry by being the very same text.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};

use super::Claims;

const SHARDS: usize = 16;

/// A token that passed its authorizer's checks (scopes aside: those are the route's).
#[derive(Debug)]
pub struct Verified {
    /// Its claims.
    pub claims: Claims,
    /// The index of its issuer in the authorizer's list.
    pub issuer: usize,
    /// The key id it was verified with: an entry is trusted only while the issuer still
    /// publishes that key.
    pub kid: Option<String>,
}

/// Verified tokens by [`VerifiedTokens::key`].
#[derive(Debug)]
pub struct VerifiedTokens {
    shards: Vec<Mutex<HashMap<[u8; 32], Entry>>>,
    per_shard: usize,
}

#[derive(Debug)]
struct Entry {
    token: Arc<Verified>,
    /// Seconds since the epoch after which the entry is dropped (`exp` plus the leeway).
    until_s: u64,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new(65_536)
    }
}

impl VerifiedTokens {
    /// A cache of at most about `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), per_shard }
    }

    /// The key of `token` for the authorizer with `fingerprint`.
    pub fn key(fingerprint: &[u8; 32], token: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(fingerprint);
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// The verified token under `key`, unless it has expired by `now_s`.
    pub fn get(&self, key: &[u8; 32], now_s: u64) -> Option<Arc<Verified>> {
        let mut shard = self.shard(key).lock();
        match shard.get(key) {
            Some(e) if now_s < e.until_s => Some(Arc::clone(&e.token)),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `token` under `key` until `until_s`. A full shard first drops its expired
    /// entries, and is emptied if that is not enough (valid tokens are then verified again).
    pub fn insert(&self, key: [u8; 32], token: Arc<Verified>, until_s: u64, now_s: u64) {
        let mut shard = self.shard(&key).lock();
        if shard.len() >= self.per_shard {
            shard.retain(|_, e| now_s < e.until_s);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(key, Entry { token, until_s });
    }

    /// Drops every entry (keys were withdrawn, say).
    pub fn clear(&self) {
        self.shards.iter().for_each(|s| s.lock().clear());
    }

    /// How many tokens are held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &[u8; 32]) -> &Mutex<HashMap<[u8; 32], Entry>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn verified(sub: &str) -> Arc<Verified> {
        let claims = serde_json::json!({"sub": sub}).as_object().cloned().unwrap();
        Arc::new(Verified { claims: Claims(claims), issuer: 0, kid: None })
    }

    #[test]
    fn entries_live_until_their_time_and_belong_to_one_authorizer() {
        let cache = VerifiedTokens::new(64);
        let key = VerifiedTokens::key(&[1; 32], "a.b.c");
        assert_ne!(key, VerifiedTokens::key(&[2; 32], "a.b.c"), "another authorizer, another key");
        assert_ne!(key, VerifiedTokens::key(&[1; 32], "a.b.d"));
        cache.insert(key, verified("u1"), 100, 50);
        assert_eq!(cache.get(&key, 99).unwrap().claims.text("sub").as_deref(), Some("u1"));
        assert!(cache.get(&key, 100).is_none(), "expired");
        assert!(cache.is_empty(), "and dropped");
    }

    #[test]
    fn a_full_shard_drops_expired_entries_first_then_everything() {
        let cache = VerifiedTokens::new(SHARDS * 2);
        // Three keys of one shard: the first byte picks it.
        let keys: Vec<[u8; 32]> = (0..3u8).map(|i| [[0u8].as_slice(), &[i; 31]].concat().try_into().unwrap()).collect();
        cache.insert(keys[0], verified("old"), 10, 0);
        cache.insert(keys[1], verified("live"), 1000, 0);
        cache.insert(keys[2], verified("new"), 1000, 20);
        assert!(cache.get(&keys[0], 20).is_none());
        assert!(cache.get(&keys[1], 20).is_some(), "the live entry stayed");
        assert!(cache.get(&keys[2], 20).is_some());
        let fourth: [u8; 32] = [[0u8].as_slice(), &[9; 31]].concat().try_into().unwrap();
        cache.insert(fourth, verified("more"), 1000, 20);
        assert_eq!(cache.len(), 1, "nothing had expired: the shard was emptied");
    }
}
