//! A stand-in OpenID provider for the JWT benchmarks: one P-256 key made at start, its JWKS,
//! and tokens signed with it (ES256), as any provider would issue them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

/// A signing key and its `kid`.
#[derive(Debug)]
pub struct Issuer {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Issuer {
    /// A fresh key.
    pub fn new(kid: &str) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| e.to_string())?;
        Ok(Self { pair, kid: kid.to_owned() })
    }

    /// The JWKS document with the public key.
    pub fn jwks(&self) -> String {
        let point = self.pair.public_key().as_ref();
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])}]})
        .to_string()
    }

    /// A token with these claims, signed ES256 under this key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, String> {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).map_err(|e| e.to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// An access token of issuer `iss` for audience `aud` with `scope`, valid for an hour from
    /// `now_s`: the claims a typical provider puts in one.
    pub fn access_token(&self, iss: &str, aud: &str, scope: &str, now_s: u64) -> Result<String, String> {
        self.sign(&serde_json::json!({
            "iss": iss, "sub": "6f1c1a9e-35a4-4b9e-9c57-1f0e3c1d2b4a", "aud": aud, "client_id": "bench-client",
            "scope": scope, "iat": now_s, "exp": now_s + 3600, "jti": "0b6f4a4e-8d55-4c8b-a1a2-9cd1f6a5d0e2",
        }))
    }
}
