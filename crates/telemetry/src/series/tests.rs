use std::sync::Arc;
use std::time::Duration;

use super::cell::Window;
use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn ok(ms: u64) -> Sample {
    Sample { status: 200, latency: Duration::from_millis(ms), ..Sample::default() }
}

fn status(code: u16) -> Sample {
    Sample { status: code, ..ok(1) }
}

fn q(metric: MetricName, statistic: Statistic, period_secs: u32) -> Query {
    Query { metric, dims: Dims::default(), statistic, period_secs, from_ms: 0, to_ms: 3_600_000 }
}

fn with_dims(mut query: Query, api: Option<&str>, route: Option<&str>) -> Query {
    query.dims.api = api.map(str::to_owned);
    query.dims.route = route.map(str::to_owned);
    query
}

/// `(timestamp_ms, value)` of each datapoint.
fn points(store: &SeriesStore, query: &Query) -> Vec<(i64, f64)> {
    let got = store.query_closed(query);
    assert!(got.is_ok(), "{got:?}");
    got.unwrap_or_default().iter().map(|d| (d.timestamp_ms, d.value)).collect()
}

fn one(store: &SeriesStore, metric: MetricName, statistic: Statistic) -> f64 {
    let got = points(store, &q(metric, statistic, 60));
    assert_eq!(got.len(), 1, "{metric} {statistic}: {got:?}");
    got.first().map_or(f64::NAN, |p| p.1)
}

fn assert_near(got: f64, want: f64, rel: f64) {
    assert!((got - want).abs() <= want * rel, "got {got}, want {want} ± {rel}");
}

/// 100 requests with latencies 1..=100 ms: 10 are 404, 5 are 503, 3 throttled, and the even
/// ones called an upstream that took half the time.
fn hundred_requests(cell: &SeriesCell) {
    for ms in 1..=100u64 {
        let status = match ms {
            1..=10 => 404,
            11..=15 => 503,
            _ => 200,
        };
        cell.record(&Sample {
            status,
            latency: Duration::from_millis(ms),
            integration_latency: (ms % 2 == 0).then(|| Duration::from_millis(ms / 2)),
            throttled: ms > 97,
            quota_exceeded: false,
            auth_failure: ms == 1,
            waf_blocked: (2..=3).contains(&ms),
        });
    }
}

#[test]
fn counters_rates_and_latency_statistics() {
    let store = SeriesStore::new(DAY, 0);
    hundred_requests(&store.route("a", "prod", "GET /"));
    store.roll(10_001);

    use MetricName::*;
    use Statistic::*;
    assert_eq!(one(&store, Count, Sum), 100.0);
    assert_eq!(one(&store, Count, SampleCount), 100.0);
    assert_eq!(one(&store, Error4XX, Sum), 10.0);
    assert_eq!(one(&store, Error4XX, Average), 0.1);
    assert_eq!(one(&store, Error4XX, SampleCount), 100.0);
    assert_eq!(one(&store, Error4XX, Minimum), 0.0);
    assert_eq!(one(&store, Error4XX, Maximum), 1.0);
    assert_eq!(one(&store, Error4XX, Percentile(50.0)), 0.0);
    assert_eq!(one(&store, Error4XX, Percentile(91.0)), 1.0);
    assert_eq!(one(&store, Error5XX, Sum), 5.0);
    assert_eq!(one(&store, Throttled, Sum), 3.0);
    assert_eq!(one(&store, AuthFailures, Sum), 1.0);
    assert_eq!(one(&store, WafBlocked, Sum), 2.0);
    assert_eq!(one(&store, QuotaExceeded, Maximum), 0.0);

    assert_eq!(one(&store, Latency, SampleCount), 100.0);
    assert_eq!(one(&store, Latency, Minimum), 1.0);
    assert_eq!(one(&store, Latency, Maximum), 100.0);
    assert_eq!(one(&store, Latency, Average), 50.5);
    assert_eq!(one(&store, Latency, Sum), 5050.0);
    assert_near(one(&store, Latency, Percentile(50.0)), 50.0, 0.032);
    assert_near(one(&store, Latency, Percentile(90.0)), 90.0, 0.032);
    assert_near(one(&store, Latency, Percentile(99.0)), 99.0, 0.032);
    assert_eq!(one(&store, Latency, Percentile(100.0)), 100.0);

    assert_eq!(one(&store, IntegrationLatency, SampleCount), 50.0);
    assert_eq!(one(&store, IntegrationLatency, Maximum), 50.0);
    assert_near(one(&store, IntegrationLatency, Percentile(50.0)), 25.0, 0.032);
}

