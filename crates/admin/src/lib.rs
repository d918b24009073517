//! The admin API: its own HTTPS listener (default 127.0.0.1:9443), JSON, described by
//! `/openapi.json`, authenticated by SigV4 against the gateway's IAM principals and authorised
//! by their policies (`portcullis:*` actions on `arn:portcullis:…` resources). Every change made through it writes an
//! audit record to the store. It never calls into the data plane directly: what it may do to
//! the gateway is the [`Control`] trait, which the binary implements.

mod alarm_routes;
mod auth;
mod certs;
mod cluster;
mod control;
mod digest;
mod iam;
mod keys;
mod logs;
mod pools;
mod redact;
mod routes;

pub use auth::{Peer, SigningSettings, SERVICE};
pub use control::{CertView, Control, PlanView, ReloadOutcome};
pub use digest::{write_digest, SigningKey, DIGEST_ACTION};
pub use redact::redact_config;
pub use routes::{router, service, write_audit, AuditActor};
