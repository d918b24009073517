//! The keyring: versioned master keys, where they come from, and rotation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::{DecodeSliceError, Engine};
use zeroize::Zeroizing;

use crate::data_key::{random_key, KeyBytes, KEY_LEN};
use crate::{keyring_file, KmsError};

/// One master key. The bytes are wiped on drop; nothing here implements `Debug`.
pub(crate) struct MasterKey {
    /// Unix seconds; `None` for keys given through the environment, whose age is unknown.
    pub(crate) created_at: Option<i64>,
    pub(crate) key: KeyBytes,
}

/// Where a keyring lives, which decides whether it can rotate itself.
#[derive(Debug)]
pub(crate) enum Source {
    File(PathBuf),
    Environment,
}

/// Inventory entry for one master key version (never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyVersion {
    /// The version number, from 1.
    pub version: u32,
    /// When the key was created, in unix seconds; `None` for keys given through the environment.
    pub created_at: Option<i64>,
}

/// Versioned 256-bit master keys. The newest version (the current one) wraps new data keys;
/// every version unwraps.
///
/// Sealing and opening take `&self`, so one keyring can be shared behind an `Arc`. Rotation takes
/// `&mut self`: the owner rotates a copy it holds and publishes a new `Arc` (e.g. with `arc-swap`).
pub struct Keyring {
    /// Never empty: every constructor inserts at least one key.
    keys: BTreeMap<u32, MasterKey>,
    /// The highest version in `keys`.
    current: u32,
    source: Source,
}

impl Keyring {
    /// Builds a keyring from keys the caller checked to be non-empty, with versions from 1.
    pub(crate) fn from_parts(keys: BTreeMap<u32, MasterKey>, source: Source) -> Self {
        let current = keys.keys().next_back().copied().unwrap_or(0);
        Self { keys, current, source }
    }

    /// Parses a keyring given through [`MASTER_KEY_ENV`](crate::MASTER_KEY_ENV): either the
    /// standard base64 of 32 bytes (version 1), or `1:<base64>,2:<base64>` for several versions.
    ///
    /// Such a keyring is not stored anywhere, so [`Keyring::rotate`] refuses it. Error messages
    /// never repeat the value.
    pub fn from_env_value(value: &str) -> Result<Self, KmsError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(KmsError::InvalidEnvKey("the value is empty".into()));
        }
        let mut keys = BTreeMap::new();
        // ':' and ',' are outside the base64 alphabet, so they tell the two forms apart.
        if !value.contains([':', ',']) {
            let key = decode_key(value).map_err(|why| KmsError::InvalidEnvKey(format!("the key {why}")))?;
            keys.insert(1, MasterKey { created_at: None, key });
            return Ok(Self::from_parts(keys, Source::Environment));
        }
        for (index, entry) in value.split(',').enumerate() {
            let invalid = |why: String| KmsError::InvalidEnvKey(format!("entry {}: {why}", index + 1));
            let (version, key) =
                entry.split_once(':').ok_or_else(|| invalid("expected `<version>:<base64 key>`".into()))?;
            let version = version.trim().parse::<u32>().ok().filter(|v| *v > 0);
            let version = version.ok_or_else(|| invalid("the version must be an integer from 1".into()))?;
            let key = decode_key(key.trim()).map_err(|why| invalid(format!("the key {why}")))?;
            if keys.insert(version, MasterKey { created_at: None, key }).is_some() {
                return Err(invalid(format!("version {version} appears twice")));
            }
        }
        Ok(Self::from_parts(keys, Source::Environment))
    }

    /// Adds a fresh master key as version `current + 1`, stores the keyring file atomically, and
    /// returns the new version. Existing envelopes still open; [`Keyring::rewrap`] moves them over.
    ///
    /// On error the keyring in memory is unchanged.
    pub fn rotate(&mut self) -> Result<u32, KmsError> {
        let Source::File(path) = &self.source else {
            return Err(KmsError::NotRotatable);
        };
        // Under the file lock, from what is on disk now: another process may have rotated since
        // this one read the file, and its version must survive.
        let _lock = keyring_file::lock(path)?;
        let mut keys = keyring_file::read_or_create(path)?;
        let newest = keys.keys().next_back().copied().unwrap_or(0).max(self.current);
        let version = newest.checked_add(1).ok_or_else(|| KmsError::InvalidKeyring {
            path: path.clone(),
            reason: "no key version left after u32::MAX".into(),
        })?;
        let created_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
        keys.insert(version, MasterKey { created_at, key: random_key() });
        keyring_file::write(path, &keys)?;
        self.keys = keys;
        self.current = version;
        Ok(version)
    }

    /// Every version held, oldest first.
    pub fn versions(&self) -> Vec<KeyVersion> {
        self.keys.iter().map(|(&version, key)| KeyVersion { version, created_at: key.created_at }).collect()
    }

    /// The version that wraps new data keys.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    pub(crate) fn master(&self, version: u32) -> Result<&[u8; KEY_LEN], KmsError> {
        self.keys.get(&version).map(|k| &*k.key).ok_or(KmsError::UnknownVersion(version))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("source", &self.source)
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

/// Decodes standard base64 into a 32-byte key without leaving an unwiped copy on the heap.
/// The error completes a sentence ("the key ...") and never quotes the input.
pub(crate) fn decode_key(text: &str) -> Result<KeyBytes, &'static str> {
    // Room for more than 32 bytes so that a longer key is reported as such, not as bad base64.
    let mut buf = Zeroizing::new([0u8; 2 * KEY_LEN]);
    let len = STANDARD.decode_slice(text, &mut buf[..]).map_err(|err| match err {
        DecodeSliceError::OutputSliceTooSmall => "must decode to exactly 32 bytes",
        DecodeSliceError::DecodeError(_) => "is not valid base64 (standard alphabet, padded)",
    })?;
    if len != KEY_LEN {
        return Err("must decode to exactly 32 bytes");
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&buf[..KEY_LEN]);
    Ok(key)
}

#[cfg(test)]
mod tests;
