//! A user pool as an OAuth 2.0 / OpenID Connect provider, end to end over TLS: the
//! `openidconnect` crate as the relying party (discovery, PKCE, the code flow, ID-token
//! verification), the hosted sign-in page driven as a browser would, the code's single use
//! and its checks, and the client-credentials grant of a confidential client opening a route
//! that requires a custom scope.

use std::collections::HashMap;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse as _,
};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::harness::{Gw, Upstream};

const CALLBACK: &str = "https://app.example.com/callback";
/// The machine client's secret, and its SHA-256 as the config holds it.
const M2M_SECRET: &str = "s3cr3t-for-the-batch-job-0123456789";

fn config(issuer: &str, up: &str) -> String {
    let secret_sha256 = hex::encode(sha2::Sha256::digest(M2M_SECRET.as_bytes()));
    format!(
        "user_pools:
  - name: main
    issuer: '{issuer}'
    resource_servers:
      - identifier: pets
        scopes: [read, write]
    clients:
      - id: web
        oauth_flows: [code]
        callback_urls: ['{CALLBACK}']
        allowed_scopes: [openid, email, pets/read]
      - id: batch
        oauth_flows: [client_credentials]
        allowed_scopes: [pets/read]
        secret_sha256: {secret_sha256}
apis:
  - name: app
    jwt_authorizers:
      - name: pool
        issuers:
          - user_pool: main
            audiences: [web, batch]
        token_use: access
        upstream_headers:
          x-client: $context.authorizer.claims.client_id
    routes:
      - route: POST /auth
        integration: {{ type: user_pool, pool: main }}
      - route: ANY /auth/{{proxy+}}
        integration: {{ type: user_pool, pool: main }}
      - route: GET /pets
        auth: jwt
        authorizer: pool
        authorization_scopes: [pets/read]
        integration: {{ type: http, url: '{up}/pets' }}
"
    )
}

/// A gateway whose pool's issuer is its own address: started, then reloaded once the port is
/// known, with a user `ann` created through the admin API.
async fn start(up: &Upstream) -> (Gw, String) {
    let gw = Gw::start(&config("https://localhost/auth", &up.url()));
    let issuer = format!("https://localhost:{}/auth", gw.api.port());
    gw.rewrite_config(&config(&issuer, &up.url()));
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let user = json!({"username": "ann", "password": "Correct-h0rse", "attributes": {"email": "ann@example.com"}});
    assert_eq!(gw.admin_json(Method::POST, "/user-pools/main/users", Some(user)).await.0, 201);
    (gw, issuer)
}

/// A client that trusts the gateway's certificate and follows no redirects (the relying party
/// reads the `Location` itself).
fn http(gw: &Gw) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&gw.ca_pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", gw.api)
        .build()
        .unwrap()
}

/// What a browser does on the hosted page: load it, fill in the form, submit it. Returns the
/// `Location` the pool answers with.
async fn sign_in_on_page(http: &reqwest::Client, authorize_url: &str, password: &str) -> (u16, String, String) {
    let page = http.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    let mut form: HashMap<String, String> = hidden_fields(&html);
    form.insert("username".into(), "ann".into());
    form.insert("password".into(), password.into());
    let login = authorize_url.split("/oauth2/authorize").next().unwrap().to_owned() + "/login";
    let resp = http.post(login).form(&form).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, resp.text().await.unwrap_or_default())
}

