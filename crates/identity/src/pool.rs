//! User pools (reference §4.4, §4.5): users who sign up with a confirmation code, sign in with
//! a password (and a TOTP code when they enrolled one), and get ID, access and refresh tokens
//! signed by the pool.
//!
//! ```text
//!   SignUp ─▶ UNCONFIRMED ─ConfirmSignUp(code)─▶ CONFIRMED ─InitiateAuth─▶ tokens
//!                                                    │            └─ SOFTWARE_TOKEN_MFA ─▶ tokens
//!   ForgotPassword ─▶ code ─ConfirmForgotPassword─▶ new password, refresh tokens revoked
//! ```
//!
//! Guessing is slowed three ways: failed sign-ins per user are counted in the store (every node
//! sees them) and lock the user out with doubling delays; failures per client address are
//! counted here; and a name the pool does not know behaves exactly like a known one — the same
//! answers, a password hash checked all the same, locked out after as many failures — so that
//! nobody learns which names exist by signing in. Codes and refresh tokens are kept as HMACs
//! under a pool secret the KMS seals.

pub mod admin;
mod api;
mod error;
mod federation;
#[cfg(fuzzing)]
pub mod fuzzing;
mod guard;
mod oauth;
mod page;
mod password;
mod sessions;
mod tokens;

use std::net::IpAddr;
use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use model::{AuthFlow, ClientConfig, SignInWith, UserPoolConfig};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use store::{PoolCode, PoolStore as _, PoolUser, RefreshTake, RefreshToken};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

pub use api::{handle, PoolRequest, PoolResponse};
pub use error::PoolError;
pub use tokens::{rotate, Signer};

use error::{ATTEMPTS_EXCEEDED, WRONG_PASSWORD};

/// How long a sign-up confirmation code is good for (Cognito: 24 hours).
const CONFIRM_CODE_MS: i64 = 24 * 3600 * 1000;
/// How long a password-reset code is good for (Cognito: 1 hour).
const RESET_CODE_MS: i64 = 3600 * 1000;
/// Wrong tries a code takes before it is void.
const CODE_ATTEMPTS: i64 = 5;
/// How long an MFA challenge's session is good for (Cognito: 3 minutes).
const MFA_SESSION_MS: i64 = 3 * 60 * 1000;
/// The scope of tokens from a name and password (Cognito's).
const SIGNIN_SCOPE: &str = "aws.cognito.signin.user.admin";
/// The attributes every pool has (OpenID Connect's standard claims).
const STANDARD_ATTRIBUTES: [&str; 17] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "address",
    "updated_at",
];

/// Where a code goes.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    /// The pool.
    pub pool: String,
    /// The user's name.
    pub username: String,
    /// The e-mail address, or empty.
    pub email: String,
    /// `confirm` or `reset`.
    pub purpose: &'static str,
    /// The code.
    pub code: String,
}

/// Delivers codes (the gateway's log, or a webhook).
pub trait CodeSender: Send + Sync + std::fmt::Debug {
    /// Sends one code.
    fn send(&self, message: CodeMessage) -> futures_util::future::BoxFuture<'_, Result<(), String>>;
}

/// Codes written to the log, for development (`code_delivery: {type: log}`).
#[derive(Debug)]
pub struct LogSender;

impl CodeSender for LogSender {
    fn send(&self, m: CodeMessage) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            tracing::warn!(pool = %m.pool, username = %m.username, purpose = m.purpose, code = %m.code,
                "user-pool code (code_delivery: log, for development only)");
            Ok(())
        })
    }
}

/// One user pool, ready to serve.
#[derive(Debug)]
pub struct UserPool {
    cfg: Arc<UserPoolConfig>,
    dir: Arc<directory::Directory>,
    signer: parking_lot::RwLock<Arc<Signer>>,
    /// When the keys were last read for an unknown key id, ms since the epoch.
    keys_read_ms: std::sync::atomic::AtomicI64,
    secret: Zeroizing<Vec<u8>>,
    sender: Arc<dyn CodeSender>,
    guard: guard::Guard,
    idps: Vec<federation::Idp>,
    sessions: sessions::Sessions,
}

/// Tokens for a signed-in user.
#[derive(Debug)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The ID token (always for a name and password; with the `openid` scope for OAuth).
    pub id: Option<String>,
    /// The refresh token.
    pub refresh: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in.
    Tokens(Tokens),
    /// A TOTP code is needed; answer the challenge with this session.
    Mfa {
        /// The challenge's session.
        session: String,
    },
}

/// What a sign-in's tokens are for.
#[derive(Debug)]
struct Grant<'a> {
    /// The access token's scopes, space-separated.
    scope: &'a str,
    /// The authorization request's `nonce`, echoed in the ID token.
    nonce: Option<&'a str>,
    /// Whether an ID token is issued.
    id_token: bool,
}

