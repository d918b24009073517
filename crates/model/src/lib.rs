//! Portcullis configuration: the YAML file as plain data ([`Config`]), loading with errors that
//! name file, line, column and field ([`load_file`]), and the compiled form the data plane
//! serves from ([`Compiled`]): route tables, CORS policies, templates, integrations.
//!
//! Nothing here does network I/O; the only file read is the config itself.

mod alarms;
mod authorizer;
mod compile;
mod config;
mod cors;
mod domains;
mod duration;
mod interpolate;
mod jwt;
mod load;
mod path;
mod positions;
mod response_type;
mod responses;
mod routes;
mod suggest;
mod template;
mod upstream_url;
mod user_pool;

pub use alarms::{
    compile_alarm, AlarmConfig, AlarmDimensions, AlarmTemplate, CompiledAlarm, MetricsConfig, Webhook, WebhookConfig,
};
pub use authorizer::{AuthorizerConfig, AuthorizerType, CompiledAuthorizer, IdentitySource, PayloadFormat};
pub use compile::{
    is_node_name, strip_port, Compiled, CompiledApi, CompiledAuth, CompiledPlan, CompiledRoute, CompiledStage,
    HttpIntegration, Issue, MockIntegration, Selection, StagePlan, DEFAULT_ACCESS_LOG, DEFAULT_RESPONSE_BODY,
    DEFAULT_STAGE,
};
pub use config::{
    AccessLogConfig, AccessLogFileConfig, AdminConfig, ApiConfig, ApiKeySource, AuditConfig, CertificateConfig,
    ClusterConfig, Config, CorsConfig, GatewayResponseConfig, IamConfig, IntegrationConfig, IntegrationKind,
    LimitsConfig, PlanStageConfig, QuotaConfig, QuotaPeriod, RedirectConfig, RedisConfig, RedisFailureMode, RedisScope,
    ReloadConfig, RouteAuth, RouteConfig, SharedStateConfig, ShutdownConfig, StageConfig, StageSettings, StoreConfig,
    ThrottleConfig, ThrottlingConfig, TlsConfig, UsageConfig, UsageJournal, UsagePlanConfig,
};
pub use cors::CorsPolicy;
pub use domains::{
    is_host_pattern, AcmeChallenge, AcmeConfig, BasePathMapping, DomainCertificate, DomainConfig, HstsConfig,
    MutualTlsConfig, MutualTlsMode, RouteClientCert, SecurityPolicy,
};
pub use duration::Duration;
pub use jwt::{provider_url_issue, CompiledJwtAuthorizer, JwtAuthorizerConfig, JwtIssuerConfig, JWT_ALGORITHMS};
pub use load::{load_file, load_published, load_str, ConfigError, ConfigErrors};
pub use path::{canonicalize, PathError};
pub use response_type::ResponseType;
pub use responses::{ResponseOverrides, ResponseSpec};
pub use routes::{RouteKey, RouteMatch, RouteTable};
pub use template::{ContextVar, Escape, Template, TemplateVars};
pub use upstream_url::{UpstreamUrl, UrlPart};
pub use user_pool::{
    AuthFlow, ClientConfig, CodeDelivery, DeliveryKind, GroupConfig, IdentityProviderConfig, Lockout, MfaMode,
    OAuthFlow, PasswordPolicy, ResourceServerConfig, SignInWith, SmtpConfig, SmtpSecurity, UserPoolConfig,
};

/// The JSON Schema of the config file.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}
