//! CloudWatch alarm evaluation: from the latest datapoints and the current state to the next
//! state. Pure: the caller reads the datapoints (closed windows only) and keeps the state.
//!
//! Follows AWS's "Evaluating an alarm" and "How alarm state is evaluated when data is
//! missing" (CloudWatch User Guide, `AlarmThatSendsEmail.md`, `#alarms-evaluating-missing-data`,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html>):
//!
//! - CloudWatch reads an *evaluation range* longer than the N evaluation periods (5 periods for
//!   N = 3 in AWS's examples). If it holds at least N real datapoints, the newest N decide and
//!   the missing-data setting is not used.
//! - Otherwise every real datapoint in the range is used and missing ones fill the rest up to
//!   N, "as few times as possible", as the missing-data setting says.
//! - The state is ALARM if at least M (datapoints to alarm) of the N breach, else OK.
//!
//! For `missing` and `ignore` the published tables show what a filled point means: with a
//! real non-breaching point in the range the alarm goes to OK; with none and fewer than M
//! breaching, `ignore` keeps the current state and `missing` gives INSUFFICIENT_DATA, except
//! that `missing` gives ALARM when the oldest evaluated point is a real breaching one (row
//! `X - - - -` of the 3-of-3 table).

use std::fmt;

/// The state of an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlarmState {
    /// `OK`: within the threshold.
    Ok,
    /// `ALARM`: at least M of the last N datapoints breach.
    Alarm,
    /// `INSUFFICIENT_DATA`: just created, or not enough data to decide.
    InsufficientData,
}

/// How a datapoint is compared with the threshold; the name is the CloudWatch one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `GreaterThanThreshold`: breaches if value > threshold.
    GreaterThanThreshold,
    /// `GreaterThanOrEqualToThreshold`: breaches if value >= threshold.
    GreaterThanOrEqualToThreshold,
    /// `LessThanThreshold`: breaches if value < threshold.
    LessThanThreshold,
    /// `LessThanOrEqualToThreshold`: breaches if value <= threshold.
    LessThanOrEqualToThreshold,
}

/// What a missing datapoint counts as (CloudWatch `TreatMissingData`; default `missing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TreatMissing {
    /// `missing`: not counted; all missing gives INSUFFICIENT_DATA.
    #[default]
    Missing,
    /// `notBreaching`: within the threshold.
    NotBreaching,
    /// `breaching`: breaching the threshold.
    Breaching,
    /// `ignore`: keep the current state when the real data cannot decide.
    Ignore,
}

/// An alarm's condition, as in CloudWatch `PutMetricAlarm`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalRule {
    /// The value datapoints are compared with.
    pub threshold: f64,
    /// How they are compared.
    pub comparison: Comparison,
    /// N: how many of the newest datapoints are evaluated (at least 1).
    pub evaluation_periods: u32,
    /// M: how many of those N must breach for ALARM (clamped into `1..=N`).
    pub datapoints_to_alarm: u32,
    /// What missing datapoints count as.
    pub treat_missing: TreatMissing,
}

// === impl AlarmState ===

impl AlarmState {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// Reads a name written by [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Alarm, Self::InsufficientData].into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl Comparison ===

impl Comparison {
    /// The CloudWatch name, e.g. `GreaterThanThreshold`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// Reads a CloudWatch name (exact); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::GreaterThanThreshold,
            Self::GreaterThanOrEqualToThreshold,
            Self::LessThanThreshold,
            Self::LessThanOrEqualToThreshold,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Whether `value` breaches `threshold`. NaN never breaches.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanThreshold => value > threshold,
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

// === impl TreatMissing ===

impl TreatMissing {
    /// `missing`, `notBreaching`, `breaching` or `ignore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBreaching => "notBreaching",
            Self::Breaching => "breaching",
            Self::Ignore => "ignore",
        }
    }

    /// Reads a CloudWatch name (exact); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Missing, Self::NotBreaching, Self::Breaching, Self::Ignore].into_iter().find(|t| t.as_str() == s)
    }
}

/// The alarm's next state.
///
/// `values` is the evaluation range, oldest first, one entry per period, `None` where the
/// period had no datapoint. Pass at least N periods; passing a few more (AWS uses 5 for
/// N = 3) lets older real datapoints stand in for missing recent ones, as CloudWatch does.
/// Fewer than N entries count as missing ones before the first.
pub fn evaluate(rule: &EvalRule, values: &[Option<f64>], current: AlarmState) -> AlarmState {
    let n = rule.evaluation_periods.max(1) as usize;
    let m = (rule.datapoints_to_alarm as usize).clamp(1, n);
    let real: Vec<bool> = values.iter().flatten().map(|&v| rule.comparison.breaches(v, rule.threshold)).collect();
    let count = |points: &[bool]| points.iter().filter(|&&b| b).count();
    // Enough real datapoints: the newest N decide; the missing-data setting is not used.
    if let Some(newest) = real.len().checked_sub(n).and_then(|skip| real.get(skip..)) {
        return verdict(count(newest) >= m);
    }
    let breaching = count(&real);
    let fill = n - real.len();
    match rule.treat_missing {
        TreatMissing::Breaching => verdict(breaching + fill >= m),
        TreatMissing::NotBreaching => verdict(breaching >= m),
        _ if breaching >= m => AlarmState::Alarm,
        // A real datapoint within the threshold: the fills count as within it too.
        _ if breaching < real.len() => AlarmState::Ok,
        TreatMissing::Ignore => current,
        TreatMissing::Missing if oldest_evaluated_is_real(values, fill) => AlarmState::Alarm,
        TreatMissing::Missing => AlarmState::InsufficientData,
    }
}

fn verdict(alarm: bool) -> AlarmState {
    if alarm {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    }
}

/// The N evaluated points are the real ones plus the `fill` newest missing ones; true if the
/// oldest of them is real. AWS's table gives ALARM for `X - - - -` but INSUFFICIENT_DATA for
/// `- - - - X` (3 of 3, `missing`), "because the oldest evaluated data point is breaching".
fn oldest_evaluated_is_real(values: &[Option<f64>], fill: usize) -> bool {
    let oldest_real = values.iter().position(Option::is_some);
    let mut missing = values.iter().enumerate().rev().filter(|(_, v)| v.is_none());
    // Too few missing entries means the fill reaches before `values`: older than any real one.
    let oldest_fill = fill.checked_sub(1).and_then(|k| missing.nth(k)).map(|(i, _)| i);
    matches!((oldest_real, oldest_fill), (Some(r), Some(f)) if r < f)
}

#[cfg(test)]
mod tests;
