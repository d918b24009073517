//! The tally of allowed requests per key, day and route, kept in memory between writes to the
//! store. Taking the tally empties it; a write that fails puts it back, so nothing is lost
//! while the store is away.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

/// What one count is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsageKey {
    /// The usage plan.
    pub plan: Arc<str>,
    /// The API key's id.
    pub key_id: Arc<str>,
    /// The key's customer.
    pub customer_id: Arc<str>,
    /// The calendar day in the plan's time zone.
    pub day: jiff::civil::Date,
    /// The API.
    pub api: Arc<str>,
    /// The stage.
    pub stage: Arc<str>,
    /// The route key.
    pub route: Arc<str>,
}

/// Counts waiting to be written.
#[derive(Debug, Default)]
pub struct UsageTally {
    counts: Mutex<HashMap<UsageKey, u64>>,
}

// === impl UsageTally ===

impl UsageTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request.
    pub fn record(&self, key: UsageKey) {
        *self.counts.lock().entry(key).or_insert(0) += 1;
    }

    /// Takes every count, leaving the tally empty.
    pub fn take(&self) -> Vec<(UsageKey, u64)> {
        std::mem::take(&mut *self.counts.lock()).into_iter().collect()
    }

    /// Puts back counts whose write failed.
    pub fn restore(&self, counts: Vec<(UsageKey, u64)>) {
        let mut held = self.counts.lock();
        for (k, n) in counts {
            *held.entry(k).or_insert(0) += n;
        }
    }

    /// Requests counted but not yet written for one plan and key on the days `from..=to`.
    pub fn pending(&self, plan: &str, key_id: &str, from: jiff::civil::Date, to: jiff::civil::Date) -> u64 {
        self.counts
            .lock()
            .iter()
            .filter(|(k, _)| &*k.plan == plan && &*k.key_id == key_id && k.day >= from && k.day <= to)
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::{UsageKey, UsageTally};
    use jiff::civil::date;

    fn key(day: i8) -> UsageKey {
        UsageKey {
            plan: "basic".into(),
            key_id: "k1".into(),
            customer_id: "acme".into(),
            day: date(2026, 11, day),
            api: "pets".into(),
            stage: "prod".into(),
            route: "GET /pets".into(),
        }
    }

    #[test]
    fn counts_add_up_and_a_failed_write_loses_nothing() {
        let t = UsageTally::new();
        for _ in 0..3 {
            t.record(key(24));
        }
        t.record(key(25));
        let taken = t.take();
        assert_eq!(taken.iter().map(|(_, n)| n).sum::<u64>(), 4);
        assert_eq!(t.pending("basic", "k1", date(2026, 11, 1), date(2026, 11, 30)), 0);
        t.record(key(25));
        t.restore(taken);
        assert_eq!(t.pending("basic", "k1", date(2026, 11, 25), date(2026, 11, 25)), 2);
        assert_eq!(t.pending("basic", "k1", date(2026, 11, 1), date(2026, 11, 30)), 5);
        assert_eq!(t.pending("basic", "other", date(2026, 11, 1), date(2026, 11, 30)), 0);
    }
}
