#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The whole phase pipeline in process, without TLS or sockets: `Gateway::handle_without_body`
//! for a mock route (200 from config), for the same route with `auth: iam` (SigV4 verification
//! and the caller's policies), for the same route with `api_key_required` under a usage plan
//! with a throttle and a quota (the key's HMAC and cached lookup, the plan, and the global,
//! plan and quota counters in process), for the same route behind a custom authorizer whose
//! answer is cached (the identity's HMAC, the node's cache, the policy checked against the
//! method ARN; the function, a local HTTP server, is called once before measuring), and for an
//! unknown path (403 gateway response), with the response body read to the end so the log
//! phase (metrics) runs as it does when serving.
//!
//! The gateway-wide throttle is raised far above what a benchmark reaches (the default, 10,000
//! requests/s, would turn most iterations into 429s), and every answer's status is checked.

mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use gateway::{CertStore, ConnInfo, FramingFlags, Gateway};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use telemetry::Metrics;

/// The same mock route open, with IAM, with an API key in a usage plan, behind a custom
/// authorizer, and behind a web ACL of five typical rules;
/// everything that would write to stdout or poll files is off. No limit is ever reached.
const CONFIG: &str = r#"
listen: 127.0.0.1:0
admin:
  enabled: false
access_log:
  enabled: false
reload:
  watch: false
throttling:
  rate: 1000000
  burst: 1000000000
usage_plans:
  - id: bench
    throttle: {rate: 1000000, burst: 1000000000}
    quota: {limit: 1000000000000, period: DAY}
    api_stages:
      - api: bench
        stage: $default
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
      - route: GET /keyed
        api_key_required: true
        integration:
          type: mock
          status: 200
          headers:
            content-type: application/json
          body: '{"message": "Hello from Portcullis"}'
      - route: GET /authorized
        auth: custom
        authorizer: tokens
        integration:
          type: mock
          status: 200
          headers:
            content-type: application/json
          body: '{"message": "Hello from Portcullis"}'
    authorizers:
      - name: tokens
        type: TOKEN
        url: http://AUTHORIZER/authorize
  - name: guarded
    base_path: /guarded
    web_acl: main
    routes:
      - route: GET /hello
        integration:
          type: mock
          status: 200
          headers:
            content-type: application/json
          body: '{"message": "Hello from Portcullis"}'
web_acls:
  - name: main
    default_action: allow
    rules:
      - name: scanners
        priority: 1
        action: block
        statement:
          byte_match: {field: {single_header: user-agent}, position: contains, search: sqlmap, transforms: [LOWERCASE]}
      - name: union-select
        priority: 2
        action: block
        statement:
          byte_match: {field: all_query_arguments, position: contains, search: union select, transforms: [URL_DECODE, LOWERCASE, COMPRESS_WHITE_SPACE]}
      - name: traversal
        priority: 3
        action: block
        statement:
          byte_match: {field: uri_path, position: contains, search: '../', transforms: [URL_DECODE_UNI]}
      - name: script-in-headers
        priority: 4
        action: block
        statement:
          regex_match: {field: headers, regex: '(?i)<script', transforms: [URL_DECODE, HTML_ENTITY_DECODE]}
      - name: internal-only
        priority: 5
        action: block
        statement:
          and:
            - byte_match: {field: uri_path, position: starts_with, search: /guarded/internal}
            - not: {ip_set: {cidrs: [10.0.0.0/8, 127.0.0.0/8]}}
"#;

const HOST: &str = "localhost:8443";