impl Grant<'static> {
    /// A sign-in with a name and password (Cognito's `InitiateAuth`).
    fn sign_in() -> Self {
        Self { scope: SIGNIN_SCOPE, nonce: None, id_token: true }
    }
}

/// Whether the space-separated `scopes` include `scope`.
fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split_ascii_whitespace().any(|s| s == scope)
}

/// A password that checked out.
#[derive(Debug)]
enum Checked {
    /// Signed in.
    Done(Box<PoolUser>),
    /// TOTP is asked for; the challenge's session.
    Mfa {
        /// The session.
        session: String,
    },
}

/// A caller identified by one of the pool's access tokens.
#[derive(Debug)]
pub struct Caller {
    /// The user.
    pub user: PoolUser,
    /// The token's claims.
    pub claims: crate::jwt::Claims,
}

impl UserPool {
    /// Opens the pool: its signing key and secret, made on first use.
    pub async fn open(
        cfg: Arc<UserPoolConfig>,
        dir: Arc<directory::Directory>,
        sender: Arc<dyn CodeSender>,
        now_ms: i64,
    ) -> Result<Self, PoolError> {
        let signer = Signer::load(&dir, &cfg.name, overlap_ms(&cfg), now_ms).await?;
        let signer = parking_lot::RwLock::new(Arc::new(signer));
        let secret = dir
            .server_secret(&format!("user-pool:{}", cfg.name), now_ms)
            .await
            .map_err(|e| PoolError::Internal(format!("pool secret: {e}")))?;
        let idps = cfg.identity_providers.iter().cloned().map(federation::Idp::new).collect::<Result<_, _>>()?;
        let keys_read_ms = std::sync::atomic::AtomicI64::new(now_ms);
        Ok(Self {
            cfg,
            dir,
            signer,
            keys_read_ms,
            secret,
            sender,
            guard: guard::Guard::default(),
            idps,
            sessions: Default::default(),
        })
    }

    /// Keeps the sign-in failure counts per address and per unknown name on Redis, under
    /// `key_prefix`, so that every node counts them together.
    #[must_use]
    pub fn counting_on(mut self, link: Arc<limits::RedisLink>, key_prefix: &str) -> Self {
        self.guard = guard::Guard::shared(link, key_prefix, &self.cfg.name);
        self
    }

    /// Its config.
    pub fn config(&self) -> &UserPoolConfig {
        &self.cfg
    }

    /// Its signing keys.
    pub fn signer(&self) -> Arc<Signer> {
        self.signer.read().clone()
    }

    /// The keys to verify a token naming `kid`: read again first when the key is unknown
    /// here (another node rotated), at most once per 5 seconds.
    pub async fn keys_for(&self, kid: Option<&str>, now_ms: i64) -> Arc<crate::jwt::KeySet> {
        let keys = self.signer().keys().clone();
        let unknown = kid.is_some_and(|k| !keys.has_kid(k));
        let last = self.keys_read_ms.load(std::sync::atomic::Ordering::Relaxed);
        if unknown && now_ms - last >= 5_000 {
            self.keys_read_ms.store(now_ms, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = self.reload_keys(now_ms).await {
                tracing::warn!(pool = %self.cfg.name, error = %e, "user pool: keys not read again");
            }
            return self.signer().keys().clone();
        }
        keys
    }

    /// Reads the keys again if they were rotated since (on another node, or by the admin API);
    /// also drops retired keys whose overlap ended. Returns whether anything changed.
    pub async fn reload_keys(&self, now_ms: i64) -> Result<bool, PoolError> {
        let current = self.signer();
        let fresh = Signer::load(&self.dir, &self.cfg.name, overlap_ms(&self.cfg), now_ms).await?;
        let changed = fresh.jwks() != current.jwks() || fresh.kid() != current.kid();
        if changed {
            *self.signer.write() = Arc::new(fresh);
        }
        Ok(changed)
    }

    fn client(&self, id: &str, flow: Option<AuthFlow>) -> Result<&ClientConfig, PoolError> {
        let client = self
            .cfg
            .clients
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| PoolError::InvalidParameter(format!("User pool client {id} does not exist.")))?;
        match flow {
            Some(f) if !client.auth_flows.contains(&f) => {
                Err(PoolError::InvalidParameter(format!("{f:?} flow is not enabled for this client")))
            }
            _ => Ok(client),
        }
    }

    fn store(&self) -> &store::AnyStore {
        self.dir.store()
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("any key length"));
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(&[0]);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The user a sign-in or code request names (by e-mail address in an `email` pool).
    async fn find(&self, name: &str) -> Result<Option<PoolUser>, PoolError> {
        Ok(self.store().pool_user_by_name(&self.cfg.name, name).await?)
    }

