//! Counters kept in this process: a sharded map from counter name to state. A request's
//! counters are checked and taken under the locks of every shard they live in, taken in shard
//! order, so the all-or-nothing rule holds under any concurrency.
//!
//! Written here rather than with `governor`: a request must take from several buckets and a
//! quota at once or from none, which per-limiter crates cannot do, and the arithmetic must be
//! the same as the Redis script's so that `local` fallback behaves like the cluster.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use parking_lot::{Mutex, MutexGuard};

use crate::counters::{Acquire, Allowed, BucketCheck, Decision, QuotaCheck};

const SHARDS: usize = 32;

/// In-process counters.
#[derive(Debug)]
pub struct LocalCounters {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

#[derive(Debug, Default)]
struct Shard {
    slots: HashMap<String, Slot>,
    /// Size after the last sweep; the next sweep runs when the map has doubled since.
    swept_at: usize,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    /// A bucket's theoretical arrival time, µs.
    Bucket { tat: i64 },
    /// A quota window's count.
    Quota { end: i64, used: u64 },
}

// === impl LocalCounters ===

impl Default for LocalCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(), hasher: RandomState::new() }
    }

    /// Checks and takes everything `req` asks for at `now` (µs since the epoch), all or nothing.
    pub fn acquire(&self, req: &Acquire, now: i64) -> Decision {
        if let ([b], None) = (req.buckets.as_slice(), &req.quota) {
            return self.acquire_one(b, now);
        }
        let quota_key = req.quota.as_ref().map(window_key);
        let bucket_shards: Vec<usize> = req.buckets.iter().map(|b| self.shard_of(&b.key)).collect();
        let quota_shard = quota_key.as_ref().map(|k| self.shard_of(k));
        let mut order: Vec<usize> = bucket_shards.iter().copied().chain(quota_shard).collect();
        order.sort_unstable();
        order.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, Shard>)> =
            order.iter().map(|&i| (i, self.shards[i].lock())).collect();

        let mut tats = Vec::with_capacity(req.buckets.len());
        for (b, &si) in req.buckets.iter().zip(&bucket_shards) {
            let tat = shard(&mut guards, si).and_then(|s| match s.slots.get(&b.key) {
                Some(Slot::Bucket { tat }) => Some(*tat),
                _ => None,
            });
            match b.limit.step(tat, now) {
                Ok(new) => tats.push(new),
                Err(retry_after_us) => return Decision::Throttled { level: b.level, limit: b.limit, retry_after_us },
            }
        }
        let mut quota_used = None;
        if let (Some(q), Some(key), Some(si)) = (&req.quota, &quota_key, quota_shard) {
            let used = shard(&mut guards, si).and_then(|s| match s.slots.get(key) {
                Some(Slot::Quota { used, .. }) => Some(*used),
                _ => None,
            });
            let Some(used) = used.or(q.seed) else { return Decision::SeedNeeded };
            if used >= q.limit {
                return Decision::QuotaExceeded { limit: q.limit, resets_at_us: q.window_end_us };
            }
            quota_used = Some(used + 1);
        }
        for ((b, &si), tat) in req.buckets.iter().zip(&bucket_shards).zip(tats) {
            if let Some(s) = shard(&mut guards, si) {
                s.insert(&b.key, Slot::Bucket { tat }, now);
            }
        }
        if let (Some(q), Some(key), Some(si), Some(used)) = (&req.quota, quota_key, quota_shard, quota_used) {
            if let Some(s) = shard(&mut guards, si) {
                s.insert(&key, Slot::Quota { end: q.window_end_us, used }, now);
            }
        }
        Decision::Allowed(Allowed { quota_used, degraded: false })
    }

    /// The common case of an open route, one bucket and no quota: one lock, no allocation.
    fn acquire_one(&self, b: &BucketCheck, now: i64) -> Decision {
        let mut shard = self.shards[self.shard_of(&b.key)].lock();
        let tat = match shard.slots.get(b.key.as_str()) {
            Some(Slot::Bucket { tat }) => Some(*tat),
            _ => None,
        };
        match b.limit.step(tat, now) {
            Ok(tat) => {
                shard.insert(&b.key, Slot::Bucket { tat }, now);
                Decision::Allowed(Allowed::default())
            }
            Err(retry_after_us) => Decision::Throttled { level: b.level, limit: b.limit, retry_after_us },
        }
    }

    /// Gives back the token each bucket of `req` gave to a request that was then refused
    /// elsewhere (GCRA's refund: the TAT moves one interval back).
    pub fn give_back(&self, req: &Acquire) {
        for b in &req.buckets {
            let mut shard = self.shards[self.shard_of(&b.key)].lock();
            if let Some(Slot::Bucket { tat }) = shard.slots.get_mut(b.key.as_str()) {
                *tat -= b.limit.interval_us();
            }
        }
    }

    /// Whether one bucket would allow a request at `now`, without taking from it.
    pub fn would_allow(&self, key: &str, limit: crate::Limit, now: i64) -> bool {
        let shard = self.shards[self.shard_of(key)].lock();
        let tat = match shard.slots.get(key) {
            Some(Slot::Bucket { tat }) => Some(*tat),
            _ => None,
        };
        limit.step(tat, now).is_ok()
    }

    /// Counters held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().slots.len()).sum()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_of(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }
}

