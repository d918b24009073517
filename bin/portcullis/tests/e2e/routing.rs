//! Routing, integrations, gateway responses and CORS, seen from a client.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{status_of, Gw, Upstream};

fn proxy_config(up: &Upstream) -> String {
    format!(
        r#"
apis:
  - name: pets
    routes:
      - route: GET /hello
        integration: {{type: mock, status: 200, headers: {{content-type: text/plain}}, body: "hi there"}}
      - route: GET /pets/{{id}}
        integration: {{type: http, url: "{u}/backend/pets/{{id}}?fixed=1"}}
      - route: ANY /files/{{proxy+}}
        integration: {{type: http, url: "{u}/f/{{proxy}}"}}
      - route: GET /slow
        integration: {{type: http, url: "{u}/slow", timeout: 1s}}
      - route: GET /down
        integration: {{type: http, url: "http://127.0.0.1:9/", connect_timeout: 2s}}
"#,
        u = up.url()
    )
}

#[tokio::test]
async fn mock_route_answers_over_http1_and_http2_with_a_request_id() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    let h2 = gw.client().get(gw.url("/hello")).send().await.unwrap();
    assert_eq!(h2.version(), http::Version::HTTP_2);
    assert_eq!(h2.status(), 200);
    let id = h2.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(h2.text().await.unwrap(), "hi there");
    let h1 = gw.client_builder().http1_only().build().unwrap().get(gw.url("/hello")).send().await.unwrap();
    assert_eq!(h1.version(), http::Version::HTTP_11);
    assert_eq!(h1.status(), 200);

    let log = gw.log_entry(&id).await;
    assert_eq!(log["status"], "200");
    assert_eq!(log["routeKey"], "GET /hello");
    assert_eq!(log["protocol"], "HTTP/2.0");
    assert_eq!(log["ip"], "127.0.0.1");
    assert_eq!(log["responseLength"], "8");
    assert_eq!(log["tlsVersion"], "TLSv1.3");
}

