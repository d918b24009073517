//! What slows down guessing in this process: failed sign-ins per client address (any users),
//! and per name the pool does not know — so that an unknown name gets locked out just like a
//! real one, and lock-outs tell nothing about who exists. The failures of real users are
//! counted in the store, shared by every node.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

/// The window of the per-address count.
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Entries kept per map; a full map is emptied (the limits then restart, never loosen more).
const MAX_ENTRIES: usize = 65_536;

/// In-process failure counts.
#[derive(Debug, Default)]
pub(super) struct Guard {
    addresses: Mutex<HashMap<IpAddr, (i64, u32)>>,
    unknown: Mutex<HashMap<String, (u32, i64)>>,
}

impl Guard {
    /// Whether `ip` has failed `limit` times in the current window.
    pub(super) fn address_blocked(&self, ip: IpAddr, limit: u32, now_ms: i64) -> bool {
        self.addresses.lock().get(&ip).is_some_and(|&(start, n)| now_ms - start < WINDOW_MS && n >= limit)
    }

    /// Counts a failure from `ip`.
    pub(super) fn address_failed(&self, ip: IpAddr, now_ms: i64) {
        let mut map = self.addresses.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        let e = map.entry(ip).or_insert((now_ms, 0));
        if now_ms - e.0 >= WINDOW_MS {
            *e = (now_ms, 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    /// For an unknown name: until when it is "locked", after this failure.
    pub(super) fn unknown_failed(&self, key: &str, lockout: &model::Lockout, now_ms: i64) -> i64 {
        let mut map = self.unknown.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        let e = map.entry(key.to_owned()).or_insert((0, 0));
        e.0 = e.0.saturating_add(1);
        if let Some(until) = lock_until(lockout, i64::from(e.0), now_ms) {
            e.1 = until;
        }
        e.1
    }

    /// Until when an unknown name is "locked" (0: not).
    pub(super) fn unknown_locked_until(&self, key: &str) -> i64 {
        self.unknown.lock().get(key).map_or(0, |e| e.1)
    }
}

/// After `failures` failed sign-ins, until when the user is locked: nothing before `after`
/// failures, then `initial`, doubled with each further failure, at most `max`.
pub(super) fn lock_until(lockout: &model::Lockout, failures: i64, now_ms: i64) -> Option<i64> {
    let over = failures - i64::from(lockout.after);
    if over < 0 {
        return None;
    }
    let initial = i64::try_from(lockout.initial.as_std().as_millis()).unwrap_or(i64::MAX);
    let max = i64::try_from(lockout.max.as_std().as_millis()).unwrap_or(i64::MAX);
    let factor = 1i64.checked_shl(u32::try_from(over.min(40)).unwrap_or(40)).unwrap_or(i64::MAX);
    Some(now_ms.saturating_add(initial.saturating_mul(factor).min(max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_from_the_threshold_up_to_the_maximum() {
        let l = model::Lockout::default();
        assert_eq!(lock_until(&l, 4, 0), None);
        assert_eq!(lock_until(&l, 5, 0), Some(1_000));
        assert_eq!(lock_until(&l, 6, 0), Some(2_000));
        assert_eq!(lock_until(&l, 9, 0), Some(16_000));
        assert_eq!(lock_until(&l, 500, 0), Some(900_000));
    }

    #[test]
    fn addresses_are_counted_per_window_and_unknown_names_lock_like_real_ones() {
        let g = Guard::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..3 {
            g.address_failed(ip, 0);
        }
        assert!(g.address_blocked(ip, 3, 1));
        assert!(!g.address_blocked(ip, 4, 1));
        assert!(!g.address_blocked(ip, 3, WINDOW_MS), "the window passed");
        let l = model::Lockout::default();
        for _ in 0..4 {
            assert_eq!(g.unknown_failed("ghost", &l, 0), 0);
        }
        assert_eq!(g.unknown_failed("ghost", &l, 0), 1_000);
        assert_eq!(g.unknown_locked_until("ghost"), 1_000);
    }
}
