//! The encryption context: what a ciphertext is about, bound to it as associated data.

use std::collections::BTreeMap;

/// An ordered set of `(key, value)` string pairs authenticated with, but not stored in, a ciphertext.
///
/// Opening needs the same context that sealing used, so a secret copied from one record into
/// another (other id, other purpose) fails to open. Setting a key twice keeps the last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: BTreeMap<String, String>,
}

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// This context with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.insert(key.into(), value.into());
        self
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The canonical encoding used as associated data: the pair count, then each key and value,
    /// all prefixed by their length as a big-endian u64. Lengths make the encoding injective:
    /// `{"a": "bc"}` and `{"ab": "c"}` encode differently.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.pairs.iter().map(|(k, v)| 16 + k.len() + v.len()).sum::<usize>());
        out.extend_from_slice(&(self.pairs.len() as u64).to_be_bytes());
        for (key, value) in &self.pairs {
            for part in [key, value] {
                out.extend_from_slice(&(part.len() as u64).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}
