//! Alarms on the built-in metrics store, in config (`alarms:`) or through the admin API: the
//! same definition, checked by the same code. A definition may start from a built-in
//! template for a security signal and override any field.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telemetry::{Comparison, Dims, EvalRule, MetricName, Statistic, TreatMissing};

use crate::compile::Issue;
use crate::duration::Duration;

/// The built-in metrics store.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// How long 10-second datapoints are kept for queries and alarms (at least 1m). Changing
    /// it takes a restart.
    #[serde(default = "default_retention")]
    pub retention: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { retention: default_retention() }
    }
}

fn default_retention() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// One alarm (see docs/observability.md#alarms).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmConfig {
    /// Unique among all alarms: letters, digits, `.`, `_` and `-`. (Through the admin API
    /// the path names the alarm.)
    #[serde(default)]
    pub name: String,
    /// Free text, sent with notifications.
    #[serde(default)]
    pub description: String,
    /// A built-in starting point; the fields given here override it.
    #[serde(default)]
    pub template: Option<AlarmTemplate>,
    /// `Count`, `4XXError`, `5XXError`, `Latency`, `IntegrationLatency`, `Throttled`,
    /// `QuotaExceeded`, `AuthFailures`, `WafBlocked` or `CertificatesExpiringSoon`.
    #[serde(default)]
    pub metric: Option<String>,
    /// Which series: any of `api`, `stage`, `route`; or `key` (an API key id) alone.
    #[serde(default)]
    pub dimensions: AlarmDimensions,
    /// `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or a percentile `p50`, `p99.9`…
    #[serde(default)]
    pub statistic: Option<String>,
    /// The length of one datapoint: a multiple of 10s.
    #[serde(default)]
    pub period: Option<Duration>,
    /// How many recent periods are evaluated (N).
    #[serde(default)]
    pub evaluation_periods: Option<u32>,
    /// How many of them must breach to alarm (M); default N.
    #[serde(default)]
    pub datapoints_to_alarm: Option<u32>,
    /// The value compared with each datapoint.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold` or
    /// `LessThanOrEqualToThreshold`.
    #[serde(default)]
    pub comparison: Option<String>,
    /// How periods without data count: `missing` (default), `notBreaching`, `breaching`,
    /// `ignore`.
    #[serde(default)]
    pub treat_missing_data: Option<String>,
    /// Where every state change is POSTed.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

/// The dimensions an alarm watches; unset ones match every series.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmDimensions {
    /// The API name.
    #[serde(default)]
    pub api: Option<String>,
    /// The stage name.
    #[serde(default)]
    pub stage: Option<String>,
    /// The route key, e.g. `GET /pets/{id}`.
    #[serde(default)]
    pub route: Option<String>,
    /// An API key id.
    #[serde(default)]
    pub key: Option<String>,
}

/// A webhook: JSON POSTed, signed with HMAC-SHA256.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// An `https://` (or `http://`) URL.
    pub url: String,
    /// The environment variable holding the signing secret (at least 16 bytes). Notifications
    /// are never sent unsigned.
    pub secret_env: String,
}

/// Built-in alarm templates for security signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlarmTemplate {
    /// 401/403 answers by the gateway: at least 50 in a minute.
    AuthFailuresSpike,
    /// Requests refused by a throttle: at least 100 in a minute.
    Throttling,
    /// Requests blocked by a web ACL: at least 100 in a minute.
    WafBlocks,
    /// 5xx answers: at least 5% of requests over a minute, two minutes of three.
    ServerErrors,
    /// A certificate in service expires within 14 days.
    CertificatesExpiring,
}

/// The fields a template fills.
struct Defaults {
    metric: &'static str,
    statistic: &'static str,
    period: u64,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    threshold: f64,
    comparison: &'static str,
    treat_missing_data: &'static str,
}

