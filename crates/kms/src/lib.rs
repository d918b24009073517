//! The Portcullis KMS: a keyring of versioned master keys and envelope encryption.
//!
//! A [`Keyring`] holds 256-bit master keys, loaded from a `0600` file in the data directory
//! ([`Keyring::open_or_create`]) or from the [`MASTER_KEY_ENV`] variable ([`Keyring::from_env_value`]).
//! Master keys never encrypt data themselves: [`Keyring::seal`] encrypts under a fresh data key and
//! stores that key wrapped by the current master key, so rotation only re-wraps 48 bytes
//! ([`Keyring::rewrap`]). Every layer binds an [`EncryptionContext`] as associated data, so a
//! ciphertext moved to another record (another id, another purpose) fails to open.

mod context;
mod data_key;
mod envelope;
mod error;
mod keyring;
mod keyring_file;
mod shared;

pub use context::EncryptionContext;
pub use data_key::DataKey;
pub use envelope::{envelope_version, from_text, to_text};
pub use error::KmsError;
pub use keyring::{KeyVersion, Keyring};
pub use shared::Kms;

/// The environment variable the gateway binary reads a master key from (see [`Keyring::from_env_value`]).
pub const MASTER_KEY_ENV: &str = "PORTCULLIS_MASTER_KEY";
