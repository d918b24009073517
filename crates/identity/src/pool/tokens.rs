//! A pool's signing keys and the tokens they sign (reference §4.4): ES256 on a P-256 key made
//! by the gateway, or RS256 on an RSA key an operator imports, kept in a keyring the KMS seals
//! in the store (the same keys on every node) and published in the pool's JWKS. A rotation
//! retires the signing key but keeps publishing it for an overlap, so that tokens it signed
//! keep verifying. ID and access tokens have Cognito's claim shapes; refresh tokens are
//! random and kept as keyed hashes.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use store::Store as _;

use super::PoolError;
use crate::jwt::KeySet;

/// The pool's keys: the one that signs, and those retired within the overlap, still published
/// so that tokens they signed keep verifying until they expire.
#[derive(Debug)]
pub struct Signer {
    current: SigningKey,
    /// The JWKS document with every published key.
    jwks: String,
    /// The same keys, to verify the pool's own tokens.
    keys: Arc<KeySet>,
}

#[derive(Debug)]
struct SigningKey {
    kid: String,
    pair: Pair,
}

#[derive(Debug)]
enum Pair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

/// The keyring as the store keeps it, sealed by the KMS as one document.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Keyring {
    keys: Vec<StoredKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    /// `ES256` or `RS256`.
    alg: String,
    /// PKCS#8, base64.
    pkcs8: String,
    kid: String,
    created_ms: i64,
    /// When it stopped signing; published until this plus the overlap.
    #[serde(default)]
    retired_ms: Option<i64>,
}

fn secret_name(pool: &str) -> String {
    format!("user-pool-signing:{pool}")
}

fn context(pool: &str) -> kms::EncryptionContext {
    kms::EncryptionContext::new().with("purpose", "user-pool-signing-key").with("pool", pool)
}

impl Signer {
    /// The pool's keys: read from the store and opened with the KMS, or an ES256 key made,
    /// sealed and stored on first use (another node may store its own first; everyone then
    /// uses that one).
    pub async fn load(dir: &directory::Directory, pool: &str, overlap_ms: i64, now_ms: i64) -> Result<Self, PoolError> {
        let name = secret_name(pool);
        if dir.store().secret(&name).await?.is_none() {
            let ring = Keyring { keys: vec![new_es256(now_ms)?] };
            let sealed = seal(dir, pool, &ring)?;
            dir.store().create_secret(&name, &sealed, now_ms).await?;
        }
        let sealed = dir.store().secret(&name).await?.ok_or_else(|| PoolError::Internal(format!("{name} vanished")))?;
        Self::open(dir, pool, &sealed, overlap_ms, now_ms)
    }

    fn open(
        dir: &directory::Directory,
        pool: &str,
        sealed: &str,
        overlap_ms: i64,
        now_ms: i64,
    ) -> Result<Self, PoolError> {
        let plain = dir.kms().open_text(&context(pool), sealed)?;
        let ring: Keyring = serde_json::from_slice(&plain).map_err(|e| PoolError::Internal(format!("keyring: {e}")))?;
        let current = ring
            .keys
            .iter()
            .rev()
            .find(|k| k.retired_ms.is_none())
            .ok_or_else(|| PoolError::Internal("no signing key".into()))?;
        let published: Vec<&StoredKey> =
            ring.keys.iter().filter(|k| k.retired_ms.is_none_or(|r| r.saturating_add(overlap_ms) > now_ms)).collect();
        let mut jwks = Vec::new();
        for k in &published {
            jwks.push(signing_key(k)?.jwk());
        }
        let jwks = json!({ "keys": jwks }).to_string();
        let keys = Arc::new(KeySet::parse(jwks.as_bytes()).map_err(|e| PoolError::Internal(e.to_string()))?);
        Ok(Self { current: signing_key(current)?, jwks, keys })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// The published keys, to verify the pool's tokens.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// The key id that signs now.
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// A compact JWS of `claims` with the current key.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, PoolError> {
        let k = &self.current;
        let alg = match k.pair {
            Pair::Es256(_) => "ES256",
            Pair::Rs256(_) => "RS256",
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": k.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let rng = SystemRandom::new();
        let failed = |_| PoolError::Internal("signing failed".into());
        let sig = match &k.pair {
            Pair::Es256(pair) => pair.sign(&rng, input.as_bytes()).map_err(failed)?.as_ref().to_vec(),
            Pair::Rs256(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).map_err(failed)?;
                sig
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Rotates the pool's signing key: `import` (a PKCS#8 PEM or DER of an RSA key of 2048 to
/// 4096 bits, or of a P-256 key) or a new P-256 key signs from now on; the key that signed
/// until now is retired and published for `overlap_ms` more; keys retired longer ago are
/// dropped. Returns the new key id. Compare-and-set on the sealed keyring, so two rotations
/// at once do not lose a key.
pub async fn rotate(
    dir: &directory::Directory,
    pool: &str,
    import: Option<&[u8]>,
    overlap_ms: i64,
    now_ms: i64,
) -> Result<String, PoolError> {
    let name = secret_name(pool);
    // Make the first key if the pool never signed yet.
    Signer::load(dir, pool, overlap_ms, now_ms).await?;
    let new = match import {
        Some(bytes) => imported(bytes, now_ms)?,
        None => new_es256(now_ms)?,
    };
    for _ in 0..4 {
        let sealed = dir.store().secret(&name).await?.unwrap_or_default();
        let plain = dir.kms().open_text(&context(pool), &sealed)?;
        let mut ring: Keyring =
            serde_json::from_slice(&plain).map_err(|e| PoolError::Internal(format!("keyring: {e}")))?;
        ring.keys.retain(|k| k.retired_ms.is_none_or(|r| r.saturating_add(overlap_ms) > now_ms));
        for k in &mut ring.keys {
            k.retired_ms.get_or_insert(now_ms);
        }
        ring.keys.push(new.clone());
        if dir.store().replace_secret(&name, &seal(dir, pool, &ring)?, &sealed).await? {
            return Ok(new.kid);
        }
    }
    Err(PoolError::Internal("the keyring kept changing under this rotation".into()))
}

fn seal(dir: &directory::Directory, pool: &str, ring: &Keyring) -> Result<String, PoolError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(ring).map_err(|e| PoolError::Internal(e.to_string()))?);
    Ok(dir.kms().seal_text(&context(pool), &plain)?)
}

fn new_es256(now_ms: i64) -> Result<StoredKey, PoolError> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| PoolError::Internal("cannot make a P-256 key".into()))?;
    stored("ES256", pkcs8.as_ref(), now_ms)
}

