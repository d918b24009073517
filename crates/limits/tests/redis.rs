//! The Redis counters against a real Redis: the one every machine of this project runs on
//! 127.0.0.1:6379, and for the failure modes a `redis-server` this test starts, kills and
//! starts again on its own port. A missing Redis fails these tests; they never skip.

use portcullis_limits as limits;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use limits::{Acquire, BucketCheck, Decision, FailureMode, Level, Limit, QuotaCheck, RedisCounters, RedisSettings};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SHARED_REDIS: &str = "redis://127.0.0.1:6379/0";

fn settings(url: &str, prefix: &str, on_failure: FailureMode) -> RedisSettings {
    RedisSettings {
        url: url.into(),
        timeout: Duration::from_millis(500),
        on_failure,
        key_prefix: prefix.into(),
        retry_interval: Duration::from_millis(200),
        scope: limits::Scope::All,
    }
}

/// A prefix no other run uses, so runs never share counters.
fn unique_prefix(test: &str) -> String {
    format!("pctest:{test}:{}", uuid_like())
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn quota(limit: u64) -> QuotaCheck {
    QuotaCheck {
        key: "plan:key".into(),
        limit,
        window_start_us: 0,
        window_end_us: limits::now_us() + 3_600_000_000,
        seed: Some(0),
    }
}

fn bucket(rate: f64, burst: u32, level: Level) -> Result<BucketCheck, String> {
    Ok(BucketCheck { key: format!("{level:?}"), limit: Limit::new(rate, burst)?, level })
}

async fn must_reach(c: &RedisCounters) -> TestResult {
    let probe = Acquire { buckets: vec![], quota: None };
    match c.acquire(&probe).await? {
        Decision::Allowed(a) if !a.degraded => Ok(()),
        other => Err(format!("Redis at {} is not reachable: {other:?}", c.settings().url).into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_sharing_redis_allow_exactly_the_quota() -> TestResult {
    let prefix = unique_prefix("quota");
    let a = Arc::new(RedisCounters::new(settings(SHARED_REDIS, &prefix, FailureMode::FailClosed))?);
    let b = Arc::new(RedisCounters::new(settings(SHARED_REDIS, &prefix, FailureMode::FailClosed))?);
    must_reach(&a).await?;
    let req = Acquire { buckets: vec![], quota: Some(quota(100)) };
    let mut tasks = Vec::new();
    for node in [a, b] {
        for _ in 0..4 {
            let (node, req) = (node.clone(), req.clone());
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0;
                for _ in 0..40 {
                    if let Ok(Decision::Allowed(_)) = node.acquire(&req).await {
                        allowed += 1;
                    }
                }
                allowed
            }));
        }
    }
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    assert_eq!(total, 100, "320 attempts on two nodes against a quota of 100");
    Ok(())
}

#[tokio::test]
async fn a_refused_request_takes_nothing_on_redis() -> TestResult {
    let c = RedisCounters::new(settings(SHARED_REDIS, &unique_prefix("refused"), FailureMode::FailClosed))?;
    must_reach(&c).await?;
    let wide = bucket(1000.0, 1000, Level::Plan)?;
    let narrow = bucket(0.001, 2, Level::Route)?;
    let both = Acquire { buckets: vec![wide.clone(), narrow], quota: Some(quota(5)) };
    for _ in 0..2 {
        assert!(matches!(c.acquire(&both).await?, Decision::Allowed(_)));
    }
    for _ in 0..10 {
        match c.acquire(&both).await? {
            Decision::Throttled { level: Level::Route, retry_after_us, .. } => assert!(retry_after_us > 0),
            other => panic!("expected the route throttle, got {other:?}"),
        }
    }
    let only_wide = Acquire { buckets: vec![wide], quota: Some(quota(5)) };
    let used: Vec<Option<u64>> = futures_collect(&c, &only_wide, 3).await?;
    assert_eq!(used, vec![Some(3), Some(4), Some(5)], "the ten throttled requests were not counted");
    assert!(matches!(c.acquire(&only_wide).await?, Decision::QuotaExceeded { limit: 5, .. }));
    Ok(())
}

async fn futures_collect(
    c: &RedisCounters,
    req: &Acquire,
    n: usize,
) -> Result<Vec<Option<u64>>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for _ in 0..n {
        match c.acquire(req).await? {
            Decision::Allowed(a) => out.push(a.quota_used),
            other => return Err(format!("refused: {other:?}").into()),
        }
    }
    Ok(out)
}

