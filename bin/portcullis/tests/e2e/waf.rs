//! The WAF on the request path: an API's web ACL blocks by header, query and body after text
//! transformations, answers with a custom response, labels a request for a later rule, inserts
//! headers for the upstream on count; the decision is in the access log, the metrics store
//! and Prometheus. An API without `web_acl` is not inspected.

use reqwest::Method;
use serde_json::Value;

use crate::harness::{Gw, Upstream};

fn config(upstream: &str) -> String {
    format!(
        r#"
access_log:
  format: '{{"requestId":"$context.requestId","status":"$context.status","waf":"$context.wafResponseCode","acl":"$context.webaclArn","rule":"$context.waf.terminatingRule","labels":"$context.waf.labels","error":"$context.error.responseType"}}'
web_acls:
  - name: main
    default_action: allow
    custom_response_bodies:
      scanner: {{content_type: application/json, content: '{{"message":"no scanners"}}'}}
    rules:
      - name: tag-curl
        priority: 1
        action: {{count: {{insert_headers: {{tool: curl}}}}}}
        labels: ['client:curl']
        statement:
          byte_match: {{field: {{single_header: user-agent}}, position: starts_with, search: curl, transforms: [LOWERCASE]}}
      - name: scanners
        priority: 2
        action: {{block: {{custom_response: {{status: 418, body: scanner, headers: {{x-why: scanner}}}}}}}}
        statement:
          byte_match: {{field: {{single_header: user-agent}}, position: contains, search: sqlmap, transforms: [LOWERCASE]}}
      - name: union-select
        priority: 3
        action: block
        statement:
          or:
            - byte_match: {{field: query_string, position: contains, search: union select, transforms: [URL_DECODE, LOWERCASE, COMPRESS_WHITE_SPACE]}}
            - byte_match: {{field: body, position: contains, search: union select, transforms: [URL_DECODE, LOWERCASE, COMPRESS_WHITE_SPACE]}}
      - name: curl-on-admin
        priority: 4
        action: block
        statement:
          and:
            - label_match: {{scope: label, key: 'client:curl'}}
            - byte_match: {{field: uri_path, position: starts_with, search: /admin}}
apis:
  - name: guarded
    web_acl: main
    routes:
      - route: ANY /{{proxy+}}
        integration:
          type: http
          url: '{upstream}/{{proxy}}'
  - name: plain
    base_path: /plain
    stages:
      - name: $default
      - name: guarded
        web_acl: main
    routes:
      - route: ANY /{{proxy+}}
        integration:
          type: http
          url: '{upstream}/{{proxy}}'
"#
    )
}

async fn send(gw: &Gw, method: Method, path: &str, ua: &str, body: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r =
        gw.client().request(method, gw.url(path)).header("user-agent", ua).body(body.to_owned()).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_acl_blocks_labels_and_counts_on_its_api() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));

    // Allowed by default; no header inserted.
    let (status, _, body) = send(&gw, Method::GET, "/x?id=1", "test/1", "").await;
    assert_eq!(status, 200, "{body}");
    let echo: Value = serde_json::from_str(&body).unwrap();
    assert!(echo["headers"].get("x-amzn-waf-tool").is_none(), "{echo}");
    // Counted and labelled: the upstream gets the inserted header.
    let (status, _, body) = send(&gw, Method::GET, "/x", "curl/8.5", "").await;
    assert_eq!(status, 200, "{body}");
    let echo: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["headers"]["x-amzn-waf-tool"], "curl", "{echo}");
    let hits = up.hits();

    // A custom response, whatever the case of the user agent.
    let (status, headers, body) = send(&gw, Method::GET, "/x", "SQLMap/1.7", "").await;
    assert_eq!((status, body.as_str()), (418, r#"{"message":"no scanners"}"#));
    assert_eq!(
        (headers["x-why"].to_str().unwrap(), headers["content-type"].to_str().unwrap()),
        ("scanner", "application/json")
    );
    // After URL decoding, lower-casing and compressing white space: in the query and in the body.
    let (status, headers, body) = send(&gw, Method::GET, "/x?id=1%20UNION%09%20SeLeCt%20pw", "test/1", "").await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    assert_eq!(headers["x-amzn-errortype"], "WafFilteredException");
    let (status, _, _) = send(&gw, Method::POST, "/x", "test/1", "q=1+UNION++select+pw").await;
    assert_eq!(status, 403);
    // A label from a count rule, read by a later rule.
    let (status, _, _) = send(&gw, Method::GET, "/admin/users", "curl/8.5", "").await;
    assert_eq!(status, 403);
    let (status, _, _) = send(&gw, Method::GET, "/admin/users", "test/1", "").await;
    assert_eq!(status, 200);
    assert_eq!(up.hits(), hits + 1, "blocked requests never reach the upstream");
    // An API without a web ACL is not inspected, but its stage with one is.
    let (status, _, _) = send(&gw, Method::GET, "/plain/x?id=1%20union%20select", "sqlmap", "").await;
    assert_eq!(status, 200);
    let (status, _, _) = send(&gw, Method::GET, "/plain/guarded/x?id=1%20union%20select", "test/1", "").await;
    assert_eq!(status, 403, "the stage's own web ACL");

    // The access log says what the ACL decided.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let lines = gw.access_log();
    let find = |status: &str, rule: &str| lines.iter().find(|l| l["status"] == status && l["rule"] == rule).cloned();
    let teapot = find("418", "scanners").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(teapot["waf"], "WAF_BLOCK");
    assert_eq!(teapot["acl"], "arn:portcullis:waf::000000000000:webacl/main");
    let admin = find("403", "curl-on-admin").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(admin["labels"], "portcullis:webacl:main:client:curl");
    assert_eq!(admin["error"], "WAF_FILTERED");
    assert!(lines.iter().any(|l| l["status"] == "200" && l["waf"] == "WAF_ALLOW" && l["rule"] == "-"));
    assert!(lines.iter().any(|l| l["status"] == "200" && l["waf"] == "-"), "the plain API: {lines:?}");

    // Metrics: four blocks in the store, and per rule and action in Prometheus.
    let (status, v) =
        gw.admin_json(Method::GET, "/metrics/query?metric=WafBlocked&api=guarded&period=3600", None).await;
    assert_eq!(status, 200, "{v}");
    let total: f64 = v["datapoints"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).sum();
    assert_eq!(total, 4.0, "{v}");
    let text = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    for series in [
        r#"portcullis_waf_requests_total{web_acl="main",rule="scanners",action="block"} 1"#,
        r#"portcullis_waf_requests_total{web_acl="main",rule="union-select",action="block"} 3"#,
        r#"portcullis_waf_requests_total{web_acl="main",rule="tag-curl",action="count"} 2"#,
        r#"portcullis_waf_requests_total{web_acl="main",rule="-",action="allow"} 3"#,
    ] {
        assert!(text.contains(series), "{series}\n{text}");
    }
}
