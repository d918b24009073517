//! Quotas: a number of requests per calendar day, week or month, in a time zone. Windows are
//! calendar-aligned (a MONTH quota resets at midnight on the first of the month, or on the day
//! the offset names), not rolling, so they match a billing period.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The calendar unit a quota counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Midnight to midnight.
    Day,
    /// Seven days from the weekday the offset names (0 = Sunday, as in API Gateway).
    Week,
    /// From day `offset + 1` of one month to the same day of the next.
    Month,
}

/// Why a quota cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuotaError {
    /// The offset does not fit the period.
    #[error("offset {offset} is out of range for {period}: {allowed}")]
    Offset {
        /// The offset given.
        offset: u32,
        /// The period's name.
        period: &'static str,
        /// What is allowed.
        allowed: &'static str,
    },
    /// The time zone is not in the time-zone database.
    #[error("unknown time zone `{0}` (use an IANA name like `Europe/Paris`, or `UTC`)")]
    TimeZone(String),
}

/// One quota window: `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// First microsecond of the window (Unix epoch).
    pub start_us: i64,
    /// First microsecond after it.
    pub end_us: i64,
    /// The window's first calendar day in the quota's time zone.
    pub first_day: Date,
    /// Its last calendar day.
    pub last_day: Date,
    /// The calendar day of the instant the window was asked for (the usage day).
    pub today: Date,
}

/// A request budget per calendar period.
#[derive(Clone, Debug)]
pub struct Quota {
    limit: u64,
    period: Period,
    offset: u32,
    tz: TimeZone,
    tz_name: String,
}

// === impl Period ===

impl Period {
    /// `DAY`, `WEEK` or `MONTH`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
        }
    }
}

// === impl Quota ===

impl Quota {
    /// `limit` requests per `period`, starting `offset` days into the calendar unit, in the
    /// time zone named `tz` (IANA name or `UTC`).
    pub fn new(limit: u64, period: Period, offset: u32, tz: &str) -> Result<Self, QuotaError> {
        let allowed = match period {
            Period::Day => (offset == 0).then_some(()).ok_or("DAY takes no offset (0)"),
            Period::Week => (offset <= 6).then_some(()).ok_or("WEEK takes 0 (Sunday) to 6 (Saturday)"),
            Period::Month => (offset <= 27).then_some(()).ok_or("MONTH takes 0 (the 1st) to 27 (the 28th)"),
        };
        if let Err(allowed) = allowed {
            return Err(QuotaError::Offset { offset, period: period.name(), allowed });
        }
        let zone = TimeZone::get(tz).map_err(|_| QuotaError::TimeZone(tz.to_owned()))?;
        Ok(Self { limit, period, offset, tz: zone, tz_name: tz.to_owned() })
    }

    /// Requests allowed per window.
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// The period.
    pub const fn period(&self) -> Period {
        self.period
    }

    /// The offset in days.
    pub const fn offset(&self) -> u32 {
        self.offset
    }

    /// The time zone's name as configured.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The calendar day of `now_us` in the quota's time zone (usage is recorded per such day,
    /// so that days add up to windows exactly).
    pub fn day(&self, now_us: i64) -> Date {
        timestamp(now_us).to_zoned_datetime(self.tz.clone()).date()
    }

    /// The window that contains `now_us`.
    pub fn window(&self, now_us: i64) -> Window {
        let today = self.day(now_us);
        let (first_day, next) = match self.period {
            Period::Day => (today, today.tomorrow().unwrap_or(today)),
            Period::Week => {
                let weekday = i64::from(today.weekday().to_sunday_zero_offset());
                let back = (weekday - i64::from(self.offset)).rem_euclid(7);
                let first = today.checked_sub(back.days()).unwrap_or(today);
                (first, first.checked_add(7.days()).unwrap_or(first))
            }
            Period::Month => {
                let offset = i64::from(self.offset);
                let this_month = today.first_of_month().checked_add(offset.days()).unwrap_or(today);
                let first = if today >= this_month {
                    this_month
                } else {
                    today
                        .first_of_month()
                        .checked_sub(1.month())
                        .and_then(|d| d.checked_add(offset.days()))
                        .unwrap_or(this_month)
                };
                (first, first.checked_add(1.month()).unwrap_or(first))
            }
        };
        Window {
            start_us: self.midnight(first_day),
            end_us: self.midnight(next),
            first_day,
            last_day: next.yesterday().unwrap_or(next),
            today,
        }
    }

    /// The window that contains the calendar day `day` of the quota's zone.
    pub fn window_of_day(&self, day: Date) -> Window {
        self.window(self.midnight(day))
    }

