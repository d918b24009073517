//! A provider's signing keys, from its JWKS document (RFC 7517), and signature checks with
//! them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use super::{Algorithm, Rejection, Token};

/// The usable signing keys of one provider.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// One public key and what it may verify.
#[derive(Clone, Debug)]
struct Key {
    kid: Option<String>,
    /// The algorithm the JWK pins (`alg`), if it does.
    alg: Option<Algorithm>,
    material: Material,
}

#[derive(Clone, Debug)]
enum Material {
    /// Modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point (`04 || x || y`) on P-256 or P-384.
    Ec { curve: Curve, point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// Why a JWKS document cannot be used at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWKS document: {0}")]
    NotJwks(String),
    /// It has no key this gateway can verify with.
    #[error("the JWKS has no usable signing key")]
    NoUsableKey,
}

/// A JWK as published; fields of other key types are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The signing keys of a JWKS document. Keys that are not for signatures (`use` other than
    /// `sig`), of unknown types or algorithms, or malformed are skipped (a provider may publish
    /// encryption keys beside them); a document with none left is an error.
    pub fn parse(json: &[u8]) -> Result<Self, KeysError> {
        let doc: Jwks = serde_json::from_slice(json).map_err(|e| KeysError::NotJwks(e.to_string()))?;
        let keys: Vec<Key> = doc
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(Key::from_jwk)
            .collect();
        if keys.is_empty() {
            return Err(KeysError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with id `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Checks `token`'s signature with the key its `kid` names (or, for a token without a
    /// `kid`, the set's only key of the token's algorithm family). The key must suit the
    /// token's algorithm, and a key that pins an algorithm verifies only that one.
    pub fn verify(&self, token: &Token<'_>) -> Result<(), Rejection> {
        let suits = |k: &&Key| k.alg.is_none_or(|a| a == token.alg) && k.material.suits(token.alg);
        let key = match &token.kid {
            Some(kid) => self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).find(suits),
            None => {
                let mut fitting = self.keys.iter().filter(suits);
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        let key = key.ok_or(Rejection::UnknownKey)?;
        key.material.verify(token.alg, token.signed, &token.signature).map_err(|_| Rejection::Signature)
    }
}

impl Key {
    fn from_jwk(jwk: Jwk) -> Option<Self> {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let alg = match jwk.alg.as_deref() {
            Some(name) => Some(Algorithm::from_name(name)?),
            None => None,
        };
        let b64 = |field: &Option<String>| URL_SAFE_NO_PAD.decode(field.as_deref()?).ok();
        let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let (n, e) = (b64(&jwk.n)?, b64(&jwk.e)?);
                // ring verifies 2048- to 8192-bit moduli; anything shorter is refused there too.
                Material::Rsa { n, e }
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, len) = if crv == "P-256" { (Curve::P256, 32) } else { (Curve::P384, 48) };
                let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                Material::Ec { curve, point: [&[4u8][..], &x, &y].concat() }
            }
            ("OKP", Some("Ed25519")) => Material::Ed25519(b64(&jwk.x)?),
            _ => return None,
        };
        Some(Self { kid: jwk.kid, alg, material })
    }
}

impl Material {
    /// Whether this key can verify tokens of `alg`.
    fn suits(&self, alg: Algorithm) -> bool {
        match self {
            Self::Rsa { .. } => alg.is_rsa(),
            Self::Ec { curve: Curve::P256, .. } => alg == Algorithm::ES256,
            Self::Ec { curve: Curve::P384, .. } => alg == Algorithm::ES384,
            Self::Ed25519(_) => alg == Algorithm::EdDSA,
        }
    }

    fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), ring::error::Unspecified> {
        match self {
            Self::Rsa { n, e } => {
                let params = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
                    _ => return Err(ring::error::Unspecified),
                };
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            Self::Ec { curve, point } => {
                let algorithm = match curve {
                    Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(algorithm, point).verify(message, signature)
            }
            Self::Ed25519(key) => UnparsedPublicKey::new(&sig::ED25519, key).verify(message, signature),
        }
    }
}
