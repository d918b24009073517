//! User pools, end to end over TLS: sign-up with a code from the log, sign-in, the JWT
//! authorizer taking the pool's tokens, lock-out after failed sign-ins (unknown names alike),
//! refresh-token rotation with reuse detection, password reset and change, TOTP enrolment and
//! sign-in, the OpenID endpoints. Requests are Cognito's JSON protocol as its SDKs send it.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::harness::{Gw, Upstream};

fn config(up: &str) -> String {
    format!(
        "user_pools:
  - name: main
    issuer: 'https://localhost/auth'
    mfa: optional
    custom_attributes: ['custom:tier']
    lockout: {{ after: 3, initial: 1s, max: 4s }}
    clients:
      - id: web
      - id: cli
        auth_flows: [user_password]
apis:
  - name: app
    jwt_authorizers:
      - name: pool
        issuers:
          - user_pool: main
            audiences: [web]
        token_use: access
        upstream_headers:
          x-user: $context.authorizer.claims.username
    routes:
      - route: POST /auth
        integration: {{ type: user_pool, pool: main }}
      - route: ANY /auth/{{proxy+}}
        integration: {{ type: user_pool, pool: main }}
      - route: GET /me
        auth: jwt
        authorizer: pool
        integration: {{ type: http, url: '{up}/me' }}
      - route: GET /admin
        auth: jwt
        authorizer: pool
        authorization_scopes: [pets/admin]
        integration: {{ type: mock }}
"
    )
}

