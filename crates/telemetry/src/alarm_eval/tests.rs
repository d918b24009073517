use super::*;

use AlarmState::{Alarm, InsufficientData as Insufficient, Ok};

/// Threshold 3, `GreaterThanThreshold`: `X` (5) breaches, `0` (1) does not, `-` is missing.
fn rule(m: u32, n: u32, treat_missing: TreatMissing) -> EvalRule {
    EvalRule {
        threshold: 3.0,
        comparison: Comparison::GreaterThanThreshold,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        treat_missing,
    }
}

/// `"0 - X"` → `[Some(1), None, Some(5)]`, oldest first, as in AWS's tables.
fn points(row: &str) -> Vec<Option<f64>> {
    row.split_whitespace()
        .map(|p| match p {
            "X" => Some(5.0),
            "0" => Some(1.0),
            _ => None,
        })
        .collect()
}

/// Checks one table row for every missing-data setting. `None` in `want` means "retain
/// current state", checked from each starting state.
fn row(m: u32, n: u32, data: &str, want: [Option<AlarmState>; 4]) {
    let settings = [TreatMissing::Missing, TreatMissing::Ignore, TreatMissing::Breaching, TreatMissing::NotBreaching];
    for (treat, want) in settings.into_iter().zip(want) {
        for current in [Ok, Alarm, Insufficient] {
            let got = evaluate(&rule(m, n, treat), &points(data), current);
            let want = want.unwrap_or(current);
            assert_eq!(got, want, "{m} of {n}, {data:?}, {treat:?}, from {current:?}");
        }
    }
}

const RETAIN: Option<AlarmState> = None;

// Columns: MISSING, IGNORE, BREACHING, NOT BREACHING (AWS's order).

#[test]
fn aws_table_3_of_3() {
    row(3, 3, "0 - X - X", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]);
    row(3, 3, "0 - - - -", [Some(Ok), Some(Ok), Some(Ok), Some(Ok)]);
    row(3, 3, "- - - - -", [Some(Insufficient), RETAIN, Some(Alarm), Some(Ok)]);
    row(3, 3, "0 X X - X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]);
    row(3, 3, "- - - - X", [Some(Insufficient), RETAIN, Some(Alarm), Some(Ok)]);
    row(3, 3, "X - - - -", [Some(Alarm), RETAIN, Some(Alarm), Some(Ok)]);
}

#[test]
fn aws_table_2_of_3() {
    row(2, 3, "0 - X - X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]);
    row(2, 3, "0 0 X 0 X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]);
    row(2, 3, "0 - X - -", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]);
    row(2, 3, "- - - - 0", [Some(Ok), Some(Ok), Some(Alarm), Some(Ok)]);
    row(2, 3, "- - - - X", [Some(Insufficient), RETAIN, Some(Alarm), Some(Ok)]);
}

#[test]
fn m_of_n_counts_only_the_newest_n_real_points() {
    let r = rule(2, 3, TreatMissing::Missing);
    assert_eq!(evaluate(&r, &points("X X 0 0 0"), Alarm), Ok);
    assert_eq!(evaluate(&r, &points("0 0 X 0 X"), Ok), Alarm);
    assert_eq!(evaluate(&r, &points("X 0 X"), Ok), Alarm);
    assert_eq!(evaluate(&r, &points("X 0 0"), Alarm), Ok);
    // Breaching points need not be consecutive, and an older real point fills a gap.
    assert_eq!(evaluate(&r, &points("X 0 - X"), Ok), Alarm);
    let all = rule(3, 3, TreatMissing::Missing);
    assert_eq!(evaluate(&all, &points("X X 0"), Ok), Ok);
    assert_eq!(evaluate(&all, &points("0 X X X"), Ok), Alarm);
}

#[test]
fn exactly_n_values_without_a_wider_range() {
    let r = rule(2, 3, TreatMissing::Missing);
    assert_eq!(evaluate(&r, &points("- - -"), Ok), Insufficient);
    assert_eq!(evaluate(&r, &points("X - X"), Ok), Alarm);
    // Like AWS's `X - - - -` row: the oldest evaluated point is real and breaching.
    assert_eq!(evaluate(&r, &points("X - -"), Ok), Alarm);
    assert_eq!(evaluate(&r, &points("- - X"), Ok), Insufficient);
    assert_eq!(evaluate(&r, &points("0 - -"), Alarm), Ok);
    // Fewer entries than N: the absent ones are missing.
    assert_eq!(evaluate(&rule(2, 3, TreatMissing::Breaching), &points("X"), Ok), Alarm);
    assert_eq!(evaluate(&rule(2, 3, TreatMissing::Ignore), &[], Alarm), Alarm);
}

#[test]
fn breaching_and_not_breaching_substitute_missing_points() {
    let breaching = rule(3, 3, TreatMissing::Breaching);
    assert_eq!(evaluate(&breaching, &points("X - -"), Ok), Alarm);
    assert_eq!(evaluate(&breaching, &points("0 - -"), Ok), Ok);
    let not = rule(1, 3, TreatMissing::NotBreaching);
    assert_eq!(evaluate(&not, &points("- - -"), Alarm), Ok);
    assert_eq!(evaluate(&not, &points("- X -"), Ok), Alarm);
}

#[test]
fn comparisons_and_odd_rules() {
    let at = |comparison, v| Comparison::breaches(comparison, v, 3.0);
    assert!(at(Comparison::GreaterThanThreshold, 3.1) && !at(Comparison::GreaterThanThreshold, 3.0));
    assert!(at(Comparison::GreaterThanOrEqualToThreshold, 3.0));
    assert!(at(Comparison::LessThanThreshold, 2.9) && !at(Comparison::LessThanThreshold, 3.0));
    assert!(at(Comparison::LessThanOrEqualToThreshold, 3.0));
    assert!(!at(Comparison::GreaterThanThreshold, f64::NAN));
    // M above N is clamped to N; M = 0 to 1; N = 0 to 1.
    assert_eq!(evaluate(&rule(5, 2, TreatMissing::Missing), &points("X X"), Ok), Alarm);
    assert_eq!(evaluate(&rule(0, 2, TreatMissing::Missing), &points("0 0"), Alarm), Ok);
    assert_eq!(evaluate(&rule(1, 0, TreatMissing::Missing), &points("0 X"), Ok), Alarm);
}

#[test]
fn names_round_trip() {
    for s in [Ok, Alarm, Insufficient] {
        assert_eq!(AlarmState::parse(s.as_str()), Some(s));
    }
    assert_eq!(Insufficient.as_str(), "INSUFFICIENT_DATA");
    for c in
        ["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"]
    {
        assert_eq!(Comparison::parse(c).map(Comparison::as_str), Some(c));
    }
    for t in ["missing", "notBreaching", "breaching", "ignore"] {
        assert_eq!(TreatMissing::parse(t).map(TreatMissing::as_str), Some(t));
    }
    assert_eq!(TreatMissing::parse("NotBreaching"), None);
    assert_eq!(Comparison::parse("GreaterThan"), None);
}