#[tokio::test]
async fn a_blocking_limit_refuses_everything_on_redis() -> TestResult {
    let c = RedisCounters::new(settings(SHARED_REDIS, &unique_prefix("zero"), FailureMode::FailClosed))?;
    let req = Acquire { buckets: vec![bucket(0.0, 0, Level::Stage)?], quota: None };
    assert!(matches!(c.acquire(&req).await?, Decision::Throttled { level: Level::Stage, .. }));
    Ok(())
}

/// A `redis-server` of this test's own, on a free port, that the test can kill.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Result<Self, Box<dyn std::error::Error>> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server must be installed to test the failure modes: {e}"))?;
        let me = Self { port, child: Some(child) };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("redis-server did not start".into())
    }

    fn free_port() -> Result<u16, std::io::Error> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits past the retry interval, then asks until the counters say Redis answers again.
async fn until_recovered(c: &RedisCounters, req: &Acquire) -> Result<Decision, Box<dyn std::error::Error>> {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(d @ Decision::Allowed(limits::Allowed { degraded: false, .. })) = c.acquire(req).await {
            return Ok(d);
        }
    }
    Err("the counters never went back to Redis".into())
}

/// Each failure mode: what a request gets while Redis is down, and that the counters go back to
/// Redis by themselves when it returns.
#[tokio::test]
async fn failure_modes_apply_while_redis_is_down_and_recovery_is_automatic() -> TestResult {
    let port = OwnRedis::free_port()?;
    let mut redis = OwnRedis::start(port)?;
    let closed = RedisCounters::new(settings(&redis.url(), "fm", FailureMode::FailClosed))?;
    let open = RedisCounters::new(settings(&redis.url(), "fm", FailureMode::FailOpen))?;
    let local = RedisCounters::new(settings(&redis.url(), "fm", FailureMode::Local))?;
    let req = Acquire { buckets: vec![bucket(0.001, 2, Level::Plan)?], quota: None };
    for c in [&closed, &open, &local] {
        must_reach(c).await?;
    }

    redis.kill();
    // Bounded by a generous guard: a dead Redis must never make a request hang.
    let guard = Duration::from_secs(5);
    let r = tokio::time::timeout(guard, closed.acquire(&req)).await?;
    assert!(r.is_err(), "fail_closed lets nothing through: {r:?}");
    assert!(!closed.is_healthy() && closed.failures() >= 1);

    let r = tokio::time::timeout(guard, open.acquire(&req)).await??;
    assert_eq!(r, Decision::allowed_unmetered(), "fail_open lets the request through, unmetered");
    for _ in 0..5 {
        assert_eq!(open.acquire(&req).await?, Decision::allowed_unmetered());
    }

    // `local` keeps enforcing the limits, on this node's own counters.
    for _ in 0..2 {
        let r = tokio::time::timeout(guard, local.acquire(&req)).await??;
        assert!(matches!(r, Decision::Allowed(limits::Allowed { degraded: true, .. })), "{r:?}");
    }
    assert!(matches!(local.acquire(&req).await?, Decision::Throttled { .. }));

    let _redis = OwnRedis::start(port)?;
    let fresh = Acquire { buckets: vec![bucket(1000.0, 100, Level::Global)?], quota: None };
    for c in [&closed, &open, &local] {
        until_recovered(c, &fresh).await?;
        assert!(c.is_healthy());
    }
    Ok(())
}

#[tokio::test]
async fn a_gateway_starts_while_redis_is_down() -> TestResult {
    let port = OwnRedis::free_port()?;
    let c = RedisCounters::new(settings(&format!("redis://127.0.0.1:{port}/0"), "down", FailureMode::FailClosed))?;
    let req = Acquire { buckets: vec![bucket(10.0, 10, Level::Global)?], quota: None };
    assert!(c.acquire(&req).await.is_err());
    let _redis = OwnRedis::start(port)?;
    until_recovered(&c, &req).await?;
    Ok(())
}

#[test]
fn a_bad_url_is_refused_at_start() {
    let err = RedisCounters::new(settings("http://not-redis", "x", FailureMode::Local)).err();
    assert!(err.is_some_and(|e| e.to_string().contains("bad Redis URL")));
}

