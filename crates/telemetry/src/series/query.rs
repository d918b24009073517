//! Queries: which windows to read, grouping them into periods, and the statistics.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::ops::Range;

use super::cell::{Counter, Window};
use super::hist::{rank, ClosedHist, HistSum};
use super::{Dims, MetricName, Statistic};

/// A `GetMetricStatistics`-style request.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The metric to read.
    pub metric: MetricName,
    /// Which series: `key` alone reads that API key's series; otherwise every route series
    /// whose api, stage and route equal the ones given (`None` matches any) is summed.
    /// Gauges take no dimensions.
    pub dims: Dims,
    /// How each period's samples become one value.
    pub statistic: Statistic,
    /// Period length in seconds: a positive multiple of 10. Periods start at multiples of it
    /// since the epoch.
    pub period_secs: u32,
    /// Start, in ms since the epoch; rounded down to a period start.
    pub from_ms: i64,
    /// End, exclusive: windows starting at or after it are left out.
    pub to_ms: i64,
}

// === impl Query ===

impl Query {
    /// The most periods one query may span, as in CloudWatch. It bounds the work and memory
    /// of a query: a percentile needs 3.4 KiB of bins per period.
    pub const MAX_PERIODS: u32 = 1440;
}

/// One period's value. Periods without samples give no datapoint; treat them as missing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Datapoint {
    /// Start of the period, ms since the epoch.
    pub timestamp_ms: i64,
    /// The statistic's value (milliseconds for latencies).
    pub value: f64,
    /// The number of samples in the period.
    pub sample_count: u64,
}

/// Why a query was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryError {
    /// `period_secs` is zero or not a multiple of 10.
    Period {
        /// The period asked for.
        period_secs: u32,
    },
    /// `from_ms` is not before `to_ms`.
    Range {
        /// The start asked for.
        from_ms: i64,
        /// The end asked for.
        to_ms: i64,
    },
    /// A `Percentile` outside `(0, 100]`.
    Percentile {
        /// The percentile asked for.
        p: f64,
    },
    /// `key` was given together with api, stage or route; key series have no other dimension.
    KeyWithRoute,
    /// A gauge was asked for with dimensions; gauges have none.
    GaugeWithDims {
        /// The gauge asked for.
        metric: MetricName,
    },
    /// The range holds more than [`Query::MAX_PERIODS`] periods.
    TooManyPeriods {
        /// How many periods the range holds.
        periods: i128,
    },
}

/// Whether a query reads the window still being recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    /// Closed windows only: every period returned is complete (what alarms need).
    Closed,
    /// Closed windows and the open one, so a dashboard shows traffic at once.
    WithOpen,
}

/// A checked query's per-period sums, filled window by window.
#[derive(Debug)]
pub(super) struct Periods {
    metric: MetricName,
    statistic: Statistic,
    period_ms: i64,
    /// Windows whose start is in this range are read.
    range: Range<i64>,
    sums: BTreeMap<i64, Sum>,
}

/// One period's samples of one metric.
#[derive(Debug)]
enum Sum {
    /// A request metric: `ones` of `n` samples were 1, the rest 0.
    Counter {
        n: u64,
        ones: u64,
    },
    Hist(HistSum),
    Gauge(Vec<f64>),
}

// === impl QueryError ===

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Period { period_secs } => {
                write!(f, "period {period_secs}s is not a positive multiple of 10 seconds")
            }
            Self::Range { from_ms, to_ms } => {
                write!(f, "start {from_ms} ms is not before end {to_ms} ms")
            }
            Self::Percentile { p } => write!(f, "percentile p{p} is not in (0, 100]"),
            Self::KeyWithRoute => f.write_str("a key query takes no api, stage or route"),
            Self::GaugeWithDims { metric } => write!(f, "{metric} takes no dimensions"),
            Self::TooManyPeriods { periods } => {
                write!(f, "{periods} periods asked for; at most {} per query", Query::MAX_PERIODS)
            }
        }
    }
}

impl Error for QueryError {}

// === impl Periods ===

impl Periods {
    /// Checks the query and sets up its periods.
    pub(super) fn new(q: &Query) -> Result<Self, QueryError> {
        if q.period_secs == 0 || !q.period_secs.is_multiple_of(10) {
            return Err(QueryError::Period { period_secs: q.period_secs });
        }
        if q.from_ms >= q.to_ms {
            return Err(QueryError::Range { from_ms: q.from_ms, to_ms: q.to_ms });
        }
        if let Statistic::Percentile(p) = q.statistic {
            if !q.statistic.is_valid() {
                return Err(QueryError::Percentile { p });
            }
        }
        let d = &q.dims;
        let route_dims = d.api.is_some() || d.stage.is_some() || d.route.is_some();
        if d.key.is_some() && route_dims {
            return Err(QueryError::KeyWithRoute);
        }
        if q.metric.is_gauge() && (route_dims || d.key.is_some()) {
            return Err(QueryError::GaugeWithDims { metric: q.metric });
        }
        let period_ms = i64::from(q.period_secs) * 1000;
        // Nothing is stored before the epoch; clamping keeps the rounding from overflowing.
        let start = q.from_ms.max(0).div_euclid(period_ms) * period_ms;
        let p = i128::from(period_ms);
        let periods = (i128::from(q.to_ms) - i128::from(start) + p - 1).div_euclid(p);
        if periods > i128::from(Query::MAX_PERIODS) {
            return Err(QueryError::TooManyPeriods { periods });
        }
        Ok(Self { metric: q.metric, statistic: q.statistic, period_ms, range: start..q.to_ms, sums: BTreeMap::new() })
    }

