//! Everything a request needs that outlives it, built once per config. A reload builds a new
//! `Runtime` and swaps it in; requests in flight keep the one they started with.

use std::sync::Arc;

use model::{Compiled, CompiledRoute};
use telemetry::{AccessLog, Metrics, RouteMetrics};

use crate::upstream::{ClientError, Clients};

/// The compiled config plus the handles that serve it.
#[derive(Debug)]
pub struct Runtime {
    /// The compiled config.
    pub compiled: Compiled,
    pub(crate) clients: Clients,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) access_log: AccessLog,
    /// Metric series by [api][stage][route]; the extra last entry of each stage is "no route".
    route_metrics: Vec<Vec<Vec<RouteMetrics>>>,
    /// Series for requests that matched no API.
    unrouted: RouteMetrics,
}

// === impl Runtime ===

impl Runtime {
    /// Builds the runtime for `compiled`, reusing upstream pools of `previous`.
    pub(crate) fn build(
        compiled: Compiled,
        previous: Option<&Self>,
        metrics: Arc<Metrics>,
        access_log: AccessLog,
    ) -> Result<Self, ClientError> {
        let timeouts = compiled.apis.iter().flat_map(|a| a.routes.iter()).filter_map(|(_, r)| match r {
            CompiledRoute::Http(h) => Some((h.connect_timeout.as_std(), h.ca_file.clone())),
            CompiledRoute::Mock(_) => None,
        });
        let clients = Clients::build(timeouts, previous.map(|p| &p.clients))?;
        let route_metrics = compiled
            .apis
            .iter()
            .map(|api| {
                api.stages
                    .iter()
                    .map(|stage| {
                        let detailed = stage.settings.detailed_metrics;
                        let mut series: Vec<RouteMetrics> = api
                            .routes
                            .iter()
                            .map(|(key, _)| {
                                let route = if detailed { key.display() } else { "-".to_owned() };
                                metrics.route(&api.name, &stage.name, &route)
                            })
                            .collect();
                        series.push(metrics.route(&api.name, &stage.name, "-"));
                        series
                    })
                    .collect()
            })
            .collect();
        let unrouted = metrics.route("-", "-", "-");
        Ok(Self { compiled, clients, metrics, access_log, route_metrics, unrouted })
    }

    /// The metric series for a request routed this far.
    pub(crate) fn route_metrics(
        &self,
        api: Option<usize>,
        stage: Option<usize>,
        route: Option<usize>,
    ) -> &RouteMetrics {
        let (Some(a), Some(s)) = (api, stage) else { return &self.unrouted };
        let Some(series) = self.route_metrics.get(a).and_then(|v| v.get(s)) else { return &self.unrouted };
        route.and_then(|r| series.get(r)).or_else(|| series.last()).unwrap_or(&self.unrouted)
    }
}
