//! A pool's HTTP surface, under the route that serves it:
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.OP` | Cognito's JSON protocol: `SignUp`, `ConfirmSignUp`, `ResendConfirmationCode`, `InitiateAuth`, `RespondToAuthChallenge`, `ForgotPassword`, `ConfirmForgotPassword`, `ChangePassword`, `AssociateSoftwareToken`, `VerifySoftwareToken`, `GetUser`, `GlobalSignOut`, `RevokeToken` |
//! | `GET /.well-known/openid-configuration` | the discovery document |
//! | `GET /.well-known/jwks.json` | the signing keys |
//! | `GET /oauth2/userInfo` | the bearer's attributes |
//! | `POST /oauth2/token` | `grant_type=refresh_token` |
//! | `POST /oauth2/revoke` | revokes a refresh token's family |
//!
//! Cognito's SDKs speak the first form unchanged; the rest is OAuth 2.0 and OpenID Connect.

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{oauth, page, Caller, PoolError, SignIn, Tokens, UserPool};

/// A request to a pool, as the gateway hands it over.
#[derive(Debug)]
pub struct PoolRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path under the route's mount point, from `/`.
    pub path: &'a str,
    /// The mount point: the request's path without `path` (`/auth`), for the hosted page's
    /// links.
    pub base: &'a str,
    /// The query string, if any.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
    /// The client's address.
    pub source: IpAddr,
    /// The request's time, ms since the epoch.
    pub now_ms: i64,
}

/// A pool's answer.
#[derive(Debug)]
pub struct PoolResponse {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
    /// The body.
    pub body: Vec<u8>,
}

const AMZ_JSON: &str = "application/x-amz-json-1.1";
const JSON: &str = "application/json";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

impl PoolResponse {
    fn json(status: u16, content_type: &'static str, body: &Value) -> Self {
        Self { status, content_type, headers: Vec::new(), body: body.to_string().into_bytes() }
    }

    /// Cognito's error form: `{"__type": …, "message": …}` and `x-amzn-ErrorType`.
    fn error(e: &PoolError) -> Self {
        if let PoolError::Internal(detail) = e {
            tracing::error!(error = %detail, "user pool: internal error");
        }
        let mut r = Self::json(e.status(), AMZ_JSON, &json!({"__type": e.kind(), "message": e.to_string()}));
        if let Ok(v) = HeaderValue::from_str(e.kind()) {
            r.headers.push((http::HeaderName::from_static("x-amzn-errortype"), v));
        }
        r
    }

    /// OAuth 2.0's error form (RFC 6749 §5.2).
    fn oauth_error(status: u16, error: &str) -> Self {
        Self::json(status, JSON, &json!({"error": error}))
    }
}

/// Answers one request to `pool`.
pub async fn handle(pool: &UserPool, req: PoolRequest<'_>) -> PoolResponse {
    let get = req.method == Method::GET || req.method == Method::HEAD;
    match (req.path, get) {
        ("/" | "", false) if req.method == Method::POST => match cognito(pool, &req).await {
            Ok(v) => PoolResponse::json(200, AMZ_JSON, &v),
            Err(e) => PoolResponse::error(&e),
        },
        ("/.well-known/openid-configuration", true) => PoolResponse::json(200, JSON, &discovery(pool)),
        ("/.well-known/jwks.json", true) => PoolResponse {
            status: 200,
            content_type: JSON,
            headers: vec![(http::header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"))],
            body: pool.signer().jwks().as_bytes().to_vec(),
        },
        ("/oauth2/userInfo", _) => user_info(pool, &req).await,
        ("/oauth2/authorize", true) => authorize(pool, &req).await,
        ("/oauth2/idp", true) => federate(pool, &req).await,
        ("/oauth2/idpresponse", true) => federation_response(pool, &req).await,
        ("/login", false) => login(pool, &req).await,
        ("/login/mfa", false) => login_mfa(pool, &req).await,
        ("/oauth2/token", false) => token_endpoint(pool, &req).await,
        ("/oauth2/revoke", false) => revoke_endpoint(pool, &req).await,
        _ => PoolResponse::json(404, JSON, &json!({"message": "Not Found"})),
    }
}

fn discovery(pool: &UserPool) -> Value {
    let iss = pool.config().issuer.trim_end_matches('/');
    json!({
        "issuer": pool.config().issuer,
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userInfo"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": ["openid", "email", "profile", super::SIGNIN_SCOPE],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "email", "email_verified",
                             "cognito:username", "cognito:groups"],
    })
}

/// Cognito's JSON protocol.
async fn cognito(pool: &UserPool, req: &PoolRequest<'_>) -> Result<Value, PoolError> {
    let target = req.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let op = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let body: Value = serde_json::from_slice(req.body)
        .map_err(|e| PoolError::InvalidParameter(format!("the body is not JSON: {e}")))?;
    // A confidential client proves its secret at the token endpoint; the pool keeps only the
    // secret's hash, so it cannot check Cognito's SECRET_HASH here, and refuses instead.
    if let Some(id) = body.get("ClientId").and_then(Value::as_str) {
        if pool.config().clients.iter().any(|c| c.id == id && c.secret_sha256.is_some()) {
            return Err(PoolError::NotAuthorized(
                "Unable to verify secret hash for client: use the OAuth 2.0 token endpoint",
            ));
        }
    }
    let now = req.now_ms;
    match op {
        "SignUp" => {
            let r: SignUpReq = parse(body)?;
            let attrs: Vec<(String, String)> = r.user_attributes.into_iter().map(|a| (a.name, a.value)).collect();
            pool.sign_up(&r.client_id, &r.username, &r.password, &attrs, now).await
        }
        "ConfirmSignUp" => {
            let r: CodeReq = parse(body)?;
            pool.confirm_sign_up(&r.client_id, &r.username, &r.confirmation_code, now).await.map(|()| json!({}))
        }
        "ResendConfirmationCode" => {
            let r: UserReq = parse(body)?;
            pool.resend_code(&r.client_id, &r.username, now).await
        }
        "ForgotPassword" => {
            let r: UserReq = parse(body)?;
            pool.forgot_password(&r.client_id, &r.username, now).await
        }
        "ConfirmForgotPassword" => {
            let r: ResetReq = parse(body)?;
            pool.confirm_forgot_password(&r.client_id, &r.username, &r.confirmation_code, &r.password, now)
                .await
                .map(|()| json!({}))
        }
        "InitiateAuth" => initiate_auth(pool, parse(body)?, req.source, now).await,
        "RespondToAuthChallenge" => {
            let r: ChallengeReq = parse(body)?;
            if r.challenge_name != "SOFTWARE_TOKEN_MFA" {
                return Err(PoolError::InvalidParameter(format!("Unknown challenge {}", r.challenge_name)));
            }
            let code = r.challenge_responses.get("SOFTWARE_TOKEN_MFA_CODE").and_then(Value::as_str).unwrap_or("");
            pool.answer_mfa(&r.client_id, &r.session, code, now).await.map(|t| authentication_result(&t))
        }
        "RevokeToken" => {
            let r: RevokeReq = parse(body)?;
            pool.revoke(&r.client_id, &r.token).await.map(|()| json!({}))
        }
        "ChangePassword" | "AssociateSoftwareToken" | "VerifySoftwareToken" | "GetUser" | "GlobalSignOut" => {
            let token = body.get("AccessToken").and_then(Value::as_str).unwrap_or("");
            let caller = pool.caller(token, now).await?;
            with_caller(pool, op, &caller, &body, now).await
        }
        other => Err(PoolError::UnknownOperation(other.to_owned())),
    }
}

/// The operations of a signed-in user, named by their access token.
async fn with_caller(pool: &UserPool, op: &str, caller: &Caller, body: &Value, now: i64) -> Result<Value, PoolError> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    match op {
        "ChangePassword" => pool
            .change_password(caller, &text("PreviousPassword"), &text("ProposedPassword"), now)
            .await
            .map(|()| json!({})),
        "AssociateSoftwareToken" => pool.associate_totp(caller, now).await,
        "VerifySoftwareToken" => pool.verify_totp(caller, &text("UserCode"), now).await,
        "GlobalSignOut" => pool.sign_out_everywhere(caller).await.map(|()| json!({})),
        _ => {
            let attrs = UserPool::attributes_of(&caller.user);
            let list: Vec<Value> = attrs.iter().map(|(k, v)| json!({"Name": k, "Value": as_text(v)})).collect();
            Ok(json!({"Username": caller.user.username, "UserAttributes": list,
                      "MFAOptions": [], "PreferredMfaSetting": if caller.user.mfa_enabled { "SOFTWARE_TOKEN_MFA" } else { "" }}))
        }
    }
}

async fn initiate_auth(pool: &UserPool, r: AuthReq, source: IpAddr, now: i64) -> Result<Value, PoolError> {
    let param = |name: &str| r.auth_parameters.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    match r.auth_flow.as_str() {
        "USER_PASSWORD_AUTH" => {
            match pool.sign_in(&r.client_id, &param("USERNAME"), &param("PASSWORD"), source, now).await? {
                SignIn::Tokens(t) => Ok(authentication_result(&t)),
                SignIn::Mfa { session } => {
                    Ok(json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": session, "ChallengeParameters": {}}))
                }
            }
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
            pool.refresh(&r.client_id, &param("REFRESH_TOKEN"), now).await.map(|t| authentication_result(&t))
        }
        other => Err(PoolError::InvalidParameter(format!("Unsupported auth flow {other}"))),
    }
}

fn authentication_result(t: &Tokens) -> Value {
    json!({"AuthenticationResult": {"AccessToken": t.access, "IdToken": t.id, "RefreshToken": t.refresh,
                                     "ExpiresIn": t.expires_in, "TokenType": "Bearer"},
           "ChallengeParameters": {}})
}

/// `/oauth2/userInfo`: the bearer's attributes, or RFC 6750's challenge.
async fn user_info(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let token = req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    match pool.caller(token, req.now_ms).await {
        Ok(c) => {
            let mut attrs = UserPool::attributes_of(&c.user);
            attrs.insert("username".into(), json!(c.user.username));
            PoolResponse::json(200, JSON, &Value::Object(attrs))
        }
        Err(PoolError::Internal(e)) => PoolResponse::error(&PoolError::Internal(e)),
        Err(_) => {
            let mut r = PoolResponse::json(401, JSON, &json!({"error": "invalid_token"}));
            r.headers.push((
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer error="invalid_token", error_description="Access token is expired, disabled, or deleted, or the user has globally signed out.""#,
                ),
            ));
            r
        }
    }
}

/// `/oauth2/authorize`: the sign-in page for a good request, or straight to the provider it
/// names in `identity_provider`.
async fn authorize(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let params = oauth::params(req.query.unwrap_or("").as_bytes());
    match pool.authorize_request(&params) {
        Ok(r) => match params.get("identity_provider") {
            Some(name) => to_provider(pool, req, &r, name).await,
            None => sign_in_page(pool, req, &r, None),
        },
        Err(e) => auth_error(pool, e),
    }
}

fn sign_in_page(pool: &UserPool, req: &PoolRequest<'_>, r: &oauth::AuthRequest, error: Option<&str>) -> PoolResponse {
    let providers: Vec<&str> = pool.config().identity_providers.iter().map(|i| i.name.as_str()).collect();
    page::sign_in(&pool.config().name, req.base, r, &providers, error)
}

/// `/oauth2/idp?provider=NAME&…`: the hosted page's "Sign in with NAME".
async fn federate(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let params = oauth::params(req.query.unwrap_or("").as_bytes());
    match pool.authorize_request(&params) {
        Ok(r) => to_provider(pool, req, &r, params.get("provider").map_or("", String::as_str)).await,
        Err(e) => auth_error(pool, e),
    }
}

async fn to_provider(pool: &UserPool, req: &PoolRequest<'_>, r: &oauth::AuthRequest, name: &str) -> PoolResponse {
    match pool.federate(r, name, req.now_ms).await {
        Ok(location) => page::redirect(&location),
        Err(PoolError::Internal(e)) => {
            tracing::error!(provider = name, error = %e, "user pool: the identity provider cannot be reached");
            page::refused(&pool.config().name, "The identity provider cannot be reached. Please try again later.")
        }
        Err(e) => sign_in_page(pool, req, r, Some(&e.to_string())),
    }
}

/// `/oauth2/idpresponse`: back from the provider; on to the app with the pool's code.
async fn federation_response(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let params = oauth::params(req.query.unwrap_or("").as_bytes());
    match pool.federation_response(&params, req.now_ms).await {
        Ok((r, Ok(code))) => {
            page::redirect(&oauth::redirect_to(&r.redirect_uri, &[("code", &code), ("state", &r.state)]))
        }
        Ok((r, Err(_provider_error))) => {
            page::redirect(&oauth::redirect_to(&r.redirect_uri, &[("error", "access_denied"), ("state", &r.state)]))
        }
        Err(PoolError::Internal(e)) => {
            tracing::error!(error = %e, "user pool: federated sign-in failed");
            page::refused(&pool.config().name, "The sign-in with the identity provider failed. Please try again.")
        }
        Err(e) => page::refused(&pool.config().name, &e.to_string()),
    }
}

fn auth_error(pool: &UserPool, e: oauth::AuthError) -> PoolResponse {
    match e {
        oauth::AuthError::Page(why) => page::refused(&pool.config().name, &why),
        oauth::AuthError::Redirect { redirect_uri, error, state } => {
            page::redirect(&oauth::redirect_to(&redirect_uri, &[("error", error), ("state", &state)]))
        }
    }
}

/// `/login`: the hosted page's form. The request it carries is checked again.
async fn login(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let form = oauth::params(req.body);
    let r = match pool.authorize_request(&form) {
        Ok(r) => r,
        Err(e) => return auth_error(pool, e),
    };
    let field = |k: &str| form.get(k).map_or("", String::as_str);
    let name = &pool.config().name;
    match pool.hosted_sign_in(&r, field("username"), field("password"), req.source, req.now_ms).await {
        Ok(Ok(code)) => page::redirect(&oauth::redirect_to(&r.redirect_uri, &[("code", &code), ("state", &r.state)])),
        Ok(Err(session)) => page::mfa(name, req.base, &r, &session, None),
        Err(PoolError::Internal(e)) => PoolResponse::error(&PoolError::Internal(e)),
        Err(e) => sign_in_page(pool, req, &r, Some(&e.to_string())),
    }
}

/// `/login/mfa`: the TOTP step of the hosted page.
async fn login_mfa(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let form = oauth::params(req.body);
    let r = match pool.authorize_request(&form) {
        Ok(r) => r,
        Err(e) => return auth_error(pool, e),
    };
    let field = |k: &str| form.get(k).map_or("", String::as_str);
    let name = &pool.config().name;
    match pool.hosted_mfa(&r, field("session"), field("code"), req.now_ms).await {
        Ok(code) => page::redirect(&oauth::redirect_to(&r.redirect_uri, &[("code", &code), ("state", &r.state)])),
        Err(PoolError::Internal(e)) => PoolResponse::error(&PoolError::Internal(e)),
        Err(e @ PoolError::CodeMismatch) => page::mfa(name, req.base, &r, field("session"), Some(&e.to_string())),
        Err(e) => sign_in_page(pool, req, &r, Some(&e.to_string())),
    }
}

/// `/oauth2/token`: `authorization_code`, `refresh_token` and `client_credentials`,
/// form-encoded, the client authenticated by `client_secret_basic` or `client_secret_post`
/// (public clients: `client_id` alone).
async fn token_endpoint(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let form = oauth::params(req.body);
    let field = |k: &str| form.get(k).map_or("", String::as_str);
    let authorization = req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let result = async {
        let grant = field("grant_type");
        if !matches!(grant, "authorization_code" | "refresh_token" | "client_credentials") {
            return Err(if grant.is_empty() { None } else { Some("unsupported_grant_type") });
        }
        let client = pool.token_client(authorization, &form).map_err(|e| Some(e.code().1))?;
        let tokens = match grant {
            "authorization_code" => pool
                .redeem_code(client, field("code"), field("redirect_uri"), field("code_verifier"), req.now_ms)
                .await
                .map_err(|e| oauth_failure(&e))?,
            "refresh_token" => {
                pool.refresh(&client.id, field("refresh_token"), req.now_ms).await.map_err(|e| match e {
                    PoolError::Internal(d) => oauth_failure(&oauth::OAuthError::Internal(PoolError::Internal(d))),
                    PoolError::InvalidParameter(_) => Some("unauthorized_client"),
                    _ => Some("invalid_grant"),
                })?
            }
            _ => return pool.client_credentials(client, field("scope"), req.now_ms).map_err(|e| oauth_failure(&e)),
        };
        Ok(json!({"access_token": tokens.access, "id_token": tokens.id, "refresh_token": tokens.refresh,
                  "token_type": "Bearer", "expires_in": tokens.expires_in}))
    }
    .await;
    match result {
        Ok(mut body) => {
            if body["id_token"].is_null() {
                body.as_object_mut().map(|o| o.remove("id_token"));
            }
            let mut r = PoolResponse::json(200, JSON, &body);
            r.headers.push((http::header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
            r
        }
        Err(None) => PoolResponse::oauth_error(400, "invalid_request"),
        Err(Some("invalid_client")) => {
            let mut r = PoolResponse::oauth_error(401, "invalid_client");
            r.headers.push((http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic")));
            r
        }
        Err(Some("server_error")) => PoolResponse::oauth_error(500, "server_error"),
        Err(Some(code)) => PoolResponse::oauth_error(400, code),
    }
}

/// The `error` of a failed grant; internal failures are logged here.
fn oauth_failure(e: &oauth::OAuthError) -> Option<&'static str> {
    if let oauth::OAuthError::Internal(PoolError::Internal(detail)) = e {
        tracing::error!(error = %detail, "user pool: token endpoint failed");
    }
    Some(e.code().1)
}

/// `/oauth2/revoke` (RFC 7009): `token` and `client_id`, form-encoded.
async fn revoke_endpoint(pool: &UserPool, req: &PoolRequest<'_>) -> PoolResponse {
    let form = oauth::params(req.body);
    let token = form.get("token").map_or("", String::as_str);
    if token.is_empty() {
        return PoolResponse::oauth_error(400, "invalid_request");
    }
    // A confidential client authenticates, as at the token endpoint (RFC 7009 §2.1).
    let authorization = req.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Ok(client) = pool.token_client(authorization, &form) else {
        return PoolResponse::oauth_error(401, "invalid_client");
    };
    match pool.revoke(&client.id, token).await {
        Ok(()) => PoolResponse { status: 200, content_type: JSON, headers: Vec::new(), body: Vec::new() },
        Err(PoolError::InvalidParameter(_)) => PoolResponse::oauth_error(401, "invalid_client"),
        Err(e) => PoolResponse::error(&e),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, PoolError> {
    serde_json::from_value(body).map_err(|e| PoolError::InvalidParameter(e.to_string()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignUpReq {
    client_id: String,
    username: String,
    password: String,
    #[serde(default)]
    user_attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserReq {
    client_id: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeReq {
    client_id: String,
    username: String,
    confirmation_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResetReq {
    client_id: String,
    username: String,
    confirmation_code: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthReq {
    auth_flow: String,
    client_id: String,
    #[serde(default)]
    auth_parameters: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChallengeReq {
    client_id: String,
    challenge_name: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    challenge_responses: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevokeReq {
    client_id: String,
    token: String,
}
