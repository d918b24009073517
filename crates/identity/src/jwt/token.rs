//! The compact serialisation of a signed JWT (RFC 7515 §7.1): `BASE64URL(header) "."
//! BASE64URL(payload) "." BASE64URL(signature)`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use super::{Rejection, MAX_TOKEN_LEN};

/// A signature algorithm a provider may sign with (RFC 7518 §3). HMAC algorithms and `none`
/// are absent on purpose: a gateway verifying with a provider's public keys never accepts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// The algorithm named `name`, if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    /// Whether keys of this algorithm are RSA keys.
    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512)
    }
}

/// A parsed token whose signature has not been checked yet: nothing in it is trusted.
#[derive(Debug)]
pub struct Token<'t> {
    /// The signing algorithm the header names.
    pub alg: Algorithm,
    /// The key id the header names, if any.
    pub kid: Option<String>,
    /// The claims, as the payload's JSON object.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// What the signature covers: `header "." payload` as sent.
    pub(crate) signed: &'t [u8],
    /// The decoded signature.
    pub(crate) signature: Vec<u8>,
}

/// The header fields read; any other is ignored except those refused below.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Key locations the token names itself: a verifier that followed them would take the
    /// attacker's key. Refused.
    #[serde(default)]
    jku: Option<serde_json::Value>,
    #[serde(default)]
    x5u: Option<serde_json::Value>,
    #[serde(default)]
    jwk: Option<serde_json::Value>,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11); none is. Refused.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl<'t> Token<'t> {
    /// Parses `text` (the bare token, without `Bearer `). Refuses `alg: none`, HMAC
    /// algorithms, key-location headers, `crit`, anything over [`MAX_TOKEN_LEN`] and any part
    /// that is not canonical base64url or not a JSON object.
    pub fn parse(text: &'t str) -> Result<Self, Rejection> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(Rejection::Malformed);
        }
        let mut parts = text.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed);
        let head: Header = serde_json::from_slice(&decode(header)?).map_err(|_| Rejection::Malformed)?;
        if head.jku.is_some() || head.x5u.is_some() || head.jwk.is_some() || head.crit.is_some() {
            return Err(Rejection::Header);
        }
        let alg = Algorithm::from_name(&head.alg).ok_or(Rejection::Algorithm)?;
        let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(&decode(payload)?) else {
            return Err(Rejection::Malformed);
        };
        let signature = decode(signature)?;
        if signature.is_empty() {
            return Err(Rejection::Signature);
        }
        let signed = text.get(..header.len() + 1 + payload.len()).ok_or(Rejection::Malformed)?.as_bytes();
        Ok(Self { alg, kid: head.kid, claims, signed, signature })
    }
}
