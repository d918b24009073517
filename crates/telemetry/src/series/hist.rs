//! Log-linear latency histograms: live ones of atomics that the data plane writes, sparse
//! closed ones kept per window, and a dense sum built for a query.
//!
//! Values are microseconds. Below 16 µs each microsecond has its own bin; above, each power of
//! two is cut into 16 equal bins, so a bin is at most 1/16 of its lower bound wide and its
//! middle is within 1/32 (3.1 %) of any value in it. Values of 2^30 µs (about 18 minutes) and
//! more share the last bin; the exact minimum and maximum are kept beside the bins.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// A histogram that the data plane writes with relaxed atomics.
pub(super) struct LiveHist {
    count: AtomicU64,
    sum_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
    bins: Box<[AtomicU32]>,
}

/// Whether reading a live histogram also empties it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// Swap every value to zero: the window is closing.
    Take,
    /// Only load: a query looks at the open window.
    Peek,
}

/// A closed window's histogram; only the non-zero bins are kept, in bin order.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ClosedHist {
    pub(super) count: u64,
    pub(super) sum_us: u64,
    pub(super) min_us: u64,
    pub(super) max_us: u64,
    pub(super) bins: Box<[(u16, u32)]>,
}

/// The merge of many closed histograms, made for one query period.
#[derive(Debug)]
pub(super) struct HistSum {
    pub(super) count: u64,
    pub(super) sum_us: u64,
    pub(super) min_us: u64,
    pub(super) max_us: u64,
    /// Dense bin counts; empty unless a percentile was asked for.
    bins: Vec<u64>,
}

// === impl LiveHist ===

impl LiveHist {
    pub(super) fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            bins: (0..BINS).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Hot path: four or five relaxed atomic operations, no lock, no allocation.
    pub(super) fn record(&self, us: u64) {
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        // The load first keeps the usual case to a plain read: fetch_min/max are CAS loops.
        if us < self.min_us.load(Relaxed) {
            self.min_us.fetch_min(us, Relaxed);
        }
        if us > self.max_us.load(Relaxed) {
            self.max_us.fetch_max(us, Relaxed);
        }
        if let Some(bin) = self.bins.get(bin_of(us)) {
            bin.fetch_add(1, Relaxed);
        }
    }

    /// The window's histogram, or `None` if nothing was recorded. A record racing with `Take`
    /// may land partly in this window and partly in the next; totals stay right.
    pub(super) fn read(&self, how: Read) -> Option<ClosedHist> {
        let get = |a: &AtomicU64, zero: u64| match how {
            Read::Take => a.swap(zero, Relaxed),
            Read::Peek => a.load(Relaxed),
        };
        let count = get(&self.count, 0);
        if count == 0 {
            return None;
        }
        Some(ClosedHist {
            count,
            sum_us: get(&self.sum_us, 0),
            min_us: get(&self.min_us, u64::MAX),
            max_us: get(&self.max_us, 0),
            bins: self.read_bins(how),
        })
    }

    fn read_bins(&self, how: Read) -> Box<[(u16, u32)]> {
        let mut out = Vec::new();
        for (i, bin) in (0u16..).zip(self.bins.iter()) {
            // Load before swapping: most bins are zero and a load does not dirty the line.
            let mut n = bin.load(Relaxed);
            if n != 0 && how == Read::Take {
                n = bin.swap(0, Relaxed);
            }
            if n != 0 {
                out.push((i, n));
            }
        }
        out.into_boxed_slice()
    }
}

// === impl ClosedHist ===

impl ClosedHist {
    /// Adds `other` into `self` (two closes of the same window).
    pub(super) fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
        let mut dense = vec![0u32; BINS];
        for &(i, n) in self.bins.iter().chain(other.bins.iter()) {
            if let Some(d) = dense.get_mut(usize::from(i)) {
                *d = d.saturating_add(n);
            }
        }
        self.bins = (0u16..).zip(dense).filter(|&(_, n)| n != 0).collect();
    }
}

