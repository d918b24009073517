//! Counters in Redis, shared by every node. One request is one round trip: a Lua script checks
//! every bucket and the quota and takes from them only if all allow it (Redis runs a script
//! atomically). The clock is Redis's own (`TIME`), so nodes with drifting clocks still share
//! one bucket. Counter names hold no node id, and each carries a TTL so nothing outlives its use.
//!
//! Calls go through a [`RedisLink`]: a hard timeout, and after a failure a breaker that sends
//! requests straight to the failure mode for `retry_interval` without waiting.

use std::sync::Arc;
use std::time::Duration;

use crate::counters::{Acquire, Allowed, Decision, FailureMode, Level, Unavailable};
use crate::local::{window_key, LocalCounters};
use crate::redis_link::{RedisError, RedisLink};

/// How to reach Redis and what to do without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[:password@]host[:port][/db]` or `rediss://…` for TLS.
    pub url: String,
    /// The longest a check may wait for Redis, connecting included.
    pub timeout: Duration,
    /// What happens while Redis cannot be reached.
    pub on_failure: FailureMode,
    /// Prefix of every counter name, to share a Redis with other users.
    pub key_prefix: String,
    /// How long Redis is left alone after a failure before it is tried again.
    pub retry_interval: Duration,
    /// Which limits Redis keeps.
    pub scope: Scope,
}

/// Which limits are shared through Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every limit: the gateway-wide, per-client, stage and route buckets too. Every request
    /// makes one Redis call.
    #[default]
    All,
    /// Only usage plans (key throttles and quotas). The other buckets are counted by each node,
    /// and a request without an API key makes no Redis call.
    Plans,
}

/// Counters in Redis.
pub struct RedisCounters {
    link: Arc<RedisLink>,
    settings: RedisSettings,
    local: LocalCounters,
    script: redis::Script,
}

/// Checks every bucket, then the quota; takes from all of them only if every one allows it.
/// Returns `{0, quota_used or -1}`, `{1, bucket number, retry after µs}`, `{2, 0, 0}` (quota
/// used up) or `{3, 0, 0}` (the quota's counter does not exist and no seed came with the call).
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local tats = {}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  if interval <= 0 then
    return {1, i, 1000000}
  end
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new = tat + interval
  if new - now > capacity then
    return {1, i, new - now - capacity}
  end
  tats[i] = new
end
local q = 2 * n + 2
local used = -1
if #KEYS > n then
  local held = redis.call('GET', KEYS[n + 1])
  if held then
    used = tonumber(held)
  elseif ARGV[q + 2] == '' then
    return {3, 0, 0}
  else
    used = tonumber(ARGV[q + 2])
  end
  if used >= tonumber(ARGV[q]) then
    return {2, 0, 0}
  end
end
for i = 1, n do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', string.format('%.0f', ttl))
end
if #KEYS > n then
  used = used + 1
  redis.call('SET', KEYS[n + 1], string.format('%.0f', used), 'PXAT', ARGV[q + 1])
end
return {0, used}
";

// === impl RedisCounters ===

impl RedisCounters {
    /// Prepares the client. Nothing connects yet: a gateway starts while Redis is down, under
    /// its failure mode, and connects on first use.
    pub fn new(settings: RedisSettings) -> Result<Self, RedisError> {
        let link = RedisLink::new(&settings.url, settings.timeout, settings.retry_interval)?;
        Ok(Self { link: Arc::new(link), settings, local: LocalCounters::new(), script: redis::Script::new(SCRIPT) })
    }

    /// The settings.
    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The connection, for other state kept on the same Redis.
    pub fn link(&self) -> &Arc<RedisLink> {
        &self.link
    }

    /// Failed calls so far.
    pub fn failures(&self) -> u64 {
        self.link.failures()
    }

    /// Whether the last call reached Redis.
    pub fn is_healthy(&self) -> bool {
        self.link.is_healthy()
    }

