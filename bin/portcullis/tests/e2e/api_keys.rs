//! API keys, usage plans and throttles, end to end: keys created through the admin API, calls
//! over real TLS, the exact statuses, bodies and headers of every refusal, usage that survives
//! a restart, two gateway processes sharing one quota on a real Redis and PostgreSQL, and the
//! Redis failure modes against a `redis-server` this test kills and restarts.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{eventually, Gw};

/// A pets API with a `prod` and a `beta` stage; `GET /pets` and `POST /pets` need a key,
/// `GET /open` does not. `EXTRA` goes at the end (plans, throttles).
fn config(extra: &str) -> String {
    format!(
        "usage:
  flush_interval: 1s
apis:
  - name: pets
    stages:
      - name: prod
      - name: beta
      - name: frozen
        throttle: {{ rate: 0, burst: 0 }}
    routes:
      - route: GET /pets
        api_key_required: true
        integration: {{ type: mock, body: '[]' }}
      - route: POST /pets
        api_key_required: true
        integration: {{ type: mock, status: 201 }}
      - route: GET /open
        throttle: {{ rate: 0.001, burst: 2 }}
        integration: {{ type: mock }}
      - route: GET /free
        integration: {{ type: mock }}
{extra}{}",
        // A route that requires a key needs a plan on some stage of its API.
        if extra.contains("usage_plans:") {
            ""
        } else {
            "usage_plans:\n  - id: beta-only\n    api_stages: [{ api: pets, stage: beta }]\n"
        }
    )
}

const BASIC: &str = "usage_plans:
  - id: basic
    throttle: { rate: 1000, burst: 1000 }
    quota: { limit: 5, period: DAY }
    api_stages:
      - api: pets
        stage: prod
        throttle:
          POST /pets: { rate: 0.001, burst: 1 }
  - id: other
    api_stages:
      - api: pets
        stage: prod
";

pub async fn new_key(gw: &Gw, name: &str) -> (String, String) {
    let (status, body) = gw.admin_json(Method::POST, "/api-keys", Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), body["value"].as_str().unwrap().to_owned())
}