impl AlarmTemplate {
    const fn defaults(self) -> Defaults {
        let d = Defaults {
            metric: "AuthFailures",
            statistic: "Sum",
            period: 60,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 50.0,
            comparison: "GreaterThanOrEqualToThreshold",
            treat_missing_data: "notBreaching",
        };
        match self {
            Self::AuthFailuresSpike => d,
            Self::Throttling => Defaults { metric: "Throttled", threshold: 100.0, ..d },
            Self::WafBlocks => Defaults { metric: "WafBlocked", threshold: 100.0, ..d },
            Self::ServerErrors => Defaults {
                metric: "5XXError",
                statistic: "Average",
                evaluation_periods: 3,
                datapoints_to_alarm: 2,
                threshold: 0.05,
                ..d
            },
            Self::CertificatesExpiring => Defaults {
                metric: "CertificatesExpiringSoon",
                statistic: "Maximum",
                threshold: 0.0,
                comparison: "GreaterThanThreshold",
                treat_missing_data: "missing",
                ..d
            },
        }
    }
}

/// A checked alarm, ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledAlarm {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The metric.
    pub metric: MetricName,
    /// The series filter.
    pub dims: Dims,
    /// The statistic.
    pub statistic: Statistic,
    /// Seconds per datapoint.
    pub period_secs: u32,
    /// Threshold, comparison, M of N and missing data.
    pub rule: EvalRule,
    /// Where state changes go.
    pub webhooks: Vec<Webhook>,
    /// The definition as given (for the admin API).
    pub config: AlarmConfig,
}

