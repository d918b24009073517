#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The whole phase pipeline in process, without TLS or sockets: `Gateway::handle_without_body`
//! for a mock route (200 from config), for the same route with `auth: iam` (SigV4 verification
//! and the caller's policies), and for an unknown path (403 gateway response), with the
//! response body read to the end so the log phase (metrics) runs as it does when serving.

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use gateway::{CertStore, ConnInfo, FramingFlags, Gateway};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use telemetry::Metrics;

/// The same mock route twice, without and with IAM; everything that would write to stdout or
/// poll files is off.
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
      - route: GET /secure
        auth: iam
        integration:
          type: mock
          status: 200
          headers:
            content-type: application/json
          body: '{"message": "Hello from Portcullis"}'
"#;

const HOST: &str = "localhost:8443";

fn request(path: &str, extra: &[(String, String)]) -> Request<()> {
    let mut req =
        Request::get(path).header("host", HOST).header("user-agent", "criterion").header("accept", "application/json");
    for (name, value) in extra {
        req = req.header(name.as_str(), value.as_str());
    }
    req.body(()).expect("request")
}

/// Runs one request through the pipeline and reads the whole response body.
async fn one(gw: &Gateway, conn: &ConnInfo, path: &str, extra: &[(String, String)]) -> (StatusCode, usize) {
    let resp = gw.handle_without_body(conn, request(path, extra)).await;
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
    let directory = rt.block_on(common::directory(dir.path()));
    let user = rt.block_on(common::user(&directory, "bench", "arn:aws:iam::aws:policy/ReadOnlyAccess"));
    let metrics = Arc::new(Metrics::new());
    let metering = rt.block_on(common::metering(&directory, limits::Counters::Local(limits::LocalCounters::new())));
    let gw = Gateway::new(&dir.path().join("bench.yaml"), compiled, Arc::new(certs), metrics, directory, metering)
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
    let cases: [(&str, &str, bool, StatusCode); 3] = [
        ("mock_200", "/hello", false, StatusCode::OK),
        ("iam_get_200", "/secure", true, StatusCode::OK),
        ("unrouted_403", "/no/such/path", false, StatusCode::FORBIDDEN),
    ];
    for (name, path, signed, want) in cases {
        // Signed once, outside the measured loop, right before the case runs: the gateway
        // accepts a signature for 5 minutes and does not refuse replays. The first request
        // loads the caller into the directory's cache; the loop then measures the steady
        // state: parse, scope, cached caller and signing key, one HMAC, the policies.
        let extra = if signed { common::sign_get(&user, &format!("https://{HOST}{path}")) } else { Vec::new() };
        let (status, len) = rt.block_on(one(&gw, &conn, path, &extra));
        assert_eq!(status, want, "{path}");
        assert!(len > 0, "{path}: empty body");
        g.bench_function(name, |b| b.iter(|| rt.block_on(one(&gw, &conn, black_box(path), &extra))));
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