async fn call(gw: &Gw, method: Method, path: &str, key: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = gw.client().request(method, gw.url(path));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn assert_refusal(got: &(u16, reqwest::header::HeaderMap, Value), status: u16, error_type: &str, message: &str) {
    assert_eq!(got.0, status, "{:?}", got.2);
    assert_eq!(header(&got.1, "x-amzn-errortype"), error_type);
    assert_eq!(got.2, json!({ "message": message }));
}

#[tokio::test]
async fn a_key_in_a_plan_is_required_and_its_quota_is_enforced() {
    let log = "access_log:\n  format: '{\"id\":\"$context.requestId\",\"keyId\":\"$context.identity.apiKeyId\",\"key\":\"$context.identity.apiKey\",\"status\":\"$context.status\"}'\n";
    let gw = Gw::start(&format!("{log}{}", config(BASIC)));
    let forbidden = |got| assert_refusal(&got, 403, "ForbiddenException", "Forbidden");
    forbidden(call(&gw, Method::GET, "/prod/pets", None).await);
    forbidden(call(&gw, Method::GET, "/prod/pets", Some("pck_not-a-key-anyone-has-made-0000000000")).await);
    let (id, value) = new_key(&gw, "shop").await;
    assert!(value.starts_with("pck_") && value.len() == 44, "{value}");
    // Not in any plan yet.
    forbidden(call(&gw, Method::GET, "/prod/pets", Some(&value)).await);
    let (status, body) = gw.admin_json(Method::PUT, &format!("/usage-plans/basic/keys/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    // One plan per key per stage: `other` also covers pets/prod.
    let (status, body) = gw.admin_json(Method::PUT, &format!("/usage-plans/other/keys/{id}"), None).await;
    assert_eq!(status, 409, "{body}");

    let (status, headers, _) = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (header(&headers, "ratelimit-limit"), header(&headers, "ratelimit-remaining")),
        ("5".into(), "4".into())
    );
    assert!(header(&headers, "ratelimit-reset").parse::<u64>().is_ok_and(|s| s > 0 && s <= 86_400));
    // The key's plan does not cover the beta stage; the open route needs no key.
    forbidden(call(&gw, Method::GET, "/beta/pets", Some(&value)).await);
    assert_eq!(call(&gw, Method::GET, "/prod/open", None).await.0, 200);

    // The per-route override lets one POST through, then throttles; the throttled POSTs do not
    // count against the quota.
    assert_eq!(call(&gw, Method::POST, "/prod/pets", Some(&value)).await.0, 201);
    for _ in 0..3 {
        let got = call(&gw, Method::POST, "/prod/pets", Some(&value)).await;
        assert_refusal(&got, 429, "TooManyRequestsException", "Too Many Requests");
        assert!(header(&got.1, "retry-after").parse::<u64>().is_ok_and(|s| s > 0));
        assert_eq!(header(&got.1, "ratelimit-remaining"), "0");
    }
    for _ in 0..3 {
        assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 200);
    }
    let got = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_refusal(&got, 429, "LimitExceededException", "Limit Exceeded");
    let retry = header(&got.1, "retry-after").parse::<u64>().unwrap_or(0);
    assert!(retry > 0 && retry <= 86_400, "Retry-After until the day's end: {retry}");
    assert_eq!(header(&got.1, "ratelimit-limit"), "5");

    // Disabled and deleted keys are refused at once (this node's cache is dropped).
    let (status, _) = gw.admin_json(Method::PATCH, &format!("/api-keys/{id}"), Some(json!({ "enabled": false }))).await;
    assert_eq!(status, 200);
    forbidden(call(&gw, Method::GET, "/prod/pets", Some(&value)).await);
    let (status, _) = gw.admin_json(Method::DELETE, &format!("/api-keys/{id}"), None).await;
    assert_eq!(status, 200);
    forbidden(call(&gw, Method::GET, "/prod/pets", Some(&value)).await);

    // The value is in the create answer only: not in listings, the audit trail or any log.
    let (_, listed) = gw.admin_json(Method::GET, "/api-keys", None).await;
    assert!(!listed.to_string().contains(&value));
    let (_, audit) = gw.admin_json(Method::GET, "/audit", None).await;
    let audit = audit.to_string();
    assert!(audit.contains("apikeys.CreateApiKey") && audit.contains("apikeys.CreateUsagePlanKey"), "{audit}");
    assert!(!audit.contains(&value));
    let logs = [gw.stderr_lines(), gw.stdout_lines()].concat().join("\n");
    assert!(!logs.contains(&value), "an API key reached a log");
    // The access log names the key by id; `identity.apiKey` renders nothing.
    let lines = gw.access_log();
    assert!(lines.iter().any(|l| l["keyId"] == id.as_str() && l["status"] == "200"), "{lines:?}");
    assert!(lines.iter().all(|l| l["key"] == "-" || l["key"] == ""), "{lines:?}");
}

/// A client sending unknown keys may cause 20 store lookups, then one a second: its next
/// uncached key is refused without a lookup until the bucket refills. Keys already cached, like
/// a key in steady use, are not affected.
#[tokio::test]
async fn a_flood_of_unknown_keys_stops_costing_store_lookups() {
    let gw = Gw::start(&config(BASIC));
    let (a, used) = new_key(&gw, "in-use").await;
    let (b, fresh) = new_key(&gw, "fresh").await;
    for id in [&a, &b] {
        gw.admin_json(Method::PUT, &format!("/usage-plans/basic/keys/{id}"), None).await;
    }
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&used)).await.0, 200);
    for i in 0..21 {
        let got = call(&gw, Method::GET, "/prod/pets", Some(&format!("pck_unknown{i:033}"))).await;
        assert_refusal(&got, 403, "ForbiddenException", "Forbidden");
    }
    // Cached: still served. Not cached: refused unread, until the bucket has a token again.
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&used)).await.0, 200);
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&fresh)).await.0, 403);
    let served = eventually(Duration::from_secs(5), || async {
        call(&gw, Method::GET, "/prod/pets", Some(&fresh)).await.0 == 200
    })
    .await;
    assert!(served, "a valid key is looked up again once the client's bucket refills");
}

