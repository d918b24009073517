//! The signing key, derived from the secret once per day, region and service, and the HMAC
//! that signs the string to sign with it.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

type HmacSha256 = Hmac<Sha256>;

/// `kSigning` of reference §1.3. Cache it per (access key, date, region, service): deriving
/// takes four HMACs, verifying with it one.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

// === impl SigningKey ===

impl SigningKey {
    /// Derives the key from a secret access key and a scope.
    pub fn derive(secret: &str, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret.as_bytes());
        let k_date = hmac(&seed, date.as_bytes());
        seed.iter_mut().for_each(|b| *b = 0);
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        Self(hmac(&k_service, b"aws4_request"))
    }

    /// The signature of a string to sign.
    pub fn sign(&self, string_to_sign: &str) -> [u8; 32] {
        hmac(&self.0, string_to_sign.as_bytes())
    }

    /// Whether `signature` signs `string_to_sign`, compared in constant time.
    pub fn verify(&self, string_to_sign: &str, signature: &[u8; 32]) -> bool {
        self.sign(string_to_sign).ct_eq(signature).into()
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return [0; 32] };
    mac.update(data);
    mac.finalize().into_bytes().into()
}
