//! Envelope encryption: data keys wrapped by master keys, and the binary envelope format.
//!
//! Both blobs this module produces start with the same 68-byte header (integers big-endian):
//!
//! | offset | length | field                                                        |
//! |-------:|-------:|--------------------------------------------------------------|
//! | 0      | 4      | magic: `PCE1` (envelope) or `PCK1` (wrapped data key alone)  |
//! | 4      | 4      | master key version (u32)                                     |
//! | 8      | 12     | wrap nonce                                                   |
//! | 20     | 48     | data key encrypted under the master key (32) + GCM tag (16)  |
//!
//! An envelope ([`Keyring::seal`]) continues with:
//!
//! | offset | length | field                                                        |
//! |-------:|-------:|--------------------------------------------------------------|
//! | 68     | 12     | data nonce                                                   |
//! | 80     | n + 16 | plaintext encrypted under the data key + GCM tag             |
//!
//! A wrapped data key ([`Keyring::generate_data_key`]) is the header alone.
//!
//! The data key is wrapped with associated data `WRAP_LABEL ‖ magic ‖ version ‖ context`, so a
//! header is bound to its kind, its master version and its [`EncryptionContext`]; the data layer
//! uses the context encoding as associated data. The data layer deliberately does not cover the
//! header: [`Keyring::rewrap`] replaces the header and leaves the ciphertext byte for byte unchanged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::data_key::{gcm_decrypt, gcm_encrypt, random_nonce, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::{DataKey, EncryptionContext, Keyring, KmsError};

const ENVELOPE: [u8; 4] = *b"PCE1";
const WRAPPED_KEY: [u8; 4] = *b"PCK1";
/// Domain separation: master keys wrap nothing but data keys, and only in this format.
const WRAP_LABEL: &[u8] = b"portcullis-kms/wrap-data-key/v1\0";
const HEADER_LEN: usize = 4 + 4 + NONCE_LEN + WRAPPED_LEN;
const WRAPPED_LEN: usize = KEY_LEN + TAG_LEN;
const TEXT_PREFIX: &str = "pcx1:";

/// The parsed 68-byte header shared by envelopes and wrapped data keys.
struct Header {
    magic: [u8; 4],
    version: u32,
    nonce: [u8; NONCE_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

impl Header {
    /// Splits `blob` into its header and the bytes after it, accepting either magic.
    fn parse(blob: &[u8]) -> Result<(Self, &[u8]), KmsError> {
        let mut rest = blob;
        let magic = take(&mut rest)?;
        if magic != ENVELOPE && magic != WRAPPED_KEY {
            return Err(KmsError::Malformed("unknown magic (not a Portcullis envelope)"));
        }
        let header = Self {
            magic,
            version: u32::from_be_bytes(take(&mut rest)?),
            nonce: take(&mut rest)?,
            wrapped: take(&mut rest)?,
        };
        Ok((header, rest))
    }

    /// Like [`Header::parse`], requiring one kind of blob.
    fn parse_as(blob: &[u8], magic: [u8; 4]) -> Result<(Self, &[u8]), KmsError> {
        let (header, rest) = Self::parse(blob)?;
        match header.magic {
            m if m == magic => Ok((header, rest)),
            ENVELOPE => Err(KmsError::Malformed("expected a wrapped data key, found an envelope")),
            _ => Err(KmsError::Malformed("expected an envelope, found a wrapped data key")),
        }
    }

    /// The header bytes, with room reserved for `extra` more.
    fn encode(&self, extra: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + extra);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.wrapped);
        out
    }
}

/// Takes the next `N` bytes off `input`.
fn take<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], KmsError> {
    let (head, rest) = input.split_first_chunk::<N>().ok_or(KmsError::Malformed("truncated"))?;
    *input = rest;
    Ok(*head)
}

fn wrap_aad(magic: [u8; 4], version: u32, ctx: &EncryptionContext) -> Vec<u8> {
    [WRAP_LABEL, &magic, &version.to_be_bytes(), &ctx.canonical_bytes()].concat()
}

impl Keyring {
    /// Wraps `key` under the current master key.
    fn wrap(&self, magic: [u8; 4], ctx: &EncryptionContext, key: &DataKey) -> Result<Header, KmsError> {
        let version = self.current_version();
        let nonce = random_nonce();
        let wrapped = gcm_encrypt(self.master(version)?, &nonce, &wrap_aad(magic, version, ctx), key.bytes())?;
        let wrapped = wrapped.try_into().map_err(|_| KmsError::Encryption)?;
        Ok(Header { magic, version, nonce, wrapped })
    }

