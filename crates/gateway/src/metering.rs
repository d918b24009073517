//! The process-wide handles the meter and throttle phases use: the counters (in process or
//! on Redis), the API keys, and the usage tally. They outlive config reloads; a change of the
//! `shared_state` section takes a restart.

use std::sync::Arc;

use directory::ApiKeys;
use limits::{Counters, LocalCounters, UsageTally};

/// Counters, keys and usage, shared by every runtime of the process.
#[derive(Debug)]
pub struct Metering {
    /// Throttle and quota state.
    pub counters: Counters,
    /// API keys, cached; shared with the admin API.
    pub api_keys: Arc<ApiKeys>,
    /// Allowed metered requests not yet written to the store.
    pub usage: UsageTally,
    /// Per client address: store lookups that found no usable API key or access key.
    pub(crate) failed_lookups: LocalCounters,
}

/// How many store lookups for unknown or disabled keys a client address may cause, API keys
/// and SigV4 access keys each: a burst of 20, then one a second. Past it, its uncached keys are
/// refused without a lookup, so a flood of random keys costs an HMAC or a parse, not a store
/// query. Cached keys are not affected.
pub(crate) const FAILED_LOOKUPS: limits::Limit = limits::Limit::whole(1, 20);

/// What a client is told about its limit: the `RateLimit-*` headers, and `Retry-After` on a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    /// `RateLimit-Limit`.
    pub(crate) limit: u64,
    /// `RateLimit-Remaining`.
    pub(crate) remaining: u64,
    /// `RateLimit-Reset`: seconds until the limit has room again.
    pub(crate) reset_secs: u64,
    /// `Retry-After`, on a refusal.
    pub(crate) retry_after: bool,
}

// === impl Metering ===

impl Metering {
    /// Metering on `counters` with `api_keys`, tallying usage in memory.
    pub fn new(counters: Counters, api_keys: ApiKeys) -> Self {
        Self::with_usage(counters, api_keys, UsageTally::new())
    }

    /// Metering on `counters` with `api_keys`, tallying usage in `usage` (a journaled one).
    pub fn with_usage(counters: Counters, api_keys: ApiKeys, usage: UsageTally) -> Self {
        Self { counters, api_keys: Arc::new(api_keys), usage, failed_lookups: LocalCounters::new() }
    }
}

/// Whole seconds from now until `until_us`, rounded up (a client told 0 would retry at once).
pub(crate) fn secs_until(until_us: i64, now_us: i64) -> u64 {
    u64::try_from((until_us - now_us).max(1)).map_or(1, |us| us.div_ceil(1_000_000))
}
