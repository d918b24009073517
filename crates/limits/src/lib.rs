//! Throttles and quotas, the counters that keep them, and the tally of usage for billing.
//!
//! - [`Limit`]: a token bucket in its GCRA form (rate per second, burst = bucket size).
//! - [`Quota`]: a request budget per calendar day, week or month in a time zone.
//! - [`Counters`]: where the state lives — in the process ([`LocalCounters`]) or in Redis
//!   ([`RedisCounters`]), shared by every node. One [`Acquire`] checks every bucket and the
//!   quota that apply to a request at once, and takes from them only if all allow it: a
//!   refused request never counts against anything.
//! - [`UsageTally`]: per-key, per-day request counts waiting to be written to the store.
//!
//! Nothing here touches the store or the config; the gateway builds the checks.

mod counters;
mod limit;
mod local;
mod quota;
mod redis_counters;
mod redis_link;
mod usage;

pub use counters::{Acquire, Allowed, BucketCheck, Counters, Decision, FailureMode, Level, QuotaCheck, Unavailable};
pub use limit::Limit;
pub use local::LocalCounters;
pub use quota::{Period, Quota, QuotaError, Window};
pub use redis_counters::{RedisCounters, RedisSettings, Scope};
pub use redis_link::{RedisError, RedisLink};
pub use usage::{fuzz_journal, Batch, UsageKey, UsageTally};

/// Microseconds since the Unix epoch, the clock every counter uses.
pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}
