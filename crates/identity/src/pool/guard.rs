//! What slows down guessing beyond the store's per-user lock-outs: failed sign-ins per client
//! address (any users), and per name the pool does not know — so that an unknown name gets
//! locked out just like a real one, and lock-outs tell nothing about who exists. The failures
//! of real users are counted in the store, shared by every node.
//!
//! With Redis (`shared_state.redis`), both counts are kept there, so every node sees the same;
//! they are kept in the process too, and the process's count answers whenever Redis does not.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use limits::RedisLink;
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};

/// The window of the per-address count.
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Entries kept per map; a full map is emptied (the limits then restart, never loosen more).
const MAX_ENTRIES: usize = 65_536;

/// Counts one failure of an address; the window starts with the first. Returns the count.
const ADDRESS_FAILED: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// Counts one failure of an unknown name and returns until when it is locked (0: not), the
/// same doubling as a real user's (`lock_until`): ARGV = now, after, initial, max (ms).
const UNKNOWN_FAILED: &str = r"
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local over = n - tonumber(ARGV[2])
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if over >= 0 then
  local wait = tonumber(ARGV[3]) * (2 ^ math.min(over, 40))
  untl = tonumber(ARGV[1]) + math.min(wait, tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', untl))
end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(untl - tonumber(ARGV[1]), 0) + 900000))
return untl
";

/// Failure counts.
#[derive(Debug, Default)]
pub(super) struct Guard {
    addresses: Mutex<HashMap<IpAddr, (i64, u32)>>,
    unknown: Mutex<HashMap<String, (u32, i64)>>,
    shared: Option<Shared>,
}

/// Where the counts of every node are kept.
#[derive(Debug)]
struct Shared {
    link: Arc<RedisLink>,
    /// `{key_prefix}:pool:{pool}:`
    prefix: String,
}

impl Guard {
    /// Counts kept on Redis under `{key_prefix}:pool:{pool}:` as well as in the process.
    pub(super) fn shared(link: Arc<RedisLink>, key_prefix: &str, pool: &str) -> Self {
        Self { shared: Some(Shared { link, prefix: format!("{key_prefix}:pool:{pool}:") }), ..Self::default() }
    }

    /// Whether `ip` has failed `limit` times in the current window.
    pub(super) async fn address_blocked(&self, ip: IpAddr, limit: u32, now_ms: i64) -> bool {
        if let Some(s) = &self.shared {
            let key = format!("{}addr:{ip}", s.prefix);
            let got =
                s.link.run(|mut c| async move { redis::cmd("GET").arg(key).query_async::<Option<u32>>(&mut c).await });
            if let Ok(n) = got.await {
                return n.unwrap_or(0) >= limit;
            }
        }
        self.addresses.lock().get(&ip).is_some_and(|&(start, n)| now_ms - start < WINDOW_MS && n >= limit)
    }

