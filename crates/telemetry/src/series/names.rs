//! The names callers use: which metric ([`MetricName`]) and which statistic ([`Statistic`]).

use std::fmt;

/// A metric kept by the [`SeriesStore`](super::SeriesStore), named as CloudWatch names the
/// API Gateway metrics.
///
/// Every request is one sample of each request metric. `Count` is 1 per request; the error and
/// decision metrics are 1 or 0, so their `Sum` is a number of requests, their `Average` a rate
/// and their `SampleCount` the number of requests. Latencies are in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricName {
    /// `Count`: requests, 1 per request.
    Count,
    /// `4XXError`: 1 if the status was 400–499, else 0.
    Error4XX,
    /// `5XXError`: 1 if the status was 500–599, else 0.
    Error5XX,
    /// `Latency`: milliseconds from accept to the last byte of the response.
    Latency,
    /// `IntegrationLatency`: milliseconds the upstream took; only requests that called one.
    IntegrationLatency,
    /// `Throttled`: 1 if a rate limit refused the request, else 0.
    Throttled,
    /// `QuotaExceeded`: 1 if a usage-plan quota refused the request, else 0.
    QuotaExceeded,
    /// `AuthFailures`: 1 if authorization refused the request, else 0.
    AuthFailures,
    /// `WafBlocked`: 1 if the API's web ACL blocked the request, else 0.
    WafBlocked,
    /// `CertificatesExpiringSoon`: a gauge, the last value set in each 10 s window.
    CertificatesExpiringSoon,
}

// === impl MetricName ===

impl MetricName {
    /// Every metric, in a stable order (for listings).
    pub const ALL: [Self; 10] = [
        Self::Count,
        Self::Error4XX,
        Self::Error5XX,
        Self::Latency,
        Self::IntegrationLatency,
        Self::Throttled,
        Self::QuotaExceeded,
        Self::AuthFailures,
        Self::WafBlocked,
        Self::CertificatesExpiringSoon,
    ];

    /// The CloudWatch-style name, e.g. `4XXError`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Error4XX => "4XXError",
            Self::Error5XX => "5XXError",
            Self::Latency => "Latency",
            Self::IntegrationLatency => "IntegrationLatency",
            Self::Throttled => "Throttled",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::AuthFailures => "AuthFailures",
            Self::WafBlocked => "WafBlocked",
            Self::CertificatesExpiringSoon => "CertificatesExpiringSoon",
        }
    }

    /// Reads a name written by [`as_str`](Self::as_str) (exact, case-sensitive); `None` if it
    /// names no metric.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether this is a gauge (set by the caller, no dimensions) rather than a request metric.
    pub fn is_gauge(self) -> bool {
        matches!(self, Self::CertificatesExpiringSoon)
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the samples of one period become one value, as in CloudWatch `GetMetricStatistics`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Statistic {
    /// The sum of the sample values.
    Sum,
    /// The sum divided by the number of samples.
    Average,
    /// The smallest sample (0 or 1 for request metrics).
    Minimum,
    /// The largest sample (0 or 1 for request metrics).
    Maximum,
    /// The number of samples.
    SampleCount,
    /// The nearest-rank percentile, `0 < p <= 100`. Latencies come from a histogram and are
    /// within about 3 % of the exact value.
    Percentile(f64),
}

// === impl Statistic ===

impl Statistic {
    /// Reads `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or `pNN` / `pNN.N` (for
    /// example `p50`, `p99.9`) with `0 < NN <= 100`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Sum" => Some(Self::Sum),
            "Average" => Some(Self::Average),
            "Minimum" => Some(Self::Minimum),
            "Maximum" => Some(Self::Maximum),
            "SampleCount" => Some(Self::SampleCount),
            _ => parse_percentile(s.strip_prefix('p')?).map(Self::Percentile),
        }
    }

    /// Whether a percentile lies in `(0, 100]`; a hand-built `Percentile` may not.
    pub(super) fn is_valid(self) -> bool {
        match self {
            Self::Percentile(p) => p > 0.0 && p <= 100.0,
            _ => true,
        }
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sum => f.write_str("Sum"),
            Self::Average => f.write_str("Average"),
            Self::Minimum => f.write_str("Minimum"),
            Self::Maximum => f.write_str("Maximum"),
            Self::SampleCount => f.write_str("SampleCount"),
            Self::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// Digits with at most one inner dot, so that `f64::from_str` never sees `inf`, `1e2` or `+5`.
fn parse_percentile(num: &str) -> Option<f64> {
    let (int, frac) = num.split_once('.').unwrap_or((num, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return None;
    }
    let p: f64 = num.parse().ok()?;
    (p > 0.0 && p <= 100.0).then_some(p)
}
