//! One keyring shared by everything in the process that keeps secrets. Rotation happens in
//! place, so holders never see a stale keyring.

use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

use crate::{from_text, to_text, EncryptionContext, KeyVersion, Keyring, KmsError};

/// A cloneable handle on the process's keyring, with text envelopes for database columns.
#[derive(Debug, Clone)]
pub struct Kms(Arc<RwLock<Keyring>>);

// === impl Kms ===

impl Kms {
    /// Shares `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self(Arc::new(RwLock::new(keyring)))
    }

    /// Seals `plaintext` under the current master key, as text (`pcx1:…`).
    pub fn seal_text(&self, ctx: &EncryptionContext, plaintext: &[u8]) -> Result<String, KmsError> {
        self.read(|k| k.seal(ctx, plaintext)).map(|blob| to_text(&blob))
    }

    /// Opens a text envelope made by [`Self::seal_text`] with the same context.
    pub fn open_text(&self, ctx: &EncryptionContext, text: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let blob = from_text(text)?;
        self.read(|k| k.open(ctx, &blob))
    }

    /// Re-wraps a text envelope under the current master key; `None` when it already is.
    pub fn rewrap_text(&self, ctx: &EncryptionContext, text: &str) -> Result<Option<String>, KmsError> {
        let blob = from_text(text)?;
        Ok(self.read(|k| k.rewrap(ctx, &blob))?.map(|b| to_text(&b)))
    }

    /// Adds a master key version and makes it current; returns it.
    pub fn rotate(&self) -> Result<u32, KmsError> {
        let mut guard = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.rotate()
    }

    /// The master key versions, oldest first.
    pub fn versions(&self) -> Vec<KeyVersion> {
        self.read(Keyring::versions)
    }

    /// The version that seals.
    pub fn current_version(&self) -> u32 {
        self.read(Keyring::current_version)
    }

    /// Runs `f` with the keyring (for data keys of streamed files).
    pub fn read<R>(&self, f: impl FnOnce(&Keyring) -> R) -> R {
        let guard = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }
}
