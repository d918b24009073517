//! The `bot_control` group: clients labelled by what their `User-Agent` and headers say, a
//! crawler verified by real DNS lookups (the address's name, then the name's address), and a
//! search engine's name from an address that is not the engine's blocked.

use crate::harness::{Gw, Upstream};

fn config(upstream: &str) -> String {
    format!(
        r#"
access_log:
  format: '{{"requestId":"$context.requestId","status":"$context.status","ua":"$context.identity.userAgent","rule":"$context.waf.terminatingRule","labels":"$context.waf.labels"}}'
web_acls:
  - name: bots
    default_action: allow
    rules:
      - name: bots
        priority: 1
        statement:
          managed_rule_group:
            name: bot_control
            # This machine's own name for 127.0.0.1, so the lookups are real but local.
            verified_bots: [{{user_agent: localbot, domains: [localhost]}}]
      - name: no-scanners
        priority: 2
        action: block
        statement: {{label_match: {{scope: label, key: 'portcullis:managed:bot_control:CategoryScanner'}}}}
apis:
  - name: app
    web_acl: bots
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: '{upstream}/{{proxy}}'}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_labelled_and_spoofed_crawlers_blocked() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let send = |ua: &'static str, browser_headers: bool| {
        let mut req = gw.client().get(gw.url("/page")).header("user-agent", ua);
        if browser_headers {
            req = req.header("accept-language", "en").header("accept-encoding", "gzip");
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let chrome =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
    assert_eq!(send(chrome, true).await, 200);
    assert_eq!(send(chrome, false).await, 200, "labelled only");
    assert_eq!(send("curl/8.5.0", false).await, 200);
    assert_eq!(send("LocalBot/1.0 (+https://bot.example)", false).await, 200);
    assert_eq!(send("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", false).await, 403);
    assert_eq!(send("sqlmap/1.7.4#stable (https://sqlmap.org)", false).await, 403, "a later rule acts on a label");

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let lines = gw.access_log();
    let labels_of = |needle: &str| {
        lines
            .iter()
            .find(|l| l["ua"].as_str().is_some_and(|u| u.contains(needle)))
            .map(|l| (l["status"].as_str().unwrap_or("").to_owned(), l["labels"].as_str().unwrap_or("").to_owned()))
            .unwrap_or_else(|| panic!("no line for {needle}: {lines:?}"))
    };
    let ns = "portcullis:managed:bot_control:";
    assert_eq!(labels_of("curl/"), ("200".into(), format!("{ns}CategoryHttpLibrary")));
    assert_eq!(labels_of("LocalBot"), ("200".into(), format!("{ns}CategoryCrawler,{ns}VerifiedBot")));
    let (status, labels) = labels_of("Googlebot");
    assert_eq!(status, "403");
    assert!(
        labels.contains(&format!("{ns}CategorySearchEngine")) && labels.contains(&format!("{ns}SignalSpoofedBot")),
        "{labels}"
    );
    let plain_chrome: Vec<_> = lines.iter().filter(|l| l["ua"] == chrome).map(|l| l["labels"].clone()).collect();
    assert_eq!(plain_chrome, vec![serde_json::json!("-"), serde_json::json!(format!("{ns}SignalNonBrowserHeaders"))]);
}