    // --- sign-up -----------------------------------------------------------------------------

    /// Creates an unconfirmed user and sends a confirmation code.
    pub async fn sign_up(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        attributes: &[(String, String)],
        now_ms: i64,
    ) -> Result<Value, PoolError> {
        self.client(client_id, None)?;
        let mut attrs = check_attributes(&self.cfg, attributes)?;
        let username = sign_in_name(&self.cfg, username, &mut attrs)?;
        password::check(&self.cfg.password_policy, password)?;
        let email = take_email(&mut attrs)?;
        if email.is_empty() && self.cfg.code_delivery.kind == model::DeliveryKind::Smtp {
            return Err(PoolError::InvalidParameter(
                "The email attribute is required: codes are sent by e-mail".into(),
            ));
        }
        let hash = password::hash(password).await?;
        let user = new_user(&self.cfg.name, username, email, "UNCONFIRMED", hash, attrs, now_ms);
        if !self.store().pool_user_create(&user).await? {
            return Err(PoolError::UsernameExists);
        }
        let delivery = self.send_code(&user, "confirm", CONFIRM_CODE_MS, now_ms).await?;
        Ok(json!({"UserConfirmed": false, "UserSub": user.sub, "CodeDeliveryDetails": delivery}))
    }

    /// Confirms a sign-up with its code.
    pub async fn confirm_sign_up(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<(), PoolError> {
        self.client(client_id, None)?;
        let Some(user) = self.find(username).await? else { return Err(PoolError::CodeMismatch) };
        if user.status != "UNCONFIRMED" {
            return Err(PoolError::NotAuthorized("User cannot be confirmed. Current status is CONFIRMED"));
        }
        self.use_code(&user, "confirm", code, now_ms).await?;
        self.update(&user, now_ms, |u| u.status = "CONFIRMED".into()).await
    }

    /// Sends a new confirmation code to an unconfirmed user. For anyone else the answer looks
    /// the same and nothing is sent.
    pub async fn resend_code(&self, client_id: &str, username: &str, now_ms: i64) -> Result<Value, PoolError> {
        self.client(client_id, None)?;
        match self.find(username).await? {
            Some(user) if user.status == "UNCONFIRMED" => {
                let delivery = self.send_code(&user, "confirm", CONFIRM_CODE_MS, now_ms).await?;
                Ok(json!({"CodeDeliveryDetails": delivery}))
            }
            _ => Ok(json!({"CodeDeliveryDetails": self.pretend_delivery(username)})),
        }
    }

    // --- passwords ---------------------------------------------------------------------------

    /// Sends a password-reset code to a confirmed, enabled user; for anyone else the answer
    /// looks the same and nothing is sent.
    pub async fn forgot_password(&self, client_id: &str, username: &str, now_ms: i64) -> Result<Value, PoolError> {
        self.client(client_id, None)?;
        match self.find(username).await? {
            Some(user) if user.enabled && user.status != "UNCONFIRMED" => {
                let delivery = self.send_code(&user, "reset", RESET_CODE_MS, now_ms).await?;
                Ok(json!({"CodeDeliveryDetails": delivery}))
            }
            _ => Ok(json!({"CodeDeliveryDetails": self.pretend_delivery(username)})),
        }
    }

    /// Sets a new password with a reset code; the user's refresh tokens are revoked.
    pub async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<(), PoolError> {
        self.client(client_id, None)?;
        password::check(&self.cfg.password_policy, password)?;
        let Some(user) = self.find(username).await? else { return Err(PoolError::CodeMismatch) };
        self.use_code(&user, "reset", code, now_ms).await?;
        let hash = password::hash(password).await?;
        self.update(&user, now_ms, |u| {
            u.password_hash.clone_from(&hash);
            u.failed_signins = 0;
            u.locked_until_ms = 0;
            if u.status == "RESET_REQUIRED" {
                u.status = "CONFIRMED".into();
            }
        })
        .await?;
        self.revoke_user(&user.sub).await?;
        Ok(())
    }

    /// Changes the caller's password; its refresh tokens are revoked.
    pub async fn change_password(
        &self,
        caller: &Caller,
        previous: &str,
        proposed: &str,
        now_ms: i64,
    ) -> Result<(), PoolError> {
        if !password::verify(Some(caller.user.password_hash.clone()), previous).await {
            self.store().pool_signin_failed(&self.cfg.name, &caller.user.sub).await?;
            return Err(PoolError::NotAuthorized(WRONG_PASSWORD));
        }
        password::check(&self.cfg.password_policy, proposed)?;
        let hash = password::hash(proposed).await?;
        self.update(&caller.user, now_ms, |u| u.password_hash.clone_from(&hash)).await?;
        self.revoke_user(&caller.user.sub).await?;
        Ok(())
    }

    // --- sign-in -----------------------------------------------------------------------------

    /// `USER_PASSWORD_AUTH`: the name and password, then a TOTP challenge or tokens.
    pub async fn sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        source: IpAddr,
        now_ms: i64,
    ) -> Result<SignIn, PoolError> {
        self.client(client_id, Some(AuthFlow::UserPassword))?;
        match self.check_password(client_id, username, password, source, now_ms).await? {
            Checked::Mfa { session } => Ok(SignIn::Mfa { session }),
            Checked::Done(user) => {
                self.issue(&user, client_id, now_ms, now_ms, &Grant::sign_in()).await.map(SignIn::Tokens)
            }
        }
    }

