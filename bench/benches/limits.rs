#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The API-key and throttling work of a request, apart from the rest of the pipeline:
//!
//! - `api_key_lookup_cached`: `directory::ApiKeys::lookup` of an existing key, cache warm
//!   (one HMAC-SHA256 of the value and a map lookup), over a scratch SQLite store.
//! - `local_acquire_plan_route`: `limits::LocalCounters::acquire` with what a metered request
//!   takes: the global, stage, route and plan buckets and a quota, all or nothing. Limits are
//!   generous so every call is allowed (and checked to be). Includes the clock read, as
//!   `Counters::acquire` does.
//! - `local_acquire_open_route`: the same for an open route: the global bucket only.
//! - `usage_record_memory` and `usage_record_journal`: `limits::UsageTally::record` of one
//!   metered request, in memory only and journaled to a file in a scratch directory (one
//!   `write` of the request's line). Every 100,000 records the tally is sealed and the batch
//!   dropped, as a flush would, so the files stay small.
//! - `redis_acquire_plan_route`: `limits::RedisCounters::acquire` with the same checks against
//!   the Redis at `redis://127.0.0.1:6379/0` (one Lua script, one round trip), under a key
//!   prefix of its own that is deleted at the end. Redis must be running: this panics without
//!   it rather than measuring the fallback.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use limits::{
    Acquire, BucketCheck, Decision, FailureMode, Level, Limit, LocalCounters, Period, Quota, QuotaCheck, RedisCounters,
    RedisSettings,
};

const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
const PLAN: &str = "bench-plan";
const KEY_ID: &str = "AKbench0000000000000";

/// A limit no benchmark run reaches: a token every microsecond and a bucket of over an hour's
/// worth, so the TAT never runs out of room even when calls come faster than the rate.
fn generous() -> Limit {
    Limit::new(1_000_000.0, u32::MAX).expect("limit")
}

fn bucket(key: String, level: Level) -> BucketCheck {
    BucketCheck { key, limit: generous(), level }
}

/// What the throttle phase asks for a metered request on `GET /keyed` of API `bench`, stage
/// `$default`, with a stage and a route throttle and a plan with a throttle and a daily quota.
fn plan_route() -> Acquire {
    let quota = Quota::new(1_000_000_000_000, Period::Day, 0, "UTC").expect("quota");
    let w = quota.window(limits::now_us());
    Acquire {
        buckets: vec![
            bucket("g".into(), Level::Global),
            bucket("s:bench:$default".into(), Level::Stage),
            bucket("r:bench:$default:GET /keyed".into(), Level::Route),
            bucket(format!("p:{PLAN}:{KEY_ID}"), Level::Plan),
        ],
        quota: Some(QuotaCheck {
            key: format!("q:{PLAN}:{KEY_ID}"),
            limit: quota.limit(),
            window_start_us: w.start_us,
            window_end_us: w.end_us,
            seed: Some(0),
        }),
    }
}

/// What it asks for an open route without stage or route throttles.
fn open_route() -> Acquire {
    Acquire { buckets: vec![bucket("g".into(), Level::Global)], quota: None }
}

fn allowed(d: &Decision) {
    assert!(matches!(d, Decision::Allowed(a) if !a.degraded), "not allowed: {d:?}");
}

fn api_keys(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let _entered = rt.enter();
    let dir = tempfile::tempdir().expect("temp dir");
    let directory = rt.block_on(common::directory(dir.path()));
    let metering = rt.block_on(common::metering(&directory, limits::Counters::Local(LocalCounters::new())));
    let keys = &metering.api_keys;
    let new = directory::NewApiKey { name: "bench".into(), ..Default::default() };
    let (key, value) = rt.block_on(keys.create(new, common::now_ms())).expect("create key");
    // The first lookup reads the store; the rest hit the cache.
    let info = rt.block_on(keys.lookup(&value)).expect("lookup").expect("the key exists");
    assert_eq!(&*info.id, key.id.as_str());
    c.bench_function("api_key_lookup_cached", |b| {
        b.iter(|| rt.block_on(keys.lookup(black_box(value.as_str()))).expect("lookup").expect("key"));
    });
}

fn local(c: &mut Criterion) {
    let counters = LocalCounters::new();
    for (name, req) in [("local_acquire_plan_route", plan_route()), ("local_acquire_open_route", open_route())] {
        allowed(&counters.acquire(&req, limits::now_us()));
        c.bench_function(name, |b| {
            b.iter(|| {
                let d = counters.acquire(black_box(&req), limits::now_us());
                allowed(&d);
                d
            });
        });
    }
}

fn redis(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let _entered = rt.enter();
    let prefix = format!("bench-{}-{}", std::process::id(), limits::now_us());
    let settings = RedisSettings {
        url: REDIS_URL.into(),
        // Long enough that a busy machine does not turn a slow answer into a failure; a
        // failure is a panic (fail_closed), never a quiet fall back to local counters.
        timeout: Duration::from_secs(2),
        on_failure: FailureMode::FailClosed,
        key_prefix: prefix.clone(),
        retry_interval: Duration::from_secs(1),
        scope: limits::Scope::All,
    };
    let counters = RedisCounters::new(settings).expect("Redis URL");
    let req = plan_route();
    let first = rt
        .block_on(counters.acquire(&req))
        .unwrap_or_else(|e| panic!("redis_acquire_plan_route needs a Redis at {REDIS_URL} (start redis-server): {e}"));
    allowed(&first);
    c.bench_function("redis_acquire_plan_route", |b| {
        b.iter(|| {
            let d = rt.block_on(counters.acquire(black_box(&req))).expect("Redis");
            allowed(&d);
            d
        });
    });
    rt.block_on(delete_prefix(&prefix));
}

/// Deletes every counter the run made (they would expire on their own, the quota only a day
/// after its window).
async fn delete_prefix(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).expect("Redis URL");
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis connection");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.expect("Redis KEYS");
    assert!(!keys.is_empty(), "no counter under {prefix}: the script wrote nothing");
    let () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("Redis DEL");
}

fn usage(c: &mut Criterion) {
    let key = limits::UsageKey {
        plan: PLAN.into(),
        key_id: KEY_ID.into(),
        customer_id: "acme".into(),
        day: jiff::civil::date(2026, 11, 25),
        api: "pets".into(),
        stage: "prod".into(),
        route: "GET /pets/{id}".into(),
    };
    let dir = tempfile::tempdir().expect("scratch directory");
    for (name, tally) in [
        ("usage_record_memory", limits::UsageTally::new()),
        ("usage_record_journal", limits::UsageTally::open(dir.path()).expect("journal")),
    ] {
        let mut n = 0u32;
        c.bench_function(name, |b| {
            b.iter(|| {
                tally.record(black_box(key.clone()));
                n += 1;
                if n.is_multiple_of(100_000) {
                    for batch in tally.seal().expect("seal") {
                        tally.sent(&batch.id).expect("sent");
                    }
                }
            });
        });
    }
}

criterion_group!(benches, api_keys, local, usage, redis);
criterion_main!(benches);