// === impl HistSum ===

impl HistSum {
    /// An empty sum; `with_bins` keeps the dense bins that percentiles need.
    pub(super) fn new(with_bins: bool) -> Self {
        Self {
            count: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            bins: if with_bins { vec![0; BINS] } else { Vec::new() },
        }
    }

    pub(super) fn add(&mut self, h: &ClosedHist) {
        self.count += h.count;
        self.sum_us = self.sum_us.saturating_add(h.sum_us);
        self.min_us = self.min_us.min(h.min_us);
        self.max_us = self.max_us.max(h.max_us);
        if self.bins.is_empty() {
            return;
        }
        for &(i, n) in h.bins.iter() {
            if let Some(b) = self.bins.get_mut(usize::from(i)) {
                *b += u64::from(n);
            }
        }
    }

    /// Nearest-rank percentile in microseconds: the middle of the bin holding that rank,
    /// kept inside the exact minimum and maximum.
    pub(super) fn percentile_us(&self, p: f64) -> f64 {
        let total: u64 = self.bins.iter().sum();
        let want = rank(p, total);
        let mut seen = 0;
        let bin = self.bins.iter().position(|&n| {
            seen += n;
            seen >= want
        });
        let mid = bin.map_or(self.max_us as f64, bin_middle);
        if self.min_us <= self.max_us {
            mid.clamp(self.min_us as f64, self.max_us as f64)
        } else {
            mid
        }
    }
}

/// Nearest-rank: the smallest rank whose share of `n` reaches `p` percent, in `1..=n`.
pub(super) fn rank(p: f64, n: u64) -> u64 {
    ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n.max(1))
}

/// The bin of a value in microseconds.
fn bin_of(us: u64) -> usize {
    let v = us.min(MAX_US);
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // floor(log2 v), at least SUB_BITS
    let group = (exp - SUB_BITS + 1) as usize;
    let sub = ((v >> (exp - SUB_BITS)) & (SUB - 1)) as usize;
    (group << SUB_BITS) + sub
}

/// The middle of the integer values a bin holds.
fn bin_middle(bin: usize) -> f64 {
    let (lo, width) = if bin < SUB as usize {
        (bin as u64, 1)
    } else {
        let exp = (bin >> SUB_BITS) as u32 + SUB_BITS - 1;
        let width = 1u64 << (exp - SUB_BITS);
        ((1u64 << exp) + (bin as u64 & (SUB - 1)) * width, width)
    };
    lo as f64 + (width - 1) as f64 / 2.0
}

/// log2 of the bins per power of two.
const SUB_BITS: u32 = 4;
/// Bins per power of two (and width of the linear part, in µs).
const SUB: u64 = 1 << SUB_BITS;
/// Values are clamped below 2^30 µs (about 17.9 minutes) for binning.
const MAX_US: u64 = (1 << 30) - 1;
/// 16 linear bins, then 16 for each power of two from 2^4 to 2^29: 432.
pub(super) const BINS: usize = (SUB as usize) * (30 - SUB_BITS as usize + 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_the_range_in_order() {
        assert_eq!(bin_of(0), 0);
        assert_eq!(bin_of(15), 15);
        assert_eq!(bin_of(16), 16);
        assert_eq!(bin_of(MAX_US), BINS - 1);
        assert_eq!(bin_of(u64::MAX), BINS - 1);
        let mut last = 0;
        for us in (0..2_000_000u64).step_by(7) {
            let b = bin_of(us);
            assert!(b >= last, "bins must not go down at {us}");
            last = b;
        }
    }

    #[test]
    fn bin_middle_is_within_3_2_percent() {
        for us in [17u64, 100, 999, 12_345, 50_000, 99_000, 1_000_000, 600_000_000] {
            let mid = bin_middle(bin_of(us));
            let err = (mid - us as f64).abs() / us as f64;
            assert!(err <= 1.0 / 32.0 + 1e-9, "{us} µs → {mid}: {err}");
        }
    }
}