    fn unwrap(&self, header: &Header, ctx: &EncryptionContext) -> Result<DataKey, KmsError> {
        let master = self.master(header.version)?;
        let aad = wrap_aad(header.magic, header.version, ctx);
        let plain = gcm_decrypt(master, &header.nonce, &aad, &header.wrapped)?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        // Always 32 bytes once authenticated, since only `wrap` produces tags under master keys.
        key.copy_from_slice(plain.get(..KEY_LEN).ok_or(KmsError::Authentication)?);
        Ok(DataKey::from_bytes(key))
    }

    /// Encrypts `plaintext` under a fresh data key wrapped by the current master key, binding
    /// `ctx`. Returns a self-describing envelope (layout in the module documentation).
    pub fn seal(&self, ctx: &EncryptionContext, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
        let key = DataKey::generate();
        let header = self.wrap(ENVELOPE, ctx, &key)?;
        let nonce = random_nonce();
        let body = key.encrypt(nonce, &ctx.canonical_bytes(), plaintext)?;
        let mut out = header.encode(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts an envelope made by [`Keyring::seal`] with the same `ctx`.
    ///
    /// Fails with [`KmsError::Malformed`] for truncated or foreign input,
    /// [`KmsError::UnknownVersion`] for a master key this keyring lacks, and
    /// [`KmsError::Authentication`] for a wrong context or altered bytes. Never panics.
    pub fn open(&self, ctx: &EncryptionContext, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let (header, mut rest) = Header::parse_as(envelope, ENVELOPE)?;
        let nonce = take(&mut rest)?;
        if rest.len() < TAG_LEN {
            return Err(KmsError::Malformed("truncated"));
        }
        self.unwrap(&header, ctx)?.decrypt(nonce, &ctx.canonical_bytes(), rest)
    }

    /// Re-wraps the data key of an envelope or wrapped data key under the current master key.
    ///
    /// Returns `None` when the blob already uses the current version, otherwise the new blob,
    /// whose bytes after the header are unchanged. The data key is authenticated (so `ctx` must be
    /// right) but an envelope's ciphertext is not decrypted.
    pub fn rewrap(&self, ctx: &EncryptionContext, blob: &[u8]) -> Result<Option<Vec<u8>>, KmsError> {
        let (header, rest) = Header::parse(blob)?;
        let body_ok = match header.magic {
            ENVELOPE => rest.len() >= NONCE_LEN + TAG_LEN,
            _ => rest.is_empty(),
        };
        if !body_ok {
            return Err(KmsError::Malformed("wrong length after the header"));
        }
        let key = self.unwrap(&header, ctx)?;
        if header.version == self.current_version() {
            return Ok(None);
        }
        let mut out = self.wrap(header.magic, ctx, &key)?.encode(rest.len());
        out.extend_from_slice(rest);
        Ok(Some(out))
    }

    /// A fresh data key for the caller's own chunked encryption, with its wrapped form (68 bytes,
    /// see the module documentation) to store next to the data.
    pub fn generate_data_key(&self, ctx: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KmsError> {
        let key = DataKey::generate();
        let wrapped = self.wrap(WRAPPED_KEY, ctx, &key)?.encode(0);
        Ok((key, wrapped))
    }

    /// Recovers the data key from a blob made by [`Keyring::generate_data_key`] with the same `ctx`.
    pub fn unwrap_data_key(&self, ctx: &EncryptionContext, wrapped: &[u8]) -> Result<DataKey, KmsError> {
        let (header, rest) = Header::parse_as(wrapped, WRAPPED_KEY)?;
        if !rest.is_empty() {
            return Err(KmsError::Malformed("trailing bytes after the wrapped data key"));
        }
        self.unwrap(&header, ctx)
    }
}

/// The master key version an envelope or wrapped data key was made with (read from the header,
/// not authenticated), e.g. to find what still needs [`Keyring::rewrap`] after a rotation.
pub fn envelope_version(blob: &[u8]) -> Result<u32, KmsError> {
    Header::parse(blob).map(|(header, _)| header.version)
}

/// The text form of an envelope or wrapped data key, for JSON fields and text columns:
/// `pcx1:` followed by standard padded base64.
pub fn to_text(blob: &[u8]) -> String {
    format!("{TEXT_PREFIX}{}", STANDARD.encode(blob))
}

/// Decodes [`to_text`] output back to bytes (which [`Keyring::open`] then validates).
pub fn from_text(text: &str) -> Result<Vec<u8>, KmsError> {
    let encoded = text.strip_prefix(TEXT_PREFIX).ok_or(KmsError::Malformed("text form must start with `pcx1:`"))?;
    STANDARD.decode(encoded).map_err(|_| KmsError::Malformed("text form is not valid base64"))
}

#[cfg(test)]
mod tests;
