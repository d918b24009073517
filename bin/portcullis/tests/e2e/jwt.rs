//! JWT authorizers, end to end: a real OpenID provider nobody here wrote (panva's
//! `oidc-provider` from the npm registry, run by Node.js on loopback) issuing access tokens to a
//! real client_credentials request; and a provider in this process, whose keys the tests
//! rotate, withdraw and take down, signing every token attack of the issue. The real binary,
//! reqwest over TLS.

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::harness::{eventually, Gw, Upstream};

// ---------------------------------------------------------------------------------------------
// The outside provider: oidc-provider under Node.js.

/// The npm programs of the tests (`oidc-provider`, `playwright-core`), installed once per test
/// run from the pinned lock file.
pub fn node_tools_dir() -> &'static std::path::Path {
    static INSTALLED: OnceLock<std::path::PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node");
        if !dir.join("node_modules/playwright-core").exists() || !dir.join("node_modules/oidc-provider").exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .unwrap_or_else(|e| panic!("npm (Node.js is needed for the OpenID provider): {e}"));
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
        dir
    })
}

/// A running `oidc-provider`; killed on drop.
pub struct NodeProvider {
    pub issuer: String,
    child: Child,
}

impl NodeProvider {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Started with extra environment (`REDIRECT_URI` adds the code-flow client).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = node_tools_dir();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("node: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // Whatever it prints later is read too: a closed pipe would end it at its next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = line.trim().strip_prefix("ready ").unwrap_or_else(|| panic!("provider said {line:?}")).to_owned();
        Self { issuer, child }
    }

    /// An access token from the token endpoint (client_credentials, client_secret_basic).
    async fn token(&self, scope: &str, resource: &str) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth("app", Some("app-secret"))
            .form(&[("grant_type", "client_credentials"), ("scope", scope), ("resource", resource)])
            .send()
            .await
            .unwrap();
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {body}")).to_owned()
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn metrics(gw: &Gw) -> String {
    gw.admin_call(None, reqwest::Method::GET, "/metrics", None).await.text().await.unwrap()
}

fn www_authenticate(resp: &reqwest::Response) -> String {
    resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_real_openid_provider_pass_and_others_are_refused() {
    let idp = NodeProvider::start();
    let upstream = Upstream::start().await;
    let config = format!(
        "access_log:
  format: '{{\"requestId\":\"$context.requestId\",\"client\":\"$context.authorizer.claims.client_id\",\"scope\":\"$context.authorizer.claims.scope\",\"error\":\"$context.authorizer.error\"}}'
apis:
  - name: pets
    jwt_authorizers:
      - name: idp
        issuers:
          - issuer: '{issuer}'
            audiences: [pets-api]
        upstream_headers:
          x-client: $context.authorizer.claims.client_id
    routes:
      - route: GET /pets
        auth: jwt
        authorizer: idp
        authorization_scopes: [pets/read]
        integration: {{ type: http, url: '{up}/pets' }}
      - route: DELETE /pets
        auth: jwt
        authorizer: idp
        authorization_scopes: [pets/admin]
        integration: {{ type: http, url: '{up}/pets' }}
",
        issuer = idp.issuer,
        up = upstream.url()
    );
    let gw = Gw::start(&config);
    let c = gw.client();
    let token = idp.token("pets/read", "https://pets.example").await;

    // Discovery, then the JWKS, then the signature, claims and scope: through to the upstream,
    // which sees the token's client, not what the caller claimed.
    let resp = c.get(gw.url("/pets")).bearer_auth(&token).header("x-client", "mallory").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-client"], "app", "{echo}");
    let line = gw.log_entry(&id).await;
    assert_eq!((line["client"].as_str(), line["scope"].as_str()), (Some("app"), Some("pets/read")), "{line}");
    // Also without `Bearer `, as Cognito's guides send it.
    let resp = c.get(gw.url("/pets")).header("authorization", &token).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // No token: 401 and a bare challenge.
    let resp = c.get(gw.url("/pets")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(www_authenticate(&resp), "Bearer");
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"message": "Unauthorized"}));

