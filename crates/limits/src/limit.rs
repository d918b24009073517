//! A token bucket in its GCRA form: instead of a token count that refills, each bucket keeps one
//! number, the theoretical arrival time (TAT) of the next request if requests came exactly at
//! the rate. A request is allowed when moving the TAT one interval later keeps it within
//! `burst` intervals of now. The same arithmetic runs in process and in the Redis script.

use std::fmt;

/// A rate and a burst: `rate` requests per second on average, up to `burst` at once (the bucket
/// size). `rate` 0 or `burst` 0 refuses everything, as in API Gateway.
#[derive(Clone, Copy, PartialEq)]
pub struct Limit {
    rate: f64,
    burst: u32,
    /// Microseconds between two requests at the rate; 0 when the limit refuses everything.
    interval_us: i64,
}

/// Largest rate accepted: one request per microsecond is the clock's resolution.
const MAX_RATE: f64 = 1_000_000.0;

// === impl Limit ===

impl Limit {
    /// A limit of `rate` requests per second with a bucket of `burst`.
    pub fn new(rate: f64, burst: u32) -> Result<Self, String> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!("rate must be a number of requests per second, 0 or more, got {rate}"));
        }
        if rate > MAX_RATE {
            return Err(format!("rate must be at most {MAX_RATE} per second"));
        }
        let interval_us = if rate == 0.0 || burst == 0 { 0 } else { (1_000_000.0 / rate).round().max(1.0) as i64 };
        Ok(Self { rate, burst, interval_us })
    }

    /// A limit of a whole number of requests per second (at least 1), which cannot fail.
    pub const fn whole(per_second: u32, burst: u32) -> Self {
        let per_second = if per_second == 0 { 1 } else { per_second };
        let interval_us = if burst == 0 { 0 } else { 1_000_000 / per_second as i64 };
        Self { rate: per_second as f64, burst, interval_us }
    }

    /// Requests per second.
    pub const fn rate(&self) -> f64 {
        self.rate
    }

    /// Bucket size.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// Whether this limit refuses every request.
    pub const fn blocks_all(&self) -> bool {
        self.interval_us == 0
    }

    /// Microseconds between requests at the rate (0: blocks all).
    pub const fn interval_us(&self) -> i64 {
        self.interval_us
    }

    /// How far ahead of now the TAT may run: `burst` intervals.
    pub const fn capacity_us(&self) -> i64 {
        self.interval_us.saturating_mul(self.burst as i64)
    }

    /// One GCRA step: the new TAT if a request at `now` is allowed, or how long until it would
    /// be (`Err`). `tat` is the bucket's stored TAT (`None`: a full bucket).
    pub fn step(&self, tat: Option<i64>, now: i64) -> Result<i64, i64> {
        if self.blocks_all() {
            return Err(1_000_000);
        }
        let new = tat.unwrap_or(now).max(now) + self.interval_us;
        let over = new - now - self.capacity_us();
        if over > 0 {
            Err(over)
        } else {
            Ok(new)
        }
    }

    /// Requests still allowed at once after a request moved the TAT to `tat`.
    pub fn remaining(&self, tat: i64, now: i64) -> u32 {
        if self.blocks_all() {
            return 0;
        }
        let room = self.capacity_us() - (tat - now).max(0);
        u32::try_from(room / self.interval_us).unwrap_or(0)
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s burst {}", self.rate, self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn a_full_bucket_allows_burst_requests_at_once_then_refills_at_the_rate() -> Result<(), String> {
        let l = Limit::new(10.0, 3)?;
        let now = 1_000_000_000;
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(l.step(tat, now).map_err(|e| format!("refused early, retry in {e}"))?);
        }
        let retry = l.step(tat, now).err().ok_or("the fourth request at once was allowed")?;
        assert_eq!(retry, 100_000, "one interval (100 ms at 10/s) until the next token");
        assert!(l.step(tat, now + 99_999).is_err());
        assert!(l.step(tat, now + 100_000).is_ok());
        Ok(())
    }

    #[test]
    fn remaining_counts_down_with_each_request() -> Result<(), String> {
        let l = Limit::new(1.0, 5)?;
        let now = 0;
        let t1 = l.step(None, now).map_err(|e| e.to_string())?;
        assert_eq!(l.remaining(t1, now), 4);
        let t2 = l.step(Some(t1), now).map_err(|e| e.to_string())?;
        assert_eq!(l.remaining(t2, now), 3);
        assert_eq!(l.remaining(t2, now + 10_000_000), 5, "a bucket idle long enough is full again");
        Ok(())
    }

    #[test]
    fn zero_rate_or_zero_burst_refuses_everything() -> Result<(), String> {
        for l in [Limit::new(0.0, 10)?, Limit::new(10.0, 0)?] {
            assert!(l.blocks_all());
            assert!(l.step(None, 0).is_err());
        }
        Ok(())
    }

    #[test]
    fn whole_limits_match_the_checked_constructor() -> Result<(), String> {
        assert_eq!(Limit::whole(20, 5), Limit::new(20.0, 5)?);
        assert!(Limit::whole(1, 0).blocks_all());
        assert_eq!(Limit::whole(0, 3), Limit::new(1.0, 3)?, "a rate of 0 would block; whole() means at least 1");
        Ok(())
    }

    #[test]
    fn bad_rates_are_refused_with_the_reason() {
        assert!(Limit::new(-1.0, 1).is_err());
        assert!(Limit::new(f64::NAN, 1).is_err());
        assert!(Limit::new(2_000_000.0, 1).is_err());
    }

    #[test]
    fn fractional_rates_keep_their_interval() -> Result<(), String> {
        let l = Limit::new(0.5, 1)?;
        assert_eq!(l.interval_us(), 2_000_000);
        let tat = l.step(None, 0).map_err(|e| e.to_string())?;
        assert_eq!(l.step(Some(tat), 1_000_000), Err(1_000_000));
        Ok(())
    }
}
