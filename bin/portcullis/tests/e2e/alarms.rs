//! Metrics and alarms end to end: an alarm on 5xx goes OK → ALARM → OK under a driven load,
//! and its webhook receives each change, signed (checked with `openssl dgst -hmac`, not our
//! own code), after a refused first attempt; the metrics query counts exactly what was sent;
//! alarms made through the admin API persist and are audited.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::Gw;

const SECRET: &str = "a-webhook-secret-of-32-bytes-xyz";

/// A webhook receiver that refuses its first request (503) and records every one.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(http::HeaderMap, Bytes)>>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<(http::HeaderMap, Bytes)>>> = Arc::default();
        let sink = got.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            let headers = req.headers().clone();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let mut got = sink.lock().unwrap();
                            got.push((headers, body));
                            let status = if got.len() == 1 { 503 } else { 200 };
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        Self { url, got }
    }

    /// The delivered notifications (2xx answered), as JSON, in order.
    fn delivered(&self) -> Vec<Value> {
        let got = self.got.lock().unwrap();
        got.iter().skip(1).map(|(_, b)| serde_json::from_slice(b).unwrap()).collect()
    }

    /// Waits until a delivered notification entered `state`.
    async fn await_state(&self, state: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(n) = self.delivered().into_iter().find(|n| n["state"] == state) {
                return n;
            }
            assert!(Instant::now() < deadline, "no {state} notification: {:?}", self.delivered());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// HMAC-SHA256 of `message` under `key`, by openssl.
fn openssl_hmac(key: &str, message: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

fn config(hook: &str) -> String {
    format!(
        r#"
alarms:
  - name: api-5xx
    description: the API answers 5xx
    metric: 5XXError
    dimensions: {{api: a}}
    statistic: Sum
    period: 10s
    evaluation_periods: 1
    threshold: 1
    comparison: GreaterThanOrEqualToThreshold
    treat_missing_data: notBreaching
    webhooks:
      - url: {hook}
        secret_env: HOOK_SECRET
apis:
  - name: a
    routes:
      - route: GET /ok
        integration: {{type: mock, body: fine}}
      - route: GET /broken
        integration: {{type: mock, status: 500, body: broken}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_goes_ok_alarm_ok_and_its_webhook_gets_each_change_signed() {
    let hook = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\n{}",
        dir.path().join("data").display(),
        config(&hook.url)
    );
    std::fs::write(&path, text).unwrap();
    let gw = Gw::spawn(dir, path, &[("HOOK_SECRET", SECRET.to_owned())]);
    let client = gw.client();

    // No data yet: `notBreaching` makes the first evaluation OK.
    let first = hook.await_state("OK", Duration::from_secs(25)).await;
    assert_eq!(first["previous_state"], "INSUFFICIENT_DATA", "{first}");

    // 5xx load until the alarm fires.
    let started = telemetry_now();
    let mut sent = 0u64;
    let fired = loop {
        for _ in 0..5 {
            assert_eq!(client.get(gw.url("/broken")).send().await.unwrap().status(), 500);
            sent += 1;
        }
        if let Some(n) = hook.delivered().into_iter().find(|n| n["state"] == "ALARM") {
            break n;
        }
        assert!(telemetry_now() - started < 40_000, "no ALARM: {:?}", hook.delivered());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((fired["alarm"].as_str(), fired["previous_state"].as_str()), (Some("api-5xx"), Some("OK")), "{fired}");
    assert!(fired["reason"].as_str().unwrap().contains("1 of the last 1 datapoints breach"), "{fired}");
    assert!(fired["datapoints"][0]["value"].as_f64().unwrap() >= 1.0, "{fired}");

    // Load stops; the next empty period brings it back to OK.
    let back = loop {
        let ok: Vec<Value> = hook.delivered().into_iter().filter(|n| n["state"] == "OK").collect();
        if ok.len() == 2 {
            break ok[1].clone();
        }
        assert!(telemetry_now() - started < 80_000, "not back to OK: {:?}", hook.delivered());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(back["previous_state"], "ALARM", "{back}");

    // Every delivery is signed over `timestamp.body` with the webhook's secret; the refused
    // first attempt was retried with the same delivery id.
    let got = hook.got.lock().unwrap().clone();
    assert!(got.len() >= 4, "{} requests", got.len());
    for (headers, body) in &got {
        let ts = headers["x-portcullis-timestamp"].to_str().unwrap();
        let mut message = format!("{ts}.").into_bytes();
        message.extend_from_slice(body);
        let expected = format!("v1={}", openssl_hmac(SECRET, &message));
        assert_eq!(headers["x-portcullis-signature"].to_str().unwrap(), expected);
    }
    assert_eq!(got[0].0["x-portcullis-delivery"], got[1].0["x-portcullis-delivery"], "a retry keeps its delivery id");
    assert_eq!(got[0].1, got[1].1);

    // The state, with its history, through the admin API.
    let (status, alarm) = gw.admin_json(Method::GET, "/alarms/api-5xx", None).await;
    assert_eq!(status, 200, "{alarm}");
    assert_eq!((alarm["state"].as_str(), alarm["source"].as_str()), (Some("OK"), Some("config")));
    let history: Vec<(&str, &str)> = alarm["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(history, [("ALARM", "OK"), ("OK", "ALARM"), ("INSUFFICIENT_DATA", "OK")]);

    // The metrics query counts exactly the 5xx sent, and the 200s apart.
    for _ in 0..3 {
        assert_eq!(client.get(gw.url("/ok")).send().await.unwrap().status(), 200);
    }
    let q = format!("/metrics/query?metric=5XXError&statistic=Sum&period=3600&api=a&from_ms={}", started - 3_600_000);
    let (status, v) = gw.admin_json(Method::GET, &q, None).await;
    assert_eq!(status, 200, "{v}");
    let total: f64 = v["datapoints"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).sum();
    assert_eq!(total, sent as f64, "{v}");
    let q = format!("/metrics/query?metric=Count&period=3600&api=a&route=GET%20/ok&from_ms={}", started - 3_600_000);
    let (_, v) = gw.admin_json(Method::GET, &q, None).await;
    assert_eq!(v["datapoints"][0]["value"], 3.0, "{v}");
    let (status, v) = gw.admin_json(Method::GET, "/metrics/query?metric=Latency&statistic=p99&period=15", None).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("10"), "{v}");

    // The metric says so too.
    let text = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(text.contains(r#"portcullis_alarm_state{alarm="api-5xx"} 0"#), "{text}");
    assert!(text.contains(r#"portcullis_alarm_notifications_total{result="delivered"} 3"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_made_through_the_admin_api_persist_and_are_audited() {
    let gw = Gw::start("alarms:\n  - {name: certs, template: certificates_expiring}\napis: []\n");
    let def = json!({ "template": "auth_failures_spike", "threshold": 20, "dimensions": { "api": "a" } });
    let (status, v) = gw.admin_json(Method::PUT, "/alarms/logins", Some(def)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["state"].as_str(), v["source"].as_str()), (Some("INSUFFICIENT_DATA"), Some("api")), "{v}");
    // Invalid definitions are refused field by field; config alarms are not the API's to change.
    let bad = json!({ "metric": "5xx", "period": "15s", "threshold": 1, "comparison": "Above" });
    let (status, v) = gw.admin_json(Method::PUT, "/alarms/bad", Some(bad)).await;
    assert_eq!(status, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("metric: unknown metric `5xx`") && msg.contains("period:") && msg.contains("comparison:"),
        "{msg}"
    );
    let (status, _) = gw.admin_json(Method::DELETE, "/alarms/certs", None).await;
    assert_eq!(status, 409);
    let (_, list) = gw.admin_json(Method::GET, "/alarms", None).await;
    let names: Vec<&str> = list["alarms"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["certs", "logins"]);

    // After a restart the API's alarm is still there.
    let admin = gw.admin_key.clone();
    let data = gw.stop();
    let mut gw = Gw::start_in(data, "apis: []\n");
    gw.admin_key = admin;
    let (status, v) = gw.admin_json(Method::GET, "/alarms/logins", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["definition"]["threshold"], 20.0);
    // The CLI: list, put from standard input, query a metric.
    let cli = crate::cli::Cli::new(&gw);
    let creds = gw.admin_key.clone().unwrap();
    let env = crate::cli::env_of(&creds);
    let out = cli.run(&env, &["alarms", "list"]);
    let (stdout, stderr) = crate::cli::texts(&out);
    assert!(out.status.success() && stdout.contains("\"logins\""), "{stdout}{stderr}");
    let def = std::env::temp_dir().join(format!("alarm-{}.json", std::process::id()));
    std::fs::write(&def, r#"{"template": "throttling"}"#).unwrap();
    let out = cli.run(&env, &["alarms", "put", "throttles", "--definition", def.to_str().unwrap()]);
    let _ = std::fs::remove_file(&def);
    let (stdout, stderr) = crate::cli::texts(&out);
    assert!(out.status.success() && stdout.contains("\"INSUFFICIENT_DATA\""), "{stdout}{stderr}");
    let out = cli.run(&env, &["metrics", "Count", "--period", "60"]);
    let (stdout, stderr) = crate::cli::texts(&out);
    assert!(out.status.success() && stdout.contains("\"datapoints\""), "{stdout}{stderr}");
    let out = cli.run(&env, &["metrics", "Count", "--period", "15"]);
    assert!(!out.status.success() && crate::cli::texts(&out).1.contains("400 ValidationError"));
    let (status, _) = gw.admin_json(Method::DELETE, "/alarms/logins", None).await;
    assert_eq!(status, 204);
    let (status, _) = gw.admin_json(Method::GET, "/alarms/logins", None).await;
    assert_eq!(status, 404);

    // Each change is an audit record with the caller's key, user agent and parameters.
    let (_, records) = gw.admin_json(Method::GET, "/audit?action=alarms.PutAlarm", None).await;
    let records = records["records"].as_array().unwrap();
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records[2]["user_agent"].as_str().unwrap().starts_with("portcullis-cli/"), "{records:?}");
    let put = &records[0];
    assert_eq!(put["outcome"], "success");
    assert!(put["access_key_id"].as_str().unwrap().starts_with("AKIA"), "{put}");
    assert_eq!(put["user_agent"], "portcullis-e2e", "{put}");
    assert!(put["parameters"].as_str().unwrap().contains("auth_failures_spike"), "{put}");
    let (_, v) = gw.admin_json(Method::GET, "/audit/verify", None).await;
    assert_eq!(v["intact"], true, "{v}");
}

fn telemetry_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
