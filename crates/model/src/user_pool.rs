//! User pools as the config writes them: who may sign up and sign in, how passwords and codes
//! are handled, the app clients that get tokens, and the groups users belong to
//! (docs/user-pools.md). Users themselves live in the store.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;

/// A user pool: one issuer of tokens.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserPoolConfig {
    /// The name routes and the admin API refer to. Letters, digits, `-` and `_`.
    pub name: String,
    /// The pool's issuer: the public URL where a route with `integration: {type: user_pool}`
    /// serves it, exactly as tokens carry it in `iss` (`https://`, or `http://` on loopback).
    pub issuer: String,
    /// What users sign in with: `username` (default) or `email` (the address is the name).
    #[serde(default)]
    pub sign_in_with: SignInWith,
    /// What a password must be.
    #[serde(default)]
    pub password_policy: PasswordPolicy,
    /// Time-based one-time passwords at sign-in: `off` (default) or `optional` (users who
    /// enrolled a TOTP app are asked for a code).
    #[serde(default)]
    pub mfa: MfaMode,
    /// Where confirmation and reset codes go.
    #[serde(default)]
    pub code_delivery: CodeDelivery,
    /// How failed sign-ins are slowed down.
    #[serde(default)]
    pub lockout: Lockout,
    /// Attributes users may have besides the standard ones (`name`, `email`, `phone_number`,
    /// …): names of the form `custom:NAME`.
    #[serde(default)]
    pub custom_attributes: Vec<String>,
    /// Groups users can be added to (by the admin API).
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// The applications that sign users in and receive tokens.
    pub clients: Vec<ClientConfig>,
    /// APIs with scopes of their own: scope `IDENTIFIER/NAME` in access tokens.
    #[serde(default)]
    pub resource_servers: Vec<ResourceServerConfig>,
    /// Outside OpenID Connect providers users may sign in with from the hosted page.
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// How long a signing key retired by a rotation stays published, so that the tokens it
    /// signed keep verifying (default 1d, the longest token lifetime).
    #[serde(default = "default_overlap")]
    pub signing_key_overlap: Duration,
}

fn default_overlap() -> Duration {
    Duration::from_secs(86_400)
}

/// An outside OpenID Connect provider (federation).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// Its name: on the hosted page's button, in `identity_provider=NAME`, and the prefix of
    /// its users' names (`NAME_SUB`). Letters, digits, `-` and `_`.
    pub name: String,
    /// Its issuer: found through `ISSUER/.well-known/openid-configuration` (`https://`, or
    /// `http://` on loopback).
    pub issuer: String,
    /// The pool's client id at the provider.
    pub client_id: String,
    /// The pool's client secret at the provider, usually from the environment
    /// (`client_secret: ${CORP_SECRET}`); redacted from the admin API's `/config`.
    pub client_secret: String,
    /// Scopes asked of the provider (default: `openid email profile`).
    #[serde(default = "default_idp_scopes")]
    pub scopes: Vec<String>,
    /// Pool attribute ← provider claim (default: `email`, `name`, `given_name`,
    /// `family_name` from the claims of the same names).
    #[serde(default)]
    pub attribute_mapping: std::collections::BTreeMap<String, String>,
    /// PEM file of the CA of an https provider, instead of the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_idp_scopes() -> Vec<String> {
    ["openid", "email", "profile"].iter().map(|s| (*s).to_owned()).collect()
}

/// A resource server: an API whose scopes clients may ask for.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerConfig {
    /// Its identifier, the scopes' prefix (`pets` gives `pets/read`).
    pub identifier: String,
    /// Its scopes' names.
    pub scopes: Vec<String>,
}

/// The sign-in name.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignInWith {
    /// A user name chosen at sign-up.
    #[default]
    Username,
    /// The e-mail address.
    Email,
}

/// Password rules (Cognito's defaults).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Shortest password, 8 to 256 (default 8).
    #[serde(default = "default_min_length")]
    pub min_length: usize,
    /// At least one lower-case letter (default true).
    #[serde(default = "yes")]
    pub require_lowercase: bool,
    /// At least one upper-case letter (default true).
    #[serde(default = "yes")]
    pub require_uppercase: bool,
    /// At least one digit (default true).
    #[serde(default = "yes")]
    pub require_digits: bool,
    /// At least one symbol (default true).
    #[serde(default = "yes")]
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: default_min_length(),
            require_lowercase: true,
            require_uppercase: true,
            require_digits: true,
            require_symbols: true,
        }
    }
}

/// Multi-factor sign-in.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    /// Never asked.
    #[default]
    Off,
    /// Asked of users who enrolled a TOTP app.
    Optional,
}

