//! An in-process time series store of the gateway's request metrics at 10 s resolution, read
//! by the admin API (like CloudWatch `GetMetricStatistics`) and by alarms. Prometheus export
//! is separate ([`Metrics`](crate::Metrics)).
//!
//! The data plane holds an `Arc<SeriesCell>` per route (and gets one per API key) and calls
//! [`SeriesCell::record`] once per request: relaxed atomic adds, no lock, no allocation. A
//! timer calls [`SeriesStore::roll`] every 10 s; it swaps each cell's atomics to zero and keeps
//! the window, if it saw a request, in the cell's history until the retention has passed.
//!
//! # Memory
//!
//! - A live cell: 6 counters and two histograms of 432 `u32` bins (latency, integration
//!   latency), about 3.7 KiB, plus its names. Key cells and route cells of retired configs
//!   are dropped once nothing holds them and their history has expired.
//! - A closed window: 160 bytes, plus 8 bytes per non-zero histogram bin (one allocation
//!   per histogram). A window has at most one non-zero bin per request and at most 432 per histogram, so
//!   the worst case is 160 + 2 × 432 × 8 ≈ 7.1 KiB per window per cell, or about 61 MiB per
//!   cell for 24 h of non-stop, widely spread traffic (8,640 windows). Latencies in one
//!   window usually fill a few dozen bins: under 1 KiB per window. A window without requests
//!   is not stored.
//! - The gauge: 16 bytes per window in which it was set.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

mod cell;
mod gauge;
mod hist;
mod names;
mod query;
#[cfg(test)]
mod tests;

pub use cell::SeriesCell;
pub use names::{MetricName, Statistic};
pub use query::{Datapoint, Query, QueryError};

use gauge::GaugeSeries;
use query::{Periods, Scope};

/// What one finished request tells the store. Built by the log phase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// The response status sent to the client (4XXError: 400–499, 5XXError: 500–599).
    pub status: u16,
    /// Time from accept to the end of the response.
    pub latency: Duration,
    /// Time the upstream took; `None` if no upstream was called.
    pub integration_latency: Option<Duration>,
    /// A rate limit refused the request.
    pub throttled: bool,
    /// A usage-plan quota refused the request.
    pub quota_exceeded: bool,
    /// Authorization refused the request.
    pub auth_failure: bool,
    /// The API's web ACL blocked the request.
    pub waf_blocked: bool,
}

/// The two kinds of request series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// One series per (api, stage, route), made when a config is compiled.
    Route,
    /// One series per API key id, made on the key's first request.
    Key,
}

/// Dimensions of a series, or a filter on them in a [`Query`] (`None` matches any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dims {
    /// API id.
    pub api: Option<String>,
    /// Stage name.
    pub stage: Option<String>,
    /// Route key, e.g. `GET /pets/{id}`.
    pub route: Option<String>,
    /// API key id; set only on [`Family::Key`] series.
    pub key: Option<String>,
}

/// The store: every cell, its history and the gauge. Share it as `Arc<SeriesStore>`.
pub struct SeriesStore {
    retention_ms: i64,
    /// Start of the window being recorded, given to cells made between rolls.
    open_start_ms: AtomicI64,
    routes: RwLock<HashMap<Dims, Arc<SeriesCell>>>,
    keys: RwLock<HashMap<String, Arc<SeriesCell>>>,
    gauge: GaugeSeries,
    /// Rolls run one at a time, so a window is closed once.
    rolling: Mutex<()>,
}

// === impl Dims ===

impl Dims {
    /// True if every dimension given in `self` equals the one in `cell`.
    fn matches(&self, cell: &Self) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        eq(&self.api, &cell.api)
            && eq(&self.stage, &cell.stage)
            && eq(&self.route, &cell.route)
            && eq(&self.key, &cell.key)
    }
}

// === impl SeriesStore ===

impl SeriesStore {
    /// The width of a window: metrics are kept at 10 s resolution.
    pub const RESOLUTION: Duration = Duration::from_secs(10);

    /// An empty store keeping windows for `retention` (the gateway uses 24 h). `now_ms` (ms
    /// since the epoch) dates the first window.
    pub fn new(retention: Duration, now_ms: i64) -> Self {
        let open = align(now_ms);
        Self {
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
            open_start_ms: AtomicI64::new(open),
            routes: RwLock::default(),
            keys: RwLock::default(),
            gauge: GaugeSeries::new(open),
            rolling: Mutex::new(()),
        }
    }

    /// The cell of one route, made on first use. Call it when compiling a config (it takes a
    /// write lock and allocates), and keep the `Arc` for the data plane. The same names give
    /// the same cell.
    pub fn route(&self, api: &str, stage: &str, route: &str) -> Arc<SeriesCell> {
        let dims =
            Dims { api: Some(api.to_owned()), stage: Some(stage.to_owned()), route: Some(route.to_owned()), key: None };
        let mut routes = self.routes.write();
        // Read inside the lock: a roll that already snapshotted the cells has stored it.
        let open = self.open_start_ms.load(Relaxed);
        let cell = routes.entry(dims).or_insert_with_key(|d| Arc::new(SeriesCell::new(Family::Route, d.clone(), open)));
        Arc::clone(cell)
    }

