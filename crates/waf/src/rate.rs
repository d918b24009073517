//! Rate-based rules: requests counted per aggregation key over a sliding window of 10-second
//! buckets, in this process, with the counts of other nodes added in when the gateway shares
//! them (see [`RateState::take_unsynced`] and [`RateState::set_cluster_total`]).
//!
//! A rule's state is found by its fingerprint (ACL, rule, limit, window and key), process-wide,
//! so a configuration reload that keeps the rule keeps its counts.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// The counts of one rate-based rule.
#[derive(Debug)]
pub struct RateState {
    fingerprint: String,
    window_s: u64,
    keys: Mutex<HashMap<Vec<u8>, Slots>>,
}

/// One aggregation key's counts.
#[derive(Debug, Default)]
struct Slots {
    /// (bucket start in seconds, requests counted here), oldest first, within the window.
    local: VecDeque<(u64, u64)>,
    /// What other nodes counted in the window, as of the last sync.
    others: u64,
    /// Requests counted here since the last sync, by bucket.
    unsynced: Vec<(u64, u64)>,
}

/// Counts not yet shared: (key, bucket start, requests).
pub type Unsynced = Vec<(Vec<u8>, u64, u64)>;

/// Seconds per bucket: the window slides in steps of this.
pub const BUCKET_S: u64 = 10;
/// At most this many keys are tracked per rule; past it the keys idle longest are dropped
/// (AWS tracks 10,000 per rule).
const MAX_KEYS: usize = 10_000;

static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<RateState>>>> = LazyLock::new(Mutex::default);

// === impl RateState ===

impl RateState {
    /// The live state with this fingerprint, or a new one.
    pub(crate) fn shared(fingerprint: String, window_s: u64) -> Arc<Self> {
        let mut registry = REGISTRY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        registry.retain(|_, w| w.strong_count() > 0);
        if let Some(live) = registry.get(&fingerprint).and_then(Weak::upgrade) {
            return live;
        }
        let state = Arc::new(Self { fingerprint: fingerprint.clone(), window_s, keys: Mutex::default() });
        registry.insert(fingerprint, Arc::downgrade(&state));
        state
    }

    /// What identifies the rule across nodes and reloads (also the Redis key's middle part).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The window, in seconds.
    pub fn window_s(&self) -> u64 {
        self.window_s
    }

    /// Counts one request of `key` at `now_s` and returns the requests of the window: this
    /// one, the others counted here, and what other nodes counted as of the last sync.
    pub(crate) fn hit(&self, key: &[u8], now_s: u64) -> u64 {
        let bucket = now_s - now_s % BUCKET_S;
        let oldest = bucket.saturating_sub(self.window_s - BUCKET_S);
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            evict(&mut keys, oldest);
        }
        let slots = keys.entry(key.to_vec()).or_default();
        while slots.local.front().is_some_and(|(b, _)| *b < oldest) {
            slots.local.pop_front();
        }
        match slots.local.back_mut() {
            Some((b, n)) if *b == bucket => *n += 1,
            _ => slots.local.push_back((bucket, 1)),
        }
        match slots.unsynced.last_mut() {
            Some((b, n)) if *b == bucket => *n += 1,
            _ => slots.unsynced.push((bucket, 1)),
        }
        slots.local.iter().map(|(_, n)| n).sum::<u64>() + slots.others
    }

    /// Takes the counts made here since the last call, to add to the shared counters.
    pub fn take_unsynced(&self) -> Unsynced {
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (key, slots) in keys.iter_mut() {
            out.extend(slots.unsynced.drain(..).map(|(b, n)| (key.clone(), b, n)));
        }
        out
    }

    /// The keys counted here within the window ending at `now_s`, whose cluster totals the
    /// gateway refreshes every round.
    pub fn active_keys(&self, now_s: u64) -> Vec<Vec<u8>> {
        let bucket = now_s - now_s % BUCKET_S;
        let oldest = bucket.saturating_sub(self.window_s - BUCKET_S);
        let keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter().filter(|(_, s)| s.local.back().is_some_and(|(b, _)| *b >= oldest)).map(|(k, _)| k.clone()).collect()
    }

    /// Puts back counts that could not be shared, to be sent with the next round.
    pub fn restore_unsynced(&self, unsynced: Unsynced) {
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, bucket, n) in unsynced {
            if let Some(slots) = keys.get_mut(&key) {
                slots.unsynced.insert(0, (bucket, n));
            }
        }
    }

    /// Records that the whole cluster counted `total` requests of `key` in the window ending at
    /// `now_s` (this node's included).
    pub fn set_cluster_total(&self, key: &[u8], total: u64, now_s: u64) {
        let bucket = now_s - now_s % BUCKET_S;
        let oldest = bucket.saturating_sub(self.window_s - BUCKET_S);
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slots) = keys.get_mut(key) {
            let local: u64 = slots.local.iter().filter(|(b, _)| *b >= oldest).map(|(_, n)| n).sum();
            let pending: u64 = slots.unsynced.iter().map(|(_, n)| n).sum();
            // Counts made here after the sync read are in `local` but not yet in `total`.
            slots.others = (total + pending).saturating_sub(local);
        }
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the keys with no request in the window, or, if none, the one idle longest.
fn evict(keys: &mut HashMap<Vec<u8>, Slots>, oldest: u64) {
    let last = |s: &Slots| s.local.back().map_or(0, |(b, _)| *b);
    keys.retain(|_, s| last(s) >= oldest || !s.unsynced.is_empty());
    if keys.len() >= MAX_KEYS {
        if let Some(idle) = keys.iter().min_by_key(|(_, s)| last(s)).map(|(k, _)| k.clone()) {
            keys.remove(&idle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_by_buckets() {
        let s = RateState::shared("t:slide".into(), 60);
        for i in 0..5 {
            assert_eq!(s.hit(b"a", 1000 + i), i + 1);
        }
        assert_eq!(s.hit(b"b", 1005), 1, "keys count apart");
        // 1000..1009 is one bucket; at 1065 the window is 1010..1069, so it is gone.
        assert_eq!(s.hit(b"a", 1059), 6);
        assert_eq!(s.hit(b"a", 1065), 2);
    }

    #[test]
    fn other_nodes_counts_add_in() {
        let s = RateState::shared("t:cluster".into(), 60);
        assert_eq!(s.hit(b"k", 2000), 1);
        let sent = s.take_unsynced();
        assert_eq!(sent, vec![(b"k".to_vec(), 2000, 1)]);
        // The shared counter saw our 1 and 7 from elsewhere.
        s.set_cluster_total(b"k", 8, 2001);
        assert_eq!(s.hit(b"k", 2002), 9);
        assert!(s.take_unsynced().len() == 1, "only the new request is unsynced");
    }

    #[test]
    fn state_survives_a_recompile_with_the_same_fingerprint() {
        let a = RateState::shared("t:reload".into(), 60);
        a.hit(b"x", 10);
        let b = RateState::shared("t:reload".into(), 60);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.hit(b"x", 11), 2);
    }
}