#[tokio::test]
async fn every_throttle_level_answers_429_and_a_zero_limit_blocks_all() {
    let gw = Gw::start(&config(
        "throttling:
  rate: 10000
  burst: 5000
  per_client: { rate: 0.001, burst: 6 }
",
    ));
    // A stage throttle of 0/0 refuses everything, as in API Gateway.
    let got = call(&gw, Method::GET, "/frozen/open", None).await;
    assert_refusal(&got, 429, "TooManyRequestsException", "Too Many Requests");
    // The route throttle (burst 2) is per stage: two on prod, two on beta, then refused.
    for stage in ["prod", "beta"] {
        for _ in 0..2 {
            assert_eq!(call(&gw, Method::GET, &format!("/{stage}/open"), None).await.0, 200);
        }
        assert_eq!(call(&gw, Method::GET, &format!("/{stage}/open"), None).await.0, 429);
    }
    // Refused requests took nothing from the per-client bucket (burst 6): only the four that
    // passed did, so two are left on a route without its own throttle.
    for _ in 0..2 {
        assert_eq!(call(&gw, Method::GET, "/prod/free", None).await.0, 200);
    }
    assert_eq!(call(&gw, Method::GET, "/prod/free", None).await.0, 429);
    let metrics = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("portcullis_throttled_total{level=\"route\"} 2"), "{metrics}");
    assert!(metrics.contains("portcullis_throttled_total{level=\"stage\"} 1"), "{metrics}");
    assert!(metrics.contains("portcullis_throttled_total{level=\"client\"} 1"), "{metrics}");
}

#[tokio::test]
async fn the_gateway_wide_limit_applies_to_every_route() {
    let gw = Gw::start(&config("throttling:\n  rate: 0.001\n  burst: 3\n"));
    let mut statuses = Vec::new();
    for path in ["/prod/open", "/beta/open", "/prod/open", "/beta/open"] {
        statuses.push(call(&gw, Method::GET, path, None).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
}

// Multi-threaded: `stop` blocks this thread while the gateway drains, and the client side of
// the drained connections must keep running to let it finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_recorded_survives_a_restart_and_the_quota_is_not_handed_out_again() {
    let plan = "usage_plans:
  - id: daily
    quota: { limit: 4, period: DAY, time_zone: Europe/Paris }
    api_stages: [{ api: pets, stage: prod }]
";
    let gw = Gw::start(&config(plan));
    let (id, value) = new_key(&gw, "billing").await;
    gw.admin_json(Method::PUT, &format!("/usage-plans/daily/keys/{id}"), None).await;
    for _ in 0..3 {
        assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 200);
    }
    let admin_key = gw.admin_key.clone();
    let dir = gw.stop();
    let mut gw = Gw::start_in(dir, &config(plan));
    gw.admin_key = admin_key;
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 200, "one left after the restart");
    let got = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_refusal(&got, 429, "LimitExceededException", "Limit Exceeded");

    let today = paris_today();
    let path = format!("/usage-plans/daily/usage?startDate={today}&endDate={today}");
    let reported = eventually(Duration::from_secs(10), || async {
        let (_, body) = gw.admin_json(Method::GET, &path, None).await;
        body["values"][&id] == json!([[4, 0]])
    })
    .await;
    let (_, body) = gw.admin_json(Method::GET, &path, None).await;
    assert!(reported, "GetUsage after the flush: {body}");
    assert_eq!(body["items"][0]["route"], "GET /pets");
    let csv = gw.admin_call(None, Method::GET, &format!("{path}&format=csv"), None).await.text().await.unwrap();
    assert_eq!(
        csv,
        format!(
            "usage_plan_id,key_id,customer_id,day,api,stage,route,count\ndaily,{id},,{today},pets,prod,GET /pets,4\n"
        )
    );
}