/// Who sends a case's requests.
#[derive(Clone, Copy)]
enum Caller {
    /// Nobody in particular.
    Anonymous,
    /// The IAM user, with SigV4.
    Signed,
    /// The API key, in `x-api-key`.
    ApiKey,
    /// A bearer token, for the custom authorizer.
    Token,
}

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
    let authorizer = rt.block_on(authorizer_function());
    let config = CONFIG.replace("AUTHORIZER", &authorizer.to_string());
    let compiled = model::load_str("bench.yaml", &config, |_| None).expect("config");
    let (certs, _dev) = CertStore::load(&[], dir.path()).expect("dev certificate");
    let directory = rt.block_on(common::directory(dir.path()));
    let user = rt.block_on(common::user(&directory, "bench", "arn:aws:iam::aws:policy/ReadOnlyAccess"));
    let metrics = Arc::new(Metrics::new());
    let metering = rt.block_on(common::metering(&directory, limits::Counters::Local(limits::LocalCounters::new())));
    // An API key in plan `bench`, as `keys create` and `keys attach` make it.
    let new = directory::NewApiKey { name: "bench".into(), ..Default::default() };
    let (key, key_value) = rt.block_on(metering.api_keys.create(new, common::now_ms())).expect("create API key");
    rt.block_on(metering.api_keys.attach("bench", &key.id, common::now_ms(), |_| false)).expect("attach API key");
    let decisions = Arc::new(identity::custom::DecisionCache::new(b"bench", None));
    let certs = Arc::new(certs);
    let tls = Arc::new(gateway::TlsSelector::build(&compiled.config, &certs, Arc::default()).expect("TLS selector"));
    let services = gateway::Services {
        directory,
        metering,
        decisions,
        jwt_providers: Default::default(),
        verified: Default::default(),
        user_pools: Default::default(),
        tls,
        challenge_key: vec![7u8; 32].into(),
        waf_samples: Default::default(),
    };
    let access_log = telemetry::AccessLog::start(true, None).expect("access log");
    let gw =
        Gateway::new(&dir.path().join("bench.yaml"), compiled, certs, metrics, access_log, services).expect("gateway");
    // As an HTTP/1.1 connection: with framing flags (HTTP/2 connections have none).
    let conn = ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        tls_version: "TLSv1.3",
        cipher_suite: "TLS13_AES_128_GCM_SHA256",
        sni: None,
        framing: Some(Arc::new(FramingFlags::default())),
        domain: None,
        hsts: None,
        client_cert: None,
    };

    let mut g = c.benchmark_group("handle_without_body");
    let cases: [(&str, &str, Caller, StatusCode); 6] = [
        ("mock_200", "/hello", Caller::Anonymous, StatusCode::OK),
        ("waf_5_rules_200", "/guarded/hello?id=42&q=shoes", Caller::Anonymous, StatusCode::OK),
        ("iam_get_200", "/secure", Caller::Signed, StatusCode::OK),
        ("api_key_plan_200", "/keyed", Caller::ApiKey, StatusCode::OK),
        ("authorizer_cached_200", "/authorized", Caller::Token, StatusCode::OK),
        ("unrouted_403", "/no/such/path", Caller::Anonymous, StatusCode::FORBIDDEN),
    ];
    for (name, path, caller, want) in cases {
        // Signed once, outside the measured loop, right before the case runs: the gateway
        // accepts a signature for 5 minutes and does not refuse replays. The first request
        // loads the caller (or the API key) into the directory's cache; the loop then measures
        // the steady state: parse, scope, cached caller and signing key, one HMAC, the
        // policies; or one HMAC of the key, the cached key, and the plan's counters.
        let extra = match caller {
            Caller::Anonymous => Vec::new(),
            Caller::Signed => common::sign_get(&user, &format!("https://{HOST}{path}")),
            Caller::ApiKey => vec![("x-api-key".to_owned(), key_value.to_string())],
            Caller::Token => vec![("authorization".to_owned(), "Bearer 7f3c9a1e5b2d4c6f8a0b".to_owned())],
        };
        let (status, len) = rt.block_on(one(&gw, &conn, path, &extra));
        assert_eq!(status, want, "{path}");
        assert!(len > 0, "{path}: empty body");
        // Every answer is checked: a throttle or quota reached while measuring would otherwise
        // go unnoticed and time 429s instead.
        g.bench_function(name, |b| {
            b.iter(|| {
                let (status, len) = rt.block_on(one(&gw, &conn, black_box(path), &extra));
                assert_eq!(status, want, "{path}");
                len
            });
        });
    }
    g.finish();
}

/// The custom-authorizer function: a local HTTP/1.1 server answering every call with
/// [`portcullis_bench::AUTHORIZER_ANSWER`], on the benchmark's runtime.
async fn authorizer_function() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let svc = hyper::service::service_fn(|_req| async {
                let body = http_body_util::Full::new(bytes::Bytes::from_static(
                    portcullis_bench::AUTHORIZER_ANSWER.as_bytes(),
                ));
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tcp), svc),
            );
        }
    });
    addr
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