/// Parses an imported key and signs and verifies with it (the fuzz target's check).
#[cfg(fuzzing)]
pub(super) fn parse_import(bytes: &[u8]) -> Result<(), PoolError> {
    let k = imported(bytes, 0)?;
    let signer = signing_key(&k)?;
    let jwks = json!({"keys": [signer.jwk()]}).to_string();
    let keys = Arc::new(KeySet::parse(jwks.as_bytes()).map_err(|e| PoolError::Internal(e.to_string()))?);
    let s = Signer { current: signer, jwks, keys };
    let token = s.sign(&Map::new())?;
    let parsed = crate::jwt::Token::parse(&token).map_err(|e| PoolError::Internal(e.to_string()))?;
    assert!(s.keys().verify(&parsed).is_ok(), "an imported key does not verify its own signature");
    Ok(())
}

/// An imported key: PEM (`-----BEGIN PRIVATE KEY-----`) or DER PKCS#8, RSA or P-256.
fn imported(bytes: &[u8], now_ms: i64) -> Result<StoredKey, PoolError> {
    let der = match std::str::from_utf8(bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(text) => {
            let body: String = text
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|_| PoolError::InvalidParameter("not a PKCS#8 PEM key (BEGIN PRIVATE KEY)".into()))?
        }
        None => bytes.to_vec(),
    };
    if let Ok(pair) = RsaKeyPair::from_pkcs8(&der) {
        let bits = pair.public().modulus_len() * 8;
        if !(2048..=4096).contains(&bits) {
            return Err(PoolError::InvalidParameter(format!("an RSA key of {bits} bits: use 2048 to 4096")));
        }
        return stored("RS256", &der, now_ms);
    }
    if EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new()).is_ok() {
        return stored("ES256", &der, now_ms);
    }
    Err(PoolError::InvalidParameter("not an RSA or P-256 private key in PKCS#8".into()))
}

fn stored(alg: &str, pkcs8: &[u8], now_ms: i64) -> Result<StoredKey, PoolError> {
    let mut k = StoredKey {
        alg: alg.into(),
        pkcs8: base64::engine::general_purpose::STANDARD.encode(pkcs8),
        kid: String::new(),
        created_ms: now_ms,
        retired_ms: None,
    };
    k.kid = signing_key(&k)?.kid_of_public();
    Ok(k)
}

fn signing_key(k: &StoredKey) -> Result<SigningKey, PoolError> {
    let der = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(&k.pkcs8)
            .map_err(|_| PoolError::Internal("keyring: bad key".into()))?,
    );
    let bad = |_| PoolError::Internal(format!("the pool's key {} does not load", k.kid));
    let pair = match k.alg.as_str() {
        "RS256" => Pair::Rs256(RsaKeyPair::from_pkcs8(&der).map_err(bad)?),
        _ => Pair::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new()).map_err(bad)?,
        ),
    };
    Ok(SigningKey { kid: k.kid.clone(), pair })
}

impl SigningKey {
    /// A key id from the public key: the same key has the same id everywhere.
    fn kid_of_public(&self) -> String {
        let public: &[u8] = match &self.pair {
            Pair::Es256(p) => p.public_key().as_ref(),
            Pair::Rs256(p) => p.public_key().as_ref(),
        };
        URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12])
    }

    fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Es256(p) => {
                let point = p.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                       "x": URL_SAFE_NO_PAD.encode(point.get(1..33).unwrap_or_default()),
                       "y": URL_SAFE_NO_PAD.encode(point.get(33..65).unwrap_or_default())})
            }
            Pair::Rs256(p) => {
                let c: ring::signature::RsaPublicKeyComponents<Vec<u8>> = p.public().into();
                json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                       "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e)})
            }
        }
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
        let key = new_es256(0).unwrap();
        let jwks = json!({"keys": [signing_key(&key).unwrap().jwk()]}).to_string();
        let signer = Signer {
            current: signing_key(&key).unwrap(),
            keys: Arc::new(KeySet::parse(jwks.as_bytes()).unwrap()),
            jwks,
        };
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
