//! Webhook notifications: each state change is POSTed as JSON to every webhook of its alarm,
//! signed, and retried with exponential back-off until the webhook answers 2xx.
//!
//! The signature is `x-portcullis-signature: v1=HEX`, where HEX is HMAC-SHA256 under the
//! webhook's secret of `TIMESTAMP.BODY`, and TIMESTAMP is the `x-portcullis-timestamp`
//! header (Unix seconds). A receiver recomputes it over the raw body, compares in constant
//! time, and refuses old timestamps (replays). Every attempt of one notification carries the
//! same `x-portcullis-delivery` id, so a receiver can drop duplicates.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use model::CompiledAlarm;
use serde_json::{json, Value};
use sha2::Sha256;
use telemetry::{Datapoint, Metrics};
use tokio::task::JoinSet;

use crate::Transition;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-portcullis-signature";
/// The header with the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "x-portcullis-timestamp";

/// Attempts per webhook: the first, then after 1, 2, 4 … 64 s.
const ATTEMPTS: u32 = 8;
const TIMEOUT: Duration = Duration::from_secs(10);

/// One state change to deliver.
#[derive(Debug, Clone)]
pub struct Notification {
    body: Value,
    hooks: Vec<model::Webhook>,
    alarm: String,
}

impl Notification {
    pub(crate) fn new(a: &CompiledAlarm, node: &str, t: &Transition, points: &[Datapoint]) -> Self {
        let datapoints: Vec<Value> =
            points.iter().map(|p| json!({ "timestamp_ms": p.timestamp_ms, "value": p.value })).collect();
        let body = json!({
            "alarm": a.name,
            "description": a.description,
            "state": t.to,
            "previous_state": t.from,
            "reason": t.reason,
            "time_ms": t.time_ms,
            "node": node,
            "metric": a.metric.as_str(),
            "dimensions": a.config.dimensions,
            "statistic": a.statistic.to_string(),
            "period_secs": a.period_secs,
            "threshold": a.rule.threshold,
            "comparison": a.rule.comparison.as_str(),
            "datapoints": datapoints,
        });
        Self { body, hooks: a.webhooks.clone(), alarm: a.name.clone() }
    }
}

/// `v1=HEX`: the signature of `body` sent at `timestamp` (Unix seconds) under `secret`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends notifications in the background, one task per webhook and notification.
pub(crate) struct Notifier {
    client: Option<reqwest::Client>,
    metrics: Arc<Metrics>,
    tasks: parking_lot::Mutex<JoinSet<()>>,
}

impl Notifier {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| tracing::error!(error = %e, "alarms: cannot build the webhook client; notifications are off"))
            .ok();
        Self { client, metrics, tasks: parking_lot::Mutex::new(JoinSet::new()) }
    }

    pub(crate) fn send(&self, n: Notification) {
        let Some(client) = &self.client else { return };
        let body = Arc::new(serde_json::to_vec(&n.body).unwrap_or_default());
        let mut tasks = self.tasks.lock();
        while tasks.try_join_next().is_some() {}
        for hook in n.hooks {
            let delivery = uuid::Uuid::new_v4().to_string();
            let (client, body, metrics, alarm) = (client.clone(), body.clone(), self.metrics.clone(), n.alarm.clone());
            tasks.spawn(async move {
                let ok = deliver(&client, &hook, &body, &delivery).await;
                metrics.alarm_notification(if ok { "delivered" } else { "failed" });
                if !ok {
                    tracing::error!(alarm = %alarm, url = %hook.url, delivery = %delivery, "alarm notification not delivered after {ATTEMPTS} attempts");
                }
            });
        }
    }

    /// Waits at most `within` for deliveries under way (at shutdown).
    pub(crate) async fn drain(&self, within: Duration) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock());
        let _ = tokio::time::timeout(within, async { while tasks.join_next().await.is_some() {} }).await;
    }
}

async fn deliver(client: &reqwest::Client, hook: &model::Webhook, body: &Arc<Vec<u8>>, delivery: &str) -> bool {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let sent = client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&hook.secret, ts, body))
            .header("x-portcullis-delivery", delivery)
            .body(body.as_ref().clone())
            .send()
            .await;
        let last = attempt == ATTEMPTS;
        match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => {
                tracing::warn!(url = %hook.url, status = r.status().as_u16(), attempt, last, "alarm webhook refused a notification")
            }
            Err(e) => tracing::warn!(url = %hook.url, error = %e, attempt, last, "alarm webhook unreachable"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    false
}