/// Where codes are delivered.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CodeDelivery {
    /// `log` (default: the gateway's log, for development), `webhook` or `smtp`.
    #[serde(default, rename = "type")]
    pub kind: DeliveryKind,
    /// (webhook) The URL each code is POSTed to as JSON: `https://`, or `http://` on loopback.
    #[serde(default)]
    pub url: Option<String>,
    /// (webhook, smtp) PEM file of the CA of the server, instead of the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// (smtp) The mail server.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP server codes are sent through, as e-mail to the user's address.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name of the server.
    pub host: String,
    /// Port (default 587).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (only on a loopback host).
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// User name for AUTH, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for AUTH, usually from the environment (`${SMTP_PASSWORD}`); redacted from the
    /// admin API's `/config`.
    #[serde(default)]
    pub password: Option<String>,
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// Plain text: only to a server on the same machine.
    None,
}

fn default_smtp_port() -> u16 {
    587
}

/// The kind of code delivery.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// Written to the gateway's log.
    #[default]
    Log,
    /// POSTed to a URL.
    Webhook,
    /// E-mailed through an SMTP server.
    Smtp,
}

/// Lock-out after failed sign-ins.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    /// Failed sign-ins of one user before it is locked (default 5).
    #[serde(default = "default_lockout_after")]
    pub after: u32,
    /// The first lock; each further failure doubles it (default 1s).
    #[serde(default = "default_lockout_initial")]
    pub initial: Duration,
    /// The longest lock (default 15m).
    #[serde(default = "default_lockout_max")]
    pub max: Duration,
    /// Failed sign-ins from one client address, any users, per 15 minutes before that address
    /// is refused for a while (default 100).
    #[serde(default = "default_per_address")]
    pub per_address: u32,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            after: default_lockout_after(),
            initial: default_lockout_initial(),
            max: default_lockout_max(),
            per_address: default_per_address(),
        }
    }
}

/// A group of users.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Its name, in tokens' `cognito:groups`.
    pub name: String,
    /// Lower wins when a user's groups name different roles (default 0).
    #[serde(default)]
    pub precedence: u32,
    /// An IAM role ARN given to members, in ID tokens' `cognito:roles` / `cognito:preferred_role`.
    #[serde(default)]
    pub role: Option<String>,
}

/// An app client.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id: ID tokens' `aud`, access tokens' `client_id`.
    pub id: String,
    /// Sign-in flows it may use: `user_password` (a name and password sent to the pool) and
    /// `refresh_token` (default: both).
    #[serde(default = "default_flows")]
    pub auth_flows: Vec<AuthFlow>,
    /// Lifetime of access tokens, 5m to 1d (default 1h).
    #[serde(default = "default_token_ttl")]
    pub access_token_ttl: Duration,
    /// Lifetime of ID tokens, 5m to 1d (default 1h).
    #[serde(default = "default_token_ttl")]
    pub id_token_ttl: Duration,
    /// Lifetime of refresh tokens, 1h to 3650d (default 30d).
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl: Duration,
    /// OAuth 2.0 grants it may use at `/oauth2/authorize` and `/oauth2/token`: `code`
    /// (authorization code with PKCE S256) and `client_credentials` (needs a secret).
    #[serde(default)]
    pub oauth_flows: Vec<OAuthFlow>,
    /// Where `/oauth2/authorize` may send the browser back: compared exactly. `https://`, or
    /// `http://` on loopback (native apps); no fragment.
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// Scopes it may ask for: `openid`, `email`, `profile`, `phone`,
    /// `aws.cognito.signin.user.admin`, and the resource servers' `IDENTIFIER/NAME`.
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// A confidential client: the hex SHA-256 of its secret (`openssl rand -hex 32`, then
    /// `printf %s SECRET | sha256sum`). Without one the client is public and must use PKCE.
    #[serde(default)]
    pub secret_sha256: Option<String>,
}

/// An OAuth 2.0 grant of an app client.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OAuthFlow {
    /// The authorization code grant, through the hosted sign-in page.
    Code,
    /// The client credentials grant (machine to machine).
    ClientCredentials,
}

/// A sign-in flow of an app client.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthFlow {
    /// `USER_PASSWORD_AUTH`: the name and password in the request.
    UserPassword,
    /// `REFRESH_TOKEN_AUTH`: a refresh token for new tokens.
    RefreshToken,
}

fn yes() -> bool {
    true
}
fn default_min_length() -> usize {
    8
}
fn default_lockout_after() -> u32 {
    5
}
fn default_lockout_initial() -> Duration {
    Duration::from_secs(1)
}
fn default_lockout_max() -> Duration {
    Duration::from_secs(900)
}
fn default_per_address() -> u32 {
    100
}
fn default_flows() -> Vec<AuthFlow> {
    vec![AuthFlow::UserPassword, AuthFlow::RefreshToken]
}
fn default_token_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_refresh_ttl() -> Duration {
    Duration::from_secs(30 * 86_400)
}
