//! Prometheus metrics. Labels come from config (API, stage, route key), never from raw request
//! data, so their number is bounded by the config.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::series::{MetricName, Sample, SeriesCell, SeriesStore};

/// Labels of the per-route series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    api: String,
    stage: String,
    route: String,
}

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: String,
    stage: String,
    route: String,
    status_class: &'static str,
}

/// The series of one (API, stage, route), looked up once when a config is compiled so that
/// recording a request is a few atomic operations, with no label hashing or allocation.
#[derive(Clone, Debug)]
pub struct RouteMetrics {
    requests: [Counter; 4],
    latency: Histogram,
    integration: Histogram,
    /// The same request in the built-in time-series store.
    cell: Arc<SeriesCell>,
}

// === impl RouteMetrics ===

impl RouteMetrics {
    /// Counts a finished request: Prometheus and the time-series store.
    pub fn record(&self, sample: &Sample) {
        let class = match sample.status {
            0..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        self.requests[class].inc();
        self.latency.observe(sample.latency.as_secs_f64());
        if let Some(d) = sample.integration_latency {
            self.integration.observe(d.as_secs_f64());
        }
        self.cell.record(sample);
    }
}

/// One web ACL's decision counters (`portcullis_waf_requests_total`), by rule index.
#[derive(Clone, Debug)]
pub struct WafMetrics {
    /// The default action: allow, block.
    default: [Counter; 2],
    /// Each rule: allow, block, count, challenge.
    rules: Vec<[Counter; 4]>,
}

impl WafMetrics {
    /// Counts the decision of rule `rule` (`None`: the default action).
    pub fn decided(&self, rule: Option<usize>, blocked: bool) {
        let counter = match rule {
            None => self.default.get(usize::from(blocked)),
            Some(i) => self.rules.get(i).map(|c| &c[usize::from(blocked)]),
        };
        if let Some(c) = counter {
            c.inc();
        }
    }

    /// Counts a count rule that matched.
    pub fn counted(&self, rule: usize) {
        if let Some(c) = self.rules.get(rule) {
            c[2].inc();
        }
    }

    /// Counts a request that rule `rule` answered with a challenge.
    pub fn challenged(&self, rule: usize) {
        if let Some(c) = self.rules.get(rule) {
            c[3].inc();
        }
    }
}

/// How a TLS handshake ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum HandshakeResult {
    /// Completed.
    Ok,
    /// Failed or timed out.
    Failed,
}