#[test]
fn status_classes_have_exact_bounds() {
    let store = SeriesStore::new(DAY, 0);
    let cell = store.route("a", "prod", "GET /");
    for code in [200, 399, 400, 499, 500, 599, 600] {
        cell.record(&status(code));
    }
    store.roll(10_000);
    assert_eq!(one(&store, MetricName::Error4XX, Statistic::Sum), 2.0);
    assert_eq!(one(&store, MetricName::Error5XX, Statistic::Sum), 2.0);
}

#[test]
fn periods_sum_windows_and_skip_empty_ones() {
    let store = SeriesStore::new(DAY, 0);
    let cell = store.route("a", "prod", "GET /");
    // Window k (starting at 10k s) gets k + 1 requests; windows 3 and 4 get none.
    for k in 0..9i64 {
        if k != 3 && k != 4 {
            for _ in 0..=k {
                cell.record(&ok(5));
            }
        }
        store.roll((k + 1) * 10_000 + 3);
    }
    let sum = |period| points(&store, &q(MetricName::Count, Statistic::Sum, period));
    assert_eq!(
        sum(10),
        [(0, 1.0), (10_000, 2.0), (20_000, 3.0), (50_000, 6.0), (60_000, 7.0), (70_000, 8.0), (80_000, 9.0)]
    );
    assert_eq!(sum(30), [(0, 6.0), (30_000, 6.0), (60_000, 24.0)]);
    assert_eq!(sum(60), [(0, 12.0), (60_000, 24.0)]);
    // Periods with no request give no datapoint.
    let mut gap = q(MetricName::Count, Statistic::Sum, 10);
    gap.from_ms = 30_000;
    gap.to_ms = 50_000;
    assert_eq!(points(&store, &gap), []);
    // `from_ms` is rounded down to its period; `to_ms` is exclusive.
    let mut mid = q(MetricName::Count, Statistic::Sum, 60);
    mid.from_ms = 50_000;
    mid.to_ms = 70_000;
    assert_eq!(points(&store, &mid), [(0, 12.0), (60_000, 7.0)]);
}

#[test]
fn route_dims_filter_and_sum_across_cells() {
    let store = SeriesStore::new(DAY, 0);
    let cells = [("a", "r1", 1), ("a", "r2", 2), ("b", "r1", 4)];
    for (api, route, n) in cells {
        let cell = store.route(api, "prod", route);
        for _ in 0..n {
            cell.record(&ok(10));
        }
    }
    store.roll(10_000);
    let count = |api, route| {
        let query = with_dims(q(MetricName::Count, Statistic::Sum, 10), api, route);
        points(&store, &query).first().map_or(0.0, |p| p.1)
    };
    assert_eq!(count(None, None), 7.0);
    assert_eq!(count(Some("a"), None), 3.0);
    assert_eq!(count(None, Some("r1")), 5.0);
    assert_eq!(count(Some("a"), Some("r2")), 2.0);
    assert_eq!(count(Some("c"), None), 0.0);
    let mut by_stage = q(MetricName::Latency, Statistic::SampleCount, 10);
    by_stage.dims.stage = Some("prod".into());
    assert_eq!(points(&store, &by_stage), [(0, 7.0)]);
}

