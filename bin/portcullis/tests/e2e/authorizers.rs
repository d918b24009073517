//! Custom authorizers, end to end: real authorizer functions run as HTTP servers by this test
//! (and the shipped Python example behind its Lambda-style wrapper), the real binary, reqwest
//! over TLS. Every outcome of reference §3.6 with its status, error type and body; the cache,
//! re-evaluated per method ARN; context in logs and upstream headers; API keys from
//! `usageIdentifierKey`; and two nodes sharing answers on Redis.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Gw, Upstream};

/// An authorizer function in the test process. It decides by the token it is given (the TOKEN
/// event's `authorizationToken`, or the REQUEST event's `x-token` header), and records every
/// event it receives.
struct AuthFn {
    addr: SocketAddr,
    events: Arc<Mutex<Vec<Value>>>,
}

impl AuthFn {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| decide(req, seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        Self { addr, events }
    }

    fn url(&self) -> String {
        format!("http://{}/authorize", self.addr)
    }

    fn calls(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn last(&self) -> Value {
        self.events.lock().unwrap().last().cloned().unwrap_or(Value::Null)
    }
}

/// `arn:…:API/STAGE`, from a method ARN, as real authorizers build their resources.
fn api_stage(arn: &str) -> String {
    arn.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
}

fn policy(effect: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17",
           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]})
}

