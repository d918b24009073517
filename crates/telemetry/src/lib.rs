//! What the gateway tells its operators: Prometheus metrics ([`Metrics`]) and the access-log
//! writer ([`AccessLog`]). The data plane records; this crate keeps and exposes.

mod access_log;
mod metrics;

pub use access_log::AccessLog;
pub use metrics::{HandshakeResult, Metrics, RouteMetrics};
