//! One series of request metrics: the live window the data plane writes, and the closed
//! windows a query reads.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

use super::hist::{ClosedHist, LiveHist, Read};
use super::{Dims, Family, Sample, Scope};

/// The live accumulator of one set of dimensions, shared as `Arc<SeriesCell>` with the data
/// plane. Get one from [`SeriesStore::route`](super::SeriesStore::route) or
/// [`SeriesStore::key`](super::SeriesStore::key).
pub struct SeriesCell {
    family: Family,
    dims: Dims,
    live: LiveWindow,
    history: Mutex<History>,
}

/// The request counters of a window, indexed by [`Counter`].
pub(super) type Counts = [u64; COUNTERS];

/// The counted request outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Counter {
    Requests,
    Error4XX,
    Error5XX,
    Throttled,
    QuotaExceeded,
    AuthFailures,
    WafBlocked,
}

/// A closed 10 s window; only windows with at least one request are kept.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Window {
    /// Start of the window, a multiple of 10 s since the epoch.
    pub(super) start_ms: i64,
    pub(super) counts: Counts,
    pub(super) latency: Option<ClosedHist>,
    pub(super) integration: Option<ClosedHist>,
}

/// The atomics of the window being recorded.
struct LiveWindow {
    counts: [AtomicU64; COUNTERS],
    latency: LiveHist,
    integration: LiveHist,
}

/// What only `roll` and queries touch, behind the cell's lock.
struct History {
    /// Start of the window being recorded: the 10 s slot in which the last roll ran.
    open_start_ms: i64,
    /// Closed windows, oldest first, each start greater than the one before.
    closed: VecDeque<Window>,
}

// === impl SeriesCell ===

impl SeriesCell {
    pub(super) fn new(family: Family, dims: Dims, open_start_ms: i64) -> Self {
        Self {
            family,
            dims,
            live: LiveWindow::new(),
            history: Mutex::new(History { open_start_ms, closed: VecDeque::new() }),
        }
    }

    /// Counts one finished request in the current window. Hot path: about a dozen relaxed
    /// atomic operations, no lock, no allocation.
    pub fn record(&self, s: &Sample) {
        let live = &self.live;
        live.add(Counter::Requests);
        match s.status {
            400..=499 => live.add(Counter::Error4XX),
            500..=599 => live.add(Counter::Error5XX),
            _ => {}
        }
        if s.throttled {
            live.add(Counter::Throttled);
        }
        if s.quota_exceeded {
            live.add(Counter::QuotaExceeded);
        }
        if s.waf_blocked {
            live.add(Counter::WafBlocked);
        }
        if s.auth_failure {
            live.add(Counter::AuthFailures);
        }
        live.latency.record(micros(s.latency));
        if let Some(d) = s.integration_latency {
            live.integration.record(micros(d));
        }
    }

    /// Which family the cell belongs to.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The cell's dimensions: api, stage and route for [`Family::Route`], key for
    /// [`Family::Key`].
    pub fn dims(&self) -> &Dims {
        &self.dims
    }

    /// Closes the open window (if it saw a request), opens the one starting at
    /// `next_start_ms`, and drops windows that ended before `horizon_ms`.
    pub(super) fn close(&self, next_start_ms: i64, horizon_ms: i64) {
        let mut h = self.history.lock();
        if let Some(w) = self.live.read(h.open_start_ms, Read::Take) {
            h.push(w);
        }
        h.open_start_ms = next_start_ms;
        while h.closed.front().is_some_and(|w| w.start_ms + RES_MS <= horizon_ms) {
            h.closed.pop_front();
        }
    }

    /// Calls `f` with each window whose start is in `range`, oldest first; the open window
    /// last if `scope` asks for it.
    pub(super) fn visit(&self, range: &Range<i64>, scope: Scope, f: &mut dyn FnMut(&Window)) {
        let h = self.history.lock();
        let first = h.closed.partition_point(|w| w.start_ms < range.start);
        for w in h.closed.range(first..) {
            if w.start_ms >= range.end {
                return;
            }
            f(w);
        }
        if scope == Scope::WithOpen && range.contains(&h.open_start_ms) {
            if let Some(w) = self.live.read(h.open_start_ms, Read::Peek) {
                f(&w);
            }
        }
    }

    /// True if the cell holds no data, so that dropping it loses nothing.
    pub(super) fn is_empty(&self) -> bool {
        let h = self.history.lock();
        h.closed.is_empty() && self.live.counts[Counter::Requests as usize].load(Relaxed) == 0
    }
}

impl fmt::Debug for SeriesCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesCell").field("family", &self.family).field("dims", &self.dims).finish_non_exhaustive()
    }
}

// === impl Window ===

impl Window {
    /// Adds a later close of the same window.
    fn merge(&mut self, other: Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        merge_hist(&mut self.latency, other.latency);
        merge_hist(&mut self.integration, other.integration);
    }
}

// === impl LiveWindow ===

impl LiveWindow {
    fn new() -> Self {
        Self { counts: Default::default(), latency: LiveHist::new(), integration: LiveHist::new() }
    }

    fn add(&self, c: Counter) {
        self.counts[c as usize].fetch_add(1, Relaxed);
    }

    /// The window's data dated `start_ms`, or `None` if it saw no request.
    fn read(&self, start_ms: i64, how: Read) -> Option<Window> {
        let requests = &self.counts[Counter::Requests as usize];
        // An idle cell costs one load per roll; its histograms are not scanned.
        if requests.load(Relaxed) == 0 {
            return None;
        }
        let counts = self.counts.each_ref().map(|c| match how {
            Read::Take => c.swap(0, Relaxed),
            Read::Peek => c.load(Relaxed),
        });
        Some(Window { start_ms, counts, latency: self.latency.read(how), integration: self.integration.read(how) })
    }
}

// === impl History ===

impl History {
    /// Appends a closed window, merging it into the last one if it has the same start (two
    /// rolls in one slot) or an earlier one (the clock went back), so starts stay unique.
    fn push(&mut self, w: Window) {
        match self.closed.back_mut() {
            Some(last) if last.start_ms >= w.start_ms => last.merge(w),
            _ => self.closed.push_back(w),
        }
    }
}

fn merge_hist(a: &mut Option<ClosedHist>, b: Option<ClosedHist>) {
    match (a.as_mut(), b) {
        (Some(a), Some(b)) => a.merge(&b),
        (None, b) => *a = b,
        (Some(_), None) => {}
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

const COUNTERS: usize = 7;
const RES_MS: i64 = super::RESOLUTION_MS;
