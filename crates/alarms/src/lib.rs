//! Alarms: definitions from the config and from the admin API (kept in the store, so every
//! node has them), evaluated every 10 s on this node's metrics store, with states OK /
//! ALARM / INSUFFICIENT_DATA, a history of changes, and on each change a log line, a metric
//! and signed webhook notifications ([`notify`]).
//!
//! A new alarm starts in INSUFFICIENT_DATA, as in CloudWatch. States and history live in
//! memory: a restart starts them again.

mod notify;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use model::{AlarmConfig, CompiledAlarm};
use parking_lot::Mutex;
use serde::Serialize;
use store::{AnyStore, Store as _, StoredAlarm};
use telemetry::{AlarmState, Datapoint, Metrics, Query};
use tokio::sync::watch;

pub use notify::{sign, Notification, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Changes kept per alarm.
const HISTORY: usize = 100;

/// Where a definition comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The config file; changed by editing it.
    Config,
    /// The admin API; kept in the store.
    Api,
}

/// One state change.
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    /// When, ms since the epoch.
    pub time_ms: i64,
    /// The state before.
    pub from: &'static str,
    /// The state after.
    pub to: &'static str,
    /// Why, in words, with the datapoints.
    pub reason: String,
}

/// An alarm as the admin API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AlarmView {
    /// The name.
    pub name: String,
    /// Where it is defined.
    pub source: Source,
    /// The current state.
    pub state: &'static str,
    /// Why it is in that state.
    pub reason: String,
    /// When the state last changed (0: never evaluated).
    pub state_updated_ms: i64,
    /// The definition.
    pub definition: AlarmConfig,
    /// The most recent changes, newest first (in `GET /alarms/NAME` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Transition>>,
}

struct Entry {
    alarm: Arc<CompiledAlarm>,
    source: Source,
    state: AlarmState,
    reason: String,
    updated_ms: i64,
    history: VecDeque<Transition>,
}

/// Why an admin change was refused.
#[derive(Debug)]
pub enum Refused {
    /// The definition is invalid: (field, message) pairs.
    Invalid(Vec<(String, String)>),
    /// The name belongs to a config alarm.
    ConfigOwned,
    /// The store failed.
    Store(String),
}

/// The alarms of this node.
pub struct Alarms {
    metrics: Arc<Metrics>,
    store: AnyStore,
    node: String,
    entries: Mutex<HashMap<String, Entry>>,
    notifier: notify::Notifier,
}

impl std::fmt::Debug for Alarms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alarms").field("node", &self.node).finish_non_exhaustive()
    }
}

impl Alarms {
    /// Alarms reading `metrics`' store, with admin-API definitions in `store`.
    pub fn new(metrics: Arc<Metrics>, store: AnyStore, node: String) -> Arc<Self> {
        let notifier = notify::Notifier::new(metrics.clone());
        Arc::new(Self { metrics, store, node, entries: Mutex::new(HashMap::new()), notifier })
    }

    /// The metrics this node keeps, for queries.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Installs the config's alarms (at start and on reload), keeping the state of alarms
    /// whose name stays; config alarms no longer in the config are dropped.
    pub fn set_config(&self, alarms: &[CompiledAlarm]) {
        let mut entries = self.entries.lock();
        entries.retain(|name, e| e.source == Source::Api || alarms.iter().any(|a| &a.name == name));
        for a in alarms {
            install(&mut entries, a.clone(), Source::Config);
        }
    }

    /// Reads the admin API's alarms from the store: other nodes' changes arrive this way.
    pub async fn sync(&self) -> Result<(), String> {
        let stored = self.store.alarms().await.map_err(|e| e.to_string())?;
        let mut compiled = Vec::new();
        for s in &stored {
            match compile_stored(s) {
                Ok(a) => compiled.push(a),
                Err(issues) => {
                    tracing::error!(alarm = %s.name, ?issues, "a stored alarm no longer compiles; it is not evaluated")
                }
            }
        }
        let mut entries = self.entries.lock();
        entries.retain(|name, e| e.source == Source::Config || compiled.iter().any(|a| &a.name == name));
        for a in compiled {
            if entries.get(&a.name).is_some_and(|e| e.source == Source::Config) {
                continue;
            }
            install(&mut entries, a, Source::Api);
        }
        Ok(())
    }

