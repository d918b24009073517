//! OAuth 2.0's browser flow and client grants (reference §4.5): `/oauth2/authorize` checks the
//! request and shows the hosted sign-in page, `/login` signs the user in and sends the browser
//! back with a code, and `/oauth2/token` exchanges the code (with its PKCE verifier) or, for
//! confidential clients, their credentials for tokens.
//!
//! ```text
//!   GET /oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state&nonce
//!       &code_challenge&code_challenge_method=S256
//!     client unknown, redirect_uri not registered        → 400 page (never a redirect)
//!     anything else wrong                                → 302 redirect_uri?error=…&state=…
//!     ok                                                 → the sign-in page
//!   POST /login (name, password, the request again)     → 302 redirect_uri?code=…&state=…
//!   POST /oauth2/token grant_type=authorization_code     → tokens (code once, within 5 min)
//! ```
//!
//! A code is an HMAC-signed statement of the request, good once: its id is stored when it is
//! issued and deleted when it is used, so two exchanges of one code cannot both succeed.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use model::{ClientConfig, OAuthFlow};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use store::{PoolCode, PoolStore as _};
use subtle::ConstantTimeEq as _;

use super::{has_scope, Checked, Grant, PoolError, Tokens, UserPool};

/// How long a code is good for (Cognito: 5 minutes).
const CODE_MS: i64 = 5 * 60 * 1000;

/// A checked authorization request.
#[derive(Debug, Clone)]
pub(super) struct AuthRequest {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) state: String,
    pub(super) scope: String,
    pub(super) nonce: String,
    pub(super) code_challenge: String,
}

/// Why an authorization request fails.
#[derive(Debug)]
pub(super) enum AuthError {
    /// The client or redirect URI cannot be trusted: shown, never redirected to.
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect { redirect_uri: String, error: &'static str, state: String },
}

/// The parameters of a query string or form.
pub(super) fn params(text: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(text).into_owned().collect()
}

impl UserPool {
    /// Checks an authorization request's parameters.
    pub(super) fn authorize_request(&self, p: &HashMap<String, String>) -> Result<AuthRequest, AuthError> {
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let client_id = get("client_id");
        let redirect_uri = get("redirect_uri");
        let client = self
            .cfg
            .clients
            .iter()
            .find(|c| c.id == client_id)
            .ok_or_else(|| AuthError::Page("This application is not known to the user pool.".into()))?;
        if !client.callback_urls.contains(&redirect_uri) {
            return Err(AuthError::Page("The redirect address is not registered for this application.".into()));
        }
        let state = get("state");
        let fail = |error| AuthError::Redirect { redirect_uri: redirect_uri.clone(), error, state: state.clone() };
        if get("response_type") != "code" {
            return Err(fail("unsupported_response_type"));
        }
        if !client.oauth_flows.contains(&OAuthFlow::Code) {
            return Err(fail("unauthorized_client"));
        }
        let challenge = get("code_challenge");
        let method = get("code_challenge_method");
        // Cognito takes S256 only; a public client must use PKCE.
        let pkce_ok = match (challenge.is_empty(), method.as_str()) {
            (true, "") => client.secret_sha256.is_some(),
            (false, "S256") => challenge.len() == 43 && URL_SAFE_NO_PAD.decode(&challenge).is_ok(),
            _ => false,
        };
        if !pkce_ok {
            return Err(fail("invalid_request"));
        }
        let requested = get("scope");
        let scope = if requested.trim().is_empty() {
            client.allowed_scopes.join(" ")
        } else if requested.split_ascii_whitespace().all(|s| client.allowed_scopes.iter().any(|a| a == s)) {
            requested.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            return Err(fail("invalid_scope"));
        };
        Ok(AuthRequest { client_id, redirect_uri, state, scope, nonce: get("nonce"), code_challenge: challenge })
    }

    /// The hosted page's sign-in: the user, or the MFA challenge's session.
    pub(super) async fn hosted_sign_in(
        &self,
        r: &AuthRequest,
        username: &str,
        password: &str,
        source: IpAddr,
        now_ms: i64,
    ) -> Result<Result<String, String>, PoolError> {
        match self.check_password(&r.client_id, username, password, source, now_ms).await? {
            Checked::Done(user) => self.new_code(r, &user.sub, now_ms, now_ms).await.map(Ok),
            Checked::Mfa { session } => Ok(Err(session)),
        }
    }

