//! IAM on the data plane: requests signed by AWS's own signer (the `aws-sigv4` crate) through
//! the real gateway, checked against users, keys and policies created through the admin API.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{sign_request, Creds, Gw, How, Upstream};

fn config(upstream: &str) -> String {
    format!(
        r#"
iam:
  account_id: "123456789012"
access_log:
  format: '{{"id":"$context.requestId","arn":"$context.identity.userArn","key":"$context.identity.accessKey","status":"$context.status"}}'
apis:
  - name: pets
    base_path: /pets
    stages: [{{name: prod}}]
    routes:
      - route: ANY /{{proxy+}}
        auth: iam
        integration: {{type: http, url: "{upstream}/{{proxy}}"}}
      - route: GET /open
        integration: {{type: mock, body: open}}
  - name: office
    base_path: /office
    resource_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: "*"
          Action: execute-api:Invoke
          Resource: execute-api:/*
        - Effect: Deny
          Principal: "*"
          Action: execute-api:Invoke
          Resource: execute-api:/*/DELETE/*
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: mock, body: office}}
"#
    )
}

/// Creates a user with one managed policy and returns its access key.
async fn user_with(gw: &Gw, name: &str, policy: &str) -> Creds {
    let (s, _) = gw.admin_json(Method::POST, "/iam/users", Some(json!({ "name": name }))).await;
    assert_eq!(s, 201);
    let (s, b) = gw
        .admin_json(
            Method::POST,
            &format!("/iam/users/{name}/attached-policies"),
            Some(json!({ "policy_arn": policy })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, key) = gw.admin_json(Method::POST, &format!("/iam/users/{name}/access-keys"), None).await;
    assert_eq!(s, 201, "{key}");
    Creds::new(key["access_key_id"].as_str().unwrap(), key["secret_access_key"].as_str().unwrap())
}

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const WRITE: &str = "arn:aws:iam::aws:policy/WriteAccess";

async fn send(
    gw: &Gw,
    method: Method,
    path: &str,
    body: Option<&str>,
    creds: Option<&Creds>,
    how: &How,
) -> reqwest::Response {
    let c = gw.client();
    let mut b = c.request(method, gw.url(path));
    if let Some(body) = body {
        b = b.body(body.to_owned());
    }
    let mut req = b.build().unwrap();
    if let Some(creds) = creds {
        sign_request(&mut req, creds, how);
    }
    c.execute(req).await.unwrap()
}

async fn status_type_body(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let kind = r.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signed_requests_are_checked_against_users_keys_and_policies() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let reader = user_with(&gw, "reader", READ_ONLY).await;
    let writer = user_with(&gw, "writer", WRITE).await;
    let how = How::api();

    // A signed GET by the read-only user reaches the upstream with the principal header; the
    // client's own copy of that header is replaced.
    let c = gw.client();
    let mut req = c.get(gw.url("/pets/prod/dogs/1?x=1")).header("x-portcullis-principal", "admin").build().unwrap();
    sign_request(&mut req, &reader, &how);
    let r = c.execute(req).await.unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/dogs/1?x=1");
    assert_eq!(echo["headers"]["x-portcullis-principal"], "arn:aws:iam::123456789012:user/reader");

    // The same user may not DELETE: AWS's denial, with a capital-M `Message`.
    let r = send(&gw, Method::DELETE, "/pets/prod/dogs/1", None, Some(&reader), &how).await;
    let (status, kind, body) = status_type_body(r).await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"));
    assert_eq!(
        body["Message"],
        "User: arn:aws:iam::123456789012:user/reader is not authorized to perform: execute-api:Invoke on resource: \
         arn:aws:execute-api:us-east-1:123456789012:pets/prod/DELETE/dogs/1 because no identity-based policy allows \
         the execute-api:Invoke action"
    );

    // The writer may, with a body, which reaches the upstream whole.
    let body = "x".repeat(100_000);
    let r = send(&gw, Method::POST, "/pets/prod/dogs", Some(&body), Some(&writer), &how).await;
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!((echo["method"].as_str(), echo["body_len"].as_u64()), (Some("POST"), Some(100_000)));
    let r = send(&gw, Method::DELETE, "/pets/prod/dogs/1", None, Some(&writer), &how).await;
    assert_eq!(r.status(), 200);

    // Unicode and reserved characters in path and query, repeated query keys, `+`.
    let path = "/pets/prod/caf%C3%A9/a%20b/%E2%9C%93?x=2&x=1&q=a%2Fb&sp=a+b&empty=&k%C3%BC=%E2%82%AC";
    let r = send(&gw, Method::GET, path, None, Some(&reader), &how).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);

    // The access log names the caller.
    let logged = crate::harness::eventually(Duration::from_secs(5), || async {
        gw.access_log()
            .iter()
            .any(|l| l["arn"] == "arn:aws:iam::123456789012:user/writer" && l["key"] == writer.id.as_str())
    })
    .await;
    assert!(logged, "{:?}", gw.access_log());
    // An unsigned request on an IAM route never reaches the upstream; open routes stay open.
    let hits = up.hits();
    let (status, kind, body) =
        status_type_body(send(&gw, Method::GET, "/pets/prod/dogs", None, None, &how).await).await;
    assert_eq!(
        (status, kind.as_str(), body["message"].as_str()),
        (403, "MissingAuthenticationTokenException", Some("Missing Authentication Token"))
    );
    assert_eq!(up.hits(), hits);
    assert_eq!(send(&gw, Method::GET, "/pets/prod/open", None, None, &how).await.status(), 200);
}

#[tokio::test]
async fn bad_signatures_get_the_aws_errors() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let reader = user_with(&gw, "reader", READ_ONLY).await;
    let how = How::api();

    let wrong_secret = Creds::new(&reader.id, "0000000000000000000000000000000000000000");
    let (s, k, b) =
        status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&wrong_secret), &how).await).await;
    assert_eq!((s, k.as_str()), (403, "InvalidSignatureException"));
    assert!(b["message"].as_str().unwrap().starts_with("The request signature we calculated does not match"), "{b}");
    assert!(!b["message"].as_str().unwrap().contains("Canonical String"), "no echo without the debug switch");

    let unknown = Creds::new("AKIAUNKNOWNUNKNOWN00", &reader.secret);
    let (s, k, b) = status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&unknown), &how).await).await;
    assert_eq!(
        (s, k.as_str(), b["message"].as_str()),
        (403, "UnrecognizedClientException", Some("The security token included in the request is invalid."))
    );

    let c = gw.client();
    let r = c
        .get(gw.url("/pets/prod/a"))
        .header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
        .send()
        .await
        .unwrap();
    let (s, k, b) = status_type_body(r).await;
    assert_eq!((s, k.as_str()), (403, "IncompleteSignatureException"));
    assert!(!b.to_string().contains("eyJ"), "the token is not echoed: {b}");

    // A signed header changed after signing.
    let mut req = c.get(gw.url("/pets/prod/a")).header("x-tenant", "blue").build().unwrap();
    sign_request(&mut req, &reader, &how);
    req.headers_mut().insert("x-tenant", "red".parse().unwrap());
    assert_eq!(status_type_body(c.execute(req).await.unwrap()).await.1, "InvalidSignatureException");

    // An unsigned x-amz-content-sha256 vouches for nothing: the body is hashed whole, so a
    // replay with another body of the same length fails.
    let writer = user_with(&gw, "writer", WRITE).await;
    let mut req = c.put(gw.url("/pets/prod/a")).body("hello").build().unwrap();
    sign_request(&mut req, &writer, &how);
    let digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // sha256("hello")
    req.headers_mut().insert("x-amz-content-sha256", digest.parse().unwrap());
    *req.body_mut() = Some("jello".into());
    let (s, k, b) = status_type_body(c.execute(req).await.unwrap()).await;
    assert_eq!((s, k.as_str()), (403, "InvalidSignatureException"), "{b}");
    assert!(b["message"].as_str().unwrap().starts_with("The request signature we calculated"), "{b}");

    // The signed Host and the routed authority must agree.
    let raw = format!(
        "GET https://elsewhere.example/pets/prod/a HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        gw.api.port()
    );
    let (resp, _) = gw.raw(raw.as_bytes()).await;
    assert_eq!(crate::harness::status_of(&resp), 400, "{resp}");

    // A region the gateway does not serve.
    let other = How { region: "eu-west-1", ..How::api() };
    let (_, _, b) = status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&reader), &other).await).await;
    assert_eq!(b["message"], "Credential should be scoped to a valid region, not 'eu-west-1'. ");
}

#[tokio::test]
async fn the_clock_window_is_five_minutes() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let reader = user_with(&gw, "reader", READ_ONLY).await;
    let now = SystemTime::now();
    for (offset, ok) in [(-240i64, true), (240, true), (-360, false), (360, false)] {
        let time = if offset < 0 {
            now - Duration::from_secs(offset.unsigned_abs())
        } else {
            now + Duration::from_secs(offset as u64)
        };
        let how = How { time, ..How::api() };
        let (s, k, b) = status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&reader), &how).await).await;
        if ok {
            assert_eq!(s, 200, "offset {offset}: {b}");
        } else {
            assert_eq!((s, k.as_str()), (403, "InvalidSignatureException"), "offset {offset}");
            let m = b["message"].as_str().unwrap();
            let want = if offset < 0 { "Signature expired: " } else { "Signature not yet current: " };
            assert!(m.starts_with(want) && m.ends_with("5 min.)"), "{m}");
        }
    }
}

#[tokio::test]
async fn presigned_urls_session_tokens_and_signed_payload_hashes() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let reader = user_with(&gw, "reader", READ_ONLY).await;

    // A presigned URL works without headers, until it expires.
    let presign = How { presign: Some(Duration::from_secs(60)), ..How::api() };
    assert_eq!(send(&gw, Method::GET, "/pets/prod/a?b=c", None, Some(&reader), &presign).await.status(), 200);
    let old = How { time: SystemTime::now() - Duration::from_secs(120), ..presign.clone() };
    let (s, k, _) = status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&reader), &old).await).await;
    assert_eq!((s, k.as_str()), (403, "InvalidSignatureException"));

    // Temporary credentials from AssumeRole carry a session token.
    let (s, b) = gw.admin_json(Method::POST, "/iam/roles", Some(json!({ "name": "deployer" }))).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = gw
        .admin_json(Method::POST, "/iam/roles/deployer/attached-policies", Some(json!({ "policy_arn": WRITE })))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, t) = gw
        .admin_json(
            Method::POST,
            "/sts/assume-role",
            Some(json!({ "role_name": "deployer", "session_name": "ci-42", "duration_secs": 900 })),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let session = Creds {
        id: t["access_key_id"].as_str().unwrap().to_owned(),
        secret: t["secret_access_key"].as_str().unwrap().to_owned(),
        token: Some(t["session_token"].as_str().unwrap().to_owned()),
    };
    assert!(session.id.starts_with("ASIA"));
    let r = send(&gw, Method::DELETE, "/pets/prod/a", None, Some(&session), &How::api()).await;
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["headers"]["x-portcullis-principal"], "arn:aws:sts::123456789012:assumed-role/deployer/ci-42");
    let no_token = Creds { token: None, ..session.clone() };
    let (s, k, _) =
        status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&no_token), &How::api()).await).await;
    assert_eq!((s, k.as_str()), (403, "UnrecognizedClientException"));
    let bad_token = Creds { token: Some("forged".into()), ..session.clone() };
    let (s, _, _) =
        status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&bad_token), &How::api()).await).await;
    assert_eq!(s, 403);

    // A signed x-amz-content-sha256 holds the body to it as it streams.
    let writer = user_with(&gw, "writer", WRITE).await;
    let signed = How { content_sha256: true, ..How::api() };
    let r = send(&gw, Method::PUT, "/pets/prod/a", Some("hello"), Some(&writer), &signed).await;
    assert_eq!(r.status(), 200);
    let c = gw.client();
    let mut req = c.put(gw.url("/pets/prod/a")).body("hello").build().unwrap();
    sign_request(&mut req, &writer, &signed);
    *req.body_mut() = Some("jello".into());
    let (s, k, b) = status_type_body(c.execute(req).await.unwrap()).await;
    assert_eq!((s, k.as_str()), (403, "InvalidSignatureException"), "{b}");
    assert_eq!(b["message"], "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

#[tokio::test]
async fn resource_policies_apply_to_anonymous_callers() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let how = How::api();
    assert_eq!(send(&gw, Method::GET, "/office/rooms", None, None, &how).await.status(), 200);
    let (s, k, b) = status_type_body(send(&gw, Method::DELETE, "/office/rooms/1", None, None, &how).await).await;
    assert_eq!((s, k.as_str()), (403, "AccessDeniedException"));
    assert_eq!(
        b["Message"],
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: \
         arn:aws:execute-api:us-east-1:123456789012:office/$default/DELETE/rooms/1 with an explicit deny in a \
         resource-based policy"
    );
}

#[tokio::test]
async fn a_resource_policy_that_does_not_parse_names_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apis:\n  - name: a\n    resource_policy:\n      Version: \"2012-10-17\"\n      Statement:\n        - Efect: Allow\n          Principal: \"*\"\n          Action: execute-api:Invoke\n          Resource: \"*\"\n    routes:\n      - route: GET /x\n        integration: {type: mock}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("validate")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(":6:") && err.contains("apis[0].resource_policy.Statement[0]"), "{err}");
}

/// A client signing with unknown access key ids may cause 20 store reads, then one a second:
/// past that its uncached key ids are refused unread, while cached ones keep working.
#[tokio::test]
async fn a_flood_of_unknown_access_keys_stops_costing_store_reads() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up.url()));
    let in_use = user_with(&gw, "in-use", READ_ONLY).await;
    let fresh = user_with(&gw, "fresh", READ_ONLY).await;
    let how = How::api();
    assert_eq!(send(&gw, Method::GET, "/pets/prod/a", None, Some(&in_use), &how).await.status(), 200);
    for i in 0..21 {
        let junk = Creds::new(&format!("AKIA{i:016}"), "not-a-secret-not-a-secret-not-a-secret-x");
        let (status, kind, _) =
            status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&junk), &how).await).await;
        assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"));
    }
    assert_eq!(send(&gw, Method::GET, "/pets/prod/a", None, Some(&in_use), &how).await.status(), 200);
    let (status, kind, _) =
        status_type_body(send(&gw, Method::GET, "/pets/prod/a", None, Some(&fresh), &how).await).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"), "not read from the store");
    let served = crate::harness::eventually(Duration::from_secs(5), || async {
        send(&gw, Method::GET, "/pets/prod/a", None, Some(&fresh), &how).await.status() == 200
    })
    .await;
    assert!(served, "read again once the client's bucket refills");
}