    /// The name and password of a sign-in (any flow): the user, or the MFA challenge's session
    /// when the user enrolled TOTP. Every failure is counted (see the module doc).
    async fn check_password(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        source: IpAddr,
        now_ms: i64,
    ) -> Result<Checked, PoolError> {
        if self.guard.address_blocked(source, self.cfg.lockout.per_address, now_ms).await {
            return Err(PoolError::TooManyRequests);
        }
        let user = self.find(username).await?;
        let Some(user) = user else {
            let key = username.trim().to_lowercase();
            if self.guard.unknown_locked_until(&key).await > now_ms {
                return Err(PoolError::NotAuthorized(ATTEMPTS_EXCEEDED));
            }
            password::verify(None, password).await;
            self.guard.address_failed(source, now_ms).await;
            self.guard.unknown_failed(&key, &self.cfg.lockout, now_ms).await;
            return Err(PoolError::NotAuthorized(WRONG_PASSWORD));
        };
        if user.locked_until_ms > now_ms {
            return Err(PoolError::NotAuthorized(ATTEMPTS_EXCEEDED));
        }
        if !password::verify(Some(user.password_hash.clone()), password).await {
            self.guard.address_failed(source, now_ms).await;
            let failures = self.store().pool_signin_failed(&self.cfg.name, &user.sub).await?.unwrap_or(0);
            if let Some(until) = guard::lock_until(&self.cfg.lockout, failures, now_ms) {
                self.store().pool_signin_lock(&self.cfg.name, &user.sub, until).await?;
            }
            return Err(PoolError::NotAuthorized(WRONG_PASSWORD));
        }
        // The right password: now the user's state may be told.
        if !user.enabled {
            return Err(PoolError::NotAuthorized("User is disabled."));
        }
        match user.status.as_str() {
            "UNCONFIRMED" => return Err(PoolError::UserNotConfirmed),
            "RESET_REQUIRED" => return Err(PoolError::PasswordResetRequired),
            _ => {}
        }
        if user.failed_signins > 0 {
            self.store().pool_signin_reset(&self.cfg.name, &user.sub).await?;
        }
        if user.mfa_enabled {
            let expires = (now_ms + MFA_SESSION_MS).to_string();
            let body = format!("{}.{client_id}.{expires}.{now_ms}", user.sub);
            let session = format!("{body}.{}", self.mac(&["mfa-session", &body]));
            return Ok(Checked::Mfa { session });
        }
        Ok(Checked::Done(Box::new(user)))
    }

