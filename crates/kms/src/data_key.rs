//! AES-256-GCM with a raw 256-bit key: data keys, and the primitive master keys wrap with.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::KmsError;

/// Length of an AES-256 key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// 256 bits of key material, wiped from memory on drop.
pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// A fresh random key.
pub(crate) fn random_key() -> KeyBytes {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(&mut key[..]);
    key
}

/// A fresh random nonce. Safe here because every data key is new and master keys wrap far fewer
/// than the 2^32 messages after which random 96-bit nonces risk colliding.
pub(crate) fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

pub(crate) fn gcm_encrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, KmsError> {
    Aes256Gcm::new(key.into()).encrypt(nonce.into(), Payload { msg, aad }).map_err(|_| KmsError::Encryption)
}

pub(crate) fn gcm_decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let plain = Aes256Gcm::new(key.into()).decrypt(nonce.into(), Payload { msg, aad });
    plain.map(Zeroizing::new).map_err(|_| KmsError::Authentication)
}

/// A plaintext AES-256-GCM data key, for callers that encrypt in chunks (e.g. log file segments).
///
/// Obtain one with [`Keyring::generate_data_key`](crate::Keyring::generate_data_key) and store only
/// the wrapped blob; get it back with [`Keyring::unwrap_data_key`](crate::Keyring::unwrap_data_key).
/// The key is wiped on drop and never shown by `Debug`.
pub struct DataKey {
    key: KeyBytes,
}

impl DataKey {
    pub(crate) fn generate() -> Self {
        Self { key: random_key() }
    }

    pub(crate) fn from_bytes(key: KeyBytes) -> Self {
        Self { key }
    }

    /// A data key the caller derived itself (e.g. one key per cached entry, from a server
    /// secret and a random salt). The bytes are wiped when the key is dropped.
    pub fn from_derived(key: [u8; KEY_LEN]) -> Self {
        Self { key: Zeroizing::new(key) }
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The key's bytes, to hand to a client the caller has authorised to decrypt what it
    /// protects (an operator reading encrypted access-log segments, as KMS `Decrypt` would).
    /// Never log them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Encrypts `plaintext`, returning ciphertext followed by the 16-byte tag.
    ///
    /// The caller must never use a nonce twice with the same key (a segment counter is the usual
    /// choice); a repeated nonce reveals plaintext and allows forgeries.
    pub fn encrypt(&self, nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
        gcm_encrypt(&self.key, &nonce, aad, plaintext)
    }

    /// Decrypts what [`DataKey::encrypt`] produced with the same nonce and associated data.
    pub fn decrypt(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        gcm_decrypt(&self.key, &nonce, aad, ciphertext)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}
