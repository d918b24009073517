//! When to fetch a provider's keys (field lessons B.13): before first use, with requests
//! refused until the first fetch succeeds; again in the background once the keys are older
//! than the refresh interval; and at once when a token names an unknown `kid` (the provider
//! rotated), but no more often than a minimum interval, so that a flood of made-up `kid`s
//! cannot turn into a flood of fetches. A failed fetch keeps the last good keys.
//!
//! This is the bookkeeping only; the gateway does the fetching and passes the time in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::KeySet;

/// The key state of one issuer.
#[derive(Debug)]
pub struct KeyCache {
    settings: Timing,
    state: RwLock<State>,
}

/// How often keys are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Keys older than this are fetched again in the background.
    pub refresh: Duration,
    /// At most one fetch per this interval, whatever asks for it.
    pub min_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self { refresh: Duration::from_secs(3600), min_interval: Duration::from_secs(30) }
    }
}

#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// When the keys in hand were fetched.
    fetched: Option<Instant>,
    /// When a fetch last started, whatever came of it.
    attempted: Option<Instant>,
    /// Fetches that failed, since the start.
    failures: u64,
}

/// What to do with a token whose key id is `kid`.
#[derive(Clone, Debug)]
pub enum KeyDecision {
    /// Verify with these keys.
    Use(Arc<KeySet>),
    /// Fetch the keys first (none yet, or the `kid` is unknown and a fetch is allowed), then
    /// ask again; `stale` are the keys in hand, if any.
    Fetch {
        /// The keys in hand.
        stale: Option<Arc<KeySet>>,
    },
    /// No keys, and no fetch allowed yet: refuse the request (fail closed).
    Unavailable,
}

impl KeyCache {
    /// A cache with no keys yet.
    pub fn new(settings: Timing) -> Self {
        Self { settings, state: RwLock::new(State::default()) }
    }

    /// What to do for a token naming `kid` (or none) at `now`. A `Fetch` answer reserves the
    /// fetch: until [`Self::fetched`] or [`Self::failed`] is called or the minimum interval
    /// passes, others get the keys in hand or `Unavailable`.
    pub fn decide(&self, kid: Option<&str>, now: Instant) -> KeyDecision {
        {
            let state = self.state.read();
            if let Some(keys) = &state.keys {
                if kid.is_none_or(|k| keys.has_kid(k)) || !self.may_fetch(&state, now) {
                    return KeyDecision::Use(Arc::clone(keys));
                }
            } else if !self.may_fetch(&state, now) {
                return KeyDecision::Unavailable;
            }
        }
        let mut state = self.state.write();
        if !self.may_fetch(&state, now) {
            // Another request reserved the fetch meanwhile.
            return state.keys.as_ref().map_or(KeyDecision::Unavailable, |k| KeyDecision::Use(Arc::clone(k)));
        }
        state.attempted = Some(now);
        KeyDecision::Fetch { stale: state.keys.clone() }
    }

    /// Whether a background refresh is due at `now`: the keys are older than the refresh
    /// interval (or there are none) and a fetch is allowed. Reserves the fetch when it is.
    pub fn refresh_due(&self, now: Instant) -> bool {
        let mut state = self.state.write();
        let old = state.fetched.is_none_or(|at| now.saturating_duration_since(at) >= self.settings.refresh);
        if old && self.may_fetch(&state, now) {
            state.attempted = Some(now);
            return true;
        }
        false
    }

    /// Records keys fetched at `now`.
    pub fn fetched(&self, keys: KeySet, now: Instant) {
        let mut state = self.state.write();
        state.keys = Some(Arc::new(keys));
        state.fetched = Some(now);
    }

    /// Records a failed fetch; the keys in hand stay.
    pub fn failed(&self) {
        self.state.write().failures += 1;
    }

    /// Fetches that failed since the start.
    pub fn failures(&self) -> u64 {
        self.state.read().failures
    }

    /// The keys in hand, if any.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.state.read().keys.clone()
    }

    /// Whether keys were ever fetched.
    pub fn ready(&self) -> bool {
        self.state.read().keys.is_some()
    }

    fn may_fetch(&self, state: &State, now: Instant) -> bool {
        state.attempted.is_none_or(|at| now.saturating_duration_since(at) >= self.settings.min_interval)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn set(kid: &str) -> KeySet {
        // A P-256 point is not checked when the set is parsed; any 32-byte x and y will do.
        let coord = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let doc = format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"{coord}","y":"{coord}"}}]}}"#);
        KeySet::parse(doc.as_bytes()).unwrap()
    }

    #[test]
    fn fails_closed_until_the_first_fetch_and_fetches_once_per_interval() {
        let cache = KeyCache::new(Timing::default());
        let t0 = Instant::now();
        assert!(matches!(cache.decide(Some("a"), t0), KeyDecision::Fetch { stale: None }));
        // The fetch is reserved: others are refused meanwhile, not sent to fetch too.
        assert!(matches!(cache.decide(Some("a"), t0), KeyDecision::Unavailable));
        cache.failed();
        assert_eq!(cache.failures(), 1);
        assert!(matches!(cache.decide(Some("a"), t0 + Duration::from_secs(29)), KeyDecision::Unavailable));
        assert!(matches!(cache.decide(Some("a"), t0 + Duration::from_secs(30)), KeyDecision::Fetch { .. }));
        cache.fetched(set("a"), t0 + Duration::from_secs(31));
        assert!(cache.ready());
        assert!(matches!(cache.decide(Some("a"), t0 + Duration::from_secs(31)), KeyDecision::Use(_)));
        assert!(matches!(cache.decide(None, t0 + Duration::from_secs(31)), KeyDecision::Use(_)));
    }

    #[test]
    fn an_unknown_kid_fetches_again_but_not_more_than_once_per_interval() {
        let cache = KeyCache::new(Timing::default());
        let t0 = Instant::now();
        assert!(matches!(cache.decide(Some("a"), t0), KeyDecision::Fetch { .. }));
        cache.fetched(set("a"), t0);
        let later = t0 + Duration::from_secs(60);
        match cache.decide(Some("b"), later) {
            KeyDecision::Fetch { stale: Some(keys) } => assert!(keys.has_kid("a")),
            other => panic!("{other:?}"),
        }
        // A flood of unknown kids right after: the keys in hand, no second fetch.
        for kid in ["c", "d", "e"] {
            assert!(matches!(cache.decide(Some(kid), later + Duration::from_secs(1)), KeyDecision::Use(_)));
        }
        cache.fetched(set("b"), later + Duration::from_secs(1));
        assert!(
            matches!(cache.decide(Some("b"), later + Duration::from_secs(2)), KeyDecision::Use(k) if k.has_kid("b"))
        );
    }

    #[test]
    fn background_refresh_after_the_refresh_interval_keeps_keys_on_failure() {
        let timing = Timing { refresh: Duration::from_secs(3600), min_interval: Duration::from_secs(30) };
        let cache = KeyCache::new(timing);
        let t0 = Instant::now();
        assert!(cache.refresh_due(t0), "nothing fetched yet");
        cache.fetched(set("a"), t0);
        assert!(!cache.refresh_due(t0 + Duration::from_secs(3599)));
        assert!(cache.refresh_due(t0 + Duration::from_secs(3600)));
        assert!(!cache.refresh_due(t0 + Duration::from_secs(3601)), "reserved");
        cache.failed();
        assert!(matches!(cache.decide(Some("a"), t0 + Duration::from_secs(3602)), KeyDecision::Use(_)));
    }
}