    /// The hosted page's TOTP step.
    pub(super) async fn hosted_mfa(
        &self,
        r: &AuthRequest,
        session: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<String, PoolError> {
        let (user, auth_time_ms) = self.check_mfa(&r.client_id, session, code, now_ms).await?;
        self.new_code(r, &user.sub, auth_time_ms, now_ms).await
    }

    /// A code for `sub` and this request, recorded so that it is used once.
    pub(super) async fn new_code(
        &self,
        r: &AuthRequest,
        sub: &str,
        auth_time_ms: i64,
        now_ms: i64,
    ) -> Result<String, PoolError> {
        let id = uuid::Uuid::new_v4().to_string();
        let expires = now_ms + CODE_MS;
        let statement = json!({"id": id, "sub": sub, "client": r.client_id, "redirect_uri": r.redirect_uri,
            "scope": r.scope, "nonce": r.nonce, "challenge": r.code_challenge, "auth_time": auth_time_ms, "exp": expires});
        let body = URL_SAFE_NO_PAD.encode(statement.to_string());
        self.store()
            .pool_code_put(&PoolCode {
                pool: self.cfg.name.clone(),
                sub: id,
                purpose: "authorization_code".into(),
                code_hash: String::new(),
                expires_ms: expires,
                attempts: 0,
            })
            .await?;
        Ok(format!("{body}.{}", self.mac(&["authorization-code", &body])))
    }

    /// The `authorization_code` grant.
    pub(super) async fn redeem_code(
        &self,
        client: &ClientConfig,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        now_ms: i64,
    ) -> Result<Tokens, OAuthError> {
        let (body, mac) = code.rsplit_once('.').ok_or(OAuthError::Grant)?;
        if !bool::from(self.mac(&["authorization-code", body]).as_bytes().ct_eq(mac.as_bytes())) {
            return Err(OAuthError::Grant);
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| OAuthError::Grant)?;
        let s: Value = serde_json::from_slice(&bytes).map_err(|_| OAuthError::Grant)?;
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
        let number = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
        if text("client") != client.id || text("redirect_uri") != redirect_uri || number("exp") <= now_ms {
            return Err(OAuthError::Grant);
        }
        let challenge = text("challenge");
        if !challenge.is_empty() {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::Grant);
            }
        }
        // Used once: whoever deletes the code's record first gets the tokens.
        if !self.store().pool_code_delete(&self.cfg.name, text("id"), "authorization_code").await? {
            return Err(OAuthError::Grant);
        }
        let user = self.store().pool_user(&self.cfg.name, text("sub")).await?;
        let user = user.filter(|u| u.enabled).ok_or(OAuthError::Grant)?;
        let scope = text("scope");
        let nonce = Some(text("nonce")).filter(|n| !n.is_empty());
        let grant = Grant { scope, nonce, id_token: has_scope(scope, "openid") };
        Ok(self.issue(&user, &client.id, number("auth_time"), now_ms, &grant).await?)
    }

    /// The `client_credentials` grant: an access token for the client itself, with the
    /// resource servers' scopes it asks for (all it may have, when it names none).
    pub(super) fn client_credentials(
        &self,
        client: &ClientConfig,
        requested: &str,
        now_ms: i64,
    ) -> Result<Value, OAuthError> {
        if !client.oauth_flows.contains(&OAuthFlow::ClientCredentials) {
            return Err(OAuthError::UnauthorizedClient);
        }
        let custom: Vec<&str> = client.allowed_scopes.iter().map(String::as_str).filter(|s| s.contains('/')).collect();
        let scopes: Vec<&str> =
            if requested.trim().is_empty() { custom.clone() } else { requested.split_ascii_whitespace().collect() };
        if scopes.is_empty() || scopes.iter().any(|s| !custom.contains(s)) {
            return Err(OAuthError::Scope);
        }
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let ttl = client.access_token_ttl.as_std().as_secs();
        let mut claims = serde_json::Map::new();
        for (k, v) in [
            ("sub", json!(client.id)),
            ("iss", json!(self.cfg.issuer)),
            ("client_id", json!(client.id)),
            ("token_use", json!("access")),
            ("scope", json!(scopes.join(" "))),
            ("auth_time", json!(now_s)),
            ("iat", json!(now_s)),
            ("exp", json!(now_s + ttl)),
            ("jti", json!(uuid::Uuid::new_v4().to_string())),
        ] {
            claims.insert(k.into(), v);
        }
        let token = self.signer().sign(&claims)?;
        Ok(json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl}))
    }

    /// The client a token request authenticates as: `client_secret_basic`, `client_secret_post`,
    /// or a public client's `client_id` alone. A confidential client must give its secret.
    pub(super) fn token_client(
        &self,
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Result<&ClientConfig, OAuthError> {
        let basic = authorization.and_then(|h| {
            let encoded = h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic "))?;
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (id, secret) = text.split_once(':')?;
            let unescape =
                |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Some((unescape(id)?, unescape(secret)?))
        });
        let (id, secret) = match basic {
            Some((id, secret)) => (id, Some(secret)),
            None => (form.get("client_id").cloned().unwrap_or_default(), form.get("client_secret").cloned()),
        };
        let client = self.cfg.clients.iter().find(|c| c.id == id).ok_or(OAuthError::Client)?;
        match (&client.secret_sha256, secret) {
            (None, None) => Ok(client),
            (Some(want), Some(given)) => {
                let got = hex::encode(Sha256::digest(given.as_bytes()));
                if bool::from(got.as_bytes().ct_eq(want.to_ascii_lowercase().as_bytes())) {
                    Ok(client)
                } else {
                    Err(OAuthError::Client)
                }
            }
            _ => Err(OAuthError::Client),
        }
    }
}

/// OAuth 2.0's token-endpoint errors (RFC 6749 §5.2).
#[derive(Debug)]
pub(super) enum OAuthError {
    /// `invalid_client`: unknown, or the wrong or a missing secret.
    Client,
    /// `invalid_grant`: the code or refresh token is bad, used, expired or not this client's.
    Grant,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `invalid_scope`.
    Scope,
    /// The store or the KMS failed.
    Internal(PoolError),
}

impl From<PoolError> for OAuthError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Internal(_) => Self::Internal(e),
            _ => Self::Grant,
        }
    }
}

impl From<store::StoreError> for OAuthError {
    fn from(e: store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl OAuthError {
    /// The `error` code and status.
    pub(super) fn code(&self) -> (u16, &'static str) {
        match self {
            Self::Client => (401, "invalid_client"),
            Self::Grant => (400, "invalid_grant"),
            Self::UnauthorizedClient => (400, "unauthorized_client"),
            Self::Scope => (400, "invalid_scope"),
            Self::Internal(_) => (500, "server_error"),
        }
    }
}

/// `redirect_uri` with `params` added to its query.
pub(super) fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.is_empty() {
            query.append_pair(k, v);
        }
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", query.finish())
}