#[tokio::test]
async fn unknown_routes_get_missing_authentication_token() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    for (method, path) in [("GET", "/nothing"), ("POST", "/hello"), ("GET", "/pets")] {
        let r = gw.client().request(method.parse().unwrap(), gw.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        assert_eq!(r.headers()["x-amzn-errortype"], "MissingAuthenticationTokenException");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.text().await.unwrap(), r#"{"message":"Missing Authentication Token"}"#);
    }
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn proxy_fills_the_url_template_passes_the_query_and_sets_forwarding_headers() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    let client = gw.client_builder().http1_only().build().unwrap();
    let r = client
        .get(gw.url("/pets/42?a=1&b=two"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "x-secret")
        .header("x-secret", "must not pass")
        .header("x-custom", "passes")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/backend/pets/42?fixed=1&a=1&b=two");
    let h = &echo["headers"];
    assert_eq!(h["x-forwarded-for"], "127.0.0.1", "an untrusted client's XFF is replaced");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert!(h.get("forwarded").is_none(), "a client's Forwarded header is not vouched for");
    assert_eq!(h["x-forwarded-host"], format!("localhost:{}", gw.api.port()));
    assert_eq!(h["host"], up.addr.to_string());
    assert_eq!(h["x-request-id"], id.as_str());
    assert_eq!(h["x-custom"], "passes");
    assert!(h.get("x-secret").is_none(), "headers named in Connection are hop-by-hop: {h}");

    let r = client.delete(gw.url("/files/a/b/hop.txt")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-hop-secret").is_none() && r.headers().get("keep-alive").is_none());
    assert_eq!(r.headers()["x-kept"], "1");
    let echo: Value = r.json().await.unwrap();
    assert_eq!((echo["method"].as_str(), echo["path"].as_str()), (Some("DELETE"), Some("/f/a/b/hop.txt")));
}

#[tokio::test]
async fn the_canonical_path_is_what_routes_and_what_goes_upstream() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes();
    let (resp, _) = gw.raw(&get("//files/./x/../%7Euser//a%2Fb%41")).await;
    assert_eq!(status_of(&resp), 200, "{resp}");
    assert!(resp.contains(r#""path":"/f/~user/a%2FbA""#), "{resp}");
    for bad in ["/files/%2e%2e/%2e%2e/etc/passwd", "/files/a/../../..", "/files/a%zz"] {
        let (resp, _) = gw.raw(&get(bad)).await;
        assert_eq!(status_of(&resp), 400, "{bad}: {resp}");
        assert!(resp.contains(r#"{"message":"Bad Request"}"#), "{resp}");
    }
}

#[tokio::test]
async fn bodies_stream_in_both_directions() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..80).map(|_| Ok(vec![7u8; 64 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = gw.client().post(gw.url("/files/upload")).body(body).send().await.unwrap();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["body_len"], 80 * 64 * 1024);

    let mut r = gw.client().get(gw.url("/files/stream")).send().await.unwrap();
    let mut pieces = Vec::new();
    while let Some(c) = r.chunk().await.unwrap() {
        pieces.push(String::from_utf8_lossy(&c).into_owned());
    }
    assert_eq!(pieces.concat(), "chunk0;chunk1;chunk2;chunk3;chunk4;");
    assert!(pieces.len() >= 3, "the response arrived in pieces, not buffered: {pieces:?}");
}

#[tokio::test]
async fn upstream_timeout_is_504_and_a_dead_upstream_is_502() {
    let up = Upstream::start().await;
    let gw = Gw::start(&proxy_config(&up));
    let r = gw.client().get(gw.url("/slow")).send().await.unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(r.headers()["x-amzn-errortype"], "InternalServerErrorException");
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Endpoint request timed out"}"#);
    let r = gw.client().get(gw.url("/down")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let id = r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Internal server error"}"#);
    let log = gw.log_entry(&id).await;
    assert_eq!(log["errorResponseType"], "INTEGRATION_FAILURE");
    assert_eq!(log["integrationStatus"], "-");
}

#[tokio::test]
async fn stages_base_paths_and_stage_variables() {
    let up = Upstream::start().await;
    let gw = Gw::start(&format!(
        r#"
apis:
  - name: v1
    base_path: /v1
    stages:
      - name: prod
        variables: {{backend: live}}
      - name: beta
        variables: {{backend: preview}}
    routes:
      - route: GET /items/{{id}}
        integration: {{type: http, url: "{u}/${{stageVariables.backend}}/items/{{id}}"}}
"#,
        u = up.url()
    ));
    let echo: Value = gw.client().get(gw.url("/v1/prod/items/9")).send().await.unwrap().json().await.unwrap();
    assert_eq!(echo["path"], "/live/items/9");
    let echo: Value = gw.client().get(gw.url("/v1/beta/items/9")).send().await.unwrap().json().await.unwrap();
    assert_eq!(echo["path"], "/preview/items/9");
    let r = gw.client().get(gw.url("/v1/items/9")).send().await.unwrap();
    assert_eq!(r.status(), 403, "no $default stage: the stage must be named");
}

#[tokio::test]
async fn gateway_responses_can_be_customised_per_api() {
    let gw = Gw::start(
        r#"
apis:
  - name: custom
    gateway_responses:
      MISSING_AUTHENTICATION_TOKEN:
        status: 404
        headers: {x-why: "$context.error.responseType"}
        template: '{"error":"$context.error.responseType","id":"$context.requestId","path":"$context.path"}'
      DEFAULT_5XX:
        template: '{"oops":$context.error.messageString}'
    routes:
      - route: GET /down
        integration: {type: http, url: "http://127.0.0.1:9/"}
"#,
    );
    let r = gw.client().get(gw.url("/nope\"x")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-why"], "MISSING_AUTHENTICATION_TOKEN");
    let id = r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.expect("the template output is JSON even with a quote in the path");
    assert_eq!(body["error"], "MISSING_AUTHENTICATION_TOKEN");
    assert_eq!(body["id"], id.as_str());
    let r = gw.client().get(gw.url("/down")).send().await.unwrap();
    assert_eq!(r.status(), 502, "DEFAULT_5XX without a status keeps the type's own");
    assert_eq!(r.text().await.unwrap(), r#"{"oops":"Internal server error"}"#);
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_gateway_and_responses_are_decorated() {
    let up = Upstream::start().await;
    let gw = Gw::start(&format!(
        r#"
apis:
  - name: web
    cors:
      allow_origins: ["https://app.example.com", "https://*.example.org"]
      allow_methods: [GET, PUT]
      allow_headers: [content-type, x-token]
      expose_headers: [x-kept]
      max_age: 600
      allow_credentials: true
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: "{u}/{{proxy}}"}}
"#,
        u = up.url()
    ));
    let c = gw.client();
    let pre = |origin: &'static str, method: &'static str| {
        c.request(reqwest::Method::OPTIONS, gw.url("/cors/x"))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "Content-Type")
            .send()
    };
    let r = pre("https://app.example.com", "PUT").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(r.headers()["access-control-allow-methods"], "GET, PUT");
    assert_eq!(r.headers()["access-control-allow-headers"], "content-type, x-token");
    assert_eq!(r.headers()["access-control-max-age"], "600");
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.headers()["vary"], "Origin");
    let r = pre("https://sub.example.org", "GET").await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://sub.example.org");
    for (origin, method) in
        [("https://evil.example", "GET"), ("https://a.b.example.org", "GET"), ("https://app.example.com", "DELETE")]
    {
        let r = pre(origin, method).await.unwrap();
        assert_eq!(r.status(), 204);
        assert!(r.headers().get("access-control-allow-origin").is_none(), "{origin} {method}");
    }
    assert_eq!(up.hits(), 0, "preflights never reach the upstream");

    let r = c.get(gw.url("/cors/y")).header("origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com", "the upstream's `*` is replaced");
    assert_eq!(r.headers()["access-control-expose-headers"], "x-kept");
    assert_eq!(r.headers()["vary"], "Origin");
    let r = c.get(gw.url("/cors/y")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = c.get(gw.url("/")).header("origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com",
        "gateway errors carry CORS headers too"
    );
}

#[tokio::test]
async fn the_access_log_line_follows_the_configured_template_and_stage_settings() {
    let gw = Gw::start(
        r#"
access_log:
  format: '$context.requestId $context.httpMethod $context.path $context.status "$context.identity.userAgent" $context.stage'
apis:
  - name: t
    stages: [{name: quiet, settings: {access_log: false}}, {name: loud}]
    routes:
      - route: GET /x
        integration: {type: mock, body: ok}
"#,
    );
    let c = gw.client();
    let loud = c.get(gw.url("/loud/x")).header("user-agent", "say \"hi\"").send().await.unwrap();
    let id = loud.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let quiet = c.get(gw.url("/quiet/x")).send().await.unwrap();
    let quiet_id = quiet.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(quiet.text().await.unwrap(), "ok");
    // A later request's line proves the writer got past the quiet one.
    let later = c.get(gw.url("/loud/x")).send().await.unwrap();
    let later_id = later.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let want = format!(r#"{id} GET /loud/x 200 "say \"hi\"" loud"#);
    let written = crate::harness::eventually(Duration::from_secs(5), || async {
        let lines = gw.stdout_lines();
        lines.contains(&want) && lines.iter().any(|l| l.starts_with(&later_id))
    })
    .await;
    assert!(written, "{:?}", gw.stdout_lines());
    assert!(!gw.stdout_lines().iter().any(|l| l.contains(&quiet_id)), "the quiet stage logs nothing");
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_through_trusted_proxies() {
    let up = Upstream::start().await;
    let gw = Gw::start(&format!(
        "trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]\n{}",
        proxy_config(&up).trim_start_matches('\n')
    ));
    let r = gw
        .client()
        .get(gw.url("/files/x"))
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let echo: Value = r.json().await.unwrap();
    let h = &echo["headers"];
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 198.51.100.7, 10.1.2.3, 127.0.0.1", "the chain is extended");
    assert_eq!(h["x-real-ip"], "198.51.100.7", "the first untrusted hop from the right is the client");
    let log = gw.log_entry(&id).await;
    assert_eq!(log["ip"], "198.51.100.7");
}
