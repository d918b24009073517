//! Whether a sign-in session's tokens still hold. A session is the refresh-token family its
//! tokens name in `origin_jti`; once every refresh token of it is revoked (sign-out everywhere,
//! a disabled user, a password changed or reset, a replayed refresh token), its access and ID
//! tokens are refused too, by the pool's own endpoints and by JWT routes. Answers are cached
//! for [`TTL`], and forgotten at once when this node revokes, or hears that another did.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long an answer is trusted without a change being heard of.
pub(super) const TTL: Duration = Duration::from_secs(10);
/// Sessions remembered before the map is emptied.
const CAP: usize = 100_000;

/// Cached session states.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    map: Mutex<HashMap<String, (bool, Instant)>>,
    /// Bumped by every [`Sessions::forget`]: an answer read before it is not kept.
    generation: AtomicU64,
}

impl Sessions {
    /// The state of `family`, if known and fresh.
    pub(super) fn cached(&self, family: &str) -> Option<bool> {
        self.map.lock().get(family).filter(|(_, until)| *until > Instant::now()).map(|(active, _)| *active)
    }

    /// The last state known of `family`, however old (while the store cannot be read).
    pub(super) fn last_known(&self, family: &str) -> Option<bool> {
        self.map.lock().get(family).map(|(active, _)| *active)
    }

    /// The generation to pass to [`Sessions::remember`] with what is read now.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a state read at `generation`, unless something was forgotten since.
    pub(super) fn remember(&self, family: &str, active: bool, generation: u64) {
        let mut map = self.map.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= CAP {
            map.clear();
        }
        map.insert(family.to_owned(), (active, Instant::now() + TTL));
    }

    /// Forgets every state (after a revocation here or anywhere).
    pub(super) fn forget(&self) {
        let mut map = self.map.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Sessions;

    #[test]
    fn a_forgotten_state_is_read_again_and_a_late_read_is_not_kept() {
        let s = Sessions::default();
        let g = s.generation();
        s.remember("f1", true, g);
        assert_eq!(s.cached("f1"), Some(true));
        s.forget();
        assert_eq!(s.cached("f1"), None);
        // Read before the forget, answered after it: not kept.
        s.remember("f1", true, g);
        assert_eq!(s.cached("f1"), None);
        s.remember("f1", false, s.generation());
        assert_eq!((s.cached("f1"), s.last_known("f1")), (Some(false), Some(false)));
    }
}