#[test]
fn same_names_give_the_same_cell() {
    let store = SeriesStore::new(DAY, 0);
    let a = store.route("a", "prod", "GET /");
    assert!(Arc::ptr_eq(&a, &store.route("a", "prod", "GET /")));
    assert!(!Arc::ptr_eq(&a, &store.route("a", "beta", "GET /")));
    assert_eq!(a.family(), Family::Route);
    let k = store.key("k1");
    assert!(Arc::ptr_eq(&k, &store.key("k1")));
    assert_eq!(k.family(), Family::Key);
    assert_eq!(k.dims().key.as_deref(), Some("k1"));
}

#[test]
fn key_family_is_separate_from_routes() {
    let store = SeriesStore::new(DAY, 0);
    store.route("a", "prod", "GET /").record(&ok(1));
    store.key("k1").record(&status(429));
    store.key("k1").record(&ok(1));
    store.key("k2").record(&ok(1));
    store.roll(10_000);
    let mut by_key = q(MetricName::Error4XX, Statistic::Sum, 10);
    by_key.dims.key = Some("k1".into());
    assert_eq!(points(&store, &by_key), [(0, 1.0)]);
    by_key.statistic = Statistic::SampleCount;
    assert_eq!(points(&store, &by_key), [(0, 2.0)]);
    by_key.dims.key = Some("nobody".into());
    assert_eq!(points(&store, &by_key), []);
    // Without a key, only route cells are read.
    assert_eq!(one(&store, MetricName::Count, Statistic::Sum), 1.0);
}

#[test]
fn retention_drops_old_windows_and_idle_cells() {
    let store = SeriesStore::new(Duration::from_secs(60), 0);
    let route = store.route("a", "prod", "GET /");
    store.key("gone").record(&ok(1));
    for k in 0..10i64 {
        route.record(&ok(1));
        store.roll((k + 1) * 10_000);
    }
    // At 100 s with 60 s retention, windows that ended by 40 s are gone.
    let got = points(&store, &q(MetricName::Count, Statistic::Sum, 10));
    let starts: Vec<i64> = got.iter().map(|p| p.0).collect();
    assert_eq!(starts, [40_000, 50_000, 60_000, 70_000, 80_000, 90_000]);
    // The key cell, held by nobody and with nothing left, is dropped; the route cell is held.
    assert!(store.keys.read().is_empty());
    assert_eq!(store.routes.read().len(), 1);
}

#[test]
fn a_window_never_appears_twice() {
    let store = SeriesStore::new(DAY, 5_000);
    let cell = store.route("a", "prod", "GET /");
    cell.record(&ok(1));
    store.roll(10_005); // closes [0, 10 s)
    cell.record(&ok(1));
    cell.record(&ok(1));
    store.roll(15_000); // same slot: adds to [10 s, 20 s)
    store.roll(16_000); // nothing recorded: nothing stored
    cell.record(&ok(1));
    store.roll(20_002); // still dated 10 s: merged
    cell.record(&ok(1));
    store.roll(45_000); // late: everything since 20 s, dated 20 s
    let got = points(&store, &q(MetricName::Count, Statistic::Sum, 10));
    assert_eq!(got, [(0, 1.0), (10_000, 3.0), (20_000, 1.0)]);
}

#[test]
fn open_window_is_in_query_but_not_in_query_closed() {
    let store = SeriesStore::new(DAY, 0);
    store.route("a", "prod", "GET /").record(&ok(1));
    store.set_gauge(MetricName::CertificatesExpiringSoon, 2.0);
    let count = q(MetricName::Count, Statistic::Sum, 10);
    let open = store.query(&count);
    assert_eq!(open.map(|v| v.len()), Ok(1));
    assert_eq!(store.query_closed(&count), Ok(vec![]));
    let gauge = q(MetricName::CertificatesExpiringSoon, Statistic::Maximum, 10);
    assert_eq!(store.query(&gauge).map(|v| v.len()), Ok(1));
    assert_eq!(store.query_closed(&gauge), Ok(vec![]));
}

