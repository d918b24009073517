//! Time formats of the access log.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub(crate) fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

/// Common Log Format time, as API Gateway's `requestTime`: `25/Nov/2026:02:23:26 +0000`.
pub(crate) fn clf(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    let fmt = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    t.format(&fmt).unwrap_or_default()
}

/// ISO 8601 in UTC with seconds, as IAM's `aws:CurrentTime`: `2026-11-25T02:23:26Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    iso8601_ms(i64::try_from(epoch_ms(t)).unwrap_or(0))
}

/// [`iso8601`] of milliseconds since the Unix epoch.
pub(crate) fn iso8601_ms(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(ms / 1000).ok().and_then(|t| t.format(&fmt).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn clf_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(super::clf(t), "18/Nov/2026:11:06:40 +0000");
        assert_eq!(super::epoch_ms(t), 1_795_000_000_000);
    }
}