    /// Answers a `SOFTWARE_TOKEN_MFA` challenge with the session and a TOTP code.
    pub async fn answer_mfa(
        &self,
        client_id: &str,
        session: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<Tokens, PoolError> {
        let (user, auth_time_ms) = self.check_mfa(client_id, session, code, now_ms).await?;
        self.issue(&user, client_id, auth_time_ms, now_ms, &Grant::sign_in()).await
    }

    /// The user and sign-in time of an MFA challenge answered with a good code.
    async fn check_mfa(
        &self,
        client_id: &str,
        session: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<(PoolUser, i64), PoolError> {
        const EXPIRED: PoolError = PoolError::NotAuthorized("Invalid session for the user, session is expired.");
        let (body, mac) = session.rsplit_once('.').ok_or(EXPIRED)?;
        if !bool::from(self.mac(&["mfa-session", body]).as_bytes().ct_eq(mac.as_bytes())) {
            return Err(EXPIRED);
        }
        let mut parts = body.split('.');
        let (Some(sub), Some(client), Some(expires), Some(auth_time)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EXPIRED);
        };
        let expires: i64 = expires.parse().map_err(|_| EXPIRED)?;
        if client != client_id || expires <= now_ms {
            return Err(EXPIRED);
        }
        let user = self.store().pool_user(&self.cfg.name, sub).await?.ok_or(EXPIRED)?;
        if !user.enabled || !user.mfa_enabled {
            return Err(EXPIRED);
        }
        let step = self.totp_step(&user, code, now_ms)?;
        // A code is good once: the step is recorded compare-and-set.
        self.update(&user, now_ms, |u| u.mfa_last_step = step).await?;
        Ok((user, auth_time.parse().unwrap_or(now_ms)))
    }

    /// The time step `code` matches for `user`, later than any used before.
    fn totp_step(&self, user: &PoolUser, code: &str, now_ms: i64) -> Result<i64, PoolError> {
        let secret = self.open_totp(user)?;
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let step = crate::totp::verify(&secret, code.trim(), now_s).ok_or(PoolError::CodeMismatch)?;
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if step <= user.mfa_last_step {
            return Err(PoolError::CodeMismatch);
        }
        Ok(step)
    }

    fn totp_context(&self, user: &PoolUser) -> kms::EncryptionContext {
        kms::EncryptionContext::new()
            .with("purpose", "user-pool-totp")
            .with("pool", &self.cfg.name)
            .with("sub", &user.sub)
    }

    fn open_totp(&self, user: &PoolUser) -> Result<Zeroizing<Vec<u8>>, PoolError> {
        if user.mfa_secret.is_empty() {
            return Err(PoolError::InvalidParameter("No software token is associated with the user".into()));
        }
        Ok(self.dir.kms().open_text(&self.totp_context(user), &user.mfa_secret)?)
    }

    /// Makes a TOTP secret for the caller (not yet asked at sign-in): the secret in base32 and
    /// its `otpauth://` URI for an authenticator app.
    pub async fn associate_totp(&self, caller: &Caller, now_ms: i64) -> Result<Value, PoolError> {
        let secret =
            Zeroizing::new(crate::totp::new_secret().map_err(|_| PoolError::Internal("no randomness".into()))?);
        let sealed = self.dir.kms().seal_text(&self.totp_context(&caller.user), &secret)?;
        self.update(&caller.user, now_ms, |u| {
            u.mfa_secret.clone_from(&sealed);
            u.mfa_enabled = false;
        })
        .await?;
        Ok(json!({
            "SecretCode": crate::totp::base32(&secret),
            "OtpauthUri": crate::totp::otpauth_uri(&self.cfg.name, &caller.user.username, &secret),
        }))
    }

    /// Checks a first code from the caller's app and turns TOTP on for its sign-ins.
    pub async fn verify_totp(&self, caller: &Caller, code: &str, now_ms: i64) -> Result<Value, PoolError> {
        if self.cfg.mfa == model::MfaMode::Off {
            return Err(PoolError::InvalidParameter("Multi-factor authentication is off for this pool".into()));
        }
        let step = self.totp_step(&caller.user, code, now_ms)?;
        self.update(&caller.user, now_ms, |u| {
            u.mfa_enabled = true;
            u.mfa_last_step = step;
        })
        .await?;
        Ok(json!({"Status": "SUCCESS"}))
    }

    // --- tokens ------------------------------------------------------------------------------

    /// New tokens, and a refresh token starting a new family.
    async fn issue(
        &self,
        user: &PoolUser,
        client_id: &str,
        auth_time_ms: i64,
        now_ms: i64,
        grant: &Grant<'_>,
    ) -> Result<Tokens, PoolError> {
        let family = uuid::Uuid::new_v4().to_string();
        self.tokens(user, client_id, &family, auth_time_ms, now_ms, grant).await
    }

    async fn tokens(
        &self,
        user: &PoolUser,
        client_id: &str,
        family: &str,
        auth_time_ms: i64,
        now_ms: i64,
        grant: &Grant<'_>,
    ) -> Result<Tokens, PoolError> {
        let client = self.client(client_id, None)?;
        let groups = self.store().pool_groups_of(&self.cfg.name, &user.sub).await?;
        let mut groups: Vec<&model::GroupConfig> =
            self.cfg.groups.iter().filter(|g| groups.contains(&g.name)).collect();
        groups.sort_by_key(|g| g.precedence);
        let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let subject = tokens::Subject {
            user,
            groups: &names,
            client_id,
            auth_time_s: u64::try_from(auth_time_ms / 1000).unwrap_or(0),
        };
        let access_ttl = client.access_token_ttl.as_std().as_secs();
        let id_ttl = client.id_token_ttl.as_std().as_secs();
        let mut id_claims = tokens::id_claims(&self.cfg.issuer, &subject, now_s, id_ttl);
        // The sign-in session the tokens belong to, as Cognito names it: revoking the session's
        // refresh tokens (sign-out, disable, password change) voids its access and ID tokens.
        id_claims.insert("origin_jti".into(), json!(family));
        let roles: Vec<&str> = groups.iter().filter_map(|g| g.role.as_deref()).collect();
        if let Some(first) = roles.first() {
            id_claims.insert("cognito:preferred_role".into(), json!(first));
            id_claims.insert("cognito:roles".into(), json!(roles));
        }
        if let Some(nonce) = grant.nonce {
            id_claims.insert("nonce".into(), json!(nonce));
        }
        // An OAuth grant gets an ID token only with the `openid` scope.
        let id = if grant.id_token { Some(self.signer().sign(&id_claims)?) } else { None };
        let refresh = tokens::new_refresh_token()?;
        let refresh_ms = i64::try_from(client.refresh_token_ttl.as_std().as_millis()).unwrap_or(i64::MAX);
        self.store()
            .pool_refresh_put(&RefreshToken {
                pool: self.cfg.name.clone(),
                token_hash: self.mac(&["refresh", &refresh]),
                sub: user.sub.clone(),
                client_id: client_id.to_owned(),
                family: family.to_owned(),
                scope: grant.scope.to_owned(),
                auth_time_ms,
                expires_ms: now_ms.saturating_add(refresh_ms),
                used: false,
                revoked: false,
            })
            .await?;
        let mut access = tokens::access_claims(&self.cfg.issuer, &subject, now_s, access_ttl, grant.scope);
        access.insert("origin_jti".into(), json!(family));
        Ok(Tokens { access: self.signer().sign(&access)?, id, refresh, expires_in: access_ttl })
    }

    /// `REFRESH_TOKEN_AUTH` and the token endpoint's `refresh_token` grant: new tokens and a new
    /// refresh token of the same family. A refresh token used twice is a stolen one: its whole
    /// family is revoked, the thief's tokens and the owner's alike.
    pub async fn refresh(&self, client_id: &str, refresh: &str, now_ms: i64) -> Result<Tokens, PoolError> {
        self.client(client_id, Some(AuthFlow::RefreshToken))?;
        let hash = self.mac(&["refresh", refresh]);
        let t = match self.store().pool_refresh_take(&self.cfg.name, &hash).await? {
            RefreshTake::Fresh(t) => t,
            RefreshTake::Replayed(t) => {
                let revoked = self.store().pool_refresh_revoke_family(&self.cfg.name, &t.family).await?;
                self.sessions.forget();
                if !t.revoked {
                    tracing::warn!(pool = %self.cfg.name, sub = %t.sub, family = %t.family, revoked,
                        "a used refresh token was presented again: its family is revoked");
                }
                return Err(PoolError::NotAuthorized("Refresh Token has been revoked"));
            }
            RefreshTake::Unknown => return Err(PoolError::NotAuthorized("Invalid Refresh Token")),
        };
        if t.client_id != client_id || t.expires_ms <= now_ms {
            return Err(PoolError::NotAuthorized("Invalid Refresh Token"));
        }
        let user = self.store().pool_user(&self.cfg.name, &t.sub).await?;
        let Some(user) = user.filter(|u| u.enabled) else {
            return Err(PoolError::NotAuthorized("Refresh Token has been revoked"));
        };
        let id_token = t.scope == SIGNIN_SCOPE || has_scope(&t.scope, "openid");
        let grant = Grant { scope: &t.scope, nonce: None, id_token };
        self.tokens(&user, client_id, &t.family, t.auth_time_ms, now_ms, &grant).await
    }

    /// Revokes a refresh token's family (the token endpoint's `/oauth2/revoke`).
    pub async fn revoke(&self, client_id: &str, refresh: &str) -> Result<(), PoolError> {
        self.client(client_id, None)?;
        let hash = self.mac(&["refresh", refresh]);
        match self.store().pool_refresh_take(&self.cfg.name, &hash).await? {
            RefreshTake::Fresh(t) | RefreshTake::Replayed(t) if t.client_id == client_id => {
                self.store().pool_refresh_revoke_family(&self.cfg.name, &t.family).await?;
                self.sessions.forget();
                Ok(())
            }
            // RFC 7009 §2.2: an unknown token is not an error.
            _ => Ok(()),
        }
    }

    /// Revokes every refresh token of the caller (`GlobalSignOut`), and so every session.
    pub async fn sign_out_everywhere(&self, caller: &Caller) -> Result<(), PoolError> {
        self.revoke_user(&caller.user.sub).await
    }

    /// Revokes every session of user `sub`: its refresh tokens, and with them its access and
    /// ID tokens.
    async fn revoke_user(&self, sub: &str) -> Result<(), PoolError> {
        self.store().pool_refresh_revoke_user(&self.cfg.name, sub).await?;
        self.sessions.forget();
        Ok(())
    }

    /// Whether the sign-in session `family` (a token's `origin_jti`) still holds: cached for a
    /// few seconds; while the store cannot be read, the last answer known stands.
    pub async fn session_active(&self, family: &str) -> Result<bool, PoolError> {
        if let Some(active) = self.sessions.cached(family) {
            return Ok(active);
        }
        let generation = self.sessions.generation();
        match self.store().pool_family_active(&self.cfg.name, family).await {
            Ok(active) => {
                self.sessions.remember(family, active, generation);
                Ok(active)
            }
            Err(e) => self.sessions.last_known(family).ok_or_else(|| e.into()),
        }
    }

    /// Forgets what is cached about sessions (a revocation was made elsewhere).
    pub fn forget_sessions(&self) {
        self.sessions.forget();
    }

    /// The caller of one of this pool's access tokens: signature, issuer, client, expiry, and
    /// a user that still exists and is enabled.
    pub async fn caller(&self, access_token: &str, now_ms: i64) -> Result<Caller, PoolError> {
        const INVALID: PoolError = PoolError::NotAuthorized("Invalid Access Token");
        let token = crate::jwt::Token::parse(crate::jwt::bearer(access_token)).map_err(|_| INVALID)?;
        self.signer().keys().verify(&token).map_err(|_| INVALID)?;
        let policy = crate::jwt::Policy {
            issuers: vec![self.cfg.issuer.clone()],
            audiences: self.cfg.clients.iter().map(|c| c.id.clone()).collect(),
            token_use: Some("access".into()),
            clock_skew_s: 0,
            required: vec![],
        };
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let claims = policy.check(token.claims, now_s, &[]).map_err(|_| INVALID)?;
        let sub = claims.text("sub").unwrap_or_default();
        let user = self.store().pool_user(&self.cfg.name, &sub).await?;
        const REVOKED: PoolError = PoolError::NotAuthorized("Access Token has been revoked");
        let user = user.filter(|u| u.enabled).ok_or(REVOKED)?;
        if let Some(family) = claims.str("origin_jti") {
            if !self.session_active(family).await? {
                return Err(REVOKED);
            }
        }
        Ok(Caller { user, claims })
    }

    /// The caller's attributes, as `GetUser` and `/oauth2/userInfo` give them.
    pub fn attributes_of(user: &PoolUser) -> Map<String, Value> {
        let mut out = match serde_json::from_str::<Value>(&user.attributes) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        out.insert("sub".into(), json!(user.sub));
        if !user.email.is_empty() {
            out.insert("email".into(), json!(user.email));
            out.insert("email_verified".into(), json!(user.status != "UNCONFIRMED"));
        }
        out
    }

    // --- codes -------------------------------------------------------------------------------

    async fn send_code(
        &self,
        user: &PoolUser,
        purpose: &'static str,
        valid_ms: i64,
        now_ms: i64,
    ) -> Result<Value, PoolError> {
        let code = new_code()?;
        self.store()
            .pool_code_put(&PoolCode {
                pool: self.cfg.name.clone(),
                sub: user.sub.clone(),
                purpose: purpose.into(),
                code_hash: self.mac(&["code", &user.sub, purpose, &code]),
                expires_ms: now_ms + valid_ms,
                attempts: 0,
            })
            .await?;
        let message = CodeMessage {
            pool: self.cfg.name.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            purpose,
            code,
        };
        self.sender.send(message).await.map_err(|e| PoolError::Internal(format!("code delivery: {e}")))?;
        Ok(delivery_details(&user.email))
    }

    /// The same answer as [`Self::send_code`]'s for a name that gets no code.
    fn pretend_delivery(&self, username: &str) -> Value {
        let email =
            if self.cfg.sign_in_with == SignInWith::Email { username.trim().to_lowercase() } else { String::new() };
        delivery_details(&email)
    }

    /// Checks a code and uses it up; wrong codes are counted against it.
    async fn use_code(&self, user: &PoolUser, purpose: &str, code: &str, now_ms: i64) -> Result<(), PoolError> {
        let pool = &self.cfg.name;
        let stored = self.store().pool_code(pool, &user.sub, purpose).await?.ok_or(PoolError::CodeMismatch)?;
        if stored.expires_ms <= now_ms || stored.attempts >= CODE_ATTEMPTS {
            return Err(PoolError::ExpiredCode);
        }
        let given = self.mac(&["code", &user.sub, purpose, code.trim()]);
        if !bool::from(given.as_bytes().ct_eq(stored.code_hash.as_bytes())) {
            self.store().pool_code_attempt(pool, &user.sub, purpose).await?;
            return Err(PoolError::CodeMismatch);
        }
        // Deleting decides between two requests with the same code: one wins.
        if !self.store().pool_code_delete(pool, &user.sub, purpose).await? {
            return Err(PoolError::CodeMismatch);
        }
        Ok(())
    }

    /// Applies `change` to the user's newest row, compare-and-set; retried a few times when
    /// another request changed the user meanwhile.
    async fn update(&self, user: &PoolUser, now_ms: i64, change: impl Fn(&mut PoolUser)) -> Result<(), PoolError> {
        update_user(self.store(), user, now_ms, change).await.map(|_| ())
    }
}

/// Applies `change` to `user`'s newest row, compare-and-set on its version, reading the row
/// again and retrying a few times when another request changed it meanwhile. The row written.
async fn update_user(
    store: &store::AnyStore,
    user: &PoolUser,
    now_ms: i64,
    change: impl Fn(&mut PoolUser),
) -> Result<PoolUser, PoolError> {
    let mut current = user.clone();
    for _ in 0..4 {
        let mut next = current.clone();
        change(&mut next);
        next.updated_ms = now_ms.max(current.updated_ms + 1);
        if store.pool_user_replace(&next, current.updated_ms).await? {
            return Ok(next);
        }
        current = store.pool_user(&user.pool, &user.sub).await?.ok_or(PoolError::UserNotFound)?;
    }
    Err(PoolError::Internal("the user kept changing under this update".into()))
}

/// How long a retired signing key stays published, in ms.
fn overlap_ms(cfg: &UserPoolConfig) -> i64 {
    i64::try_from(cfg.signing_key_overlap.as_std().as_millis()).unwrap_or(i64::MAX)
}

/// A six-digit code.
fn new_code() -> Result<String, PoolError> {
    let mut bytes = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| PoolError::Internal("no randomness".into()))?;
    Ok(format!("{:06}", u32::from_be_bytes(bytes) % 1_000_000))
}