    /// The cell of one API key, made on the key's first request. Usually a read lock and a
    /// hash lookup; the write lock is taken only to make the cell. Pass only ids of keys that
    /// were found valid: each id costs a live cell (about 3.7 KiB) until it has been idle for
    /// the retention.
    pub fn key(&self, key_id: &str) -> Arc<SeriesCell> {
        if let Some(cell) = self.keys.read().get(key_id) {
            return Arc::clone(cell);
        }
        let mut keys = self.keys.write();
        let open = self.open_start_ms.load(Relaxed);
        let cell = keys.entry(key_id.to_owned()).or_insert_with(|| {
            let dims = Dims { key: Some(key_id.to_owned()), ..Dims::default() };
            Arc::new(SeriesCell::new(Family::Key, dims, open))
        });
        Arc::clone(cell)
    }

    /// Sets a gauge; each window keeps the last value set during it. Only
    /// [`MetricName::CertificatesExpiringSoon`] is a gauge; other metrics are ignored (and
    /// panic in debug builds).
    pub fn set_gauge(&self, metric: MetricName, value: f64) {
        debug_assert!(metric.is_gauge(), "{metric} is not a gauge");
        if metric.is_gauge() {
            self.gauge.set(value);
        }
    }

    /// Closes the window being recorded and opens the one holding `now_ms`; run it every
    /// 10 s. The closed window is dated by the slot in which the previous roll ran, so a roll
    /// a little after each boundary dates it exactly. A second roll in the same slot adds to
    /// that slot's window; a late roll puts everything since the previous one in a single
    /// window. Windows that ended more than the retention before `now_ms` are dropped, and
    /// so are cells nothing holds any more that have no data left.
    pub fn roll(&self, now_ms: i64) {
        let _one_at_a_time = self.rolling.lock();
        let next = align(now_ms);
        let horizon = now_ms.saturating_sub(self.retention_ms);
        self.open_start_ms.store(next, Relaxed);
        for cell in self.cells() {
            cell.close(next, horizon);
        }
        self.gauge.close(next, horizon);
        self.drop_idle_cells();
    }

    /// Datapoints of closed windows and of the one being recorded, so that a dashboard shows
    /// traffic at once. The newest period is usually incomplete: alarms use
    /// [`query_closed`](Self::query_closed).
    pub fn query(&self, q: &Query) -> Result<Vec<Datapoint>, QueryError> {
        self.run(q, Scope::WithOpen)
    }

    /// Datapoints of closed windows only, oldest first. Each period with at least one sample
    /// gives one [`Datapoint`]; periods without give none.
    pub fn query_closed(&self, q: &Query) -> Result<Vec<Datapoint>, QueryError> {
        self.run(q, Scope::Closed)
    }

    fn run(&self, q: &Query, scope: Scope) -> Result<Vec<Datapoint>, QueryError> {
        let mut periods = Periods::new(q)?;
        let range = periods.range().clone();
        if q.metric.is_gauge() {
            self.gauge.visit(&range, scope, &mut |start, v| periods.add_gauge(start, v));
        } else {
            for cell in self.matching(&q.dims) {
                cell.visit(&range, scope, &mut |w| periods.add_window(w));
            }
        }
        Ok(periods.finish())
    }

    /// The key's cell if `dims.key` is set, else every route cell matching `dims`.
    fn matching(&self, dims: &Dims) -> Vec<Arc<SeriesCell>> {
        if let Some(key) = &dims.key {
            return self.keys.read().get(key.as_str()).cloned().into_iter().collect();
        }
        let routes = self.routes.read();
        routes.values().filter(|c| dims.matches(c.dims())).cloned().collect()
    }

    /// A snapshot, so that no map lock is held while the cells are closed.
    fn cells(&self) -> Vec<Arc<SeriesCell>> {
        let mut all: Vec<_> = self.routes.read().values().cloned().collect();
        all.extend(self.keys.read().values().cloned());
        all
    }

    /// Under the write lock no new `Arc` can be handed out, so a count of 1 means only the
    /// map holds the cell and dropping it cannot lose a record.
    fn drop_idle_cells(&self) {
        let keep = |c: &Arc<SeriesCell>| Arc::strong_count(c) > 1 || !c.is_empty();
        self.routes.write().retain(|_, c| keep(c));
        self.keys.write().retain(|_, c| keep(c));
    }
}

impl fmt::Debug for SeriesStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesStore")
            .field("retention_ms", &self.retention_ms)
            .field("routes", &self.routes.read().len())
            .field("keys", &self.keys.read().len())
            .finish_non_exhaustive()
    }
}

/// The start of the 10 s slot holding `ms`.
fn align(ms: i64) -> i64 {
    ms.div_euclid(RESOLUTION_MS) * RESOLUTION_MS
}

/// [`SeriesStore::RESOLUTION`] in milliseconds.
const RESOLUTION_MS: i64 = 10_000;
