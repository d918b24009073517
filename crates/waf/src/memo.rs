//! Results remembered by value: clients send the same header values, cookies and short
//! fields with every request, and some checks of a value (libinjection's tokenizers, the
//! pattern scan) cost microseconds. Bounded and sharded; a full shard starts over rather than
//! tracking ages.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Results by value, for values up to [`MAX_LEN`] bytes.
#[derive(Debug, Default)]
pub(crate) struct Memo<T> {
    shards: [Mutex<Shard<T>>; SHARDS],
}

/// One shard: a fast hash with a random seed per process (the values are the client's; the
/// bound on each shard caps what colliding ones could cost).
type Shard<T> = HashMap<Box<[u8]>, T, foldhash::fast::RandomState>;

impl<T: Copy> Memo<T> {
    /// What was remembered of `value`.
    pub(crate) fn get(&self, value: &[u8]) -> Option<T> {
        if value.len() > MAX_LEN {
            return None;
        }
        self.shard(value).lock().unwrap_or_else(PoisonError::into_inner).get(value).copied()
    }

    /// Remembers `result` for `value` (unless it is too long to keep).
    pub(crate) fn insert(&self, value: &[u8], result: T) {
        if value.len() > MAX_LEN {
            return;
        }
        let mut known = self.shard(value).lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= ENTRIES / SHARDS {
            known.clear();
        }
        known.insert(value.into(), result);
    }

    /// `compute(value)`, from memory when it was computed before.
    pub(crate) fn get_or(&self, value: &[u8], compute: impl FnOnce() -> T) -> T {
        if let Some(known) = self.get(value) {
            return known;
        }
        let result = compute();
        self.insert(value, result);
        result
    }

    /// The shard of `value`, from its length and ends: no pass over the value besides the
    /// map's own hash.
    fn shard(&self, value: &[u8]) -> &Mutex<Shard<T>> {
        let ends = usize::from(value.first().copied().unwrap_or(0) ^ value.last().copied().unwrap_or(0));
        &self.shards[(value.len() ^ ends.rotate_left(3)) % SHARDS]
    }
}

const SHARDS: usize = 16;
/// Values longer than this are not remembered.
pub(crate) const MAX_LEN: usize = 512;
/// At most this many results are remembered per memo (about 4 MiB at most).
const ENTRIES: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_short_values_only_and_stays_bounded() {
        let memo = Memo::<u32>::default();
        assert_eq!(memo.get_or(b"a", || 1), 1);
        assert_eq!(memo.get_or(b"a", || 2), 1);
        let long = vec![b'x'; MAX_LEN + 1];
        assert_eq!(memo.get_or(&long, || 3), 3);
        assert_eq!(memo.get(&long), None);
        for i in 0..(ENTRIES * 2) {
            memo.insert(format!("v{i}").as_bytes(), 0);
        }
        let kept: usize = memo.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len()).sum();
        assert!(kept <= ENTRIES, "{kept}");
    }
}