/// `CodeDeliveryDetails`, the address masked as Cognito masks it (`a***@e***`).
fn delivery_details(email: &str) -> Value {
    let masked = match email.split_once('@') {
        Some((local, domain)) => {
            let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            format!("{}***@{}***", first(local), first(domain))
        }
        None => String::new(),
    };
    json!({"Destination": masked, "DeliveryMedium": "EMAIL", "AttributeName": "email"})
}

/// A new, enabled user of `pool` with a fresh `sub`, no TOTP and no failed sign-ins.
fn new_user(
    pool: &str,
    username: String,
    email: String,
    status: &str,
    password_hash: String,
    attributes: Map<String, Value>,
    now_ms: i64,
) -> PoolUser {
    PoolUser {
        pool: pool.to_owned(),
        sub: uuid::Uuid::new_v4().to_string(),
        username,
        email,
        status: status.to_owned(),
        enabled: true,
        password_hash,
        attributes: Value::Object(attributes).to_string(),
        mfa_secret: String::new(),
        mfa_enabled: false,
        mfa_last_step: 0,
        failed_signins: 0,
        locked_until_ms: 0,
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}

/// The attributes a client may set: standard ones and the pool's custom ones, strings.
fn check_attributes(cfg: &UserPoolConfig, given: &[(String, String)]) -> Result<Map<String, Value>, PoolError> {
    let mut out = Map::new();
    for (name, value) in given {
        let known = STANDARD_ATTRIBUTES.contains(&name.as_str()) || cfg.custom_attributes.contains(name);
        if !known {
            return Err(PoolError::InvalidParameter(format!("Attribute does not exist in the schema: {name}")));
        }
        if value.chars().count() > 2048 {
            return Err(PoolError::InvalidParameter(format!("Attribute {name} is longer than 2048 characters")));
        }
        out.insert(name.clone(), json!(value));
    }
    Ok(out)
}

/// The name a user signs in with: the given one, or in an `email` pool the address
/// (lower-cased, and also the `email` attribute).
fn sign_in_name(cfg: &UserPoolConfig, given: &str, attrs: &mut Map<String, Value>) -> Result<String, PoolError> {
    match cfg.sign_in_with {
        SignInWith::Email => {
            let email = given.trim().to_lowercase();
            check_email(&email)?;
            attrs.insert("email".into(), json!(email));
            Ok(email)
        }
        SignInWith::Username => check_username(given).map(str::to_owned),
    }
}

/// The `email` attribute, lower-cased and checked, taken out of the others (it has a column).
fn take_email(attrs: &mut Map<String, Value>) -> Result<String, PoolError> {
    let email = attrs.remove("email").and_then(|v| v.as_str().map(str::to_lowercase)).unwrap_or_default();
    if !email.is_empty() {
        check_email(&email)?;
    }
    Ok(email)
}

fn check_username(name: &str) -> Result<&str, PoolError> {
    let ok =
        !name.is_empty() && name.chars().count() <= 128 && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(name)
    } else {
        Err(PoolError::InvalidParameter("Username must be 1-128 characters without spaces".into()))
    }
}

fn check_email(email: &str) -> Result<(), PoolError> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(PoolError::InvalidParameter("Invalid email address format.".into()))
    }
}