fn paris_today() -> String {
    let out = Command::new("date").env("TZ", "Europe/Paris").arg("+%Y-%m-%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A database of its own on the project's PostgreSQL.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection as _;
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let db = format!("portcullis_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin}): {e}"));
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.unwrap();
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

/// Starts a node on a shared store, Redis and master key.
fn node(store: &str, redis: &str, prefix: &str, master: &str, plans: &str) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\nstore:\n  url: {store}\n\
         shared_state:\n  redis:\n    url: {redis}\n    key_prefix: {prefix}\n{}",
        dir.path().join("data").display(),
        config(plans)
    );
    std::fs::write(&path, text).unwrap();
    Gw::spawn(dir, path, &[("PORTCULLIS_MASTER_KEY", master.to_owned())])
}

pub fn master_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(rand_bytes())
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    let u = uuid::Uuid::new_v4();
    let v = uuid::Uuid::new_v4();
    b[..16].copy_from_slice(u.as_bytes());
    b[16..].copy_from_slice(v.as_bytes());
    b
}

/// The issue's own example: a quota of 100 a day, two nodes, 150 requests spread over both at
/// once; exactly 100 succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_redis_enforce_one_quota_exactly() {
    let store = fresh_postgres().await;
    let prefix = format!("pce2e-{}", uuid::Uuid::new_v4().simple());
    let master = master_key();
    let redis = "redis://127.0.0.1:6379/0";
    let plans = "usage_plans:
  - id: hundred
    quota: { limit: 100, period: DAY }
    api_stages: [{ api: pets, stage: prod }]
";
    let a = node(&store, redis, &prefix, &master, plans);
    let mut b = node(&store, redis, &prefix, &master, plans);
    b.admin_key = a.admin_key.clone();
    let (id, value) = new_key(&a, "cluster").await;
    let (status, _) = a.admin_json(Method::PUT, &format!("/usage-plans/hundred/keys/{id}"), None).await;
    assert_eq!(status, 200);
    let (ca, cb) = (a.client(), b.client());
    let mut tasks = Vec::new();
    for i in 0..150 {
        let (client, url) =
            if i % 2 == 0 { (ca.clone(), a.url("/prod/pets")) } else { (cb.clone(), b.url("/prod/pets")) };
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            client.get(url).header("x-api-key", value).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (100, 50), "one quota for both nodes");
    // Both nodes record usage in the shared store: the report adds up to 100.
    let today = utc_today();
    let path = format!("/usage-plans/hundred/usage?startDate={today}&endDate={today}");
    let reported = eventually(Duration::from_secs(10), || async {
        let (_, body) = b.admin_json(Method::GET, &path, None).await;
        body["values"][&id] == json!([[100, 0]])
    })
    .await;
    assert!(reported, "usage from both nodes: {:?}", b.admin_json(Method::GET, &path, None).await);
}

pub fn utc_today() -> String {
    let out = Command::new("date").env("TZ", "UTC").arg("+%Y-%m-%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A `redis-server` this test owns, on a free port.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is required for this test: {e}"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child: Some(child) }
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

#[tokio::test]
async fn redis_down_fails_closed_with_503_and_recovers_by_itself() {
    let port = crate::harness::free_port();
    let mut redis = OwnRedis::start(port);
    let gw = Gw::start(&config(&format!(
        "shared_state:\n  redis:\n    url: redis://127.0.0.1:{port}/0\n    on_failure: fail_closed\n    retry_interval: 200ms\n"
    )));
    assert_eq!(call(&gw, Method::GET, "/prod/open", None).await.0, 200);
    redis.kill();
    let got = call(&gw, Method::GET, "/prod/open", None).await;
    assert_refusal(&got, 503, "ServiceUnavailableException", "Service Unavailable");
    let _back = OwnRedis::start(redis.port);
    let recovered =
        eventually(Duration::from_secs(10), || async { call(&gw, Method::GET, "/beta/open", None).await.0 == 200 })
            .await;
    assert!(recovered, "the gateway went back to Redis by itself");
    let metrics = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("portcullis_shared_counters_degraded_total{mode=\"fail_closed\"}"), "{metrics}");
    assert!(gw.stderr_lines().iter().any(|l| l.contains("Redis unreachable")));
}

