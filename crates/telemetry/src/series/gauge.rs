//! The gauge series: one value per 10 s window, the last one set in it.

use std::collections::VecDeque;
use std::ops::Range;

use parking_lot::Mutex;

use super::{Scope, RESOLUTION_MS};

/// One gauge. Not on the data plane's path, so a plain lock is enough.
#[derive(Debug)]
pub(super) struct GaugeSeries {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The last value set in the open window, if any.
    live: Option<f64>,
    open_start_ms: i64,
    /// `(window start, value)`, oldest first, starts strictly increasing.
    closed: VecDeque<(i64, f64)>,
}

// === impl GaugeSeries ===

impl GaugeSeries {
    pub(super) fn new(open_start_ms: i64) -> Self {
        let state = State { live: None, open_start_ms, closed: VecDeque::new() };
        Self { state: Mutex::new(state) }
    }

    pub(super) fn set(&self, value: f64) {
        self.state.lock().live = Some(value);
    }

    /// Same contract as [`SeriesCell::close`](super::SeriesCell::close).
    pub(super) fn close(&self, next_start_ms: i64, horizon_ms: i64) {
        let mut s = self.state.lock();
        if let Some(v) = s.live.take() {
            let start = s.open_start_ms;
            match s.closed.back_mut() {
                // A second close of the same window: the later value is the last one set.
                Some(last) if last.0 >= start => last.1 = v,
                _ => s.closed.push_back((start, v)),
            }
        }
        s.open_start_ms = next_start_ms;
        while s.closed.front().is_some_and(|&(t, _)| t + RESOLUTION_MS <= horizon_ms) {
            s.closed.pop_front();
        }
    }

    /// Calls `f(start, value)` for each window whose start is in `range`.
    pub(super) fn visit(&self, range: &Range<i64>, scope: Scope, f: &mut dyn FnMut(i64, f64)) {
        let s = self.state.lock();
        for &(t, v) in s.closed.iter().filter(|(t, _)| range.contains(t)) {
            f(t, v);
        }
        if let (Scope::WithOpen, Some(v)) = (scope, s.live) {
            if range.contains(&s.open_start_ms) {
                f(s.open_start_ms, v);
            }
        }
    }
}