/// Many requests arriving together on a fresh node share its first connection instead of
/// failing over while it is being made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_wait_for_the_connection() -> TestResult {
    let c = Arc::new(RedisCounters::new(settings(SHARED_REDIS, &unique_prefix("first"), FailureMode::FailClosed))?);
    let req = Acquire { buckets: vec![], quota: Some(quota(1000)) };
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (c, req) = (c.clone(), req.clone());
            tokio::spawn(async move { c.acquire(&req).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await?, "a request failed over while the first connection was made");
    }
    assert_eq!(c.failures(), 0);
    Ok(())
}

/// A quota counter Redis does not hold (a new window, or data Redis lost) is seeded once from
/// the usage the caller looked up, never per request; an existing counter ignores seeds.
#[tokio::test]
async fn a_missing_quota_counter_is_seeded_once_from_recorded_usage() -> TestResult {
    let prefix = unique_prefix("seed");
    let c = RedisCounters::new(settings(SHARED_REDIS, &prefix, FailureMode::FailClosed))?;
    let unseeded = Acquire { buckets: vec![], quota: Some(QuotaCheck { seed: None, ..quota(10) }) };
    assert_eq!(c.acquire(&unseeded).await?, Decision::SeedNeeded);
    let seeded = Acquire { buckets: vec![], quota: Some(QuotaCheck { seed: Some(8), ..quota(10) }) };
    assert_eq!(futures_collect(&c, &seeded, 1).await?, vec![Some(9)]);
    assert_eq!(futures_collect(&c, &unseeded, 1).await?, vec![Some(10)], "no seed needed once the counter exists");
    assert!(matches!(c.acquire(&seeded).await?, Decision::QuotaExceeded { .. }));

    // Redis loses the counter (a restart without persistence): it is seeded again.
    let client = redis::Client::open(SHARED_REDIS)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await?;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await?;
    assert!(ttl > 0, "the counter expires after its window: {ttl}");
    let _: () = redis::cmd("DEL").arg(&keys[0]).query_async(&mut conn).await?;
    assert_eq!(c.acquire(&unseeded).await?, Decision::SeedNeeded);
    assert!(matches!(c.acquire(&seeded).await?, Decision::Allowed(_)));
    Ok(())
}

/// With `Scope::Plans`, the node's own buckets never wait for Redis, plan limits are shared,
/// and a node's tokens come back when Redis refuses the plan's part.
#[tokio::test]
async fn plans_scope_shares_only_plan_limits() -> TestResult {
    let scoped =
        |url: &str, prefix: &str, mode| RedisSettings { scope: limits::Scope::Plans, ..settings(url, prefix, mode) };
    let global = bucket(0.001, 2, Level::Global)?;
    let open = Acquire { buckets: vec![global.clone()], quota: None };
    let keyed = Acquire { buckets: vec![global.clone(), bucket(1000.0, 1000, Level::Plan)?], quota: Some(quota(3)) };

    // Shared: the quota is one for both nodes; the gateway-wide bucket is each node's own.
    let prefix = unique_prefix("scope");
    let a = RedisCounters::new(scoped(SHARED_REDIS, &prefix, FailureMode::FailClosed))?;
    let b = RedisCounters::new(scoped(SHARED_REDIS, &prefix, FailureMode::FailClosed))?;
    assert_eq!(futures_collect(&a, &keyed, 2).await?, vec![Some(1), Some(2)]);
    assert_eq!(futures_collect(&b, &keyed, 1).await?, vec![Some(3)], "b's own bucket is full; the quota is shared");
    assert!(matches!(b.acquire(&keyed).await?, Decision::QuotaExceeded { .. }));
    // The refused request gave b's token back: b still has one, a has none.
    assert!(matches!(b.acquire(&open).await?, Decision::Allowed(_)));
    assert!(matches!(b.acquire(&open).await?, Decision::Throttled { level: Level::Global, .. }));
    assert!(matches!(a.acquire(&open).await?, Decision::Throttled { level: Level::Global, .. }));

    // Redis down, fail_closed: requests without a key do not need it.
    let port = OwnRedis::free_port()?;
    let down = RedisCounters::new(scoped(&format!("redis://127.0.0.1:{port}/0"), "down", FailureMode::FailClosed))?;
    assert!(down.acquire(&keyed).await.is_err());
    assert!(matches!(down.acquire(&open).await?, Decision::Allowed(_)), "the keyed request's token came back");
    assert!(matches!(down.acquire(&open).await?, Decision::Allowed(_)));
    assert!(matches!(down.acquire(&open).await?, Decision::Throttled { .. }));
    assert_eq!(down.failures(), 1, "open requests never tried Redis");
    Ok(())
}