#[tokio::test]
async fn redis_down_falls_back_to_local_limits_by_default() {
    let port = crate::harness::free_port();
    let gw = Gw::start(&config(&format!("shared_state:\n  redis:\n    url: redis://127.0.0.1:{port}/0\n")));
    // No Redis: this node still enforces the route's burst of 2 on its own counters.
    let statuses: Vec<u16> = futures_util::future::join_all((0..3).map(|_| call(&gw, Method::GET, "/prod/open", None)))
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 200, 429], "{statuses:?}");
    let metrics = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("portcullis_shared_counters_degraded_total{mode=\"local\"} 2"), "{metrics}");
}

#[tokio::test]
async fn redis_down_fails_open_when_configured() {
    let port = crate::harness::free_port();
    let gw = Gw::start(&config(&format!(
        "shared_state:\n  redis:\n    url: redis://127.0.0.1:{port}/0\n    on_failure: fail_open\n"
    )));
    // No Redis at all: requests pass, uncounted, even past the route's burst of 2.
    for _ in 0..4 {
        assert_eq!(call(&gw, Method::GET, "/prod/open", None).await.0, 200);
    }
}

#[tokio::test]
async fn with_plans_scope_only_keyed_requests_need_redis() {
    let port = crate::harness::free_port();
    let gw = Gw::start(&config(&format!(
        "shared_state:\n  redis:\n    url: redis://127.0.0.1:{port}/0\n    on_failure: fail_closed\n    scope: plans\n{BASIC}"
    )));
    let (id, value) = new_key(&gw, "scoped").await;
    gw.admin_json(Method::PUT, &format!("/usage-plans/basic/keys/{id}"), None).await;
    // No Redis: open routes are served on the node's own counters; keyed ones fail closed.
    assert_eq!(call(&gw, Method::GET, "/prod/open", None).await.0, 200);
    let got = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_refusal(&got, 503, "ServiceUnavailableException", "Service Unavailable");
}

/// Plans come from the config: a reload that raises a quota applies to the next request, one
/// that drops the plan refuses its keys, and one that would leave key routes without any plan
/// is refused while the old config keeps serving.
#[tokio::test]
async fn plan_changes_apply_on_reload() {
    let plan = |limit: u32| {
        format!("usage_plans:\n  - id: daily\n    quota: {{ limit: {limit}, period: DAY }}\n    api_stages: [{{ api: pets, stage: prod }}]\n")
    };
    let gw = Gw::start(&config(&plan(1)));
    let (id, value) = new_key(&gw, "reloaded").await;
    gw.admin_json(Method::PUT, &format!("/usage-plans/daily/keys/{id}"), None).await;
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 200);
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 429);

    gw.rewrite_config(&config(&plan(3)));
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("reloaded")), "{body}");
    let (_, headers, _) = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_eq!(header(&headers, "ratelimit-limit"), "3", "the new limit applies to the same window's count");
    assert_eq!(header(&headers, "ratelimit-remaining"), "1");

    // Without any plan the key routes could never be called: refused, the old config serves.
    let no_plans =
        config("").replace("usage_plans:\n  - id: beta-only\n    api_stages: [{ api: pets, stage: beta }]\n", "");
    gw.rewrite_config(&no_plans);
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_ne!(body["status"], "reloaded", "{status} {body}");
    assert!(body.to_string().contains("no usage plan covers a stage of API `pets`"), "{body}");
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&value)).await.0, 200);

    // The plan is gone (only another stage has one): its keys are refused on prod.
    gw.rewrite_config(&config(""));
    let (_, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(body["status"], "reloaded", "{body}");
    let got = call(&gw, Method::GET, "/prod/pets", Some(&value)).await;
    assert_refusal(&got, 403, "ForbiddenException", "Forbidden");
}
