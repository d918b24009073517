//! Signing times: ISO 8601 basic format (`20150830T123600Z`), the HTTP `Date` header as a
//! fallback, and the clock window.

use time::{format_description::well_known::Rfc2822, macros::format_description, OffsetDateTime};

use super::{Carrier, SigV4Error, Signature};

const BASIC: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into Unix seconds. By hand: it runs on every signed
/// request, and the fixed shape needs no general-purpose parser.
pub fn parse_amz_date(s: &str) -> Result<i64, SigV4Error> {
    let bad = || SigV4Error::DateFormat(s.chars().take(64).collect());
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) =
        (num(0..4), num(4..6), num(6..8), num(9..11), num(11..13), num(13..15))
    else {
        return Err(bad());
    };
    let month = u8::try_from(mo).ok().and_then(|m| time::Month::try_from(m).ok()).ok_or_else(bad)?;
    let valid_day = d >= 1 && d <= i64::from(month.length(i32::try_from(y).map_err(|_| bad())?));
    if !valid_day || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats Unix seconds as `YYYYMMDD'T'HHMMSS'Z'`.
pub fn format_amz_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(BASIC).ok())
        .unwrap_or_else(|| "19700101T000000Z".to_owned())
}

/// Reads an HTTP `Date` header (`Sun, 30 Aug 2015 12:36:00 GMT`) into the basic format.
pub(crate) fn http_date_to_amz(s: &str) -> Result<String, SigV4Error> {
    // RFC 2822 parsing accepts the IMF-fixdate form HTTP uses, `GMT` included.
    OffsetDateTime::parse(s, &Rfc2822)
        .map(|t| format_amz_date(t.unix_timestamp()))
        .map_err(|_| SigV4Error::DateFormat(s.to_owned()))
}

/// Header form: the signing time within `skew` of now. Query form: from `skew` before the
/// signing time until it plus `X-Amz-Expires`.
pub(crate) fn check_window(sig: &Signature, skew: i64, now: i64) -> Result<(), SigV4Error> {
    let skew_text = || format!("{} min.", skew / 60);
    if sig.timestamp > now + skew {
        return Err(SigV4Error::NotYetCurrent {
            amz_date: sig.amz_date.clone(),
            limit: format_amz_date(now + skew),
            now: format_amz_date(now),
            skew: skew_text(),
        });
    }
    let (window, window_text) = match (sig.carrier, sig.expires) {
        (Carrier::Query, Some(exp)) => (i64::from(exp), format!("{exp} sec.")),
        _ => (skew, skew_text()),
    };
    if sig.timestamp < now - window {
        return Err(SigV4Error::Expired {
            amz_date: sig.amz_date.clone(),
            limit: format_amz_date(now - window),
            now: format_amz_date(now),
            skew: window_text,
        });
    }
    Ok(())
}
