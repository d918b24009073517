//! Federation: a pool's users may sign in with an outside OpenID Connect provider.
//!
//! ```text
//!   hosted page "Sign in with corp"  (or /oauth2/authorize?identity_provider=corp)
//!     → /oauth2/idp: the app's request checked, kept in the store under a random id with a
//!       PKCE verifier; the browser goes to the provider with state = that id, signed
//!     → the provider signs the person in, back to ISSUER/oauth2/idpresponse?code&state
//!     → state checked and used up; code exchanged (client secret + PKCE verifier); the ID
//!       token verified with the provider's keys (iss, aud, exp, nonce); its claims mapped to
//!       attributes; the pool user `corp_SUB` created or updated
//!     → the app's redirect URI with the pool's own code, as after a password sign-in
//! ```
//!
//! The provider is found through discovery on first use, its keys fetched again when a token
//! names an unknown key.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use model::IdentityProviderConfig;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use store::{PoolCode, PoolStore as _, PoolUser};
use subtle::ConstantTimeEq as _;
use tokio::sync::Mutex;

use super::oauth::AuthRequest;
use super::{PoolError, UserPool};
use crate::jwt::{KeySet, Policy, Rejection, Token};

/// How long a person may take at the provider.
const STATE_MS: i64 = 10 * 60 * 1000;
/// Each request to a provider.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read from a provider.
const MAX_BODY: usize = 256 * 1024;

/// One outside provider, discovered on first use.
#[derive(Debug)]
pub(super) struct Idp {
    pub(super) cfg: IdentityProviderConfig,
    client: reqwest::Client,
    found: Mutex<Option<Found>>,
}

#[derive(Debug, Clone)]
struct Found {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    keys: Arc<KeySet>,
}

impl Idp {
    pub(super) fn new(cfg: IdentityProviderConfig) -> Result<Self, PoolError> {
        let client = crate::http_client::client(TIMEOUT, cfg.ca_file.as_deref()).map_err(PoolError::Internal)?;
        Ok(Self { cfg, client, found: Mutex::new(None) })
    }

    /// The provider's endpoints and keys; `refresh` fetches the keys again.
    async fn found(&self, refresh: bool) -> Result<Found, PoolError> {
        let mut found = self.found.lock().await;
        if let Some(f) = found.as_mut().filter(|_| !refresh) {
            return Ok(f.clone());
        }
        let f = match found.as_ref() {
            Some(f) => Found { keys: Arc::new(self.keys(&f.jwks_uri).await?), ..f.clone() },
            None => self.discover().await?,
        };
        *found = Some(f.clone());
        Ok(f)
    }

    async fn discover(&self) -> Result<Found, PoolError> {
        let issuer = &self.cfg.issuer;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let doc: Value = serde_json::from_slice(&self.get(&url).await?).map_err(|e| fail(&url, e))?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        if text("issuer") != *issuer {
            return Err(PoolError::Internal(format!("{url} names the issuer {:?}", text("issuer"))));
        }
        let (authorization_endpoint, token_endpoint, jwks_uri) =
            (text("authorization_endpoint"), text("token_endpoint"), text("jwks_uri"));
        for u in [&authorization_endpoint, &token_endpoint, &jwks_uri] {
            if let Some(why) = model::provider_url_issue(u, true) {
                return Err(PoolError::Internal(format!("{url}: {u:?}: {why}")));
            }
        }
        let keys = Arc::new(self.keys(&jwks_uri).await?);
        Ok(Found { authorization_endpoint, token_endpoint, jwks_uri, keys })
    }

    async fn keys(&self, jwks_uri: &str) -> Result<KeySet, PoolError> {
        KeySet::parse(&self.get(jwks_uri).await?).map_err(|e| fail(jwks_uri, e))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, PoolError> {
        let resp = self.client.get(url).send().await.map_err(|e| fail(url, e))?;
        read(url, resp).await
    }
}

async fn read(url: &str, mut resp: reqwest::Response) -> Result<Vec<u8>, PoolError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(url, e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(PoolError::Internal(format!("{url}: more than {MAX_BODY} bytes")));
        }
    }
    if !status.is_success() {
        return Err(PoolError::Internal(format!("{url}: status {status}: {}", String::from_utf8_lossy(&body))));
    }
    Ok(body)
}

