//! Prometheus metrics. Labels come from config (API, stage, route key), never from raw request
//! data, so their number is bounded by the config.

use std::fmt;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// API name, or `-` when no API matched.
    pub api: String,
    /// Stage name, or `-`.
    pub stage: String,
    /// Route key, or `-` (also when the stage turns detailed metrics off).
    pub route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status_class: &'static str,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// API name, or `-`.
    pub api: String,
    /// Stage name, or `-`.
    pub stage: String,
    /// Route key, or `-`.
    pub route: String,
}

/// How a TLS handshake ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum HandshakeResult {
    /// Completed.
    Ok,
    /// Failed or timed out.
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandshakeLabels {
    listener: &'static str,
    result: HandshakeResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Every metric the gateway exports, registered once at start.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    integration_latency: Family<RouteLabels, Histogram>,
    gateway_responses: Family<TypeLabel, Counter>,
    handshakes: Family<HandshakeLabels, Counter>,
    reloads: Family<ResultLabel, Counter>,
    open_connections: Gauge,
}

// === impl Metrics ===

impl Metrics {
    /// Registers every metric under the `portcullis_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let buckets =
            || Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        let m = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(buckets),
            integration_latency: Family::new_with_constructor(buckets),
            gateway_responses: Family::default(),
            handshakes: Family::default(),
            reloads: Family::default(),
            open_connections: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("requests", "Requests by API, stage, route and status class", m.requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time from request to the end of the response",
            m.latency.clone(),
        );
        registry.register(
            "integration_duration_seconds",
            "Time the upstream took to answer with its headers",
            m.integration_latency.clone(),
        );
        registry.register(
            "gateway_responses",
            "Responses the gateway produced itself, by type",
            m.gateway_responses.clone(),
        );
        registry.register("tls_handshakes", "TLS handshakes by listener and result", m.handshakes.clone());
        registry.register("config_reloads", "Config reloads by result", m.reloads.clone());
        registry.register("open_connections", "Client connections open now", m.open_connections.clone());
        Self { registry, ..m }
    }

    /// Counts a finished request.
    pub fn request(&self, labels: &RequestLabels, seconds: f64) {
        self.requests.get_or_create(labels).inc();
        let route = RouteLabels { api: labels.api.clone(), stage: labels.stage.clone(), route: labels.route.clone() };
        self.latency.get_or_create(&route).observe(seconds);
    }

    /// Records the upstream's time to answer.
    pub fn integration(&self, labels: &RouteLabels, seconds: f64) {
        self.integration_latency.get_or_create(labels).observe(seconds);
    }

    /// Counts a gateway response of type `name`.
    pub fn gateway_response(&self, name: &'static str) {
        self.gateway_responses.get_or_create(&TypeLabel { r#type: name }).inc();
    }

    /// Counts a TLS handshake on `listener` (`api` or `admin`).
    pub fn handshake(&self, listener: &'static str, result: HandshakeResult) {
        self.handshakes.get_or_create(&HandshakeLabels { listener, result }).inc();
    }

    /// Counts a config reload (`ok` or `failed`).
    pub fn reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabel { result }).inc();
    }

    /// Tracks open connections.
    pub fn connection_opened(&self) {
        self.open_connections.inc();
    }

    /// Tracks open connections.
    pub fn connection_closed(&self) {
        self.open_connections.dec();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::warn!("metrics encoding failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