    /// Counts a failure from `ip`.
    pub(super) async fn address_failed(&self, ip: IpAddr, now_ms: i64) {
        {
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
        if let Some(s) = &self.shared {
            let key = format!("{}addr:{ip}", s.prefix);
            // A failure is logged by the link; the count in the process stands meanwhile.
            let _ = s
                .link
                .run(|mut c| async move {
                    redis::Script::new(ADDRESS_FAILED).key(key).arg(WINDOW_MS).invoke_async::<i64>(&mut c).await
                })
                .await;
        }
    }

    /// For an unknown name: until when it is "locked", after this failure.
    pub(super) async fn unknown_failed(&self, name: &str, lockout: &model::Lockout, now_ms: i64) -> i64 {
        let local = {
            let mut map = self.unknown.lock();
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            let e = map.entry(name.to_owned()).or_insert((0, 0));
            e.0 = e.0.saturating_add(1);
            if let Some(until) = lock_until(lockout, i64::from(e.0), now_ms) {
                e.1 = until;
            }
            e.1
        };
        let Some(s) = &self.shared else { return local };
        let key = s.unknown_key(name);
        let ms = |d: model::Duration| i64::try_from(d.as_std().as_millis()).unwrap_or(i64::MAX);
        let (after, initial, max) = (i64::from(lockout.after), ms(lockout.initial), ms(lockout.max));
        let shared = s.link.run(|mut c| async move {
            redis::Script::new(UNKNOWN_FAILED)
                .key(key)
                .arg(now_ms)
                .arg(after)
                .arg(initial)
                .arg(max)
                .invoke_async::<i64>(&mut c)
                .await
        });
        shared.await.map_or(local, |until| until.max(local))
    }

    /// Until when an unknown name is "locked" (0: not).
    pub(super) async fn unknown_locked_until(&self, name: &str) -> i64 {
        let local = self.unknown.lock().get(name).map_or(0, |e| e.1);
        let Some(s) = &self.shared else { return local };
        let key = s.unknown_key(name);
        let shared = s.link.run(|mut c| async move {
            redis::cmd("HGET").arg(key).arg("until").query_async::<Option<i64>>(&mut c).await
        });
        shared.await.map_or(local, |until| until.unwrap_or(0).max(local))
    }
}

impl Shared {
    /// The key of an unknown name: its SHA-256, so that what people typed is not kept in Redis.
    fn unknown_key(&self, name: &str) -> String {
        let digest = Sha256::digest(name.as_bytes());
        format!("{}unknown:{}", self.prefix, hex::encode(&digest[..16]))
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

    #[tokio::test]
    async fn addresses_are_counted_per_window_and_unknown_names_lock_like_real_ones() {
        let g = Guard::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..3 {
            g.address_failed(ip, 0).await;
        }
        assert!(g.address_blocked(ip, 3, 1).await);
        assert!(!g.address_blocked(ip, 4, 1).await);
        assert!(!g.address_blocked(ip, 3, WINDOW_MS).await, "the window passed");
        let l = model::Lockout::default();
        for _ in 0..4 {
            assert_eq!(g.unknown_failed("ghost", &l, 0).await, 0);
        }
        assert_eq!(g.unknown_failed("ghost", &l, 0).await, 1_000);
        assert_eq!(g.unknown_locked_until("ghost").await, 1_000);
    }

    /// Two nodes' guards on one Redis (127.0.0.1:6379, required): failures on either count
    /// for both, for addresses and for unknown names alike.
    #[tokio::test]
    async fn nodes_on_one_redis_count_failures_together() {
        let link = || {
            let l = RedisLink::new(
                "redis://127.0.0.1:6379/0",
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            );
            Arc::new(l.unwrap_or_else(|e| panic!("{e}")))
        };
        let prefix = format!("guard-test-{}", uuid::Uuid::new_v4().simple());
        let (a, b) = (Guard::shared(link(), &prefix, "main"), Guard::shared(link(), &prefix, "main"));
        let ip: IpAddr = [198, 51, 100, 7].into();
        a.address_failed(ip, 0).await;
        b.address_failed(ip, 0).await;
        a.address_failed(ip, 0).await;
        assert!(b.address_blocked(ip, 3, 1).await, "Redis is required at 127.0.0.1:6379 for this test");
        assert!(!Guard::shared(link(), &prefix, "other").address_blocked(ip, 1, 1).await, "per pool");
        let l = model::Lockout::default();
        let now = 1_000_000;
        for i in 0..4 {
            let g = if i % 2 == 0 { &a } else { &b };
            assert_eq!(g.unknown_failed("ghost", &l, now).await, 0);
        }
        assert_eq!(a.unknown_failed("ghost", &l, now).await, now + 1_000, "the fifth failure, on either node");
        assert_eq!(b.unknown_locked_until("ghost").await, now + 1_000);
        assert_eq!(b.unknown_locked_until("someone else").await, 0);
    }
}