/// The hidden inputs of a form: `name="…" value="…"`, HTML entities undone.
fn hidden_fields(html: &str) -> HashMap<String, String> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            let value = value
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            Some((name.to_owned(), value))
        })
        .collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let url = openidconnect::url::Url::parse(url).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openidconnect_crate_signs_in_with_the_code_flow_and_pkce() {
    let up = Upstream::start().await;
    let (gw, issuer) = start(&up).await;
    let http = http(&gw);

    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
        .await
        .unwrap_or_else(|e| panic!("discovery: {e:?}"));
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("web".into()), None)
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("pets/read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // A wrong password: the page again, with the reason, and no redirect.
    let (status, location, html) = sign_in_on_page(&http, url.as_str(), "Wrong-h0rse").await;
    assert_eq!((status, location.as_str()), (400, ""));
    assert!(html.contains("Incorrect username or password."), "{html}");

    let (status, location, _) = sign_in_on_page(&http, url.as_str(), "Correct-h0rse").await;
    assert_eq!(status, 302);
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some(csrf.secret().as_str()));
    let code = query_param(&location, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("token exchange: {e:?}"));
    let id_token = tokens.id_token().expect("an ID token for the openid scope");
    let verifier = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.issuer().as_str(), issuer);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ann@example.com"));
    let scopes: Vec<String> = tokens.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    assert!(scopes.is_empty() || scopes.contains(&"pets/read".to_owned()));

    // The access token carries the granted scopes and opens the route that needs one.
    let access = tokens.access_token().secret();
    let resp = gw.client().get(gw.url("/pets")).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["x-client"], "web");

    // A code is good once.
    let again = http
        .post(format!("{issuer}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "web"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(again.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_authorization_requests_are_refused_before_anyone_signs_in() {
    let up = Upstream::start().await;
    let (gw, issuer) = start(&up).await;
    let http = http(&gw);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authorize = |extra: &str| {
        format!("{issuer}/oauth2/authorize?response_type=code&client_id=web&state=xyz&code_challenge={challenge}&code_challenge_method=S256{extra}")
    };
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            (r.status().as_u16(), location)
        }
    };
    // An unregistered redirect URI is never redirected to.
    let (status, location) = get(authorize("&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")).await;
    assert_eq!((status, location.as_str()), (400, ""));
    let cb = "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback";
    // A scope the client may not have, no PKCE for a public client, `plain` PKCE.
    let (status, location) = get(authorize(&format!("{cb}&scope=openid%20pets%2Fwrite"))).await;
    assert_eq!((status, query_param(&location, "error").as_deref()), (302, Some("invalid_scope")));
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    let no_pkce = format!("{issuer}/oauth2/authorize?response_type=code&client_id=web{cb}");
    assert_eq!(query_param(&get(no_pkce).await.1, "error").as_deref(), Some("invalid_request"));
    let plain = authorize(cb).replace("S256", "plain");
    assert_eq!(query_param(&get(plain).await.1, "error").as_deref(), Some("invalid_request"));
    let token = authorize(cb).replace("response_type=code", "response_type=token");
    assert_eq!(query_param(&get(token).await.1, "error").as_deref(), Some("unsupported_response_type"));

    // A code bound to its verifier: the wrong one gets nothing.
    let only_pets = format!("{cb}&scope=pets%2Fread");
    let (status, location, _) = sign_in_on_page(&http, &authorize(&only_pets), "Correct-h0rse").await;
    assert_eq!(status, 302);
    let code = query_param(&location, "code").unwrap();
    let exchange = |verifier: &str| {
        http.post(format!("{issuer}/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "web"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let wrong = exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx").await.unwrap();
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // RFC 7636's example verifier for that challenge.
    let right = exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").await.unwrap();
    assert_eq!(right.status(), 200);
    let body: Value = right.json().await.unwrap();
    assert!(body.get("id_token").is_none(), "no openid scope asked, no ID token: {body}");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_client_gets_an_access_token_for_its_scopes() {
    let up = Upstream::start().await;
    let (gw, issuer) = start(&up).await;
    let http = http(&gw);
    let token_url = format!("{issuer}/oauth2/token");
    let resp = http
        .post(&token_url)
        .basic_auth("batch", Some(M2M_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "pets/read")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let resp = gw.client().get(gw.url("/pets")).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["x-client"], "batch");

    // The wrong secret, no secret, a scope it may not have, a public client.
    let wrong = http.post(&token_url).basic_auth("batch", Some("nope")).form(&[("grant_type", "client_credentials")]);
    let wrong = wrong.send().await.unwrap();
    assert_eq!((wrong.status().as_u16(), wrong.headers().get("www-authenticate").is_some()), (401, true));
    let none = http.post(&token_url).form(&[("grant_type", "client_credentials"), ("client_id", "batch")]);
    assert_eq!(none.send().await.unwrap().status(), 401);
    let scope = http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "batch"),
            ("client_secret", M2M_SECRET),
            ("scope", "pets/write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(scope.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let public = http.post(&token_url).form(&[("grant_type", "client_credentials"), ("client_id", "web")]);
    assert_eq!(public.send().await.unwrap().json::<Value>().await.unwrap()["error"], "unauthorized_client");

    // Cognito's JSON operations cannot check a confidential client's secret: refused.
    let resp = http
        .post(issuer.as_str())
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .header("content-type", "application/x-amz-json-1.1")
        .body(
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "batch",
                     "AuthParameters": {"USERNAME": "ann", "PASSWORD": "Correct-h0rse"}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["__type"], "NotAuthorizedException");
    // Revocation authenticates a confidential client as the token endpoint does.
    let revoke = http.post(format!("{issuer}/oauth2/revoke")).form(&[("token", "x"), ("client_id", "batch")]);
    assert_eq!(revoke.send().await.unwrap().status(), 401);
    let revoke =
        http.post(format!("{issuer}/oauth2/revoke")).basic_auth("batch", Some(M2M_SECRET)).form(&[("token", "x")]);
    assert_eq!(revoke.send().await.unwrap().status(), 200);
}

/// Exchanges `code` (with its PKCE `verifier`) at the token endpoint as the app `web` does, and
/// returns the ID token's claims (read, not verified: the openidconnect test verifies).
async fn id_token_claims(gw: &Gw, issuer: &str, code: &str, verifier: &str) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "web"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ];
    let resp = http(gw).post(format!("{issuer}/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let payload = body["id_token"].as_str().unwrap_or_else(|| panic!("no ID token: {body}")).split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap())
        .unwrap()
}

/// A person on the hosted page in Debian's Chromium (playwright-core drives it): what the
/// browser ends on, `callback URL` or `page TEXT`.
async fn browser_sign_in(authorize_url: String, passwords: &str, provider: Option<&str>) -> String {
    let dir = crate::jwt::node_tools_dir();
    let args =
        vec!["sign_in.mjs".to_owned(), authorize_url, CALLBACK.to_owned(), "ann".to_owned(), passwords.to_owned()];
    let provider = provider.unwrap_or("").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new("timeout");
        cmd.arg("60").arg("node").args(&args).current_dir(dir);
        if !provider.is_empty() {
            cmd.env("PROVIDER", provider);
        }
        cmd.output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_on_the_hosted_page_in_chromium() {
    let up = Upstream::start().await;
    let (gw, issuer) = start(&up).await;
    let verifier = "a-browser-flow-verifier-with-enough-entropy-0123456789";
    let challenge =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sha2::Sha256::digest(verifier));
    let authorize = format!(
        "https://127.0.0.1:{}/auth/oauth2/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid%20email&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        gw.api.port(),
        "https%3A%2F%2Fapp.example.com%2Fcallback",
    );
    let ended = browser_sign_in(authorize.clone(), "Wrong-h0rse", None).await;
    assert!(ended.starts_with("page ") && ended.contains("Incorrect username or password."), "{ended}");

    // A wrong password, then the right one on the page that said so.
    let ended = browser_sign_in(authorize, "Wrong-h0rse,Correct-h0rse", None).await;
    let url = ended.strip_prefix("callback ").unwrap_or_else(|| panic!("the browser did not reach the app: {ended}"));
    assert_eq!(query_param(url, "state").as_deref(), Some("s1"));
    let code = query_param(url, "code").unwrap();
    let claims = id_token_claims(&gw, &issuer, &code, verifier).await;
    assert_eq!((claims["nonce"].as_str(), claims["email"].as_str()), (Some("n1"), Some("ann@example.com")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_an_outside_openid_provider() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config("https://localhost/auth", &up.url()));
    // Our issuer is the address the browser reaches; the provider sends the person back there.
    let issuer = format!("https://127.0.0.1:{}/auth", gw.api.port());
    let idp = crate::jwt::NodeProvider::start_with(&[("REDIRECT_URI", &format!("{issuer}/oauth2/idpresponse"))]);
    let federated = config(&issuer, &up.url()).replace(
        "    clients:\n",
        &format!(
            "    identity_providers:\n      - name: corp\n        issuer: '{}'\n        client_id: portcullis\n        client_secret: portcullis-secret\n    clients:\n",
            idp.issuer
        ),
    );
    gw.rewrite_config(&federated);
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let (_, config) = gw.admin_json(Method::GET, "/config", None).await;
    assert!(!config.to_string().contains("portcullis-secret"), "the provider's client secret is redacted");

    let verifier = "federated-sign-in-verifier-with-enough-entropy-0123456789";
    let challenge =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sha2::Sha256::digest(verifier));
    let authorize = format!(
        "{issuer}/oauth2/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&scope=openid%20email&state=fed&nonce=n2&code_challenge={challenge}&code_challenge_method=S256"
    );
    let ended = browser_sign_in(authorize.clone(), "", Some("corp")).await;
    let url = ended.strip_prefix("callback ").unwrap_or_else(|| panic!("the browser did not reach the app: {ended}"));
    assert_eq!(query_param(url, "state").as_deref(), Some("fed"));
    let code = query_param(url, "code").unwrap_or_else(|| panic!("{url}"));
    let claims = id_token_claims(&gw, &issuer, &code, verifier).await;
    // The provider's claims, mapped to the pool user `corp_SUB`.
    assert_eq!(claims["cognito:username"], "corp_ann", "{claims}");
    assert_eq!((claims["email"].as_str(), claims["name"].as_str()), (Some("ann@corp.example"), Some("Corp ann")));
    assert_eq!((claims["iss"].as_str(), claims["nonce"].as_str()), (Some(issuer.as_str()), Some("n2")));
    let (status, user) = gw.admin_json(Method::GET, "/user-pools/main/users/corp_ann", None).await;
    assert_eq!((status, user["status"].as_str()), (200, Some("EXTERNAL_PROVIDER")), "{user}");

    // Again, straight to the provider: the same pool user.
    let direct = authorize.replace("&state=fed", "&state=fed2&identity_provider=corp");
    let ended = browser_sign_in(direct, "", Some("corp")).await;
    assert!(ended.starts_with("callback "), "{ended}");
    let (_, list) = gw.admin_json(Method::GET, "/user-pools/main/users", None).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "corp_ann").count(), 1, "{names:?}");
    // A federated user has no password here.
    let form = [("grant_type", "password"), ("username", "corp_ann"), ("password", "")];
    let refused = http(&gw).post(format!("{issuer}/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), 400);
}
