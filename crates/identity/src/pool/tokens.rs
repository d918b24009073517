//! A pool's signing key and the tokens it signs (reference §4.4): ES256 on a P-256 key made
//! by the gateway, sealed by the KMS in the store (the same key on every node), published in
//! the pool's JWKS. ID and access tokens have Cognito's claim shapes; refresh tokens are
//! random and kept as keyed hashes.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use store::Store as _;

use super::PoolError;
use crate::jwt::KeySet;

/// A pool's signing key.
#[derive(Debug)]
pub struct Signer {
    pair: EcdsaKeyPair,
    kid: String,
    /// The JWKS document with the public key.
    jwks: String,
    /// The same keys, to verify the pool's own tokens.
    keys: Arc<KeySet>,
}

impl Signer {
    /// The pool's key: read from the store and opened with the KMS, or made, sealed and stored
    /// on first use (another node may store its own first; everyone then uses that one).
    pub async fn load(dir: &directory::Directory, pool: &str, now_ms: i64) -> Result<Self, PoolError> {
        let name = format!("user-pool-signing:{pool}");
        let ctx = kms::EncryptionContext::new().with("purpose", "user-pool-signing-key").with("pool", pool);
        if dir.store().secret(&name).await?.is_none() {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| PoolError::Internal("cannot make a P-256 key".into()))?;
            let sealed = dir.kms().seal_text(&ctx, pkcs8.as_ref())?;
            dir.store().create_secret(&name, &sealed, now_ms).await?;
        }
        let sealed = dir.store().secret(&name).await?.ok_or_else(|| PoolError::Internal(format!("{name} vanished")))?;
        let pkcs8 = dir.kms().open_text(&ctx, &sealed)?;
        Self::from_pkcs8(&pkcs8)
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, PoolError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| PoolError::Internal("the pool's signing key does not load".into()))?;
        let point = pair.public_key().as_ref().to_vec();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&point)[..12]);
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.get(1..33).unwrap_or_default()),
            "y": URL_SAFE_NO_PAD.encode(point.get(33..65).unwrap_or_default())}]})
        .to_string();
        let keys = Arc::new(KeySet::parse(jwks.as_bytes()).map_err(|e| PoolError::Internal(e.to_string()))?);
        Ok(Self { pair, kid, jwks, keys })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// The keys, to verify the pool's tokens.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// A compact JWS of `claims`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, PoolError> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| PoolError::Internal("signing failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

/// What the tokens of one sign-in say about the user.
#[derive(Debug)]
pub(super) struct Subject<'a> {
    /// The user.
    pub(super) user: &'a store::PoolUser,
    /// The user's groups, by precedence.
    pub(super) groups: &'a [String],
    /// The app client.
    pub(super) client_id: &'a str,
    /// When the user signed in, seconds since the epoch.
    pub(super) auth_time_s: u64,
}

/// The claims of an ID token (Cognito's shape: attributes, `cognito:username`,
/// `cognito:groups`, `aud` = the client).
pub(super) fn id_claims(issuer: &str, s: &Subject<'_>, now_s: u64, ttl_s: u64) -> Map<String, Value> {
    let mut c = common(issuer, s, now_s, ttl_s, "id");
    c.insert("aud".into(), json!(s.client_id));
    c.insert("cognito:username".into(), json!(s.user.username));
    if let Ok(Value::Object(attrs)) = serde_json::from_str::<Value>(&s.user.attributes) {
        for (k, v) in attrs {
            c.entry(k).or_insert(v);
        }
    }
    if !s.user.email.is_empty() {
        c.insert("email".into(), json!(s.user.email));
    }
    c
}

/// The claims of an access token (`client_id`, no `aud`; `scope`; `username`).
pub(super) fn access_claims(issuer: &str, s: &Subject<'_>, now_s: u64, ttl_s: u64, scope: &str) -> Map<String, Value> {
    let mut c = common(issuer, s, now_s, ttl_s, "access");
    c.insert("client_id".into(), json!(s.client_id));
    c.insert("username".into(), json!(s.user.username));
    c.insert("scope".into(), json!(scope));
    c
}

fn common(issuer: &str, s: &Subject<'_>, now_s: u64, ttl_s: u64, token_use: &str) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(s.user.sub));
    c.insert("iss".into(), json!(issuer));
    c.insert("token_use".into(), json!(token_use));
    c.insert("auth_time".into(), json!(s.auth_time_s));
    c.insert("iat".into(), json!(now_s));
    c.insert("exp".into(), json!(now_s + ttl_s));
    c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    if !s.groups.is_empty() {
        c.insert("cognito:groups".into(), json!(s.groups));
    }
    c
}

/// A new refresh token: 32 random bytes, base64url.
pub(super) fn new_refresh_token() -> Result<String, PoolError> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes)
        .map_err(|_| PoolError::Internal("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::jwt::{Policy, Token};

    #[test]
    fn signed_tokens_verify_with_the_published_keys() {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let signer = Signer::from_pkcs8(pkcs8.as_ref()).unwrap();
        let user = store::PoolUser {
            pool: "main".into(),
            sub: "s-1".into(),
            username: "ann".into(),
            email: "ann@example.com".into(),
            status: "CONFIRMED".into(),
            enabled: true,
            password_hash: String::new(),
            attributes: r#"{"name":"Ann","sub":"forged"}"#.into(),
            mfa_secret: String::new(),
            mfa_enabled: false,
            mfa_last_step: 0,
            failed_signins: 0,
            locked_until_ms: 0,
            created_ms: 0,
            updated_ms: 0,
        };
        let groups = vec!["admins".to_owned()];
        let s = Subject { user: &user, groups: &groups, client_id: "web", auth_time_s: 1000 };
        let iss = "https://localhost/auth";
        let id = signer.sign(&id_claims(iss, &s, 1000, 3600)).unwrap();
        let access = signer.sign(&access_claims(iss, &s, 1000, 3600, "openid")).unwrap();
        let keys = KeySet::parse(signer.jwks().as_bytes()).unwrap();
        let policy = |use_: &str| Policy {
            issuers: vec![iss.into()],
            audiences: vec!["web".into()],
            token_use: Some(use_.into()),
            clock_skew_s: 0,
            required: vec![],
        };
        let t = Token::parse(&id).unwrap();
        keys.verify(&t).unwrap();
        let claims = policy("id").check(t.claims, 1001, &[]).unwrap();
        assert_eq!(claims.text("sub").as_deref(), Some("s-1"), "an attribute cannot replace a claim");
        assert_eq!(claims.text("cognito:groups").as_deref(), Some(r#"["admins"]"#));
        assert_eq!(claims.text("name").as_deref(), Some("Ann"));
        let t = Token::parse(&access).unwrap();
        keys.verify(&t).unwrap();
        let claims = policy("access").check(t.claims, 1001, &["openid".into()]).unwrap();
        assert_eq!(claims.text("client_id").as_deref(), Some("web"));
        assert!(claims.0.get("aud").is_none(), "Cognito access tokens carry client_id, not aud");
    }
}