    /// Creates or replaces an admin-API alarm.
    pub async fn put(&self, def: AlarmConfig, now_ms: i64) -> Result<AlarmView, Refused> {
        let mut issues = Vec::new();
        let Some(alarm) = model::compile_alarm(&def, "", &mut issues) else { return Err(Refused::Invalid(issues)) };
        if self.entries.lock().get(&def.name).is_some_and(|e| e.source == Source::Config) {
            return Err(Refused::ConfigOwned);
        }
        let definition = serde_json::to_string(&def).map_err(|e| Refused::Store(e.to_string()))?;
        let stored = StoredAlarm { name: def.name.clone(), definition, updated_ms: now_ms };
        self.store.put_alarm(&stored).await.map_err(|e| Refused::Store(e.to_string()))?;
        let mut entries = self.entries.lock();
        install(&mut entries, alarm, Source::Api);
        Ok(view(&entries[&def.name], false))
    }

    /// Deletes an admin-API alarm; false if there was none.
    pub async fn delete(&self, name: &str) -> Result<bool, Refused> {
        if self.entries.lock().get(name).is_some_and(|e| e.source == Source::Config) {
            return Err(Refused::ConfigOwned);
        }
        let existed = self.store.delete_alarm(name).await.map_err(|e| Refused::Store(e.to_string()))?;
        self.entries.lock().remove(name);
        Ok(existed)
    }

    /// Every alarm, by name.
    pub fn list(&self) -> Vec<AlarmView> {
        let entries = self.entries.lock();
        let mut out: Vec<AlarmView> = entries.values().map(|e| view(e, false)).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// One alarm with its history.
    pub fn get(&self, name: &str) -> Option<AlarmView> {
        self.entries.lock().get(name).map(|e| view(e, true))
    }

    /// Evaluates every alarm on the windows closed by `now_ms`, acting on each change.
    pub fn evaluate(&self, now_ms: i64) {
        let mut changes = Vec::new();
        {
            let mut entries = self.entries.lock();
            for e in entries.values_mut() {
                if let Some(n) = self.evaluate_one(e, now_ms) {
                    changes.push(n);
                }
            }
        }
        for n in changes {
            self.notifier.send(n);
        }
    }

    fn evaluate_one(&self, e: &mut Entry, now_ms: i64) -> Option<Notification> {
        let a = &e.alarm;
        let (points, values) = self.datapoints(a, now_ms)?;
        let next = telemetry::evaluate(&a.rule, &values, e.state);
        if next == e.state {
            return None;
        }
        let reason = reason(a, &values, next);
        let t = Transition { time_ms: now_ms, from: e.state.as_str(), to: next.as_str(), reason: reason.clone() };
        match next {
            AlarmState::Alarm => {
                tracing::warn!(alarm = %a.name, from = t.from, reason = %reason, "alarm state changed to ALARM")
            }
            _ => tracing::info!(alarm = %a.name, from = t.from, to = t.to, reason = %reason, "alarm state changed"),
        }
        self.metrics.alarm_transition(&a.name, t.to);
        e.state = next;
        e.reason = reason;
        e.updated_ms = now_ms;
        push(&mut e.history, t.clone());
        Some(Notification::new(a, &self.node, &t, &points))
    }

    /// The last `evaluation_periods` complete periods: their datapoints and one value per
    /// period (`None` when the period had no data), oldest first.
    fn datapoints(&self, a: &CompiledAlarm, now_ms: i64) -> Option<(Vec<Datapoint>, Vec<Option<f64>>)> {
        let period_ms = i64::from(a.period_secs) * 1000;
        let end = now_ms - now_ms.rem_euclid(period_ms);
        let n = i64::from(a.rule.evaluation_periods);
        let q = Query {
            metric: a.metric,
            dims: a.dims.clone(),
            statistic: a.statistic,
            period_secs: a.period_secs,
            from_ms: end - n * period_ms,
            to_ms: end,
        };
        let points = match self.metrics.series().query_closed(&q) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(alarm = %a.name, error = %e, "alarm query refused");
                return None;
            }
        };
        let values = (0..n)
            .map(|i| q.from_ms + i * period_ms)
            .map(|start| points.iter().find(|p| p.timestamp_ms == start).map(|p| p.value))
            .collect();
        Some((points, values))
    }

    /// Every 10 s: closes the metrics window, reads the store's alarms and evaluates, until
    /// shutdown; then waits (at most `drain`) for notifications under way.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        let resolution = telemetry::SeriesStore::RESOLUTION;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + resolution, resolution);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut store_failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            let now = telemetry::now_ms();
            self.metrics.roll(now);
            match self.sync().await {
                Ok(()) if std::mem::take(&mut store_failing) => tracing::info!("alarms: the store answers again"),
                Ok(()) => {}
                Err(e) if !std::mem::replace(&mut store_failing, true) => {
                    tracing::warn!(error = %e, "alarms: cannot read the store's alarms; the last ones known are evaluated");
                }
                Err(_) => {}
            }
            self.evaluate(now);
        }
        self.notifier.drain(drain).await;
    }
}

