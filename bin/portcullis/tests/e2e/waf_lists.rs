//! The `ip_reputation` managed group: a list from a file blocks at once; a list fetched from a
//! URL blocks once fetched, follows the list's changes at its refresh, and keeps its last good
//! contents when the URL fails.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::harness::{eventually, Gw, Upstream};

/// Serves `text` (changeable) at any path; `None` answers 503.
async fn list_server(text: Arc<Mutex<Option<String>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let text = text.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let current = text.lock().unwrap().clone();
                    async move {
                        let mut resp = http::Response::new(Full::new(Bytes::from(current.clone().unwrap_or_default())));
                        if current.is_none() {
                            *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    format!("http://127.0.0.1:{}/lists/abuse.txt", addr.port())
}

fn config(upstream: &str, file: &str, url: &str) -> String {
    format!(
        r#"
web_acls:
  - name: rep
    default_action: allow
    rules:
      - name: reputation
        priority: 1
        statement:
          managed_rule_group:
            name: ip_reputation
            lists:
              - {{name: partners-blocked, file: '{file}'}}
              - {{name: abuse, url: '{url}', refresh: 5s}}
            scope_down_statement: {{byte_match: {{field: uri_path, position: starts_with, search: /guarded}}}}
apis:
  - name: app
    web_acl: rep
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_from_files_and_urls_block_and_follow_their_source() {
    let up = Upstream::start().await;
    let served = Arc::new(Mutex::new(Some("# nothing of ours yet\n192.0.2.0/24\n".to_owned())));
    let url = list_server(served.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blocked.txt");

    // The file lists another network: the client (127.0.0.1) passes.
    std::fs::write(&file, "198.51.100.0/24\n").unwrap();
    let gw = Gw::start(&config(&up.url(), &file.display().to_string(), &url));
    let status = |path: &'static str| {
        let (client, url) = (gw.client(), gw.url(path));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/guarded/x").await, 200);

    // The URL's list gains the client's network: refused within a refresh (5 s).
    *served.lock().unwrap() = Some("192.0.2.0/24\n127.0.0.0/8 loopback\n".to_owned());
    assert!(eventually(Duration::from_secs(15), || async { status("/guarded/x").await == 403 }).await);
    assert_eq!(status("/open/x").await, 200, "outside the scope-down statement");

    // The URL fails: the last good list stays.
    *served.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(status("/guarded/x").await, 403);

    // The list drops the network again: let through.
    *served.lock().unwrap() = Some("192.0.2.0/24\n".to_owned());
    assert!(eventually(Duration::from_secs(40), || async { status("/guarded/x").await == 200 }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_list_file_or_a_bad_line_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "10.0.0.0/8\nten.zero\n").unwrap();
    for (file, want) in [
        (dir.path().join("missing.txt").display().to_string(), "cannot read"),
        (bad.display().to_string(), ":2: \"ten.zero\" is not an address or a CIDR"),
    ] {
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, config("http://127.0.0.1:9", &file, "https://lists.example/abuse.txt")).unwrap();
        let bin = env!("CARGO_BIN_EXE_portcullis");
        let run = std::process::Command::new(bin).args(["validate", "--config"]).arg(&path).output().unwrap();
        assert_eq!(run.status.code(), Some(1));
        let out = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(out.contains("web_acls[0].rules[0].statement.managed_rule_group.lists[0].file"), "{out}");
        assert!(out.contains(want), "{out}");
    }
}