    /// The first microsecond of `day` in the quota's zone (the first instant that exists, on a
    /// day whose midnight a DST change skips).
    fn midnight(&self, day: Date) -> i64 {
        day.to_zoned_datetime(self.tz.clone()).map_or(0, |z| z.timestamp().as_microsecond())
    }
}

fn timestamp(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::{Period, Quota, QuotaError};
    use jiff::civil::date;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()).unwrap_or(i64::MIN)
    }

    fn days(q: &Quota, now: &str) -> (String, String) {
        let w = q.window(at(now));
        (w.first_day.to_string(), w.last_day.to_string())
    }

    #[test]
    fn a_day_quota_resets_at_local_midnight() -> Result<(), QuotaError> {
        let q = Quota::new(100, Period::Day, 0, "Asia/Tokyo")?;
        // 14:59 UTC is 23:59 in Tokyo; 15:00 UTC is the next day there.
        let before = q.window(at("2026-03-10T14:59:59Z"));
        let after = q.window(at("2026-03-10T15:00:00Z"));
        assert_eq!(before.first_day.to_string(), "2026-03-10");
        assert_eq!(after.first_day.to_string(), "2026-03-11");
        assert_eq!(before.end_us, after.start_us);
        assert_eq!(after.start_us, at("2026-03-10T15:00:00Z"));
        Ok(())
    }

    #[test]
    fn a_week_quota_starts_on_the_offset_weekday() -> Result<(), QuotaError> {
        // 2026-11-25 is a Wednesday.
        let sunday = Quota::new(10, Period::Week, 0, "UTC")?;
        assert_eq!(days(&sunday, "2026-11-25T12:00:00Z"), ("2026-11-22".into(), "2026-11-28".into()));
        let monday = Quota::new(10, Period::Week, 1, "UTC")?;
        assert_eq!(days(&monday, "2026-11-25T12:00:00Z"), ("2026-11-23".into(), "2026-11-29".into()));
        assert_eq!(days(&monday, "2026-11-23T00:00:00Z"), ("2026-11-23".into(), "2026-11-29".into()));
        assert_eq!(days(&monday, "2026-11-22T23:59:59Z"), ("2026-11-16".into(), "2026-11-22".into()));
        Ok(())
    }

    #[test]
    fn a_month_quota_follows_calendar_months_of_any_length() -> Result<(), QuotaError> {
        let q = Quota::new(10, Period::Month, 0, "UTC")?;
        assert_eq!(days(&q, "2028-02-29T23:59:59Z"), ("2028-02-01".into(), "2028-02-29".into()));
        assert_eq!(days(&q, "2028-03-01T00:00:00Z"), ("2028-03-01".into(), "2028-03-31".into()));
        assert_eq!(days(&q, "2026-12-31T10:00:00Z"), ("2026-12-01".into(), "2026-12-31".into()));
        Ok(())
    }

    #[test]
    fn a_month_quota_with_an_offset_is_a_billing_cycle() -> Result<(), QuotaError> {
        // Cycle starts on the 15th.
        let q = Quota::new(10, Period::Month, 14, "UTC")?;
        assert_eq!(days(&q, "2026-01-14T23:00:00Z"), ("2025-12-15".into(), "2026-01-14".into()));
        assert_eq!(days(&q, "2026-01-15T00:00:00Z"), ("2026-01-15".into(), "2026-02-14".into()));
        Ok(())
    }

    #[test]
    fn windows_follow_daylight_saving_changes() -> Result<(), QuotaError> {
        // Paris goes to summer time on 2026-03-29: that day is 23 hours long.
        let q = Quota::new(10, Period::Day, 0, "Europe/Paris")?;
        let w = q.window(at("2026-03-29T12:00:00Z"));
        assert_eq!(w.start_us, at("2026-03-28T23:00:00Z"));
        assert_eq!(w.end_us, at("2026-03-29T22:00:00Z"));
        assert_eq!(w.end_us - w.start_us, 23 * 3600 * 1_000_000);
        Ok(())
    }

    #[test]
    fn bad_offsets_and_zones_are_refused() {
        assert!(matches!(Quota::new(1, Period::Day, 1, "UTC"), Err(QuotaError::Offset { .. })));
        assert!(matches!(Quota::new(1, Period::Week, 7, "UTC"), Err(QuotaError::Offset { .. })));
        assert!(matches!(Quota::new(1, Period::Month, 28, "UTC"), Err(QuotaError::Offset { .. })));
        assert!(matches!(Quota::new(1, Period::Day, 0, "Mars/Olympus"), Err(QuotaError::TimeZone(_))));
    }

    #[test]
    fn the_usage_day_is_the_local_calendar_day() -> Result<(), QuotaError> {
        let q = Quota::new(1, Period::Day, 0, "America/New_York")?;
        assert_eq!(q.day(at("2026-07-01T03:00:00Z")), date(2026, 6, 30));
        Ok(())
    }
}