// === impl Shard ===

impl Shard {
    /// Stores a slot; when the map has doubled since the last sweep, first drops every slot
    /// that no longer matters (a bucket that has refilled, a quota window that has ended), so
    /// per-client and per-key counters cannot grow without bound.
    fn insert(&mut self, key: &str, slot: Slot, now: i64) {
        // The common case, a counter that exists, costs no allocation.
        if let Some(held) = self.slots.get_mut(key) {
            *held = slot;
            return;
        }
        if self.slots.len() >= (self.swept_at * 2).max(1024) {
            self.slots.retain(|_, s| match *s {
                Slot::Bucket { tat } => tat > now,
                Slot::Quota { end, .. } => end > now,
            });
            self.swept_at = self.slots.len();
        }
        self.slots.insert(key.to_owned(), slot);
    }
}

/// The locked shard `i` among `guards`.
fn shard<'a>(guards: &'a mut [(usize, MutexGuard<'_, Shard>)], i: usize) -> Option<&'a mut Shard> {
    guards.iter_mut().find(|(j, _)| *j == i).map(|(_, g)| &mut **g)
}

/// A quota counter's name for one window: a new window is a new counter.
pub(crate) fn window_key(q: &QuotaCheck) -> String {
    format!("{}:{}", q.key, q.window_start_us)
}

#[cfg(test)]
mod tests {
    use super::LocalCounters;
    use crate::counters::{Acquire, BucketCheck, Decision, Level, QuotaCheck};
    use crate::limit::Limit;

    fn bucket(key: &str, rate: f64, burst: u32, level: Level) -> Result<BucketCheck, String> {
        Ok(BucketCheck { key: key.into(), limit: Limit::new(rate, burst)?, level })
    }

    fn quota(limit: u64, seed: u64) -> QuotaCheck {
        QuotaCheck {
            key: "q:plan:key".into(),
            limit,
            window_start_us: 0,
            window_end_us: 86_400_000_000,
            seed: Some(seed),
        }
    }

    #[test]
    fn a_refused_request_takes_nothing_from_any_counter() -> Result<(), String> {
        let c = LocalCounters::new();
        let wide = bucket("wide", 100.0, 100, Level::Plan)?;
        let narrow = bucket("narrow", 1.0, 1, Level::Route)?;
        let both = Acquire { buckets: vec![wide.clone(), narrow], quota: Some(quota(10, 0)) };
        assert!(matches!(c.acquire(&both, 0), Decision::Allowed(_)));
        for _ in 0..20 {
            assert!(matches!(c.acquire(&both, 0), Decision::Throttled { level: Level::Route, .. }));
        }
        // The 20 refusals took nothing: the quota has 9 left and the wide bucket 99.
        let only_wide = Acquire { buckets: vec![wide], quota: Some(quota(10, 0)) };
        for i in 2..=10 {
            assert_eq!(
                c.acquire(&only_wide, 0),
                Decision::Allowed(crate::Allowed { quota_used: Some(i), degraded: false })
            );
        }
        assert!(matches!(c.acquire(&only_wide, 0), Decision::QuotaExceeded { limit: 10, .. }));
        Ok(())
    }

    #[test]
    fn a_seed_counts_only_when_the_counter_is_new() {
        let c = LocalCounters::new();
        let unseeded = Acquire { buckets: vec![], quota: Some(QuotaCheck { seed: None, ..quota(5, 0) }) };
        assert_eq!(c.acquire(&unseeded, 0), Decision::SeedNeeded, "a new counter asks for its seed");
        let seeded = Acquire { buckets: vec![], quota: Some(quota(5, 4)) };
        assert_eq!(c.acquire(&seeded, 0), Decision::Allowed(crate::Allowed { quota_used: Some(5), degraded: false }));
        // Once the counter exists no seed is asked for, and none is used.
        assert!(matches!(c.acquire(&unseeded, 0), Decision::QuotaExceeded { .. }));
        assert!(matches!(
            c.acquire(&Acquire { buckets: vec![], quota: Some(quota(5, 0)) }, 0),
            Decision::QuotaExceeded { .. }
        ));
    }

    #[test]
    fn would_allow_looks_without_taking() {
        let c = LocalCounters::new();
        let limit = crate::Limit::whole(1, 1);
        assert!(c.would_allow("k", limit, 0));
        assert!(c.would_allow("k", limit, 0), "looking took nothing");
        let req = Acquire { buckets: vec![BucketCheck { key: "k".into(), limit, level: Level::Client }], quota: None };
        assert!(matches!(c.acquire(&req, 0), Decision::Allowed(_)));
        assert!(!c.would_allow("k", limit, 0));
        assert!(c.would_allow("k", limit, 1_000_000));
    }

    #[test]
    fn a_new_window_starts_from_zero() {
        let c = LocalCounters::new();
        let mut q = quota(1, 0);
        let req = Acquire { buckets: vec![], quota: Some(q.clone()) };
        assert!(matches!(c.acquire(&req, 0), Decision::Allowed(_)));
        assert!(matches!(c.acquire(&req, 0), Decision::QuotaExceeded { .. }));
        q.window_start_us = q.window_end_us;
        q.window_end_us *= 2;
        let next = Acquire { buckets: vec![], quota: Some(q) };
        assert!(matches!(c.acquire(&next, 86_400_000_001), Decision::Allowed(_)));
    }

    #[test]
    fn concurrent_requests_never_exceed_the_quota() {
        let c = std::sync::Arc::new(LocalCounters::new());
        let req = Acquire { buckets: vec![], quota: Some(quota(1000, 0)) };
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (c, req) = (c.clone(), req.clone());
                std::thread::spawn(move || {
                    (0..500).filter(|_| matches!(c.acquire(&req, 0), Decision::Allowed(_))).count()
                })
            })
            .collect();
        let allowed: usize = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        assert_eq!(allowed, 1000);
    }

    #[test]
    fn refilled_buckets_are_swept_so_memory_stays_bounded() -> Result<(), String> {
        let c = LocalCounters::new();
        for i in 0..100_000 {
            let req = Acquire { buckets: vec![bucket(&format!("ip:{i}"), 1000.0, 10, Level::Client)?], quota: None };
            // Each bucket refills within 1 ms; time moves 1 ms per request.
            c.acquire(&req, i * 1000);
        }
        assert!(c.len() < 70_000, "{} counters kept", c.len());
        Ok(())
    }
}
