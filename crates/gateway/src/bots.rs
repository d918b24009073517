//! Verifying search-engine crawlers by DNS for the WAF's `bot_control` group, as the engines
//! document it: the client's address must resolve (PTR) to a name under one of the engine's
//! domains, and that name must resolve back to the address. Answers are cached per address
//! and domain list for an hour (at most 10,000); a lookup that fails or takes more than two
//! seconds counts as not verified, and is not cached for long.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long a verdict is kept.
const TTL: Duration = Duration::from_secs(3600);
/// How long a failed lookup's verdict is kept.
const FAILED_TTL: Duration = Duration::from_secs(60);
/// Each lookup's limit.
const TIMEOUT: Duration = Duration::from_secs(2);
/// At most this many verdicts are kept.
const MAX: usize = 10_000;

type Cache = Mutex<HashMap<(IpAddr, Vec<String>), (bool, Instant)>>;

static CACHE: LazyLock<Cache> = LazyLock::new(Mutex::default);

/// Whether `ip` belongs to a crawler of `domains`.
pub(crate) async fn verify(ip: IpAddr, domains: Vec<String>) -> bool {
    let key = (ip, domains);
    if let Some(&(verdict, until)) = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        if Instant::now() < until {
            return verdict;
        }
    }
    let outcome = tokio::time::timeout(TIMEOUT, lookup(ip, &key.1)).await;
    let (verdict, ttl) = match outcome {
        Ok(Ok(verdict)) => (verdict, TTL),
        Ok(Err(e)) => {
            tracing::debug!(%ip, error = %e, "crawler not verified: DNS lookup failed");
            (false, FAILED_TTL)
        }
        Err(_) => (false, FAILED_TTL),
    };
    let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() >= MAX {
        let now = Instant::now();
        cache.retain(|_, (_, until)| *until > now);
        if cache.len() >= MAX {
            cache.clear();
        }
    }
    cache.insert(key, (verdict, Instant::now() + ttl));
    verdict
}

/// Reverse then forward lookup.
async fn lookup(ip: IpAddr, domains: &[String]) -> Result<bool, String> {
    let name = tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&ip))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let under = |d: &String| name == *d || name.ends_with(&format!(".{d}"));
    if !domains.iter().any(under) {
        return Ok(false);
    }
    let forward: Vec<IpAddr> =
        tokio::net::lookup_host(format!("{name}:0")).await.map_err(|e| e.to_string())?.map(|a| a.ip()).collect();
    Ok(forward.contains(&ip))
}
