//! What the gateway tells its operators: Prometheus metrics ([`Metrics`]) and the access-log
//! writer ([`AccessLog`]). The data plane records; this crate keeps and exposes.

mod access_log;
mod alarm_eval;
mod log_files;
mod metrics;
pub mod segment;
mod series;

pub use access_log::AccessLog;
pub use alarm_eval::{evaluate, AlarmState, Comparison, EvalRule, TreatMissing};
pub use log_files::FileSettings;
pub use metrics::{now_ms, HandshakeResult, Metrics, RouteMetrics, WafMetrics};
pub use series::{Datapoint, Dims, Family, MetricName, Query, QueryError, Sample, SeriesCell, SeriesStore, Statistic};
