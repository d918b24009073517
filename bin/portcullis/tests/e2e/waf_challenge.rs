//! The WAF's challenge action: headless Chromium (Debian's `chromium`) solves the proof of work
//! and reaches the upstream; a client without JavaScript gets the 202 and no token; a token
//! that was edited, sent with another user agent, or kept past the immunity time does not pass.

use std::time::Duration;

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::harness::{Gw, Upstream};

fn config(upstream: &str) -> String {
    format!(
        r#"
access_log:
  format: '{{"requestId":"$context.requestId","status":"$context.status","waf":"$context.wafResponseCode","rule":"$context.waf.terminatingRule"}}'
web_acls:
  - name: guard
    default_action: allow
    challenge_config: {{immunity_time: 300, difficulty: 12}}
    rules:
      - name: login-challenge
        priority: 1
        action: challenge
        statement: {{byte_match: {{field: uri_path, position: starts_with, search: /login}}}}
apis:
  - name: app
    web_acl: guard
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
"#
    )
}

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) PortcullisTest/1.0";

async fn get(gw: &Gw, path: &str, ua: &str, extra: &[(&str, &str)]) -> (u16, HeaderMap, String) {
    let mut req = gw.client().get(gw.url(path)).header("user-agent", ua);
    for (n, v) in extra {
        req = req.header(*n, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
}

/// Finds the answer to the page's puzzle as the page's script does.
fn solve(html: &str) -> String {
    let puzzle = html.split("var PUZZLE = \"").nth(1).and_then(|r| r.split('"').next()).unwrap();
    let bits: u32 = html.split("BITS = ").nth(1).and_then(|r| r.split(';').next()).unwrap().parse().unwrap();
    (0u64..)
        .map(|c| format!("{puzzle}:{c}"))
        .find(|a| {
            let d = Sha256::digest(a.as_bytes());
            let zeros = d.iter().position(|b| *b != 0).map_or(256, |i| i as u32 * 8 + d[i].leading_zeros());
            zeros >= bits
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_javascript_are_held_and_tokens_are_bound() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));

    // Not a browser page request: 202, the header, no body, no token, no upstream call.
    let (status, headers, body) = get(&gw, "/login", "curl/8.5.0", &[]).await;
    assert_eq!((status, body.as_str()), (202, ""));
    assert_eq!(headers["x-portcullis-waf-action"], "challenge");
    assert!(headers.get("set-cookie").is_none());
    assert_eq!(up.hits(), 0);
    // Outside the rule's scope, nothing is asked.
    assert_eq!(get(&gw, "/home", "curl/8.5.0", &[]).await.0, 200);

    // A browser's page request gets the page; answering its puzzle earns the token.
    let (status, headers, html) = get(&gw, "/login", BROWSER_UA, &[("accept", "text/html,*/*")]).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (202, "text/html; charset=utf-8"));
    let answer = solve(&html);
    let r =
        gw.client().post(gw.url("/login")).header("user-agent", BROWSER_UA).header("x-portcullis-challenge", &answer);
    let r = r.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("Secure") && set_cookie.contains("HttpOnly"), "{set_cookie}");
    let token = set_cookie.split(';').next().unwrap().to_owned();

    // The token lets this client through, and only this client.
    let (status, _, _) = get(&gw, "/login", BROWSER_UA, &[("cookie", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(up.hits(), 2, "the /home request and this one");
    assert_eq!(get(&gw, "/login", "curl/8.5.0", &[("cookie", &token)]).await.0, 202, "another user agent");
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(get(&gw, "/login", BROWSER_UA, &[("cookie", &forged)]).await.0, 202, "an edited token");
    let redated = token.replacen(".1", ".2", 1);
    assert_eq!(get(&gw, "/login", BROWSER_UA, &[("cookie", &redated)]).await.0, 202, "a redated token");
    // A wrong answer, or one solved for another user agent, earns nothing.
    let wrong = format!("{}:0", answer.rsplit_once(':').unwrap().0);
    let r = gw.client().post(gw.url("/login")).header("user-agent", BROWSER_UA).header("x-portcullis-challenge", wrong);
    let r = r.send().await.unwrap();
    assert!(r.status().as_u16() == 403 || r.headers().get("set-cookie").is_none());
    let r =
        gw.client().post(gw.url("/login")).header("user-agent", "other/1").header("x-portcullis-challenge", &answer);
    assert_eq!(r.send().await.unwrap().status().as_u16(), 403);
    assert_eq!(up.hits(), 2);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = gw.access_log();
    assert!(lines
        .iter()
        .any(|l| l["status"] == "202" && l["waf"] == "WAF_CHALLENGE" && l["rule"] == "login-challenge"));
    let text = gw.admin_call(None, reqwest::Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains(r#"portcullis_waf_requests_total{web_acl="guard",rule="login-challenge",action="challenge"} 5"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_solves_the_challenge_and_reaches_the_upstream() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let profile = tempfile::tempdir().unwrap();
    // The gateway's development certificate is self-signed for localhost.
    let args = vec![
        "60".to_owned(), // coreutils' timeout ends a browser that hangs
        "chromium".to_owned(),
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--ignore-certificate-errors".to_owned(),
        "--virtual-time-budget=20000".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
        format!("--user-agent={BROWSER_UA}"),
        "--dump-dom".to_owned(),
        gw.url("/login/page"),
    ];
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("timeout").args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run chromium: {e}"));
    assert!(
        out.status.code() != Some(127),
        "Debian's chromium is needed for this test (bash .ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    // The upstream echoes the request: the browser came back with the token and got through.
    assert!(up.hits() >= 1, "chromium never reached the upstream\n{dom}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(dom.contains("portcullis-waf-token"), "{dom}");
    assert!(!dom.contains("Checking your browser"), "{dom}");
}

/// A token past the ACL's immunity time no longer passes: the client is challenged again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expires_with_the_immunity_time() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()).replace("immunity_time: 300", "immunity_time: 60"));
    let (_, _, html) = get(&gw, "/login", BROWSER_UA, &[("accept", "text/html,*/*")]).await;
    let r = gw
        .client()
        .post(gw.url("/login"))
        .header("user-agent", BROWSER_UA)
        .header("x-portcullis-challenge", solve(&html))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let token = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(get(&gw, "/login", BROWSER_UA, &[("cookie", &token)]).await.0, 200);
    // The shortest immunity the config allows is 60 s; the token was issued within the last
    // second or two.
    tokio::time::sleep(Duration::from_secs(62)).await;
    let (status, headers, _) = get(&gw, "/login", BROWSER_UA, &[("cookie", &token)]).await;
    assert_eq!((status, headers["x-portcullis-waf-action"].to_str().unwrap()), (202, "challenge"));
    assert_eq!(up.hits(), 1);
}
