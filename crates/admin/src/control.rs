use std::future::Future;
use std::pin::Pin;

/// What the admin API may ask of the gateway.
pub trait Control: Send + Sync + 'static {
    /// Reloads the config file; `actor` is for the audit record, which the implementation
    /// writes.
    fn reload<'a>(&'a self, actor: &'a crate::AuditActor) -> Pin<Box<dyn Future<Output = ReloadOutcome> + Send + 'a>>;

    /// The running config as JSON, secrets already redacted.
    fn running_config(&self) -> serde_json::Value;

    /// Prometheus text exposition.
    fn metrics(&self) -> String;

    /// How admin signatures are checked (from the running config).
    fn signing_settings(&self) -> crate::auth::SigningSettings;

    /// The usage plans of the running config.
    fn usage_plans(&self) -> Vec<PlanView>;

    /// The certificates loaded from files (the store's are listed from the store).
    fn file_certificates(&self) -> Vec<CertView>;

    /// Checks a chain and key and serves them for `name` at once; returns the leaf's issuer DN
    /// and expiry (ms since the epoch).
    fn install_certificate(&self, name: &str, chain_pem: &str, key_pem: &str) -> Result<(String, i64), String>;

    /// Stops serving the store certificate for `name` on this node.
    fn remove_certificate(&self, name: &str);

    /// The newest sampled requests of web ACL `acl` on this node (of `rule` only, if given),
    /// at most `max`, as JSON; `None` when the running config has no such ACL.
    fn waf_samples(&self, acl: &str, rule: Option<&str>, max: usize) -> Option<serde_json::Value>;

    /// The user pools of the running config.
    fn user_pools(&self) -> Vec<std::sync::Arc<model::UserPoolConfig>>;

    /// Pool `pool`'s signing keys were rotated: this node reads them again now.
    fn signing_keys_rotated<'a>(&'a self, pool: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    /// Sessions of pool `pool` were revoked by the admin API: this node stops trusting what it
    /// cached about them now (other nodes hear of it through the store).
    fn pool_sessions_revoked(&self, pool: &str);

    /// Whether `document` would compile as a published config over this node's own settings;
    /// the errors name `name` with line and field.
    fn check_published(&self, name: &str, document: &str) -> Result<(), Vec<String>>;

    /// Serves published version `version` on this node now (others follow their change feed).
    fn serve_published(
        &self,
        version: i64,
        document: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;

    /// The published config version this node serves; 0 while its own file serves.
    fn config_version(&self) -> i64;

    /// This node's name.
    fn node_name(&self) -> String;

    /// How often nodes write their heartbeat, in milliseconds.
    fn heartbeat_ms(&self) -> i64;
}

/// A certificate as the inventory shows it.
#[derive(Debug, Clone)]
pub struct CertView {
    /// The names it answers for.
    pub name: String,
    /// `file`, `development`, `acme` or `import`.
    pub source: String,
    /// The leaf's issuer DN.
    pub issuer: String,
    /// Its expiry, ms since the epoch.
    pub not_after_ms: i64,
    /// When it was last issued or renewed (store certificates).
    pub updated_at_ms: Option<i64>,
}

/// A usage plan as the admin API shows it.
#[derive(Debug, Clone)]
pub struct PlanView {
    /// The plan's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Each key's throttle: rate per second and burst.
    pub throttle: Option<(f64, u32)>,
    /// Each key's quota.
    pub quota: Option<limits::Quota>,
    /// The `(api, stage)` pairs it covers.
    pub api_stages: Vec<(String, String)>,
}

/// The result of a reload, as the API reports it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The new config serves.
    Reloaded {
        /// APIs served.
        apis: usize,
        /// Routes served.
        routes: usize,
        /// Settings that changed but need a restart.
        restart_needed: Vec<String>,
    },
    /// The new config was refused; the old one serves.
    Refused {
        /// One line per problem, `file:line:column: path: message`.
        errors: Vec<String>,
    },
}
