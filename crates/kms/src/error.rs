//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong loading a keyring or sealing and opening data.
///
/// Messages never contain key material. [`KmsError::Authentication`] deliberately does not say
/// whether the context or the bytes were wrong: that distinction would help an attacker probe.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// Reading, writing or syncing the keyring file failed.
    #[error("keyring file {path}: {source}")]
    Io {
        /// The file (or its directory) the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The keyring file is accessible to group or others.
    #[error("keyring file {path} has mode {mode:04o}; it must not be readable by group or others (chmod 600)")]
    Permissions {
        /// The keyring file.
        path: PathBuf,
        /// The permission bits found.
        mode: u32,
    },
    /// The keyring path is a symlink, directory or other non-regular file.
    #[error("keyring file {path} is not a regular file ({found}); symlinks and special files are refused")]
    NotRegularFile {
        /// The keyring path.
        path: PathBuf,
        /// What was found instead.
        found: &'static str,
    },
    /// The keyring file exists but its content is not a valid keyring.
    #[error("keyring file {path} is invalid: {reason}")]
    InvalidKeyring {
        /// The keyring file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The master key given through the environment is not valid.
    #[error("master key in {env}: {0}", env = crate::MASTER_KEY_ENV)]
    InvalidEnvKey(String),
    /// `rotate` was called on a keyring that is not stored in a file.
    #[error(
        "the keyring comes from {} and is not stored anywhere: rotate it by adding a version to the \
         variable (`1:<old key>,2:<new key>`) and restarting",
        crate::MASTER_KEY_ENV
    )]
    NotRotatable,
    /// The envelope or wrapped key is truncated or not in a known format.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope names a master key version this keyring does not hold.
    #[error("envelope was sealed with master key version {0}, which is not in the keyring")]
    UnknownVersion(u32),
    /// Decryption failed: wrong encryption context, wrong key or altered bytes.
    #[error("decryption failed: wrong encryption context or altered data")]
    Authentication,
    /// AES-GCM refused to encrypt (the only cause is a plaintext beyond its 64 GiB limit).
    #[error("encryption failed: plaintext too large for AES-256-GCM")]
    Encryption,
}
