//! A user pool's errors, named as Cognito names them (`__type` of the JSON answer), so that
//! clients written for Cognito tell them apart the same way.

/// Why a pool operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A field is missing or malformed, or the client may not do this.
    #[error("{0}")]
    InvalidParameter(String),
    /// The password does not meet the policy.
    #[error("Password does not conform to policy: {0}")]
    InvalidPassword(String),
    /// The name is taken.
    #[error("User already exists")]
    UsernameExists,
    /// Wrong name or password, a locked or disabled user, an invalid or expired token:
    /// the message says which only where that tells an outsider nothing.
    #[error("{0}")]
    NotAuthorized(&'static str),
    /// The user has not confirmed the sign-up code yet (told only after the right password).
    #[error("User is not confirmed.")]
    UserNotConfirmed,
    /// The user must reset the password (told only after the right password).
    #[error("Password reset required for the user")]
    PasswordResetRequired,
    /// A wrong or unknown code.
    #[error("Invalid verification code provided, please try again.")]
    CodeMismatch,
    /// A code past its time, or tried too often.
    #[error("Invalid code provided, please request a code again.")]
    ExpiredCode,
    /// Too many failed attempts from this client address.
    #[error("Too many requests, please try again later.")]
    TooManyRequests,
    /// The admin API named a user that does not exist.
    #[error("User does not exist.")]
    UserNotFound,
    /// The admin API named a group the pool does not define.
    #[error("Group not found.")]
    GroupNotFound,
    /// The operation is unknown.
    #[error("Unknown operation {0}")]
    UnknownOperation(String),
    /// The store, the KMS or the code sender failed; details go to the log only.
    #[error("An internal error occurred")]
    Internal(String),
}

impl PoolError {
    /// Cognito's exception name, the answer's `__type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::InvalidPassword(_) => "InvalidPasswordException",
            Self::UsernameExists => "UsernameExistsException",
            Self::NotAuthorized(_) => "NotAuthorizedException",
            Self::UserNotConfirmed => "UserNotConfirmedException",
            Self::PasswordResetRequired => "PasswordResetRequiredException",
            Self::CodeMismatch => "CodeMismatchException",
            Self::ExpiredCode => "ExpiredCodeException",
            Self::TooManyRequests => "TooManyRequestsException",
            Self::UserNotFound => "UserNotFoundException",
            Self::GroupNotFound => "ResourceNotFoundException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) => "InternalErrorException",
        }
    }

    /// The HTTP status Cognito answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooManyRequests => 429,
            Self::Internal(_) => 500,
            _ => 400,
        }
    }
}

impl From<store::StoreError> for PoolError {
    fn from(e: store::StoreError) -> Self {
        Self::Internal(format!("store: {e}"))
    }
}

impl From<kms::KmsError> for PoolError {
    fn from(e: kms::KmsError) -> Self {
        Self::Internal(format!("kms: {e}"))
    }
}

/// Cognito's text for a wrong name or password (and for an unknown name: the same).
pub(super) const WRONG_PASSWORD: &str = "Incorrect username or password.";
/// Cognito's text while a user is locked out.
pub(super) const ATTEMPTS_EXCEEDED: &str = "Password attempts exceeded";