    /// The window starts to read.
    pub(super) fn range(&self) -> &Range<i64> {
        &self.range
    }

    /// Adds one window of one request series.
    pub(super) fn add_window(&mut self, w: &Window) {
        let count = |c: Counter| w.counts[c as usize];
        let ones = match self.metric {
            MetricName::Latency => return self.add_hist(w.start_ms, w.latency.as_ref()),
            MetricName::IntegrationLatency => return self.add_hist(w.start_ms, w.integration.as_ref()),
            MetricName::CertificatesExpiringSoon => return,
            MetricName::Count => count(Counter::Requests),
            MetricName::Error4XX => count(Counter::Error4XX),
            MetricName::Error5XX => count(Counter::Error5XX),
            MetricName::Throttled => count(Counter::Throttled),
            MetricName::QuotaExceeded => count(Counter::QuotaExceeded),
            MetricName::AuthFailures => count(Counter::AuthFailures),
            MetricName::WafBlocked => count(Counter::WafBlocked),
        };
        let n = count(Counter::Requests);
        if n == 0 {
            return;
        }
        if let Sum::Counter { n: pn, ones: po } = self.slot(w.start_ms, || Sum::Counter { n: 0, ones: 0 }) {
            *pn += n;
            *po += ones.min(n);
        }
    }

    /// Adds one window's gauge value.
    pub(super) fn add_gauge(&mut self, start_ms: i64, value: f64) {
        if let Sum::Gauge(v) = self.slot(start_ms, || Sum::Gauge(Vec::new())) {
            v.push(value);
        }
    }

    /// The datapoints, oldest first.
    pub(super) fn finish(self) -> Vec<Datapoint> {
        let stat = self.statistic;
        let point = |(timestamp_ms, sum): (i64, Sum)| {
            let (value, sample_count) = sum.value(stat)?;
            Some(Datapoint { timestamp_ms, value, sample_count })
        };
        self.sums.into_iter().filter_map(point).collect()
    }

    fn add_hist(&mut self, start_ms: i64, h: Option<&ClosedHist>) {
        let Some(h) = h else { return };
        let with_bins = matches!(self.statistic, Statistic::Percentile(_));
        if let Sum::Hist(s) = self.slot(start_ms, || Sum::Hist(HistSum::new(with_bins))) {
            s.add(h);
        }
    }

    /// The sum of the period holding `start_ms`, made by `new` if it is the first.
    fn slot(&mut self, start_ms: i64, new: impl FnOnce() -> Sum) -> &mut Sum {
        debug_assert!(self.range.contains(&start_ms), "window outside the query");
        let period = start_ms.div_euclid(self.period_ms) * self.period_ms;
        self.sums.entry(period).or_insert_with(new)
    }
}

// === impl Sum ===

impl Sum {
    /// The statistic and the number of samples; `None` if there were none.
    fn value(&self, stat: Statistic) -> Option<(f64, u64)> {
        match self {
            Self::Counter { n, ones } => (*n > 0).then(|| (counter_stat(stat, *n, *ones), *n)),
            Self::Hist(h) => (h.count > 0).then(|| (hist_stat(stat, h), h.count)),
            Self::Gauge(v) => (!v.is_empty()).then(|| (gauge_stat(stat, v), v.len() as u64)),
        }
    }
}

/// `ones` samples of 1 and `n - ones` of 0.
fn counter_stat(stat: Statistic, n: u64, ones: u64) -> f64 {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    match stat {
        Statistic::Sum => ones as f64,
        Statistic::Average => ones as f64 / n as f64,
        Statistic::Minimum => flag(ones == n),
        Statistic::Maximum => flag(ones > 0),
        Statistic::SampleCount => n as f64,
        // Sorted, the zeros come first: rank r is a 1 once it passes them.
        Statistic::Percentile(p) => flag(rank(p, n) > n - ones),
    }
}

/// Latency statistics, in milliseconds.
fn hist_stat(stat: Statistic, h: &HistSum) -> f64 {
    let us = match stat {
        Statistic::Sum => h.sum_us as f64,
        Statistic::Average => h.sum_us as f64 / h.count as f64,
        Statistic::Minimum => h.min_us as f64,
        Statistic::Maximum => h.max_us as f64,
        Statistic::SampleCount => return h.count as f64,
        Statistic::Percentile(p) => h.percentile_us(p),
    };
    us / 1000.0
}

fn gauge_stat(stat: Statistic, v: &[f64]) -> f64 {
    let sum: f64 = v.iter().sum();
    match stat {
        Statistic::Sum => sum,
        Statistic::Average => sum / v.len() as f64,
        Statistic::Minimum => v.iter().copied().fold(f64::INFINITY, f64::min),
        Statistic::Maximum => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Statistic::SampleCount => v.len() as f64,
        Statistic::Percentile(p) => {
            let mut sorted = v.to_vec();
            sorted.sort_by(f64::total_cmp);
            let i = usize::try_from(rank(p, v.len() as u64)).unwrap_or(usize::MAX);
            sorted.get(i - 1).copied().unwrap_or(f64::NAN)
        }
    }
}