    /// Checks and takes everything `req` asks for, all or nothing: in one round trip, or with
    /// `Scope::Plans` the node's own buckets first and the plan's on Redis after, the node's
    /// given back if Redis refuses.
    pub async fn acquire(&self, req: &Acquire) -> Result<Decision, Unavailable> {
        if self.settings.scope == Scope::All {
            return self.shared(req).await;
        }
        let (node, shared): (Vec<_>, Vec<_>) =
            req.buckets.iter().cloned().partition(|b| !matches!(b.level, Level::Plan | Level::PlanRoute));
        let node = Acquire { buckets: node, quota: None };
        let shared = Acquire { buckets: shared, quota: req.quota.clone() };
        let now = crate::now_us();
        let taken = self.local.acquire(&node, now);
        if !matches!(taken, Decision::Allowed(_)) || (shared.buckets.is_empty() && shared.quota.is_none()) {
            return Ok(taken);
        }
        let answer = self.shared(&shared).await;
        if !matches!(answer, Ok(Decision::Allowed(_))) {
            self.local.give_back(&node);
        }
        answer
    }

    /// Checks and takes everything `req` asks for on Redis, in one round trip, or under the
    /// failure mode.
    async fn shared(&self, req: &Acquire) -> Result<Decision, Unavailable> {
        match self.link.run(|conn| self.call(conn, req)).await {
            Ok(reply) => decode(req, &reply).map_err(Unavailable),
            Err(e) => self.fallback(req, &e),
        }
    }

    async fn call(&self, mut conn: redis::aio::MultiplexedConnection, req: &Acquire) -> redis::RedisResult<Vec<i64>> {
        let prefix = &self.settings.key_prefix;
        let mut inv = self.script.prepare_invoke();
        inv.arg(req.buckets.len());
        for b in &req.buckets {
            inv.key(format!("{prefix}:{}", b.key));
            inv.arg(b.limit.interval_us()).arg(b.limit.capacity_us());
        }
        if let Some(q) = &req.quota {
            inv.key(format!("{prefix}:{}", window_key(q)));
            // Kept a day past the window's end, for late readers; then Redis drops it.
            inv.arg(q.limit).arg(q.window_end_us / 1000 + 86_400_000);
            match q.seed {
                Some(seed) => inv.arg(seed),
                None => inv.arg(""),
            };
        }
        inv.invoke_async(&mut conn).await
    }

    fn fallback(&self, req: &Acquire, reason: &str) -> Result<Decision, Unavailable> {
        match self.settings.on_failure {
            FailureMode::FailClosed => Err(Unavailable(reason.to_owned())),
            FailureMode::FailOpen => Ok(Decision::allowed_unmetered()),
            FailureMode::Local => Ok(match self.local.acquire(req, crate::now_us()) {
                Decision::Allowed(a) => Decision::Allowed(Allowed { degraded: true, ..a }),
                other => other,
            }),
        }
    }
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("url", &self.link.display_url())
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

fn decode(req: &Acquire, reply: &[i64]) -> Result<Decision, String> {
    match reply {
        [0, used, ..] => Ok(Decision::Allowed(Allowed {
            quota_used: u64::try_from(*used).ok().filter(|_| req.quota.is_some()),
            degraded: false,
        })),
        [1, i, retry, ..] => {
            let b = usize::try_from(*i - 1).ok().and_then(|i| req.buckets.get(i)).ok_or("bad bucket number")?;
            Ok(Decision::Throttled { level: b.level, limit: b.limit, retry_after_us: *retry })
        }
        [3, ..] => Ok(Decision::SeedNeeded),
        [2, ..] => {
            let q = req.quota.as_ref().ok_or("quota answer without a quota")?;
            Ok(Decision::QuotaExceeded { limit: q.limit, resets_at_us: q.window_end_us })
        }
        other => Err(format!("unexpected script answer {other:?}")),
    }
}