    // A token of the same provider for another API (another audience).
    let other = idp.token("pets/read", "https://other.example").await;
    let resp = c.get(gw.url("/pets")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let logged = gw.log_entry(&id).await["error"].clone();
    assert_eq!(logged, "the token does not have a valid audience", "the reason is logged, never the token");
    assert_eq!(
        www_authenticate(&resp),
        r#"Bearer error="invalid_token", error_description="the token does not have a valid audience""#
    );

    // Valid, but without the route's scope: 403.
    let resp = c.delete(gw.url("/pets")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(www_authenticate(&resp).contains(r#"error="insufficient_scope""#), "{}", www_authenticate(&resp));
    assert!(www_authenticate(&resp).contains(r#"scope="pets/admin""#));
    // ACCESS_DENIED, whose body has a capital M like every other (reference §0).
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"Message": "Forbidden"}));

    // A tampered payload (the scope widened), and HS256 signed with the provider's public keys.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("pets/read pets/admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let resp = c.delete(gw.url("/pets")).bearer_auth(parts.join(".")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(www_authenticate(&resp).contains("signature is invalid"));
    let jwks = reqwest::get(format!("{}/jwks", idp.issuer)).await.unwrap().bytes().await.unwrap();
    let hs = hmac_token(&jwks, &json!({"alg": "HS256", "kid": "node-rsa-1"}), &claims);
    let resp = c.delete(gw.url("/pets")).bearer_auth(hs).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(www_authenticate(&resp).contains("algorithm is not allowed"));

    let m = metrics(&gw).await;
    assert!(
        m.contains(&format!(r#"portcullis_jwt_key_fetches_total{{issuer="{}",result="ok"}} 1"#, idp.issuer)),
        "{m}"
    );
    // The second good request found the first's verdict.
    assert!(m.contains(r#"portcullis_jwt_authorizer_decisions_total{source="cache",result="allow"} 1"#), "{m}");
    assert!(
        m.contains(r#"portcullis_jwt_authorizer_decisions_total{source="verified",result="unauthorized"} 3"#),
        "{m}"
    );
    assert_eq!(upstream.hits(), 2, "refused requests never reach the upstream");

    // A reload keeps the keys in hand: with the provider gone, a changed config still verifies.
    drop(idp);
    gw.rewrite_config(&config.replace("x-client:", "x-app:"));
    let (status, body) = gw.admin_json(reqwest::Method::POST, "/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let resp = c.get(gw.url("/pets")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["x-app"], "app");
}

// ---------------------------------------------------------------------------------------------
// A provider in this process: keys the tests control.

/// A P-256 signing key with its `kid`.
struct Key {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        Self { pair, kid: kid.to_owned() }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}), claims)
    }
}

/// A token signed with HMAC-SHA-256 under `secret`.
fn hmac_token(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref()))
}

/// A provider serving a discovery document and a JWKS the test controls; it can be down.
#[derive(Clone)]
struct LocalProvider {
    addr: SocketAddr,
    jwks: Arc<Mutex<Vec<Value>>>,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl LocalProvider {
    async fn start(keys: &[&Key]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = Self {
            addr: listener.local_addr().unwrap(),
            jwks: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect())),
            up: Arc::new(AtomicBool::new(true)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let served = p.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let p = served.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| p.clone().answer(req));
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        p
    }

    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn publish(&self, keys: &[&Key]) {
        *self.jwks.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    async fn answer(self, req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        if !self.up.load(Ordering::SeqCst) {
            return Ok(Response::builder().status(503).body(Full::new(Bytes::new())).unwrap());
        }
        let body = match req.uri().path() {
            "/.well-known/openid-configuration" => {
                json!({"issuer": self.issuer(), "jwks_uri": format!("{}/keys", self.issuer())})
            }
            "/keys" => {
                self.fetches.fetch_add(1, Ordering::SeqCst);
                json!({"keys": *self.jwks.lock().unwrap()})
            }
            _ => return Ok(Response::builder().status(404).body(Full::new(Bytes::new())).unwrap()),
        };
        Ok(Response::new(Full::new(Bytes::from(body.to_string()))))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims_of(issuer: &str) -> Value {
    json!({"iss": issuer, "sub": "user-1", "client_id": "web", "token_use": "access",
           "scope": "openid pets/read", "exp": now() + 600, "iat": now() - 5})
}

fn config(issuers: &[(&str, &str)], up: &str, extra: &str) -> String {
    let issuers: String = issuers
        .iter()
        .map(|(iss, aud)| format!("          - issuer: '{iss}'\n            audiences: [{aud}]\n"))
        .collect();
    format!(
        "apis:
  - name: pets
    jwt_authorizers:
      - name: users
        issuers:
{issuers}        token_use: access
        keys_min_interval: 1s
{extra}        upstream_headers:
          x-sub: $context.authorizer.claims.sub
    routes:
      - route: GET /pets
        auth: jwt
        authorizer: users
        integration: {{ type: http, url: '{up}/pets' }}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_attack_is_refused_before_the_upstream() {
    let key = Key::new("k1");
    let idp = LocalProvider::start(&[&key]).await;
    let stranger = Key::new("k1");
    let other_pool = LocalProvider::start(&[&stranger]).await;
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&[(&idp.issuer(), "web")], &upstream.url(), ""));
    let c = gw.client();
    let iss = idp.issuer();
    let good = claims_of(&iss);
    let resp = c.get(gw.url("/pets")).bearer_auth(key.sign(&good)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["x-sub"], "user-1");

    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let jwk = key.jwk().to_string();
    let unsigned = |header: Value| {
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(good.to_string()))
    };
    let tampered = {
        let t = key.sign(&good);
        let mut parts: Vec<&str> = t.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(with("sub", json!("admin")).to_string());
        parts[1] = &payload;
        parts.join(".")
    };
    let attacks: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned(json!({"alg": "none", "kid": "k1"})), "algorithm"),
        (
            "HS256 with the public key",
            hmac_token(jwk.as_bytes(), &json!({"alg": "HS256", "kid": "k1"}), &good),
            "algorithm",
        ),
        ("expired", key.sign(&with("exp", json!(now() - 3600))), "expired"),
        ("no exp", key.sign(&without("exp")), "expired"),
        ("not yet valid", key.sign(&with("nbf", json!(now() + 3600))), "not valid yet"),
        ("issued in the future", key.sign(&with("iat", json!(now() + 3600))), "not valid yet"),
        ("wrong iss", key.sign(&with("iss", json!("https://evil.example"))), "issuer"),
        ("wrong client", key.sign(&with("client_id", json!("other-app"))), "audience"),
        ("wrong token_use", key.sign(&with("token_use", json!("id"))), "expected use"),
        ("unknown kid", key.sign_with(&json!({"alg": "ES256", "kid": "nope"}), &good), "signing key is unknown"),
        ("jku", key.sign_with(&json!({"alg": "ES256", "kid": "k1", "jku": "https://evil.example/k"}), &good), "header"),
        ("x5u", key.sign_with(&json!({"alg": "ES256", "kid": "k1", "x5u": "https://evil.example/c"}), &good), "header"),
        ("embedded jwk", key.sign_with(&json!({"alg": "ES256", "kid": "k1", "jwk": key.jwk()}), &good), "header"),
        ("tampered payload", tampered, "signature"),
        ("another key under the same kid", stranger.sign(&good), "signature"),
        ("a token of another pool", stranger.sign(&claims_of(&other_pool.issuer())), "issuer"),
        ("not a JWT", "Bearer abc.def".to_owned(), "malformed"),
    ];
    for (name, token, why) in attacks {
        let resp = c.get(gw.url("/pets")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        let challenge = www_authenticate(&resp);
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token""#) && challenge.contains(why),
            "{name}: {challenge}"
        );
    }
    assert_eq!(upstream.hits(), 1, "no attack reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_fetched_before_use_again_for_a_new_kid_and_withdrawn_keys_stop_working() {
    let k1 = Key::new("k1");
    let idp = LocalProvider::start(&[&k1]).await;
    idp.up.store(false, Ordering::SeqCst);
    // A second issuer publishing the same kid with another key: the issuer decides which.
    let twin = Key::new("k1");
    let idp2 = LocalProvider::start(&[&twin]).await;
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(
        &[(&idp.issuer(), "web"), (&idp2.issuer(), "web")],
        &upstream.url(),
        "        keys_refresh: 2s\n",
    ));
    let c = gw.client();
    let get = |token: String| {
        let c = c.clone();
        let url = gw.url("/pets");
        async move { c.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };

    // The provider is down: requests fail closed, with 500, never pass unverified.
    assert_eq!(get(k1.sign(&claims_of(&idp.issuer()))).await, 500);
    idp.up.store(true, Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(10), || async { get(k1.sign(&claims_of(&idp.issuer()))).await == 200 }).await,
        "keys fetched once the provider is back"
    );
    assert_eq!(get(twin.sign(&claims_of(&idp2.issuer()))).await, 200, "same kid, other issuer");
    let m = metrics(&gw).await;
    assert!(
        m.contains(&format!(r#"portcullis_jwt_key_fetches_total{{issuer="{}",result="error"}}"#, idp.issuer())),
        "{m}"
    );

    // Rotation: a token signed by a new key fetches the keys again, at once.
    let k2 = Key::new("k2");
    idp.publish(&[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = idp.fetches();
    assert_eq!(get(k2.sign(&claims_of(&idp.issuer()))).await, 200);
    assert!(idp.fetches() > before, "the unknown kid was fetched");
    // A flood of made-up kids costs at most one fetch per interval.
    let before = idp.fetches();
    for i in 0..20 {
        let forged = k2.sign_with(&json!({"alg": "ES256", "kid": format!("made-up-{i}")}), &claims_of(&idp.issuer()));
        assert_eq!(get(forged).await, 401);
    }
    // One per interval; the flood may straddle the end of one.
    assert!(idp.fetches() <= before + 2, "{} fetches for 20 unknown kids", idp.fetches() - before);

    // Withdrawing k1: its tokens, verified and cached before, stop passing once the keys are
    // refreshed (in the background, every 2 s here).
    let cached = k1.sign(&claims_of(&idp.issuer()));
    assert_eq!(get(cached.clone()).await, 200);
    idp.publish(&[&k2]);
    assert!(
        eventually(Duration::from_secs(10), || async { get(cached.clone()).await == 401 }).await,
        "a withdrawn key's token was still accepted"
    );
    assert_eq!(get(k2.sign(&claims_of(&idp.issuer()))).await, 200);
}

#[test]
fn the_shipped_examples_are_valid_configs() {
    for example in ["../../examples/jwt.yaml", "../../examples/user-pool.yaml", "../../examples/cluster-node.yaml"] {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["validate", "--config", example])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{example}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
