//! Admin credentials: a bootstrap token created on first start and printed once, kept only as
//! a SHA-256 hash (the secret is 256 random bits, so a fast hash is enough and no password KDF
//! slows every call). Verification compares hashes in constant time.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use base64::Engine as _;
use http::request::Parts;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use store::{AdminCredential, AnyStore, Outcome, Store, StoreError};
use subtle::ConstantTimeEq as _;

use crate::routes::{error, write_audit, AppState};

/// Every admin token starts with this, so scanners can spot leaked ones.
pub const TOKEN_PREFIX: &str = "pcadm_";

/// The id of the bootstrap credential.
const BOOTSTRAP_ID: &str = "admin";

/// The client address of an admin connection, set by the server for each connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub(crate) id: String,
}

/// Creates the bootstrap credential if the store has none. Returns the token to print once,
/// or `None` when a credential already exists.
pub async fn bootstrap(store: &AnyStore, now_ms: i64) -> Result<Option<String>, StoreError> {
    if store.admin_credential(BOOTSTRAP_ID).await?.is_some() {
        return Ok(None);
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let cred = AdminCredential { id: BOOTSTRAP_ID.into(), secret_hash: hash(&secret), created_at_ms: now_ms };
    if store.create_admin_credential(&cred).await? {
        Ok(Some(format!("{TOKEN_PREFIX}{BOOTSTRAP_ID}_{secret}")))
    } else {
        Ok(None)
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks a bearer token against the store.
async fn verify(store: &AnyStore, token: &str) -> Result<Option<Authed>, StoreError> {
    let Some((id, secret)) = token.strip_prefix(TOKEN_PREFIX).and_then(|t| t.split_once('_')) else {
        return Ok(None);
    };
    let Some(cred) = store.admin_credential(id).await? else {
        // Hash anyway so unknown ids and wrong secrets take the same time.
        let _ = hash(secret).as_bytes().ct_eq(&[0u8; 64]);
        return Ok(None);
    };
    let ok: bool = hash(secret).as_bytes().ct_eq(cred.secret_hash.as_bytes()).into();
    Ok(ok.then_some(Authed { id: cred.id }))
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let verdict = match token {
            Some(t) => verify(&state.store, t).await,
            None => Ok(None),
        };
        match verdict {
            Ok(Some(a)) => Ok(a),
            Ok(None) => {
                let peer = parts.extensions.get::<Peer>().map(|p| p.0.ip().to_string()).unwrap_or_default();
                tracing::warn!(%peer, path = %parts.uri.path(), "admin API: refused a request without a valid token");
                if parts.method != http::Method::GET && state.may_audit_anonymous() {
                    // A refused attempt to change something is part of the audit trail too.
                    let action = format!("admin.{}", parts.uri.path().trim_start_matches('/'));
                    let detail = "missing or invalid token".to_owned();
                    write_audit(&state.store, "anonymous", &peer, &action, parts.uri.path(), Outcome::Failure, detail)
                        .await;
                }
                let mut resp = error(http::StatusCode::UNAUTHORIZED, "Unauthorized");
                resp.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"portcullis-admin\""),
                );
                Err(resp)
            }
            Err(e) => {
                tracing::error!(error = %e, "admin API: store unavailable for authentication");
                Err(error(http::StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"))
            }
        }
    }
}
