#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use model::{AlarmConfig, AlarmTemplate};
use telemetry::{Metrics, Sample};

use super::*;

async fn alarms() -> (Arc<Alarms>, Arc<Metrics>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = AnyStore::open(&format!("sqlite://{}", dir.path().join("s.db").display())).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    (Alarms::new(metrics.clone(), store, "n1".into()), metrics, dir)
}

fn from_template(name: &str, t: AlarmTemplate, edit: impl FnOnce(&mut AlarmConfig)) -> CompiledAlarm {
    let mut def: AlarmConfig = serde_json::from_value(serde_json::json!({ "name": name })).unwrap();
    def.template = Some(t);
    edit(&mut def);
    let mut issues = Vec::new();
    model::compile_alarm(&def, "", &mut issues).unwrap_or_else(|| panic!("{issues:?}"))
}

/// The start of the next minute after `t`, so a 60 s period closes exactly there.
fn minute_after(t: i64) -> i64 {
    t - t.rem_euclid(60_000) + 60_000
}

#[tokio::test]
async fn the_certificate_template_alarms_while_one_expires_within_14_days() {
    let (alarms, metrics, _dir) = alarms().await;
    alarms.set_config(&[from_template("certs", AlarmTemplate::CertificatesExpiring, |_| {})]);
    let t0 = minute_after(telemetry::now_ms());
    // A minute of 10-second windows with one certificate expiring soon.
    metrics.certificates_expiring_soon(1);
    for i in 1..=6 {
        metrics.roll(t0 + i * 10_000);
    }
    alarms.evaluate(t0 + 60_000);
    let v = alarms.get("certs").unwrap();
    assert_eq!(v.state, "ALARM", "{}", v.reason);
    // Renewed: the next minute reads 0.
    metrics.certificates_expiring_soon(0);
    for i in 7..=12 {
        metrics.roll(t0 + i * 10_000);
    }
    alarms.evaluate(t0 + 120_000);
    let v = alarms.get("certs").unwrap();
    assert_eq!(v.state, "OK", "{}", v.reason);
    let h: Vec<(&str, &str)> = v.history.unwrap().iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(h, [("ALARM", "OK"), ("INSUFFICIENT_DATA", "ALARM")]);
}

#[tokio::test]
async fn the_auth_failure_template_counts_refusals_on_its_api_only() {
    let (alarms, metrics, _dir) = alarms().await;
    let a = from_template("logins", AlarmTemplate::AuthFailuresSpike, |d| {
        d.threshold = Some(10.0);
        d.dimensions.api = Some("a".into());
    });
    alarms.set_config(&[a]);
    let t0 = minute_after(telemetry::now_ms());
    metrics.roll(t0);
    let refused = Sample { status: 403, auth_failure: true, ..Sample::default() };
    let on_a = metrics.route("a", "$default", "GET /x");
    let on_b = metrics.route("b", "$default", "GET /x");
    for _ in 0..9 {
        on_a.record(&refused);
    }
    for _ in 0..50 {
        on_b.record(&refused);
    }
    metrics.roll(t0 + 60_000);
    alarms.evaluate(t0 + 60_000);
    assert_eq!(alarms.get("logins").unwrap().state, "OK", "9 on api a, under 10 (api b does not count)");
    on_a.record(&refused);
    for _ in 0..10 {
        on_a.record(&refused);
    }
    metrics.roll(t0 + 120_000);
    alarms.evaluate(t0 + 120_000);
    let v = alarms.get("logins").unwrap();
    assert_eq!(v.state, "ALARM", "{}", v.reason);
    assert!(v.reason.contains("[11]") && v.reason.contains("AuthFailures Sum"), "{}", v.reason);
}

#[tokio::test]
async fn a_stored_alarm_cannot_shadow_a_config_alarm() {
    let (alarms, _metrics, _dir) = alarms().await;
    alarms.set_config(&[from_template("certs", AlarmTemplate::CertificatesExpiring, |_| {})]);
    let mut def: AlarmConfig = serde_json::from_value(serde_json::json!({ "name": "certs" })).unwrap();
    def.template = Some(AlarmTemplate::Throttling);
    assert!(matches!(alarms.put(def.clone(), 1).await, Err(Refused::ConfigOwned)));
    def.name = "throttles".into();
    let v = alarms.put(def, 1).await.unwrap();
    assert_eq!((v.state, v.source), ("INSUFFICIENT_DATA", Source::Api));
    // Another node's view: the store has it.
    let other = Alarms::new(Arc::new(Metrics::new()), alarms.store.clone(), "n2".into());
    other.sync().await.unwrap();
    assert_eq!(other.list().iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["throttles"]);
}
