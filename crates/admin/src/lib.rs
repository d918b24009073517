//! The admin API: its own HTTPS listener (default 127.0.0.1:9443), JSON, described by
//! `/openapi.json`, authenticated by a bearer token. Every change made through it writes an
//! audit record to the store. It never calls into the data plane directly: what it may do to
//! the gateway is the [`Control`] trait, which the binary implements.

mod auth;
mod control;
mod redact;
mod routes;

pub use auth::{bootstrap, Peer, TOKEN_PREFIX};
pub use control::{Control, ReloadOutcome};
pub use redact::redact_config;
pub use routes::{router, service, write_audit};