/// The status of `GET /me`, a JWT route taking the pool's access tokens, with `token`.
async fn me(gw: &Gw, token: &str) -> u16 {
    gw.client().get(gw.url("/me")).bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// One call of Cognito's JSON protocol: status, `__type` (empty on success) and body.
async fn call(gw: &Gw, op: &str, body: Value) -> (u16, String, Value) {
    cognito(gw, "/auth", op, body).await
}

/// One call of Cognito's JSON protocol to the pool route at `path`.
pub async fn cognito(gw: &Gw, path: &str, op: &str, body: Value) -> (u16, String, Value) {
    let resp = gw
        .client()
        .post(gw.url(path))
        .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    (status, v["__type"].as_str().unwrap_or("").to_owned(), v)
}

/// A log line without its colours.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// The last code the pool wrote to the log for `username` and `purpose`.
async fn code(gw: &Gw, username: &str, purpose: &str) -> String {
    let find = || {
        gw.stderr_lines().iter().map(|l| plain(l)).rev().find_map(|l| {
            let ours = l.contains("user-pool code")
                && l.contains(&format!("username={username}"))
                && l.contains(&format!("purpose=\"{purpose}\""));
            ours.then(|| l.split("code=").nth(1)?.split_whitespace().next().map(|c| c.trim_matches('"').to_owned()))?
        })
    };
    for _ in 0..50 {
        if let Some(c) = find() {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {purpose} code for {username} in the log:\n{}", gw.stderr_lines().join("\n"));
}

async fn sign_in(gw: &Gw, user: &str, password: &str) -> (u16, String, Value) {
    call(
        gw,
        "InitiateAuth",
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "web",
               "AuthParameters": {"USERNAME": user, "PASSWORD": password}}),
    )
    .await
}

async fn sign_up_confirmed(gw: &Gw, user: &str, password: &str) {
    let (status, kind, _) = call(
        gw,
        "SignUp",
        json!({"ClientId": "web", "Username": user, "Password": password,
               "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")}]}),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, ""));
    let c = code(gw, user, "confirm").await;
    let (status, _, body) =
        call(gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": user, "ConfirmationCode": c})).await;
    assert_eq!(status, 200, "{body}");
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_confirm_sign_in_and_call_a_route_with_the_token() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    let c = gw.client();

    // The policy is checked before anything is stored.
    let (status, kind, body) =
        call(&gw, "SignUp", json!({"ClientId": "web", "Username": "ann", "Password": "short"})).await;
    assert_eq!((status, kind.as_str()), (400, "InvalidPasswordException"), "{body}");
    let (_, kind, _) = call(
        &gw,
        "SignUp",
        json!({"ClientId": "web", "Username": "ann", "Password": "Correct-h0rse",
               "UserAttributes": [{"Name": "custom:unknown", "Value": "x"}]}),
    )
    .await;
    assert_eq!(kind, "InvalidParameterException");

    let (status, _, body) = call(
        &gw,
        "SignUp",
        json!({"ClientId": "web", "Username": "ann", "Password": "Correct-h0rse",
               "UserAttributes": [{"Name": "email", "Value": "Ann@Example.com"}, {"Name": "custom:tier", "Value": "gold"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["UserConfirmed"], false);
    assert_eq!(body["CodeDeliveryDetails"]["Destination"], "a***@e***");
    let (_, kind, _) =
        call(&gw, "SignUp", json!({"ClientId": "web", "Username": "ANN", "Password": "Correct-h0rse"})).await;
    assert_eq!(kind, "UsernameExistsException", "names are unique whatever their case");

    // Before confirming: the right password tells so, a wrong one tells nothing.
    assert_eq!(sign_in(&gw, "ann", "Correct-h0rse").await.1, "UserNotConfirmedException");
    let (_, kind, body) = sign_in(&gw, "ann", "Wrong-h0rse").await;
    assert_eq!(
        (kind.as_str(), body["message"].as_str()),
        ("NotAuthorizedException", Some("Incorrect username or password."))
    );

    // A new code replaces the first.
    let first = code(&gw, "ann", "confirm").await;
    let (status, _, resent) = call(&gw, "ResendConfirmationCode", json!({"ClientId": "web", "Username": "ann"})).await;
    assert_eq!((status, resent["CodeDeliveryDetails"]["Destination"].as_str()), (200, Some("a***@e***")));
    let real = loop {
        let c = code(&gw, "ann", "confirm").await;
        let lines = gw.stderr_lines().iter().filter(|l| plain(l).contains("username=ann")).count();
        if lines >= 2 {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if real != first {
        let (_, kind, _) =
            call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "ann", "ConfirmationCode": first})).await;
        assert_eq!(kind, "CodeMismatchException", "the first code was replaced");
    }
    let wrong = if real == "000000" { "000001" } else { "000000" };
    let (_, kind, _) =
        call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "ann", "ConfirmationCode": wrong})).await;
    assert_eq!(kind, "CodeMismatchException");
    let (status, _, _) =
        call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "ann", "ConfirmationCode": real})).await;
    assert_eq!(status, 200);
    let (_, kind, _) =
        call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "ann", "ConfirmationCode": real})).await;
    assert_eq!(kind, "NotAuthorizedException", "a code is good once");

    let (status, _, body) = sign_in(&gw, "ann", "Correct-h0rse").await;
    assert_eq!(status, 200, "{body}");
    let result = &body["AuthenticationResult"];
    let (access, id) = (result["AccessToken"].as_str().unwrap(), result["IdToken"].as_str().unwrap());
    assert_eq!(result["TokenType"], "Bearer");
    assert_eq!(result["ExpiresIn"], 3600);
    let a = claims(access);
    assert_eq!(
        (a["iss"].as_str(), a["token_use"].as_str(), a["client_id"].as_str()),
        (Some("https://localhost/auth"), Some("access"), Some("web"))
    );
    assert!(a.get("aud").is_none());
    let i = claims(id);
    assert_eq!(
        (i["aud"].as_str(), i["email"].as_str(), i["custom:tier"].as_str()),
        (Some("web"), Some("ann@example.com"), Some("gold"))
    );
    assert_eq!(i["cognito:username"], "ann");

    // The pool's access token opens the JWT route; its claims reach the upstream.
    let resp = c.get(gw.url("/me")).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["x-user"], "ann");
    // Not the ID token (token_use: access), not without the route's scope.
    assert_eq!(c.get(gw.url("/me")).bearer_auth(id).send().await.unwrap().status(), 401);
    assert_eq!(c.get(gw.url("/admin")).bearer_auth(access).send().await.unwrap().status(), 403);

    // GetUser and the OpenID endpoints.
    let (_, _, me) = call(&gw, "GetUser", json!({"AccessToken": access})).await;
    assert_eq!(me["Username"], "ann");
    let doc: Value =
        c.get(gw.url("/auth/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], "https://localhost/auth");
    assert_eq!(doc["jwks_uri"], "https://localhost/auth/.well-known/jwks.json");
    let jwks: Value = c.get(gw.url("/auth/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], claims_header(access)["kid"]);
    let info = c.get(gw.url("/auth/oauth2/userInfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!((info["email"].as_str(), info["email_verified"].as_bool()), (Some("ann@example.com"), Some(true)));
    let bad = c.get(gw.url("/auth/oauth2/userInfo")).bearer_auth("x.y.z").send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // A client without the flow.
    let (_, kind, _) = call(
        &gw,
        "InitiateAuth",
        json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "cli", "AuthParameters": {"REFRESH_TOKEN": "x"}}),
    )
    .await;
    assert_eq!(kind, "InvalidParameterException");
    assert_eq!(upstream.hits(), 1);
}

fn claims_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_lock_known_and_unknown_names_alike() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    sign_up_confirmed(&gw, "bob", "Correct-h0rse").await;
    for name in ["bob", "ghost"] {
        for _ in 0..3 {
            let (_, kind, body) = sign_in(&gw, name, "Wrong-h0rse").await;
            assert_eq!(
                (kind.as_str(), body["message"].as_str()),
                ("NotAuthorizedException", Some("Incorrect username or password.")),
                "{name}"
            );
        }
        // Locked now: even the right password is refused, and an unknown name says the same.
        let (_, kind, body) = sign_in(&gw, name, "Correct-h0rse").await;
        assert_eq!(
            (kind.as_str(), body["message"].as_str()),
            ("NotAuthorizedException", Some("Password attempts exceeded")),
            "{name}"
        );
    }
    // The lock ends (1 s here), and the right password then works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sign_in(&gw, "bob", "Correct-h0rse").await.0, 200);
    assert_eq!(sign_in(&gw, "bob", "Wrong-h0rse").await.2["message"], "Incorrect username or password.");
    assert_eq!(sign_in(&gw, "bob", "Correct-h0rse").await.0, 200, "one failure after a success does not lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    sign_up_confirmed(&gw, "cat", "Correct-h0rse").await;
    let (_, _, body) = sign_in(&gw, "cat", "Correct-h0rse").await;
    let first = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let gw = &gw;
        async move {
            call(
                gw,
                "InitiateAuth",
                json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "web",
                                            "AuthParameters": {"REFRESH_TOKEN": token}}),
            )
            .await
        }
    };
    let (status, _, body) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{body}");
    let second = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "rotated");
    assert_eq!(claims(body["AuthenticationResult"]["AccessToken"].as_str().unwrap())["username"], "cat");
    // The first token again: a theft signal. It fails, and so does the family's newest.
    let (_, kind, body) = refresh(first).await;
    assert_eq!(
        (kind.as_str(), body["message"].as_str()),
        ("NotAuthorizedException", Some("Refresh Token has been revoked"))
    );
    assert_eq!(refresh(second).await.1, "NotAuthorizedException");

    // RevokeToken (Cognito's operation) and GlobalSignOut end refresh tokens.
    let (_, _, body) = sign_in(&gw, "cat", "Correct-h0rse").await;
    let revoked = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    assert_eq!(call(&gw, "RevokeToken", json!({"ClientId": "web", "Token": revoked})).await.0, 200);
    assert_eq!(refresh(revoked).await.1, "NotAuthorizedException");
    let (_, _, body) = sign_in(&gw, "cat", "Correct-h0rse").await;
    let kept = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    let access = body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    assert_eq!(me(&gw, &access).await, 200, "verified, and cached as verified");
    assert_eq!(call(&gw, "GlobalSignOut", json!({"AccessToken": access})).await.0, 200);
    assert_eq!(refresh(kept).await.1, "NotAuthorizedException", "signed out everywhere");
    // The session's access token is void too, cached verification or not.
    assert_eq!(me(&gw, &access).await, 401, "an access token of a signed-out session");
    let (_, kind, body) = call(&gw, "GetUser", json!({"AccessToken": access})).await;
    assert_eq!(
        (kind.as_str(), body["message"].as_str()),
        ("NotAuthorizedException", Some("Access Token has been revoked"))
    );

    // The token endpoint's refresh_token grant, and revocation.
    let (_, _, body) = sign_in(&gw, "cat", "Correct-h0rse").await;
    let token = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    let c = gw.client();
    let resp = c
        .post(gw.url("/auth/oauth2/token"))
        .form(&[("grant_type", "refresh_token"), ("client_id", "web"), ("refresh_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    let next = t["refresh_token"].as_str().unwrap().to_owned();
    let resp = c
        .post(gw.url("/auth/oauth2/revoke"))
        .form(&[("token", next.as_str()), ("client_id", "web")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = c
        .post(gw.url("/auth/oauth2/token"))
        .form(&[("grant_type", "refresh_token"), ("client_id", "web"), ("refresh_token", &next)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let resp = c.post(gw.url("/auth/oauth2/token")).form(&[("grant_type", "password")]).send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_and_changed_passwords() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    sign_up_confirmed(&gw, "dan", "Correct-h0rse").await;
    let (_, _, body) = sign_in(&gw, "dan", "Correct-h0rse").await;
    let refresh = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();

    // For an unknown name the answer looks the same, and no code is sent.
    let (status, _, ghost) = call(&gw, "ForgotPassword", json!({"ClientId": "web", "Username": "nobody"})).await;
    assert_eq!(status, 200);
    assert!(ghost["CodeDeliveryDetails"].is_object());
    let (status, _, _) = call(&gw, "ForgotPassword", json!({"ClientId": "web", "Username": "dan"})).await;
    assert_eq!(status, 200);
    let c = code(&gw, "dan", "reset").await;
    let (_, kind, _) = call(
        &gw,
        "ConfirmForgotPassword",
        json!({"ClientId": "web", "Username": "dan", "ConfirmationCode": c, "Password": "weak"}),
    )
    .await;
    assert_eq!(kind, "InvalidPasswordException");
    let (status, _, body) = call(
        &gw,
        "ConfirmForgotPassword",
        json!({"ClientId": "web", "Username": "dan", "ConfirmationCode": c, "Password": "New-h0rse-1"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sign_in(&gw, "dan", "Correct-h0rse").await.1, "NotAuthorizedException");
    let (status, _, body) = sign_in(&gw, "dan", "New-h0rse-1").await;
    assert_eq!(status, 200);
    let refreshed = call(
        &gw,
        "InitiateAuth",
        json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "web",
                                                      "AuthParameters": {"REFRESH_TOKEN": refresh}}),
    )
    .await;
    assert_eq!(refreshed.1, "NotAuthorizedException", "a reset revokes the refresh tokens");

    let access = body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    let (_, kind, _) = call(
        &gw,
        "ChangePassword",
        json!({"AccessToken": access, "PreviousPassword": "nope", "ProposedPassword": "Newer-h0rse-2"}),
    )
    .await;
    assert_eq!(kind, "NotAuthorizedException");
    let (status, _, _) = call(
        &gw,
        "ChangePassword",
        json!({"AccessToken": access, "PreviousPassword": "New-h0rse-1", "ProposedPassword": "Newer-h0rse-2"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sign_in(&gw, "dan", "Newer-h0rse-2").await.0, 200);
}

/// RFC 6238's code of a base32 `secret` at time step `step` (written here from the RFC, not
/// with the gateway's code).
fn totp(secret_b32: &str, step: u64) -> String {
    let mut bits = 0u64;
    let mut n = 0;
    let mut key = Vec::new();
    for ch in secret_b32.trim_end_matches('=').chars() {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(ch).unwrap() as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            key.push((bits >> (n - 8)) as u8);
            n -= 8;
        }
    }
    let tag =
        ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key), &step.to_be_bytes());
    let h = tag.as_ref();
    let o = usize::from(h[19] & 0x0f);
    let word = u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_enrolment_then_sign_in_with_a_code_used_once() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    sign_up_confirmed(&gw, "eve", "Correct-h0rse").await;
    let (_, _, body) = sign_in(&gw, "eve", "Correct-h0rse").await;
    let access = body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    let (status, _, assoc) = call(&gw, "AssociateSoftwareToken", json!({"AccessToken": access})).await;
    assert_eq!(status, 200, "{assoc}");
    let secret = assoc["SecretCode"].as_str().unwrap().to_owned();
    assert!(assoc["OtpauthUri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let step = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30;
    let (_, kind, _) = call(&gw, "VerifySoftwareToken", json!({"AccessToken": access, "UserCode": "000000"})).await;
    assert!(kind == "CodeMismatchException" || totp(&secret, step) == "000000");
    let (status, _, v) =
        call(&gw, "VerifySoftwareToken", json!({"AccessToken": access, "UserCode": totp(&secret, step)})).await;
    assert_eq!((status, v["Status"].as_str()), (200, Some("SUCCESS")));

    // Sign-in now asks for a code. The step after is within the window; the one just used
    // is not good again.
    let (status, _, body) = sign_in(&gw, "eve", "Correct-h0rse").await;
    assert_eq!((status, body["ChallengeName"].as_str()), (200, Some("SOFTWARE_TOKEN_MFA")), "{body}");
    let session = body["Session"].as_str().unwrap().to_owned();
    let answer = |code: String, session: String| {
        let gw = &gw;
        async move {
            call(
                gw,
                "RespondToAuthChallenge",
                json!({"ClientId": "web", "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": session, "ChallengeResponses": {"USERNAME": "eve", "SOFTWARE_TOKEN_MFA_CODE": code}}),
            )
            .await
        }
    };
    assert_eq!(answer(totp(&secret, step), session.clone()).await.1, "CodeMismatchException", "replayed");
    let (_, kind, _) = answer(totp(&secret, step + 1), format!("{session}x")).await;
    assert_eq!(kind, "NotAuthorizedException", "a forged session");
    let (status, _, body) = answer(totp(&secret, step + 1), session.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
    assert_eq!(answer(totp(&secret, step + 1), session).await.1, "CodeMismatchException", "a code is good once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_create_disable_group_and_delete_users_with_an_audit_trail() {
    use reqwest::Method;
    let upstream = Upstream::start().await;
    let text = config(&upstream.url()).replace(
        "    clients:\n      - id: web\n",
        "    groups:\n      - name: admins\n        precedence: 1\n        role: 'arn:aws:iam::123456789012:role/admin'\n      - name: staff\n        precedence: 5\n    clients:\n      - id: web\n",
    );
    let gw = Gw::start(&text);
    let (status, pools) = gw.admin_json(Method::GET, "/user-pools", None).await;
    assert_eq!((status, pools["items"][0]["name"].as_str()), (200, Some("main")), "{pools}");

    let new = json!({"username": "fay", "password": "Correct-h0rse", "attributes": {"name": "Fay"}});
    let (status, user) = gw.admin_json(Method::POST, "/user-pools/main/users", Some(new.clone())).await;
    assert_eq!((status, user["status"].as_str()), (201, Some("CONFIRMED")), "{user}");
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"), "{user}");
    let (status, dup) = gw.admin_json(Method::POST, "/user-pools/main/users", Some(new)).await;
    assert_eq!(status, 409, "{dup}");
    let (status, _) = gw
        .admin_json(Method::POST, "/user-pools/main/users", Some(json!({"username": "gus", "password": "weak"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(gw.admin_json(Method::GET, "/user-pools/nope/users", None).await.0, 404);

    // Groups reach the tokens, the role of the lowest precedence first.
    for group in ["staff", "admins"] {
        let (status, _) = gw.admin_json(Method::PUT, &format!("/user-pools/main/users/fay/groups/{group}"), None).await;
        assert_eq!(status, 200);
    }
    assert_eq!(gw.admin_json(Method::PUT, "/user-pools/main/users/fay/groups/nobody", None).await.0, 404);
    let (status, _, body) = sign_in(&gw, "fay", "Correct-h0rse").await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["AuthenticationResult"]["IdToken"].as_str().unwrap());
    assert_eq!(id["cognito:groups"], json!(["admins", "staff"]));
    assert_eq!(id["cognito:preferred_role"], "arn:aws:iam::123456789012:role/admin");
    let refresh = body["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_owned();
    let access = body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    assert_eq!(me(&gw, &access).await, 200);

    // Disabled: no sign-in, no refresh, and the access tokens already handed out are void.
    let (status, user) =
        gw.admin_json(Method::PATCH, "/user-pools/main/users/fay", Some(json!({"enabled": false}))).await;
    assert_eq!((status, user["enabled"].as_bool()), (200, Some(false)));
    assert_eq!(me(&gw, &access).await, 401, "an access token of a disabled user");
    assert_eq!(sign_in(&gw, "fay", "Correct-h0rse").await.2["message"], "User is disabled.");
    let refreshed = call(
        &gw,
        "InitiateAuth",
        json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "web",
                                                      "AuthParameters": {"REFRESH_TOKEN": refresh}}),
    )
    .await;
    assert_eq!(refreshed.1, "NotAuthorizedException");
    gw.admin_json(Method::PATCH, "/user-pools/main/users/fay", Some(json!({"enabled": true}))).await;
    assert_eq!(me(&gw, &access).await, 401, "enabled again, the old session stays revoked");

    // A required reset: the password no longer signs in until the forgot-password flow.
    let (status, user) = gw.admin_json(Method::POST, "/user-pools/main/users/fay/reset-password", None).await;
    assert_eq!((status, user["status"].as_str()), (200, Some("RESET_REQUIRED")));
    assert_eq!(sign_in(&gw, "fay", "Correct-h0rse").await.1, "PasswordResetRequiredException");

    let (status, list) = gw.admin_json(Method::GET, "/user-pools/main/users", None).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(1)));
    let (status, _) = gw.admin_json(Method::DELETE, "/user-pools/main/users/fay", None).await;
    assert_eq!(status, 200);
    assert_eq!(gw.admin_json(Method::GET, "/user-pools/main/users/fay", None).await.0, 404);
    assert_eq!(sign_in(&gw, "fay", "Correct-h0rse").await.2["message"], "Incorrect username or password.");

    // Every change is in the audit trail, without a password.
    let (_, audit) = gw.admin_json(Method::GET, "/audit?limit=100", None).await;
    let text = audit.to_string();
    for action in [
        "user-pools.AdminCreateUser",
        "user-pools.AdminAddUserToGroup",
        "user-pools.AdminDisableUser",
        "user-pools.AdminResetUserPassword",
        "user-pools.AdminDeleteUser",
    ] {
        assert!(text.contains(action), "{action} missing: {text}");
    }
    assert!(!text.contains("Correct-h0rse"), "a password reached the audit trail");
}

/// boto3, installed once per test run into the target directory (pinned version).
fn boto3_path() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("boto3-1.35.99");
        if !dir.join("boto3").exists() {
            let status = std::process::Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
                .arg(&dir)
                .arg("boto3==1.35.99")
                .status()
                .unwrap_or_else(|e| panic!("python3 -m pip: {e}"));
            assert!(status.success(), "pip could not install boto3");
        }
        dir
    })
}

/// One call through AWS's own Cognito client.
fn boto3(gw: &Gw, op: &str, params: &Value) -> Value {
    let ca = gw.dir.path().join("ca.pem");
    std::fs::write(&ca, &gw.ca_pem).unwrap();
    let endpoint = format!("https://localhost:{}/auth", gw.api.port());
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/cognito_client.py"))
        .args([endpoint.as_str(), ca.to_str().unwrap(), op, &params.to_string()])
        .env("PYTHONPATH", boto3_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_own_cognito_client_signs_up_and_in() {
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    let up = boto3(
        &gw,
        "SignUp",
        &json!({"ClientId": "web", "Username": "hal", "Password": "Correct-h0rse",
               "UserAttributes": [{"Name": "email", "Value": "hal@example.com"}]}),
    );
    assert_eq!(up["UserConfirmed"], false, "{up}");
    let c = code(&gw, "hal", "confirm").await;
    let confirmed = boto3(&gw, "ConfirmSignUp", &json!({"ClientId": "web", "Username": "hal", "ConfirmationCode": c}));
    assert!(confirmed.get("error").is_none(), "{confirmed}");
    let wrong = boto3(
        &gw,
        "InitiateAuth",
        &json!({"ClientId": "web", "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": "hal", "PASSWORD": "Wrong-h0rse"}}),
    );
    assert_eq!(wrong["error"], "NotAuthorizedException", "{wrong}");
    let signed_in = boto3(
        &gw,
        "InitiateAuth",
        &json!({"ClientId": "web", "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": "hal", "PASSWORD": "Correct-h0rse"}}),
    );
    let access = signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap_or_else(|| panic!("{signed_in}"));
    let me = boto3(&gw, "GetUser", &json!({"AccessToken": access}));
    assert_eq!(me["Username"], "hal", "{me}");
    let resp = gw.client().get(gw.url("/me")).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let refreshed = boto3(
        &gw,
        "InitiateAuth",
        &json!({"ClientId": "web", "AuthFlow": "REFRESH_TOKEN_AUTH",
               "AuthParameters": {"REFRESH_TOKEN": signed_in["AuthenticationResult"]["RefreshToken"]}}),
    );
    assert!(refreshed["AuthenticationResult"]["IdToken"].is_string(), "{refreshed}");
}

/// A 2048-bit RSA key in PKCS#8 PEM, made by the openssl CLI.
fn rsa_pem(dir: &std::path::Path) -> String {
    let path = dir.join("pool-rsa.pem");
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_with_an_overlap_and_an_imported_rsa_key_signs_rs256() {
    use reqwest::Method;
    let upstream = Upstream::start().await;
    let gw = Gw::start(&config(&upstream.url()));
    sign_up_confirmed(&gw, "ivy", "Correct-h0rse").await;
    let access = |body: &Value| body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    let first = access(&sign_in(&gw, "ivy", "Correct-h0rse").await.2);
    let kid1 = claims_header(&first)["kid"].as_str().unwrap().to_owned();

    let (status, rotated) = gw.admin_json(Method::POST, "/user-pools/main/signing-keys", Some(json!({}))).await;
    assert_eq!(status, 200, "{rotated}");
    let kid2 = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid1, kid2);
    let second = access(&sign_in(&gw, "ivy", "Correct-h0rse").await.2);
    assert_eq!(claims_header(&second)["kid"], kid2.as_str(), "the new key signs at once on this node");
    let jwks: Value =
        gw.client().get(gw.url("/auth/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids, [kid1.as_str(), kid2.as_str()], "both published during the overlap");
    for token in [&first, &second] {
        assert_eq!(gw.client().get(gw.url("/me")).bearer_auth(token).send().await.unwrap().status(), 200);
    }

    // An operator's RSA key: RS256 from now on; the P-256 keys stay published.
    let pem = rsa_pem(gw.dir.path());
    let (status, imported) =
        gw.admin_json(Method::POST, "/user-pools/main/signing-keys", Some(json!({"private_key_pem": pem}))).await;
    assert_eq!(status, 200, "{imported}");
    let third = access(&sign_in(&gw, "ivy", "Correct-h0rse").await.2);
    let header = claims_header(&third);
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("RS256"), imported["kid"].as_str()));
    assert_eq!(gw.client().get(gw.url("/me")).bearer_auth(&third).send().await.unwrap().status(), 200);
    assert_eq!(gw.client().get(gw.url("/me")).bearer_auth(&first).send().await.unwrap().status(), 200);
    let (status, refused) = gw
        .admin_json(Method::POST, "/user-pools/main/signing-keys", Some(json!({"private_key_pem": "not a key"})))
        .await;
    assert_eq!(status, 400, "{refused}");

    // Audited, without the key.
    let (_, audit) = gw.admin_json(Method::GET, "/audit?limit=100", None).await;
    let text = audit.to_string();
    assert!(text.contains("user-pools.RotateSigningKey"), "{text}");
    assert!(!text.contains("PRIVATE KEY") && !text.contains(&pem[40..80]), "the key reached the audit trail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_key_is_unpublished_after_the_overlap() {
    use reqwest::Method;
    let upstream = Upstream::start().await;
    let gw = Gw::start(
        &config(&upstream.url()).replace("    mfa: optional\n", "    mfa: optional\n    signing_key_overlap: 1s\n"),
    );
    sign_up_confirmed(&gw, "joe", "Correct-h0rse").await;
    let old = sign_in(&gw, "joe", "Correct-h0rse").await.2["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotate = || gw.admin_json(Method::POST, "/user-pools/main/signing-keys", None);
    let kid2 = rotate().await.1["kid"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let kid3 = rotate().await.1["kid"].as_str().unwrap().to_owned();
    let jwks: Value =
        gw.client().get(gw.url("/auth/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids, [kid2.as_str(), kid3.as_str()], "the first key's overlap ended");
    // Its tokens no longer open the route.
    assert_eq!(gw.client().get(gw.url("/me")).bearer_auth(&old).send().await.unwrap().status(), 401);
}

/// A mail server in the test process: it speaks SMTP's plain-text dialogue (RFC 5321) and
/// keeps each message's recipients and data.
#[derive(Clone, Default)]
struct MailSink {
    messages: std::sync::Arc<std::sync::Mutex<Vec<Mail>>>,
}

/// A message's `RCPT` lines and its data.
type Mail = (Vec<String>, String);

impl MailSink {
    async fn start(&self) -> std::net::SocketAddr {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = self.messages.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let (read, mut write) = tcp.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                messages.lock().unwrap().push((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
                                write.write_all(b"250 queued\r\n").await.ok();
                            } else {
                                data.push_str(&line);
                                data.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "RCPT" => {
                                rcpt.push(line.clone());
                                b"250 ok\r\n"
                            }
                            "DATA" => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok();
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        write.write_all(answer).await.ok();
                    }
                });
            }
        });
        addr
    }

    fn messages(&self) -> Vec<Mail> {
        self.messages.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_e_mailed_through_an_smtp_server() {
    let upstream = Upstream::start().await;
    let sink = MailSink::default();
    let smtp = sink.start().await;
    let text = config(&upstream.url()).replace(
        "    mfa: optional\n",
        &format!(
            "    mfa: optional\n    code_delivery:\n      type: smtp\n      smtp: {{ host: 127.0.0.1, port: {}, security: none, from: 'Pets <no-reply@pets.example>' }}\n",
            smtp.port()
        ),
    );
    let gw = Gw::start(&text);
    // Without an address there is nowhere to send the code: refused before anything is stored.
    let (_, kind, _) =
        call(&gw, "SignUp", json!({"ClientId": "web", "Username": "kim", "Password": "Correct-h0rse"})).await;
    assert_eq!(kind, "InvalidParameterException");
    let (status, _, body) = call(
        &gw,
        "SignUp",
        json!({"ClientId": "web", "Username": "kim", "Password": "Correct-h0rse",
               "UserAttributes": [{"Name": "email", "Value": "kim@example.com"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let (rcpt, data) = &messages[0];
    assert!(rcpt.iter().any(|r| r.contains("<kim@example.com>")), "{rcpt:?}");
    assert!(data.contains("Subject: Your verification code"), "{data}");
    let code = data.split("Your code to confirm your account is ").nth(1).and_then(|r| r.get(..6)).unwrap().to_owned();
    assert!(!gw.stderr_lines().iter().any(|l| l.contains(&code)), "the code is not in the log");
    let (status, _, _) =
        call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "kim", "ConfirmationCode": code})).await;
    assert_eq!(status, 200);
    assert_eq!(sign_in(&gw, "kim", "Correct-h0rse").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_posted_to_a_webhook() {
    use http_body_util::BodyExt as _;
    let upstream = Upstream::start().await;
    let received: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = std::sync::Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    let seen = received.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        seen.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::new(),
                        )))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
            });
        }
    });
    let text = config(&upstream.url()).replace(
        "    mfa: optional\n",
        &format!("    mfa: optional\n    code_delivery: {{ type: webhook, url: 'http://{hook}/codes' }}\n"),
    );
    let gw = Gw::start(&text);
    let (status, _, _) = call(
        &gw,
        "SignUp",
        json!({"ClientId": "web", "Username": "lee", "Password": "Correct-h0rse",
               "UserAttributes": [{"Name": "email", "Value": "lee@example.com"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0]["username"].as_str(), got[0]["purpose"].as_str()), (Some("lee"), Some("confirm")));
    assert_eq!(got[0]["email"], "lee@example.com");
    let code = got[0]["code"].as_str().unwrap().to_owned();
    let (status, _, _) =
        call(&gw, "ConfirmSignUp", json!({"ClientId": "web", "Username": "lee", "ConfirmationCode": code})).await;
    assert_eq!(status, 200);
}