async fn decide(req: Request<Incoming>, seen: Arc<Mutex<Vec<Value>>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(event.clone());
    let token = event["authorizationToken"].as_str().or(event["headers"]["x-token"].as_str()).unwrap_or("");
    let token = token.strip_prefix("Bearer ").unwrap_or(token).to_owned();
    let arn = event["methodArn"].as_str().or(event["routeArn"].as_str()).unwrap_or("").to_owned();
    let base = api_stage(&arn);
    let allow_all = |extra: Value| {
        let mut a = json!({"principalId": "alice", "policyDocument": policy("Allow", &format!("{base}/*")),
                           "context": {"user": "alice", "n": 7, "admin": true}});
        if let (Value::Object(a), Value::Object(e)) = (&mut a, extra) {
            a.extend(e);
        }
        a
    };
    let (status, headers, body): (u16, Vec<(&str, &str)>, String) = match token.as_str() {
        "allow-all" => (200, vec![], allow_all(json!({})).to_string()),
        "get-pets" => {
            let p = policy("Allow", &format!("{base}/GET/pets*"));
            (200, vec![], json!({"principalId": "reader", "policyDocument": p}).to_string())
        }
        "deny" => (
            200,
            vec![],
            json!({"principalId": "x", "policyDocument": policy("Deny", &format!("{base}/*"))}).to_string(),
        ),
        "elsewhere" => {
            let p = policy("Allow", "arn:aws:execute-api:us-east-1:000000000000:other/prod/*");
            (200, vec![], json!({"principalId": "x", "policyDocument": p}).to_string())
        }
        "unauth" => (
            200,
            vec![("x-amz-function-error", "Unhandled")],
            json!({"errorMessage": "Unauthorized", "errorType": "Error"}).to_string(),
        ),
        "boom" => (
            200,
            vec![("x-amz-function-error", "Unhandled")],
            json!({"errorMessage": "boom", "errorType": "TypeError"}).to_string(),
        ),
        "http500" => (500, vec![], "internal".into()),
        "garbage" => (200, vec![], "<html>not json</html>".into()),
        "noprincipal" => (200, vec![], json!({"policyDocument": policy("Allow", "*")}).to_string()),
        "nested" => (200, vec![], allow_all(json!({"context": {"o": {"a": 1}}})).to_string()),
        "nostore" => (200, vec![("cache-control", "no-store")], allow_all(json!({})).to_string()),
        "simple-yes" => {
            (200, vec![], json!({"isAuthorized": true, "context": {"user": "sam", "roles": ["a", "b"]}}).to_string())
        }
        "simple-no" => (200, vec![], json!({"isAuthorized": false}).to_string()),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            seen.lock().unwrap().push(json!({"slow": "answered"}));
            (200, vec![], allow_all(json!({})).to_string())
        }
        t if t.starts_with("key:") => (200, vec![], allow_all(json!({"usageIdentifierKey": &t[4..]})).to_string()),
        _ => (401, vec![], String::new()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    for (k, v) in headers {
        resp.headers_mut().insert(k, http::HeaderValue::from_static(v));
    }
    Ok(resp)
}

/// The access-log format of these tests: the authorizer's values next to the request id.
const LOG: &str = r#"access_log:
  format: '{"requestId":"$context.requestId","principal":"$context.authorizer.principalId","user":"$context.authorizer.user","n":"$context.authorizer.n","error":"$context.authorizer.error","status":"$context.status","astatus":"$context.authorizer.integrationStatus","latency":"$context.authorizer.latency"}'
"#;

/// A pets API behind a TOKEN authorizer at `url`; `EXTRA` goes into the authorizer.
fn token_config(url: &str, upstream: &str, extra: &str) -> String {
    format!(
        "{LOG}apis:
  - name: pets
    stages: [{{ name: prod }}]
    authorizers:
      - name: tokens
        type: TOKEN
        url: {url}
        validation_regex: 'Bearer [a-z0-9:_-]+'
        timeout: 500ms
        upstream_headers:
          x-user: $context.authorizer.user
          x-principal: $context.authorizer.principalId
{extra}    routes:
      - route: GET /pets
        auth: custom
        authorizer: tokens
        integration: {{ type: http, url: '{upstream}/pets' }}
      - route: GET /pets/{{id}}
        auth: custom
        authorizer: tokens
        integration: {{ type: mock, body: '{{\"pet\":1}}' }}
      - route: DELETE /pets/{{id}}
        auth: custom
        authorizer: tokens
        integration: {{ type: mock, status: 204 }}
"
    )
}

async fn call(gw: &Gw, method: Method, path: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = gw.client().request(method, gw.url(path));
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Asserts a gateway response: status, `x-amzn-ErrorType` and body.
fn assert_refusal(got: &(u16, reqwest::header::HeaderMap, Value), status: u16, error_type: &str, body: &Value) {
    assert_eq!(got.0, status, "{:?}", got.2);
    assert_eq!(got.1.get("x-amzn-errortype").and_then(|v| v.to_str().ok()), Some(error_type), "{:?}", got.2);
    assert_eq!(&got.2, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_authorizer_allows_denies_and_checks_cached_policies_per_method() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let gw = Gw::start(&token_config(&f.url(), &up.url(), ""));
    let unauthorized = json!({"message": "Unauthorized"});
    // No token, or one the regex refuses: 401 and the function is never called.
    assert_refusal(&call(&gw, Method::GET, "/prod/pets", None).await, 401, "UnauthorizedException", &unauthorized);
    let basic = call(&gw, Method::GET, "/prod/pets", Some("Basic dXNlcjpwdw==")).await;
    assert_refusal(&basic, 401, "UnauthorizedException", &unauthorized);
    assert_eq!(f.calls(), 0);

    // A policy for GET /pets*: allowed, then served from the cache...
    let (status, _, body) = call(&gw, Method::GET, "/prod/pets/7", Some("Bearer get-pets")).await;
    assert_eq!((status, body), (200, json!({"pet": 1})));
    assert_eq!(f.calls(), 1);
    assert_eq!(
        f.last(),
        json!({"type": "TOKEN", "authorizationToken": "Bearer get-pets",
               "methodArn": "arn:aws:execute-api:us-east-1:000000000000:pets/prod/GET/pets/7"})
    );
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 1, "the second request is answered from the cache");
    // ...and the cached policy, checked against DELETE's own ARN, denies it.
    let delete = call(&gw, Method::DELETE, "/prod/pets/7", Some("Bearer get-pets")).await;
    let implicit = json!({"Message": "User is not authorized to access this resource"});
    assert_refusal(&delete, 403, "AccessDeniedException", &implicit);
    assert_eq!(f.calls(), 1);

    let explicit = json!({"Message": "User is not authorized to access this resource with an explicit deny"});
    assert_refusal(
        &call(&gw, Method::GET, "/prod/pets", Some("Bearer deny")).await,
        403,
        "AccessDeniedException",
        &explicit,
    );
    let elsewhere = call(&gw, Method::GET, "/prod/pets", Some("Bearer elsewhere")).await;
    assert_refusal(&elsewhere, 403, "AccessDeniedException", &implicit);

    // "Unauthorized" from the function: 401, and (unauthorized_ttl 0) never cached.
    let before = f.calls();
    for _ in 0..2 {
        let got = call(&gw, Method::GET, "/prod/pets", Some("Bearer unauth")).await;
        assert_refusal(&got, 401, "UnauthorizedException", &unauthorized);
    }
    assert_eq!(f.calls(), before + 2);
    // A plain 401 from a non-Lambda endpoint means the same.
    let got = call(&gw, Method::GET, "/prod/pets", Some("Bearer who-knows")).await;
    assert_refusal(&got, 401, "UnauthorizedException", &unauthorized);
    // Cache-Control: no-store keeps an answer out of the cache.
    let before = f.calls();
    for _ in 0..2 {
        assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer nostore")).await.0, 200);
    }
    assert_eq!(f.calls(), before + 2);
    assert!(up.hits() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_answer_500_without_hanging_and_are_never_cached() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let gw = Gw::start(&token_config(&f.url(), &up.url(), "        ttl: 300s\n        unauthorized_ttl: 60s\n"));
    let null = json!({"message": null});
    for _ in 0..2 {
        let got = call(&gw, Method::GET, "/prod/pets/1", Some("Bearer boom")).await;
        assert_refusal(&got, 500, "AuthorizerFailureException", &null);
    }
    assert_eq!(f.calls(), 2, "a failure is not cached");
    let got = call(&gw, Method::GET, "/prod/pets/1", Some("Bearer http500")).await;
    assert_refusal(&got, 500, "AuthorizerFailureException", &null);
    for token in ["Bearer garbage", "Bearer noprincipal", "Bearer nested"] {
        let got = call(&gw, Method::GET, "/prod/pets/1", Some(token)).await;
        assert_refusal(&got, 500, "AuthorizerConfigurationException", &null);
    }
    // A function that does not answer: 500 once the timeout (500 ms) passes, not when it wakes.
    let got = call(&gw, Method::GET, "/prod/pets/1", Some("Bearer slow")).await;
    assert_refusal(&got, 500, "AuthorizerConfigurationException", &null);
    let answered = f.events.lock().unwrap().iter().any(|e| e["slow"] == "answered");
    assert!(!answered, "the gateway waited for the function's answer instead of its own timeout");
    // With unauthorized_ttl set, "Unauthorized" is cached like an answer.
    let before = f.calls();
    for _ in 0..3 {
        assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer unauth")).await.0, 401);
    }
    assert_eq!(f.calls(), before + 1);
    // The reason reaches the access log, not the client.
    let resp = gw.client().get(gw.url("/prod/pets/1")).header("authorization", "Bearer boom").send().await.unwrap();
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let line = gw.log_entry(&id).await;
    assert!(line["error"].as_str().unwrap().contains("TypeError: \"boom\""), "{line}");
    assert_eq!(line["status"], "500");
    let logs = gw.stderr_lines().join("\n");
    assert!(logs.contains("AUTHORIZER_CONFIGURATION_ERROR") && logs.contains("no answer within"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_function_is_a_configuration_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let up = Upstream::start().await;
    let gw = Gw::start(&token_config(&format!("http://{closed}/"), &up.url(), ""));
    let got = call(&gw, Method::GET, "/prod/pets/1", Some("Bearer allow-all")).await;
    assert_refusal(&got, 500, "AuthorizerConfigurationException", &json!({"message": null}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_reaches_the_log_and_upstream_headers_the_client_cannot_forge() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let gw = Gw::start(&token_config(&f.url(), &up.url(), ""));
    let resp = gw
        .client()
        .get(gw.url("/prod/pets"))
        .header("authorization", "Bearer allow-all")
        .header("x-user", "mallory")
        .header("x-principal", "root")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-user"], "alice", "{echo}");
    assert_eq!(echo["headers"]["x-principal"], "alice", "{echo}");
    let line = gw.log_entry(&id).await;
    assert_eq!(
        (line["principal"].as_str(), line["user"].as_str(), line["n"].as_str()),
        (Some("alice"), Some("alice"), Some("7"))
    );
    assert_eq!((line["error"].as_str(), line["astatus"].as_str()), (Some("-"), Some("200")));
    assert!(line["latency"].as_str().unwrap().parse::<u64>().is_ok(), "{line}");
    // An answer without `user`: the header is not sent at all, and the client's copy is gone.
    let resp =
        gw.client().get(gw.url("/prod/pets")).header("authorization", "Bearer get-pets").header("x-user", "mallory");
    let echo: Value = resp.send().await.unwrap().json().await.unwrap();
    assert!(echo["headers"].get("x-user").is_none(), "{echo}");
    assert_eq!(echo["headers"]["x-principal"], "reader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_authorizers_key_the_cache_on_every_identity_source() {
    let f = AuthFn::start().await;
    let config = format!(
        "{LOG}apis:
  - name: shop
    stages: [{{ name: live, variables: {{ zone: eu }} }}]
    authorizers:
      - name: v1
        type: REQUEST
        url: {url}
        identity_sources: [method.request.header.X-Token, method.request.querystring.tenant, stageVariables.zone]
      - name: v2
        type: REQUEST
        url: {url}
        identity_sources: [$request.header.x-token]
        payload_format_version: '2.0'
        simple_responses: true
    routes:
      - route: GET /orders/{{id}}
        auth: custom
        authorizer: v1
        integration: {{ type: mock }}
      - route: GET /simple
        auth: custom
        authorizer: v2
        integration: {{ type: mock }}
",
        url = f.url()
    );
    let gw = Gw::start(&config);
    let get = |path: &'static str, token: &'static str| {
        let req = gw.client().get(gw.url(path)).header("x-token", token).header("x-extra", "1");
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // The query parameter is an identity source: without it, 401 and no call.
    assert_eq!(get("/live/orders/9", "allow-all").await, 401);
    assert_eq!(f.calls(), 0);
    assert_eq!(get("/live/orders/9?tenant=acme&tenant=beta", "allow-all").await, 200);
    let e = f.last();
    assert_eq!(e["type"], "REQUEST");
    assert_eq!(e["methodArn"], "arn:aws:execute-api:us-east-1:000000000000:shop/live/GET/orders/9");
    assert_eq!((e["resource"].as_str(), e["path"].as_str()), (Some("/orders/{id}"), Some("/live/orders/9")));
    assert_eq!(e["headers"]["x-extra"], "1");
    assert_eq!(e["queryStringParameters"], json!({"tenant": "beta"}));
    assert_eq!(e["multiValueQueryStringParameters"], json!({"tenant": ["acme", "beta"]}));
    assert_eq!(e["pathParameters"], json!({"id": "9"}));
    assert_eq!(e["stageVariables"], json!({"zone": "eu"}));
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        (e["requestContext"]["stage"].as_str(), e["requestContext"]["apiId"].as_str()),
        (Some("live"), Some("shop"))
    );
    // Same sources → cached; another tenant → another call.
    assert_eq!(get("/live/orders/10?tenant=acme&tenant=beta", "allow-all").await, 200);
    assert_eq!(f.calls(), 1);
    assert_eq!(get("/live/orders/9?tenant=acme", "allow-all").await, 200);
    assert_eq!(f.calls(), 2);

    // Payload 2.0 with simple responses.
    assert_eq!(get("/live/simple", "simple-yes").await, 200);
    let e = f.last();
    assert_eq!((e["version"].as_str(), e["routeKey"].as_str()), (Some("2.0"), Some("GET /simple")));
    assert_eq!(e["identitySource"], json!(["simple-yes"]));
    let no = gw.client().get(gw.url("/live/simple")).header("x-token", "simple-no").send().await.unwrap();
    assert_eq!(no.status().as_u16(), 403);
    assert_eq!(no.json::<Value>().await.unwrap(), json!({"Message": "Forbidden"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_policy_deny_is_final_and_the_function_is_not_called() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let config = token_config(&f.url(), &up.url(), "").replace(
        "    stages: [{ name: prod }]\n",
        "    stages: [{ name: prod }]
    resource_policy:
      Version: '2012-10-17'
      Statement:
        - { Effect: Allow, Principal: '*', Action: 'execute-api:Invoke', Resource: 'execute-api:/*' }
        - { Effect: Deny, Principal: '*', Action: 'execute-api:Invoke', Resource: 'execute-api:/prod/DELETE/*' }
",
    );
    let gw = Gw::start(&config);
    let got = call(&gw, Method::DELETE, "/prod/pets/3", Some("Bearer allow-all")).await;
    let message = "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:pets/prod/DELETE/pets/3 with an explicit deny in a resource-based policy";
    assert_refusal(&got, 403, "AccessDeniedException", &json!({ "Message": message }));
    assert_eq!(f.calls(), 0);
    // Table A: the resource policy's Allow lets through what the authorizer's policy does
    // not cover.
    assert_eq!(call(&gw, Method::GET, "/prod/pets/3", Some("Bearer elsewhere")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_identifier_key_selects_the_api_key() {
    let f = AuthFn::start().await;
    let config = format!(
        "apis:
  - name: pets
    stages: [{{ name: prod }}]
    api_key_source: AUTHORIZER
    authorizers:
      - {{ name: tokens, type: TOKEN, url: '{}' }}
    routes:
      - route: GET /pets
        auth: custom
        authorizer: tokens
        api_key_required: true
        integration: {{ type: mock }}
usage_plans:
  - id: two
    quota: {{ limit: 2, period: DAY }}
    api_stages: [{{ api: pets, stage: prod }}]
",
        f.url()
    );
    let gw = Gw::start(&config);
    let (id, value) = crate::api_keys::new_key(&gw, "via-authorizer").await;
    let (status, _) = gw.admin_json(Method::PUT, &format!("/usage-plans/two/keys/{id}"), None).await;
    assert_eq!(status, 200);
    let token = format!("Bearer key:{value}");
    let forbidden = json!({"message": "Forbidden"});
    // The answer names no key: refused as a missing key would be.
    assert_refusal(
        &call(&gw, Method::GET, "/prod/pets", Some("Bearer allow-all")).await,
        403,
        "ForbiddenException",
        &forbidden,
    );
    // A client's own x-api-key header is not the source here.
    let own =
        gw.client().get(gw.url("/prod/pets")).header("authorization", "Bearer allow-all").header("x-api-key", &value);
    assert_eq!(own.send().await.unwrap().status().as_u16(), 403);
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&token)).await.0, 200);
    assert_eq!(call(&gw, Method::GET, "/prod/pets", Some(&token)).await.0, 200);
    let over = call(&gw, Method::GET, "/prod/pets", Some(&token)).await;
    assert_eq!(over.0, 429, "the key's quota applies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_answers_through_redis_sealed() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let store = crate::api_keys::fresh_postgres().await;
    let master = crate::api_keys::master_key();
    let prefix = format!("pce2e-az-{}", uuid::Uuid::new_v4().simple());
    let node = || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portcullis.yaml");
        let text = format!(
            "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\nstore:\n  url: {store}\n\
             shared_state:\n  redis:\n    url: redis://127.0.0.1:6379/0\n    key_prefix: {prefix}\n{}",
            dir.path().join("data").display(),
            token_config(&f.url(), &up.url(), "")
        );
        std::fs::write(&path, text).unwrap();
        Gw::spawn(dir, path, &[("PORTCULLIS_MASTER_KEY", master.clone())])
    };
    let (a, b) = (node(), node());
    assert_eq!(call(&a, Method::GET, "/prod/pets/1", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(call(&b, Method::GET, "/prod/pets/2", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 1, "node b used node a's answer");
    // The shared entry holds neither the token nor the principal in the clear.
    let mut redis =
        redis::Client::open("redis://127.0.0.1:6379/0").unwrap().get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:az:*")).query_async(&mut redis).await.unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    let sealed: Vec<u8> = redis::cmd("GET").arg(&names[0]).query_async(&mut redis).await.unwrap();
    let text = String::from_utf8_lossy(&sealed);
    assert!(!text.contains("get-pets") && !text.contains("reader") && !names[0].contains("get-pets"));
    // An entry replaced by someone with Redis access does not open: node b asks the function.
    let _: () = redis::cmd("SET")
        .arg(&names[0])
        .arg(b"forged entry of the right length......")
        .query_async(&mut redis)
        .await
        .unwrap();
    let c = node();
    assert_eq!(call(&c, Method::GET, "/prod/pets/3", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 2);
}

/// The shipped example: `examples/authorizer/handler.py`, plain Lambda code, behind the
/// example's HTTP wrapper, with the example's own access log and API definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_runs_unchanged_lambda_code() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/authorizer");
    let mut wrapper = Wrapper(
        std::process::Command::new("python3")
            .args(["lambda_http.py", "--port", "0", "handler.lambda_handler"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is required for this test: {e}")),
    );
    let mut line = String::new();
    let out = wrapper.0.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("wrapper said {line:?}")).to_owned();
    let example = std::fs::read_to_string(format!("{dir}/portcullis.yaml")).unwrap();
    let rest = &example[example.find("\naccess_log:").unwrap()..];
    let gw = Gw::start(&rest.replace("http://127.0.0.1:9001/", &format!("{url}/")));
    let ok = call(&gw, Method::GET, "/prod/pets", Some("Bearer allow-ana")).await;
    assert_eq!(ok.0, 200, "{:?}", ok.2);
    assert_eq!(call(&gw, Method::GET, "/prod/pets/7", Some("Bearer allow-ana")).await.0, 200);
    let implicit = json!({"Message": "User is not authorized to access this resource"});
    let delete = call(&gw, Method::DELETE, "/prod/pets/7", Some("Bearer allow-ana")).await;
    assert_refusal(&delete, 403, "AccessDeniedException", &implicit);
    let explicit = json!({"Message": "User is not authorized to access this resource with an explicit deny"});
    let deny = call(&gw, Method::GET, "/prod/pets", Some("Bearer deny-bob")).await;
    assert_refusal(&deny, 403, "AccessDeniedException", &explicit);
    let nobody = call(&gw, Method::GET, "/prod/pets", Some("Bearer stranger")).await;
    assert_refusal(&nobody, 401, "UnauthorizedException", &json!({"message": "Unauthorized"}));
}

/// Kills the wrapper process however the test ends.
struct Wrapper(std::process::Child);

impl Drop for Wrapper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_an_unchanged_authorizers_cache_and_starts_afresh_for_a_changed_one() {
    let f = AuthFn::start().await;
    let up = Upstream::start().await;
    let gw = Gw::start(&token_config(&f.url(), &up.url(), ""));
    assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 1);
    let reload = || async {
        let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
        (status, body["status"].as_str().unwrap_or_default().to_owned(), body)
    };
    // Nothing about the authorizer changed: the cached answer still serves.
    gw.rewrite_config(&token_config(&f.url(), &up.url(), "").replace("body: '{\"pet\":1}'", "body: '{\"pet\":2}'"));
    let (status, state, body) = reload().await;
    assert_eq!((status, state.as_str()), (200, "reloaded"), "{body}");
    assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer get-pets")).await.2, json!({"pet": 2}));
    assert_eq!(f.calls(), 1);
    // A changed authorizer (here its timeout) is another authorizer: its cache starts empty.
    gw.rewrite_config(&token_config(&f.url(), &up.url(), "").replace("timeout: 500ms", "timeout: 700ms"));
    let (_, state, body) = reload().await;
    assert_eq!(state, "reloaded", "{body}");
    assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 2);
    // A broken authorizer is refused with its place, and the old config keeps serving.
    gw.rewrite_config(&token_config(&f.url(), &up.url(), "").replace(
        "authorizer: tokens\n        integration: { type: mock, status: 204 }",
        "authorizer: token\n        integration: { type: mock, status: 204 }",
    ));
    let (_, state, body) = reload().await;
    assert_ne!(state, "reloaded", "{body}");
    assert!(body.to_string().contains("this API has no authorizer `token` (did you mean `tokens`?)"), "{body}");
    assert_eq!(call(&gw, Method::GET, "/prod/pets/1", Some("Bearer get-pets")).await.0, 200);
    assert_eq!(f.calls(), 2);
}