impl HandshakeResult {
    const fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandshakeLabels {
    listener: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LevelLabel {
    level: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthorizerLabels {
    source: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyFetchLabels {
    issuer: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    name: String,
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlarmLabels {
    alarm: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WafLabels {
    web_acl: String,
    rule: String,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlarmLabel {
    alarm: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabel {
    mode: &'static str,
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
    config_version: Gauge,
    open_connections: Gauge,
    throttled: Family<LevelLabel, Counter>,
    degraded: Family<ModeLabel, Counter>,
    authorizer: Family<AuthorizerLabels, Counter>,
    jwt: Family<AuthorizerLabels, Counter>,
    key_fetches: Family<KeyFetchLabels, Counter>,
    certificate_expiry: Family<CertLabels, Gauge>,
    certificates_expiring: Gauge,
    alarm_transitions: Family<AlarmLabels, Counter>,
    alarm_state: Family<AlarmLabel, Gauge>,
    alarm_notifications: Family<ResultLabel, Counter>,
    waf: Family<WafLabels, Counter>,
    series: Arc<SeriesStore>,
}

// === impl Metrics ===

impl Metrics {
    /// Registers every metric under the `portcullis_` prefix, with 24 hours of history in
    /// the time-series store.
    pub fn new() -> Self {
        Self::with_retention(Duration::from_secs(24 * 3600))
    }

    /// As [`Metrics::new`], keeping `retention` of history in the time-series store.
    pub fn with_retention(retention: Duration) -> Self {
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
            config_version: Gauge::default(),
            open_connections: Gauge::default(),
            throttled: Family::default(),
            degraded: Family::default(),
            authorizer: Family::default(),
            jwt: Family::default(),
            key_fetches: Family::default(),
            certificate_expiry: Family::default(),
            certificates_expiring: Gauge::default(),
            alarm_transitions: Family::default(),
            alarm_state: Family::default(),
            alarm_notifications: Family::default(),
            waf: Family::default(),
            series: Arc::new(SeriesStore::new(retention, now_ms())),
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
        registry.register(
            "config_version",
            "The published config version this node serves (0: its own file)",
            m.config_version.clone(),
        );
        registry.register("open_connections", "Client connections open now", m.open_connections.clone());
        registry.register(
            "throttled",
            "Requests refused by a throttle or quota, by level (global, client, stage, route, plan, plan_route, quota)",
            m.throttled.clone(),
        );
        registry.register(
            "shared_counters_degraded",
            "Requests decided by the Redis failure mode (fail_closed, fail_open, local) because Redis was unreachable",
            m.degraded.clone(),
        );
        registry.register(
            "authorizer_decisions",
            "Custom-authorizer decisions by where the answer came from (node, shared, function; none when refused before any answer) and result (allow, deny, unauthorized, failure, configuration_error)",
            m.authorizer.clone(),
        );
        registry.register(
            "jwt_authorizer_decisions",
            "JWT-authorizer decisions by source (cache: a token verified before; verified: its signature checked now; none: refused before) and result (allow, unauthorized, forbidden, configuration_error)",
            m.jwt.clone(),
        );
        registry.register(
            "jwt_key_fetches",
            "Fetches of OpenID providers' signing keys (discovery and JWKS) by issuer and result (ok, error)",
            m.key_fetches.clone(),
        );
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "When each server certificate in service expires (Unix seconds), by name and source (file, development, acme, import); alarm on it minus time()",
            m.certificate_expiry.clone(),
        );
        registry.register(
            "certificates_expiring_soon",
            "Server certificates in service that expire within 14 days (or have expired)",
            m.certificates_expiring.clone(),
        );
        registry.register(
            "alarm_transitions",
            "Alarm state changes, by alarm and the state entered (OK, ALARM, INSUFFICIENT_DATA)",
            m.alarm_transitions.clone(),
        );
        registry.register(
            "alarm_state",
            "Each alarm's state: 0 OK, 1 ALARM, 2 INSUFFICIENT_DATA",
            m.alarm_state.clone(),
        );
        registry.register(
            "alarm_notifications",
            "Alarm webhook notifications, by result (delivered, failed after every retry)",
            m.alarm_notifications.clone(),
        );
        registry.register(
            "waf_requests",
            "Requests a web ACL decided, by ACL, rule (`-`: the default action) and action (allow, block, count)",
            m.waf.clone(),
        );
        Self { registry, ..m }
    }

    /// The series of one route; `-` stands for "none" in any label.
    pub fn route(&self, api: &str, stage: &str, route: &str) -> RouteMetrics {
        let labels = RouteLabels { api: api.to_owned(), stage: stage.to_owned(), route: route.to_owned() };
        let counter = |status_class| {
            let l =
                RequestLabels { api: api.to_owned(), stage: stage.to_owned(), route: route.to_owned(), status_class };
            self.requests.get_or_create(&l).clone()
        };
        RouteMetrics {
            requests: [counter("2xx"), counter("3xx"), counter("4xx"), counter("5xx")],
            latency: self.latency.get_or_create(&labels).clone(),
            integration: self.integration_latency.get_or_create(&labels).clone(),
            cell: self.series.route(api, stage, route),
        }
    }

    /// The built-in time-series store that the admin API and alarms read.
    pub fn series(&self) -> &Arc<SeriesStore> {
        &self.series
    }

    /// Closes the time-series window: run every [`SeriesStore::RESOLUTION`]. Gauges are
    /// sampled here, so each window has their value.
    pub fn roll(&self, now_ms: i64) {
        self.series.set_gauge(MetricName::CertificatesExpiringSoon, self.certificates_expiring.get() as f64);
        self.series.roll(now_ms);
    }

    /// Counts a gateway response of type `name`.
    pub fn gateway_response(&self, name: &'static str) {
        self.gateway_responses.get_or_create(&TypeLabel { r#type: name }).inc();
    }

    /// Counts a request refused by a throttle or quota at `level`.
    pub fn throttled(&self, level: &'static str) {
        self.throttled.get_or_create(&LevelLabel { level }).inc();
    }

    /// Counts a request decided by the Redis failure mode `mode`.
    pub fn shared_counters_degraded(&self, mode: &'static str) {
        self.degraded.get_or_create(&ModeLabel { mode }).inc();
    }

    /// Counts a custom-authorizer decision.
    pub fn authorizer(&self, source: &'static str, result: &'static str) {
        self.authorizer.get_or_create(&AuthorizerLabels { source, result }).inc();
    }

    /// Counts a JWT-authorizer decision.
    pub fn jwt_authorizer(&self, source: &'static str, result: &'static str) {
        self.jwt.get_or_create(&AuthorizerLabels { source, result }).inc();
    }

    /// Counts a fetch of `issuer`'s signing keys.
    pub fn jwt_key_fetch(&self, issuer: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.key_fetches.get_or_create(&KeyFetchLabels { issuer: issuer.to_owned(), result }).inc();
    }

    /// Records when the certificate for `name` expires.
    pub fn certificate_expiry(&self, name: &str, source: &'static str, not_after_secs: i64) {
        self.certificate_expiry.get_or_create(&CertLabels { name: name.to_owned(), source }).set(not_after_secs);
    }

    /// Sets how many certificates in service expire within 14 days.
    pub fn certificates_expiring_soon(&self, count: i64) {
        self.certificates_expiring.set(count);
    }

    /// Records that alarm `alarm` entered `state` (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    pub fn alarm_transition(&self, alarm: &str, state: &'static str) {
        self.alarm_transitions.get_or_create(&AlarmLabels { alarm: alarm.to_owned(), state }).inc();
        let code = match state {
            "OK" => 0,
            "ALARM" => 1,
            _ => 2,
        };
        self.alarm_state.get_or_create(&AlarmLabel { alarm: alarm.to_owned() }).set(code);
    }

    /// The decision counters of a web ACL with these rules (in the ACL's order), made once
    /// when a config is compiled so that counting a decision builds no labels.
    pub fn web_acl(&self, web_acl: &str, rules: &[&str]) -> WafMetrics {
        let counter = |rule: &str, action| {
            self.waf.get_or_create(&WafLabels { web_acl: web_acl.to_owned(), rule: rule.to_owned(), action }).clone()
        };
        WafMetrics {
            default: [counter("-", "allow"), counter("-", "block")],
            rules: rules
                .iter()
                .map(|r| [counter(r, "allow"), counter(r, "block"), counter(r, "count"), counter(r, "challenge")])
                .collect(),
        }
    }

    /// Counts an alarm notification (`delivered` or `failed`).
    pub fn alarm_notification(&self, result: &'static str) {
        self.alarm_notifications.get_or_create(&ResultLabel { result }).inc();
    }

    /// Counts a TLS handshake on `listener` (`api` or `admin`).
    pub fn handshake(&self, listener: &'static str, result: HandshakeResult) {
        self.handshakes.get_or_create(&HandshakeLabels { listener, result: result.label() }).inc();
    }

    /// Counts a config reload (`ok` or `failed`).
    pub fn reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabel { result }).inc();
    }

    /// Records the published config version now served (0: the node's own file).
    pub fn config_version(&self, version: i64) {
        self.config_version.set(version);
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

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