/// A webhook with its secret read from the environment.
#[derive(Clone)]
pub struct Webhook {
    /// The URL.
    pub url: String,
    /// The HMAC key.
    pub secret: Arc<[u8]>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Checks every alarm of the config.
pub(crate) fn compile_alarms(alarms: &[AlarmConfig], issues: &mut Vec<Issue>) -> Vec<CompiledAlarm> {
    let mut out = Vec::new();
    for (i, a) in alarms.iter().enumerate() {
        let at = format!("alarms[{i}]");
        if let Some(j) = alarms[..i].iter().position(|b| b.name == a.name) {
            issues.push((format!("{at}.name"), format!("alarm name `{}` is already used by alarms[{j}]", a.name)));
        }
        out.extend(compile_alarm(a, &at, issues));
    }
    out
}

fn pick<'a>(given: Option<&'a str>, default: Option<&'static str>) -> Option<&'a str> {
    given.or(default)
}

/// Checks one alarm; problems are reported under `at` (`alarms[2]`, or empty for the admin
/// API's body).
pub fn compile_alarm(a: &AlarmConfig, at: &str, issues: &mut Vec<Issue>) -> Option<CompiledAlarm> {
    let before = issues.len();
    let field = |f: &str| if at.is_empty() { f.to_owned() } else { format!("{at}.{f}") };
    let mut bad = |f: &str, m: String| issues.push((field(f), m));
    if !crate::compile::is_node_name(&a.name) {
        bad("name", "must be 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`".into());
    }
    let d = a.template.map(AlarmTemplate::defaults);
    let metric_text = pick(a.metric.as_deref(), d.as_ref().map(|d| d.metric));
    let metric = match metric_text.map(|m| (m, MetricName::parse(m))) {
        Some((_, Some(m))) => Some(m),
        Some((m, None)) => {
            let names: Vec<&str> = MetricName::ALL.iter().map(|n| n.as_str()).collect();
            bad("metric", format!("unknown metric `{m}`; one of {}", names.join(", ")));
            None
        }
        None => {
            bad("metric", "is required (or a template)".into());
            None
        }
    };
    let statistic = match pick(a.statistic.as_deref(), d.as_ref().map(|d| d.statistic)) {
        None => Some(Statistic::Average),
        Some(s) => Statistic::parse(s).or_else(|| {
            bad("statistic", format!("unknown statistic `{s}`; Sum, Average, Minimum, Maximum, SampleCount or pNN"));
            None
        }),
    };
    let comparison = match pick(a.comparison.as_deref(), d.as_ref().map(|d| d.comparison)) {
        None => {
            bad("comparison", "is required (or a template)".into());
            None
        }
        Some(c) => Comparison::parse(c).or_else(|| {
            bad("comparison", format!("unknown comparison `{c}`; GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold"));
            None
        }),
    };
    let treat_missing = match pick(a.treat_missing_data.as_deref(), d.as_ref().map(|d| d.treat_missing_data)) {
        None => Some(TreatMissing::Missing),
        Some(t) => TreatMissing::parse(t).or_else(|| {
            bad("treat_missing_data", format!("unknown value `{t}`; missing, notBreaching, breaching or ignore"));
            None
        }),
    };
    let period = a.period.map(|p| p.as_std().as_millis()).or(d.as_ref().map(|d| u128::from(d.period) * 1000));
    let period_secs = match period {
        Some(ms) if ms >= 10_000 && ms.is_multiple_of(10_000) && ms <= 86_400_000 => u32::try_from(ms / 1000).ok(),
        Some(_) => {
            bad("period", "must be a multiple of 10s, at most 1d".into());
            None
        }
        None => {
            bad("period", "is required (or a template)".into());
            None
        }
    };
    let n = a.evaluation_periods.or(d.as_ref().map(|d| d.evaluation_periods)).unwrap_or(1);
    let m = a
        .datapoints_to_alarm
        .or(d.as_ref().map(|d| d.datapoints_to_alarm).filter(|_| a.evaluation_periods.is_none()))
        .unwrap_or(n);
    if !(1..=100).contains(&n) {
        bad("evaluation_periods", "must be between 1 and 100".into());
    }
    if m == 0 || m > n {
        bad("datapoints_to_alarm", format!("must be between 1 and evaluation_periods ({n})"));
    }
    let threshold = a.threshold.or(d.as_ref().map(|d| d.threshold));
    if threshold.is_none_or(|t| !t.is_finite()) {
        bad("threshold", "is required, a finite number (or a template)".into());
    }
    let dims = Dims {
        api: a.dimensions.api.clone(),
        stage: a.dimensions.stage.clone(),
        route: a.dimensions.route.clone(),
        key: a.dimensions.key.clone(),
    };
    let has_dims = dims.api.is_some() || dims.stage.is_some() || dims.route.is_some();
    if dims.key.is_some() && has_dims {
        bad("dimensions", "`key` cannot be combined with api, stage or route".into());
    }
    if metric == Some(MetricName::CertificatesExpiringSoon) && (has_dims || dims.key.is_some()) {
        bad("dimensions", "CertificatesExpiringSoon has no dimensions".into());
    }
    let webhooks = compile_webhooks(&a.webhooks, &field("webhooks"), issues);
    if issues.len() > before {
        return None;
    }
    Some(CompiledAlarm {
        name: a.name.clone(),
        description: a.description.clone(),
        metric: metric?,
        dims,
        statistic: statistic?,
        period_secs: period_secs?,
        rule: EvalRule {
            threshold: threshold?,
            comparison: comparison?,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            treat_missing: treat_missing?,
        },
        webhooks,
        config: a.clone(),
    })
}

fn compile_webhooks(hooks: &[WebhookConfig], at: &str, issues: &mut Vec<Issue>) -> Vec<Webhook> {
    let mut out = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let uri = h.url.parse::<http::Uri>();
        let ok = uri.as_ref().is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if !ok {
            issues.push((format!("{at}.url"), format!("`{}` is not an absolute http(s) URL", h.url)));
        }
        match std::env::var(&h.secret_env) {
            Ok(s) if s.len() >= 16 => out.push(Webhook { url: h.url.clone(), secret: s.into_bytes().into() }),
            Ok(_) => issues.push((format!("{at}.secret_env"), format!("{} holds fewer than 16 bytes", h.secret_env))),
            Err(_) => issues.push((
                format!("{at}.secret_env"),
                format!("the environment variable {} is not set; notifications are never sent unsigned", h.secret_env),
            )),
        }
    }
    out
}