fn compile_stored(s: &StoredAlarm) -> Result<CompiledAlarm, Vec<(String, String)>> {
    let def: AlarmConfig = serde_json::from_str(&s.definition).map_err(|e| vec![(String::new(), e.to_string())])?;
    let mut issues = Vec::new();
    model::compile_alarm(&def, "", &mut issues).ok_or(issues)
}

/// Adds or replaces an alarm; a replaced alarm keeps its state only if its rule is unchanged.
fn install(entries: &mut HashMap<String, Entry>, alarm: CompiledAlarm, source: Source) {
    if let Some(e) = entries.get_mut(&alarm.name) {
        if e.alarm.config != alarm.config && e.state != AlarmState::InsufficientData {
            // Evaluated afresh; the change is in the history, without a notification.
            let t = Transition {
                time_ms: telemetry::now_ms(),
                from: e.state.as_str(),
                to: AlarmState::InsufficientData.as_str(),
                reason: "definition changed".into(),
            };
            push(&mut e.history, t);
            e.state = AlarmState::InsufficientData;
            e.reason = "definition changed".into();
        }
        e.alarm = Arc::new(alarm);
        e.source = source;
        return;
    }
    let entry = Entry {
        alarm: Arc::new(alarm),
        source,
        state: AlarmState::InsufficientData,
        reason: "not evaluated yet".into(),
        updated_ms: 0,
        history: VecDeque::new(),
    };
    entries.insert(entry.alarm.name.clone(), entry);
}

/// Adds a change to a history, newest first, keeping [`HISTORY`] of them.
fn push(history: &mut VecDeque<Transition>, t: Transition) {
    if history.len() == HISTORY {
        history.pop_back();
    }
    history.push_front(t);
}

fn view(e: &Entry, with_history: bool) -> AlarmView {
    AlarmView {
        name: e.alarm.name.clone(),
        source: e.source,
        state: e.state.as_str(),
        reason: e.reason.clone(),
        state_updated_ms: e.updated_ms,
        definition: e.alarm.config.clone(),
        history: with_history.then(|| e.history.iter().cloned().collect()),
    }
}

/// `2 of the last 3 datapoints [7, 9, -] are GreaterThanOrEqualToThreshold 5 (5XXError Sum,
/// 60 s periods)`.
fn reason(a: &CompiledAlarm, values: &[Option<f64>], next: AlarmState) -> String {
    let breaching = values.iter().flatten().filter(|v| a.rule.comparison.breaches(**v, a.rule.threshold)).count();
    let shown: Vec<String> = values.iter().map(|v| v.map_or_else(|| "-".into(), |v| format!("{v}"))).collect();
    let what = match next {
        AlarmState::InsufficientData => "not enough data".to_owned(),
        _ => format!("{breaching} of the last {} datapoints breach", values.len()),
    };
    format!(
        "{what}: [{}] {} {} ({} {}, {} s periods)",
        shown.join(", "),
        a.rule.comparison.as_str(),
        a.rule.threshold,
        a.metric.as_str(),
        a.statistic,
        a.period_secs
    )
}
