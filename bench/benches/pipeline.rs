#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The whole phase pipeline in process, without TLS or sockets: `Gateway::handle_without_body`
//! for a mock route (200 from config) and for an unknown path (403 gateway response), with the
//! response body read to the end so the log phase (metrics) runs as it does when serving.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use gateway::{CertStore, ConnInfo, FramingFlags, Gateway};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use telemetry::Metrics;

/// One mock route; everything that would write to stdout or poll files is off.
const CONFIG: &str = r#"
listen: 127.0.0.1:0
admin:
  enabled: false
access_log:
  enabled: false
reload:
  watch: false
apis:
  - name: bench
    routes:
      - route: GET /hello
        integration:
          type: mock
          status: 200
          headers:
            content-type: application/json
          body: '{"message": "Hello from Portcullis"}'
"#;

fn request(path: &str) -> Request<()> {
    Request::get(path)
        .header("host", "localhost:8443")
        .header("user-agent", "criterion")
        .header("accept", "application/json")
        .body(())
        .expect("request")
}

/// Runs one request through the pipeline and reads the whole response body.
async fn one(gw: &Gateway, conn: &ConnInfo, path: &str) -> (StatusCode, usize) {
    let resp = gw.handle_without_body(conn, request(path)).await;
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("response body").to_bytes();
    (status, body.len())
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let _entered = rt.enter();
    let dir = tempfile::tempdir().expect("temp dir");
    let compiled = model::load_str("bench.yaml", CONFIG, |_| None).expect("config");
    let (certs, _dev) = CertStore::load(&[], dir.path()).expect("dev certificate");
    let gw = Gateway::new(&dir.path().join("bench.yaml"), compiled, Arc::new(certs), Arc::new(Metrics::new()))
        .expect("gateway");
    // As an HTTP/1.1 connection: with framing flags (HTTP/2 connections have none).
    let conn = ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        tls_version: "TLSv1.3",
        cipher_suite: "TLS13_AES_128_GCM_SHA256",
        sni: None,
        framing: Some(Arc::new(FramingFlags::default())),
    };

    let mut g = c.benchmark_group("handle_without_body");
    for (name, path, want) in
        [("mock_200", "/hello", StatusCode::OK), ("unrouted_403", "/no/such/path", StatusCode::FORBIDDEN)]
    {
        let (status, len) = rt.block_on(one(&gw, &conn, path));
        assert_eq!(status, want, "{path}");
        assert!(len > 0, "{path}: empty body");
        g.bench_function(name, |b| b.iter(|| rt.block_on(one(&gw, &conn, black_box(path)))));
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
