//! Signing times: ISO 8601 basic format (`20150830T123600Z`), the HTTP `Date` header as a
//! fallback, and the clock window.

use time::{format_description::well_known::Rfc2822, macros::format_description, OffsetDateTime, PrimitiveDateTime};

use super::{Carrier, SigV4Error, Signature};

const BASIC: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into Unix seconds.
pub fn parse_amz_date(s: &str) -> Result<i64, SigV4Error> {
    if s.len() != 16 {
        return Err(SigV4Error::DateFormat(s.to_owned()));
    }
    PrimitiveDateTime::parse(s, BASIC)
        .map(|t| t.assume_utc().unix_timestamp())
        .map_err(|_| SigV4Error::DateFormat(s.to_owned()))
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
