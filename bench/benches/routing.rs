#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! Route matching and path canonicalisation: the per-request work of the normalise and route
//! phases, without the rest of the pipeline.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Method;
use model::{canonicalize, RouteKey, RouteTable};

/// Resources of a typical REST API; each gets four routes.
const RESOURCES: &[&str] = &[
    "users",
    "orders",
    "products",
    "carts",
    "invoices",
    "payments",
    "shipments",
    "reviews",
    "coupons",
    "stores",
    "teams",
    "tokens",
];

/// 50 routes: per resource a static list, a static create, a `{param}` read and a `{param}`
/// delete (48), one static health check, and a greedy `ANY /{proxy+}` catch-all.
fn table() -> RouteTable<usize> {
    let mut keys = Vec::new();
    for r in RESOURCES {
        keys.push(format!("GET /v1/{r}"));
        keys.push(format!("POST /v1/{r}"));
        keys.push(format!("GET /v1/{r}/{{id}}"));
        keys.push(format!("DELETE /v1/{r}/{{id}}"));
    }
    keys.push("GET /health".to_owned());
    keys.push("ANY /{proxy+}".to_owned());
    let routes = keys.iter().enumerate().map(|(i, k)| (RouteKey::parse(k).expect("route key"), i)).collect::<Vec<_>>();
    assert_eq!(routes.len(), 50);
    RouteTable::build(routes).map_err(|(_, e)| e).expect("route table")
}

fn routing(c: &mut Criterion) {
    let t = table();
    let cases: [(&str, Method, &str, &str); 5] = [
        ("static", Method::GET, "/v1/shipments", "GET /v1/shipments"),
        ("param", Method::GET, "/v1/shipments/12345", "GET /v1/shipments/{id}"),
        ("param_other_method", Method::DELETE, "/v1/tokens/abc", "DELETE /v1/tokens/{id}"),
        ("greedy_fallback", Method::PUT, "/v1/shipments/12345", "ANY /{proxy+}"),
        ("greedy_deep", Method::GET, "/static/assets/js/app.min.js", "ANY /{proxy+}"),
    ];
    let mut g = c.benchmark_group("route_table_find_50");
    for (name, method, path, want) in cases {
        let hit = t.find(&method, path).expect("a route");
        assert_eq!(hit.key.display(), want, "{method} {path}");
        g.bench_function(name, |b| b.iter(|| t.find(black_box(&method), black_box(path)).map(|m| m.index)));
    }
    g.finish();
}

fn canonical(c: &mut Criterion) {
    let mut g = c.benchmark_group("canonicalize");
    let clean = "/v1/shipments/12345/items";
    assert!(matches!(canonicalize(clean), Ok(std::borrow::Cow::Borrowed(_))));
    g.bench_function("clean", |b| b.iter(|| canonicalize(black_box(clean)).map(|p| p.len())));
    let messy = "//a/./b/../c%41";
    assert_eq!(canonicalize(messy).as_deref(), Ok("/a/cA"));
    g.bench_function("messy", |b| b.iter(|| canonicalize(black_box(messy)).map(|p| p.len())));
    g.finish();
}

criterion_group!(benches, routing, canonical);
criterion_main!(benches);
