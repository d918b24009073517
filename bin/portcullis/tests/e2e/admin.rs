//! The admin API: authentication, health, config redaction, metrics, reload and audit, on
//! SQLite and on PostgreSQL.

use serde_json::Value;

use crate::harness::Gw;

const CONFIG: &str = r#"
apis:
  - name: a
    routes:
      - route: GET /hello
        integration:
          type: mock
          body: hi
      - route: GET /up
        integration:
          type: http
          url: http://127.0.0.1:9/
          headers: {authorization: "Bearer upstream-secret", x-plain: visible}
"#;

#[tokio::test]
async fn admin_api_needs_a_token_and_reports_state() {
    let gw = Gw::start(CONFIG);
    let c = gw.admin_client();
    let token = gw.token.clone().expect("a bootstrap token is printed on first start");
    assert!(token.starts_with("pcadm_admin_") && token.len() > 50, "{token}");

    // Open endpoints.
    let health: Value = c.get(gw.admin_url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = c.get(gw.admin_url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!((ready["status"].as_str(), ready["store"].as_str()), (Some("ready"), Some("sqlite")));
    let spec: Value = c.get(gw.admin_url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{spec}");
    assert!(spec["paths"]["/reload"].is_object());

    // Everything else needs the token; a wrong one is refused the same way.
    for auth in [None, Some("Bearer pcadm_admin_wrong"), Some("Bearer pcadm_nobody_x"), Some("Basic YWRtaW46YWRtaW4=")]
    {
        let mut req = c.get(gw.admin_url("/config"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    let r = c.post(gw.admin_url("/reload")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let config: Value =
        c.get(gw.admin_url("/config")).header("authorization", gw.bearer()).send().await.unwrap().json().await.unwrap();
    let text = config.to_string();
    assert!(!text.contains("upstream-secret"), "secrets are redacted: {text}");
    assert!(text.contains("visible") && text.contains("/hello"), "{text}");

    gw.client().get(gw.url("/hello")).send().await.unwrap();
    let metrics = c
        .get(gw.admin_url("/metrics"))
        .header("authorization", gw.bearer())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"portcullis_requests_total{api="a",stage="$default",route="GET /hello",status_class="2xx"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_tls_handshakes_total{listener=\"api\",result=\"ok\"}"), "{metrics}");
    assert!(metrics.contains("portcullis_request_duration_seconds_bucket"), "{metrics}");

    let r = c.get(gw.admin_url("/no-such")).header("authorization", gw.bearer()).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn reloads_through_the_admin_api_are_audited() {
    let gw = Gw::start(CONFIG);
    let c = gw.admin_client();
    let r = c.post(gw.admin_url("/reload")).header("authorization", gw.bearer()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["routes"].as_u64()), (Some("reloaded"), Some(2)));

    gw.rewrite_config("apis:\n  - name: a\n    rotues: []\n");
    let r = c.post(gw.admin_url("/reload")).header("authorization", gw.bearer()).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let err = body["errors"][0].as_str().unwrap();
    assert!(err.contains("portcullis.yaml:7:5: apis[0].rotues: unknown field `rotues`"), "{err}");
    assert!(err.contains("did you mean `routes`"), "{err}");
    assert_eq!(gw.client().get(gw.url("/hello")).send().await.unwrap().status(), 200, "the old config keeps serving");

    let audit: Value =
        c.get(gw.admin_url("/audit")).header("authorization", gw.bearer()).send().await.unwrap().json().await.unwrap();
    let records = audit["records"].as_array().unwrap();
    let reloads: Vec<&Value> = records.iter().filter(|r| r["action"] == "config.reload").collect();
    assert_eq!(reloads.len(), 2, "{audit}");
    assert_eq!(reloads[0]["actor"], "admin");
    assert_eq!(reloads[0]["source_ip"], "127.0.0.1");
    assert_eq!(reloads[0]["outcome"], "success");
    assert_eq!(reloads[1]["outcome"], "failure");
    assert!(reloads[1]["detail"].as_str().unwrap().contains("rotues"));
    assert!(records.iter().any(|r| r["action"] == "admin.credential.create" && r["actor"] == "system"));
    let anonymous =
        c.post(gw.admin_url("/reload")).header("authorization", "Bearer pcadm_admin_guess").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let audit: Value =
        c.get(gw.admin_url("/audit")).header("authorization", gw.bearer()).send().await.unwrap().json().await.unwrap();
    let last = audit["records"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!((last["actor"].as_str(), last["outcome"].as_str()), (Some("anonymous"), Some("failure")), "{last}");
}

#[tokio::test]
async fn the_bootstrap_token_is_printed_once_and_survives_restarts() {
    let gw = Gw::start(CONFIG);
    let token = gw.token.clone().unwrap();
    let db = std::fs::read(gw.dir.path().join("data/portcullis.db")).unwrap_or_default();
    assert!(!db.windows(token.len() - 12).any(|w| w == &token.as_bytes()[12..]), "the secret is not stored in clear");
    let dir = gw.stop();
    let gw = Gw::start_in(dir, CONFIG);
    assert!(gw.token.is_none(), "printed again: {:?}", gw.stderr_lines());
    let r = gw
        .admin_client()
        .get(gw.admin_url("/config"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_gateway_runs_on_postgresql_too() {
    let base = std::env::var("PORTCULLIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("portcullis_e2e_{}", uuid::Uuid::new_v4().simple());
    let out = std::process::Command::new("psql")
        .arg(&base)
        .arg("-c")
        .arg(format!("CREATE DATABASE {db}"))
        .output()
        .expect("psql is needed");
    assert!(out.status.success(), "PostgreSQL is required: {}", String::from_utf8_lossy(&out.stderr));
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let gw = Gw::start(&format!("store: {{url: \"{url}\"}}\n{CONFIG}"));
    let c = gw.admin_client();
    let ready: Value = c.get(gw.admin_url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["store"], "postgres");
    let r = c.post(gw.admin_url("/reload")).header("authorization", gw.bearer()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let audit: Value =
        c.get(gw.admin_url("/audit")).header("authorization", gw.bearer()).send().await.unwrap().json().await.unwrap();
    assert!(audit["records"].as_array().unwrap().iter().any(|r| r["action"] == "config.reload"), "{audit}");
    drop(gw);
    let _ = std::process::Command::new("psql")
        .arg(&base)
        .arg("-c")
        .arg(format!("DROP DATABASE {db} WITH (FORCE)"))
        .output();
}