#[test]
fn gauge_keeps_the_last_value_per_window() {
    let store = SeriesStore::new(DAY, 0);
    let certs = MetricName::CertificatesExpiringSoon;
    store.set_gauge(certs, 3.0);
    store.set_gauge(certs, 5.0);
    store.roll(10_000);
    store.roll(20_000); // not set in [10 s, 20 s): no sample
    store.set_gauge(certs, 1.0);
    store.roll(30_000);
    let got = points(&store, &q(certs, Statistic::Maximum, 10));
    assert_eq!(got, [(0, 5.0), (20_000, 1.0)]);
    let per_minute = q(certs, Statistic::SampleCount, 60);
    assert_eq!(points(&store, &per_minute), [(0, 2.0)]);
    assert_eq!(one(&store, certs, Statistic::Minimum), 1.0);
    assert_eq!(one(&store, certs, Statistic::Average), 3.0);
}

#[test]
fn bad_queries_are_refused() {
    let store = SeriesStore::new(DAY, 0);
    let base = q(MetricName::Count, Statistic::Sum, 60);
    let run = |f: &dyn Fn(&mut Query)| {
        let mut query = base.clone();
        f(&mut query);
        store.query(&query)
    };
    assert_eq!(run(&|q| q.period_secs = 15), Err(QueryError::Period { period_secs: 15 }));
    assert_eq!(run(&|q| q.period_secs = 0), Err(QueryError::Period { period_secs: 0 }));
    assert_eq!(run(&|q| q.to_ms = q.from_ms), Err(QueryError::Range { from_ms: 0, to_ms: 0 }));
    let key_and_route = |q: &mut Query| {
        q.dims.key = Some("k".into());
        q.dims.route = Some("GET /".into());
    };
    assert_eq!(run(&key_and_route), Err(QueryError::KeyWithRoute));
    let gauge_with_api = |q: &mut Query| {
        q.metric = MetricName::CertificatesExpiringSoon;
        q.dims.api = Some("a".into());
    };
    let gauge_err = run(&gauge_with_api);
    assert_eq!(gauge_err, Err(QueryError::GaugeWithDims { metric: MetricName::CertificatesExpiringSoon }));
    assert!(run(&|q| q.statistic = Statistic::Percentile(0.0)).is_err());
    // 1440 periods are fine, 1441 are not; an absurd start does not overflow.
    assert!(run(&|q| (q.period_secs, q.to_ms) = (10, 14_400_000)).is_ok());
    let too_many = run(&|q| (q.period_secs, q.to_ms) = (10, 14_400_001));
    assert_eq!(too_many, Err(QueryError::TooManyPeriods { periods: 1441 }));
    assert!(run(&|q| (q.from_ms, q.to_ms) = (i64::MIN, 60_000)).is_ok());
    let msg = run(&|q| q.period_secs = 15).err().map(|e| e.to_string());
    assert_eq!(msg.as_deref(), Some("period 15s is not a positive multiple of 10 seconds"));
}

#[test]
fn names_round_trip() {
    for m in MetricName::ALL {
        assert_eq!(MetricName::parse(m.as_str()), Some(m));
    }
    assert_eq!(MetricName::parse("4XXError"), Some(MetricName::Error4XX));
    assert_eq!(MetricName::parse("5xxerror"), None);
    let stats = ["Sum", "Average", "Minimum", "Maximum", "SampleCount", "p50", "p99.9", "p100"];
    for s in stats {
        assert_eq!(Statistic::parse(s).map(|st| st.to_string()).as_deref(), Some(s));
    }
    assert_eq!(Statistic::parse("p99.9"), Some(Statistic::Percentile(99.9)));
    for bad in ["p0", "p101", "p", "p.5", "p50.", "p1e2", "pinf", "p+5", "P50", "sum", "p5.0.1"] {
        assert_eq!(Statistic::parse(bad), None, "{bad}");
    }
}

#[test]
fn closed_window_is_as_small_as_the_module_doc_says() {
    assert!(std::mem::size_of::<Window>() <= 160);
}