fn fail(url: &str, e: impl std::fmt::Display) -> PoolError {
    PoolError::Internal(format!("{url}: {e}"))
}

fn random() -> Result<String, PoolError> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| PoolError::Internal("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl UserPool {
    fn idp(&self, name: &str) -> Result<&Idp, PoolError> {
        self.idps
            .iter()
            .find(|i| i.cfg.name == name)
            .ok_or_else(|| PoolError::InvalidParameter(format!("No identity provider {name}")))
    }

    fn idp_redirect_uri(&self) -> String {
        format!("{}/oauth2/idpresponse", self.cfg.issuer.trim_end_matches('/'))
    }

    /// Where to send the browser to sign in at provider `name` for the app's request `r`.
    pub(super) async fn federate(&self, r: &AuthRequest, name: &str, now_ms: i64) -> Result<String, PoolError> {
        let idp = self.idp(name)?;
        let found = idp.found(false).await?;
        let (id, verifier, nonce) = (uuid::Uuid::new_v4().to_string(), random()?, random()?);
        let expires = now_ms + STATE_MS;
        let statement = json!({"id": id, "idp": name, "nonce": nonce, "exp": expires,
            "client_id": r.client_id, "redirect_uri": r.redirect_uri, "state": r.state, "scope": r.scope,
            "app_nonce": r.nonce, "code_challenge": r.code_challenge});
        let body = URL_SAFE_NO_PAD.encode(statement.to_string());
        let state = format!("{body}.{}", self.mac(&["federation-state", &body]));
        // The verifier stays here, under the state's id, and is used up with it.
        self.store()
            .pool_code_put(&PoolCode {
                pool: self.cfg.name.clone(),
                sub: id,
                purpose: "federation".into(),
                code_hash: verifier.clone(),
                expires_ms: expires,
                attempts: 0,
            })
            .await?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &idp.cfg.client_id)
            .append_pair("redirect_uri", &self.idp_redirect_uri())
            .append_pair("scope", &idp.cfg.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let sep = if found.authorization_endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{}{sep}{query}", found.authorization_endpoint))
    }

    /// The provider's answer at `/oauth2/idpresponse`: the app's request, and the pool's code
    /// for the signed-in user (or the provider's `error`).
    pub(super) async fn federation_response(
        &self,
        params: &std::collections::HashMap<String, String>,
        now_ms: i64,
    ) -> Result<(AuthRequest, Result<String, String>), PoolError> {
        const BAD_STATE: PoolError = PoolError::NotAuthorized("The sign-in took too long or was not started here.");
        let get = |k: &str| params.get(k).map_or("", String::as_str);
        let (body, mac) = get("state").rsplit_once('.').ok_or(BAD_STATE)?;
        if !bool::from(self.mac(&["federation-state", body]).as_bytes().ct_eq(mac.as_bytes())) {
            return Err(BAD_STATE);
        }
        let s: Value =
            URL_SAFE_NO_PAD.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(BAD_STATE)?;
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        if s.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now_ms {
            return Err(BAD_STATE);
        }
        let request = AuthRequest {
            client_id: text("client_id"),
            redirect_uri: text("redirect_uri"),
            state: text("state"),
            scope: text("scope"),
            nonce: text("app_nonce"),
            code_challenge: text("code_challenge"),
        };
        // Used once: the stored verifier goes with it.
        let pool = &self.cfg.name;
        let verifier = self.store().pool_code(pool, &text("id"), "federation").await?.ok_or(BAD_STATE)?.code_hash;
        if !self.store().pool_code_delete(pool, &text("id"), "federation").await? {
            return Err(BAD_STATE);
        }
        if !get("error").is_empty() {
            return Ok((request, Err(get("error").to_owned())));
        }
        let idp = self.idp(&text("idp"))?;
        let claims = self.exchange(idp, get("code"), &verifier, &text("nonce"), now_ms).await?;
        let user = self.federated_user(idp, &claims, now_ms).await?;
        let code = self.new_code(&request, &user.sub, now_ms, now_ms).await?;
        Ok((request, Ok(code)))
    }

    /// Exchanges the provider's code and returns its verified ID token's claims.
    async fn exchange(
        &self,
        idp: &Idp,
        code: &str,
        verifier: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<Map<String, Value>, PoolError> {
        let found = idp.found(false).await?;
        let resp = idp
            .client
            .post(&found.token_endpoint)
            .basic_auth(encode(&idp.cfg.client_id), Some(encode(&idp.cfg.client_secret)))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.idp_redirect_uri()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| fail(&found.token_endpoint, e))?;
        let body: Value = serde_json::from_slice(&read(&found.token_endpoint, resp).await?)
            .map_err(|e| fail(&found.token_endpoint, e))?;
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| PoolError::Internal(format!("{}: no id_token in the answer", found.token_endpoint)))?;
        let token = Token::parse(id_token).map_err(|e| PoolError::Internal(format!("the provider's ID token: {e}")))?;
        let verified = match found.keys.verify(&token) {
            Err(Rejection::UnknownKey) => idp.found(true).await?.keys.verify(&token),
            other => other,
        };
        verified.map_err(|e| PoolError::Internal(format!("the provider's ID token: {e}")))?;
        let policy = Policy {
            issuers: vec![idp.cfg.issuer.clone()],
            audiences: vec![idp.cfg.client_id.clone()],
            token_use: None,
            clock_skew_s: 60,
            required: vec![("nonce".into(), nonce.to_owned())],
        };
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let claims = policy
            .check(token.claims, now_s, &[])
            .map_err(|e| PoolError::Internal(format!("the provider's ID token: {e}")))?;
        Ok(claims.0)
    }

    /// The pool user `PROVIDER_SUB`: created on the first sign-in, its attributes refreshed
    /// from the provider's claims on each.
    async fn federated_user(&self, idp: &Idp, claims: &Map<String, Value>, now_ms: i64) -> Result<PoolUser, PoolError> {
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        if sub.is_empty() || sub.chars().any(char::is_whitespace) {
            return Err(PoolError::Internal("the provider's ID token has no usable sub".into()));
        }
        let username = format!("{}_{sub}", idp.cfg.name);
        let default_mapping = ["email", "name", "given_name", "family_name"].map(|c| (c.to_owned(), c.to_owned()));
        let mapping: Vec<(String, String)> = if idp.cfg.attribute_mapping.is_empty() {
            default_mapping.to_vec()
        } else {
            idp.cfg.attribute_mapping.iter().map(|(a, c)| (a.clone(), c.clone())).collect()
        };
        let mut attrs = Map::new();
        for (attribute, claim) in mapping {
            if let Some(Value::String(v)) = claims.get(&claim) {
                attrs.insert(attribute, json!(v));
            }
        }
        attrs.insert("identities".into(), json!(json!([{"providerName": idp.cfg.name, "userId": sub}]).to_string()));
        let email = attrs.remove("email").and_then(|v| v.as_str().map(str::to_lowercase)).unwrap_or_default();
        match self.find(&username).await? {
            Some(user) if !user.enabled => Err(PoolError::NotAuthorized("User is disabled.")),
            Some(user) => {
                let attributes = Value::Object(attrs).to_string();
                self.update(&user, now_ms, |u| {
                    u.attributes.clone_from(&attributes);
                    u.email.clone_from(&email);
                })
                .await?;
                self.find(&username).await?.ok_or(PoolError::UserNotFound)
            }
            None => {
                // No password: no hash verifies against an empty one.
                let user = super::new_user(
                    &self.cfg.name,
                    username.clone(),
                    email,
                    "EXTERNAL_PROVIDER",
                    String::new(),
                    attrs,
                    now_ms,
                );
                if !self.store().pool_user_create(&user).await? {
                    // Another sign-in of the same person won the race.
                    return self.find(&username).await?.ok_or(PoolError::UserNotFound);
                }
                Ok(user)
            }
        }
    }
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
