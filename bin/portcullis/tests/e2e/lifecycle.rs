//! Reload (SIGHUP, file change), requests in flight across a reload, graceful shutdown, the
//! command line and the shipped examples.

use std::time::Duration;

use crate::harness::{eventually, Gw, Upstream};

fn routes(up: &Upstream, extra: &str) -> String {
    format!(
        "reload: {{poll_interval: 200ms}}\napis:\n  - name: a\n    routes:\n      - route: GET /slow\n        integration: {{type: http, url: \"{u}/slow\"}}\n{extra}",
        u = up.url()
    )
}

const NEW_ROUTE: &str = "      - route: GET /new\n        integration: {type: mock, body: new}\n";

#[tokio::test]
async fn sighup_and_file_changes_reload_and_bad_configs_are_refused() {
    let up = Upstream::start().await;
    let gw = Gw::start(&routes(&up, ""));
    let c = gw.client();
    assert_eq!(c.get(gw.url("/new")).send().await.unwrap().status(), 403);

    // A file change is picked up by the watcher.
    gw.rewrite_config(&routes(&up, NEW_ROUTE));
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if c.get(gw.url("/new")).send().await.unwrap().status() == 200 {
            served = true;
            break;
        }
    }
    assert!(served, "file change not reloaded: {:?}", gw.stderr_lines());

    // A broken config is refused, logged with its place, and the old one keeps serving.
    gw.rewrite_config(
        "apis:\n  - name: a\n    routes:\n      - route: GET /x\n        integration: {type: http, url: nope}\n",
    );
    gw.signal("HUP");
    let refused = "apis[0].routes[0].integration.url: invalid URL `nope`";
    let logged =
        eventually(Duration::from_secs(10), || async { gw.stderr_lines().iter().any(|l| l.contains(refused)) }).await;
    assert!(logged, "{}", gw.stderr_lines().join("\n"));
    assert_eq!(c.get(gw.url("/new")).send().await.unwrap().status(), 200);
}

/// Starts a request to the upstream's 3-second `/slow` and waits until it has reached the
/// upstream; the handle yields its status.
async fn slow_request_in_flight(
    gw: &Gw,
    c: &reqwest::Client,
    up: &Upstream,
) -> tokio::task::JoinHandle<reqwest::Result<u16>> {
    let slow = tokio::spawn({
        let (c, url) = (c.clone(), gw.url("/slow"));
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    assert!(eventually(Duration::from_secs(10), || async { up.hits() == 1 }).await, "the slow request is in flight");
    slow
}

#[tokio::test]
async fn requests_in_flight_finish_on_the_old_config() {
    let up = Upstream::start().await;
    let gw = Gw::start(&routes(&up, ""));
    let c = gw.client();
    let slow = slow_request_in_flight(&gw, &c, &up).await;
    gw.rewrite_config("apis: []\n");
    gw.signal("HUP");
    let live = eventually(Duration::from_secs(10), || async {
        c.get(gw.url("/slow")).send().await.is_ok_and(|r| r.status() == 403)
    })
    .await;
    assert!(live, "the new config is live");
    assert_eq!(slow.await.unwrap().unwrap(), 200, "the request that started before the reload finished");
}

#[tokio::test]
async fn sigterm_drains_requests_in_flight_and_exits_zero() {
    let up = Upstream::start().await;
    let mut gw = Gw::start(&routes(&up, ""));
    let c = gw.client();
    let slow = slow_request_in_flight(&gw, &c, &up).await;
    gw.signal("TERM");
    assert_eq!(slow.await.unwrap().unwrap(), 200);
    let code = tokio::task::spawn_blocking(move || gw.wait_exit(Duration::from_secs(10))).await.unwrap();
    assert_eq!(code, Some(0));
}

#[test]
fn validate_schema_help_and_version() {
    let bin = env!("CARGO_BIN_EXE_portcullis");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("x.yaml");
    std::fs::write(&bad, "apis:\n  - name: a\n    routes:\n      - route: GET /a\n        integration:\n          type: http\n          url: ftp://x\n").unwrap();
    let out = std::process::Command::new(bin).args(["validate", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("x.yaml:7:11: apis[0].routes[0].integration.url: invalid URL `ftp://x`"), "{err}");
    let out = std::process::Command::new(bin)
        .args(["validate", "--config", "../../examples/quickstart.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = std::process::Command::new(bin).arg("schema").output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["apis"].is_object() && schema["properties"]["listen"].is_object(), "{schema}");
    let out = std::process::Command::new(bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("portcullis "));
    let out = std::process::Command::new(bin).args(["serve", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--workers"));
}

#[tokio::test]
async fn the_proxy_example_works_with_its_environment_variables() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/proxy.yaml");
    let env = [
        ("UPSTREAM_URL", up.url()),
        ("PORTCULLIS_LISTEN", "127.0.0.1:0".to_owned()),
        ("PORTCULLIS_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
        ("PORTCULLIS_ADMIN_LISTEN", "127.0.0.1:0".to_owned()),
        ("PORTCULLIS_DATA_DIR", dir.path().join("d").display().to_string()),
    ];
    let gw = Gw::spawn(dir, example, &env);
    let echo: serde_json::Value = gw.client().get(gw.url("/any/path?q=1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(echo["path"], "/any/path?q=1");
    let echo: serde_json::Value = gw.client().get(gw.url("/")).send().await.unwrap().json().await.unwrap();
    assert_eq!(echo["path"], "/");
    assert!(gw.redirect.is_some());
}
