//! One connection to Redis, shared by everything that keeps state there (counters, the
//! authorizer cache): opened lazily, one task connecting at a time, every call under a hard
//! timeout, and a breaker that keeps callers away for `retry_interval` after a failure.
//!
//! A gateway starts while Redis is down, and recovers by itself: the first call after the
//! breaker's interval tries again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// A Redis URL that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("bad Redis URL: {0}")]
pub struct RedisError(pub(crate) String);

/// The shared connection and its breaker.
pub struct RedisLink {
    client: redis::Client,
    url: String,
    timeout: Duration,
    retry_interval: Duration,
    conn: parking_lot::Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    /// Until when (µs since the epoch) Redis is considered down.
    down_until: AtomicI64,
    healthy: AtomicBool,
    failures: AtomicU64,
}

// === impl RedisLink ===

impl RedisLink {
    /// Prepares the client; nothing connects until the first call.
    pub fn new(url: &str, timeout: Duration, retry_interval: Duration) -> Result<Self, RedisError> {
        let client = redis::Client::open(url).map_err(|e| RedisError(e.to_string()))?;
        Ok(Self {
            client,
            url: redacted(url),
            timeout,
            retry_interval,
            conn: parking_lot::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            down_until: AtomicI64::new(0),
            healthy: AtomicBool::new(true),
            failures: AtomicU64::new(0),
        })
    }

    /// Failed calls so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether the last call reached Redis.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The URL with its password masked, for logs.
    pub fn display_url(&self) -> &str {
        &self.url
    }

    /// Runs `call` on the shared connection within the timeout (connecting included). Fails at
    /// once, without waiting, while the breaker is open; any failure opens it and drops the
    /// connection, so the next try starts afresh.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, String>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if crate::now_us() < self.down_until.load(Ordering::Relaxed) {
            return Err("Redis was unreachable moments ago".to_owned());
        }
        let attempt = async {
            let conn = self.connection().await?;
            call(conn).await.map_err(|e| {
                *self.conn.lock() = None;
                e.to_string()
            })
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(v)) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(url = %self.url, "Redis reachable again; shared state applies");
                }
                Ok(v)
            }
            Ok(Err(e)) => {
                self.trip(&e);
                Err(e)
            }
            Err(_) => {
                let e = format!("no answer within {:?}", self.timeout);
                self.trip(&e);
                Err(e)
            }
        }
    }

    /// The shared connection, opened if there is none. Only one task connects at a time; the
    /// others wait for it (within the caller's timeout) and then share its connection.
    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        if let Some(c) = self.conn.lock().clone() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.conn.lock().clone() {
            return Ok(c);
        }
        let config =
            redis::AsyncConnectionConfig::new().set_connection_timeout(self.timeout).set_response_timeout(self.timeout);
        let c = self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| e.to_string())?;
        *self.conn.lock() = Some(c.clone());
        Ok(c)
    }

    fn trip(&self, reason: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let retry = i64::try_from(self.retry_interval.as_micros()).unwrap_or(i64::MAX);
        self.down_until.store(crate::now_us().saturating_add(retry), Ordering::Relaxed);
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                url = %self.url,
                reason,
                "Redis unreachable; shared limits and caches fall back until it answers again"
            );
        }
    }
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("url", &self.url).field("healthy", &self.is_healthy()).finish_non_exhaustive()
    }
}

/// The URL without its password, for logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(super::redacted("redis://:hunter2@cache:6379/0"), "redis://***@cache:6379/0");
        assert_eq!(super::redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
