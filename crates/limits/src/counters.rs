//! What one request asks of the counters, what they answer, and where they live.

use crate::limit::Limit;
use crate::local::LocalCounters;
use crate::redis_counters::RedisCounters;

/// Which throttle a bucket is, for the response, logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// The gateway as a whole.
    Global,
    /// One client address.
    Client,
    /// One stage of an API.
    Stage,
    /// One route of a stage.
    Route,
    /// One API key under its usage plan.
    Plan,
    /// One API key on one route, from the plan's per-route override.
    PlanRoute,
}

/// One token bucket a request must take a token from.
#[derive(Clone, Debug)]
pub struct BucketCheck {
    /// The counter's name: the same on every node, never containing a node's own id. The
    /// gateway's names start with what they count (`g`, `c:IP`, `s:API:STAGE`, …).
    pub key: String,
    /// Its rate and burst.
    pub limit: Limit,
    /// Which throttle it is.
    pub level: Level,
}

/// The quota a request counts against.
#[derive(Clone, Debug)]
pub struct QuotaCheck {
    /// The counter's name, without the window (the counters add the window's start).
    pub key: String,
    /// Requests allowed in the window.
    pub limit: u64,
    /// The current window's start, microseconds since the epoch.
    pub window_start_us: i64,
    /// Its end.
    pub window_end_us: i64,
    /// Requests already used in this window according to durable usage records, used only if
    /// the counter does not exist yet (after a restart, or after Redis lost its data). `None`:
    /// not looked up; the counters answer [`Decision::SeedNeeded`] if they need it, so the
    /// store is read once per key and window, not per request.
    pub seed: Option<u64>,
}

/// Everything one request must get past, checked and taken together.
#[derive(Clone, Debug, Default)]
pub struct Acquire {
    /// Buckets; every one must have a token.
    pub buckets: Vec<BucketCheck>,
    /// The quota, if the request is metered.
    pub quota: Option<QuotaCheck>,
}

/// The answer for an allowed request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    /// Requests used in the quota window, this one included.
    pub quota_used: Option<u64>,
    /// The counters could not be reached and the failure mode let the request through
    /// unmetered (`fail_open`) or on this node's own counters (`local`).
    pub degraded: bool,
}

/// What the counters decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Every bucket had a token and the quota had room; all were taken.
    Allowed(Allowed),
    /// A bucket is empty; nothing was taken.
    Throttled {
        /// The first empty bucket's level.
        level: Level,
        /// Its limit.
        limit: Limit,
        /// Microseconds until it has a token again.
        retry_after_us: i64,
    },
    /// The quota's counter does not exist and the request brought no seed: look up the usage
    /// already recorded in this window and ask again with it. Nothing was taken.
    SeedNeeded,
    /// The quota is used up; nothing was taken.
    QuotaExceeded {
        /// The quota's limit.
        limit: u64,
        /// When the window ends, microseconds since the epoch.
        resets_at_us: i64,
    },
}

/// What to do when the shared counters cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Refuse the request with 503.
    FailClosed,
    /// Let it through without counting it.
    FailOpen,
    /// Count it on this node's own counters: each node then enforces the limits alone.
    #[default]
    Local,
}

/// The shared counters could not be reached and the failure mode is `fail_closed`.
#[derive(Debug, thiserror::Error)]
#[error("the shared rate-limit counters are unavailable: {0}")]
pub struct Unavailable(pub String);

/// Where counters live.
#[derive(Debug)]
pub enum Counters {
    /// In this process.
    Local(LocalCounters),
    /// In Redis, shared by every node.
    Redis(Box<RedisCounters>),
}

// === impl Counters ===

impl Counters {
    /// Checks and takes everything `req` asks for, all or nothing.
    pub async fn acquire(&self, req: &Acquire) -> Result<Decision, Unavailable> {
        match self {
            Self::Local(l) => Ok(l.acquire(req, crate::now_us())),
            Self::Redis(r) => r.acquire(req).await,
        }
    }

    /// The Redis failure mode, when the counters are on Redis.
    pub fn failure_mode(&self) -> Option<FailureMode> {
        match self {
            Self::Local(_) => None,
            Self::Redis(r) => Some(r.settings().on_failure),
        }
    }

    /// `local` or `redis`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Redis(_) => "redis",
        }
    }
}

// === impl Decision ===

impl Decision {
    /// A request let through unmetered.
    pub fn allowed_unmetered() -> Self {
        Self::Allowed(Allowed { quota_used: None, degraded: true })
    }
}
