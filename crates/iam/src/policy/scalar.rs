//! Scalar condition values: numbers, dates, booleans, base64 and IP addresses. The same parsers
//! read the policy (once, at compile time) and the request's values (per evaluation).

use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// A finite number (IAM accepts integers and decimals).
pub(crate) fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date as Unix nanoseconds: epoch seconds (optionally fractional), RFC 3339, ISO 8601 date-time
/// (UTC when no offset is given) or an ISO 8601 date (midnight UTC).
pub(crate) fn date(s: &str) -> Option<i128> {
    let s = s.trim();
    let digits = s.strip_prefix('-').unwrap_or(s);
    // All-digit strings are epoch seconds, not ISO basic dates: that is how the keys IAM fills
    // (aws:EpochTime) look, and reading them as dates would be ambiguous.
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(secs) = s.parse::<i64>() {
            return Some(i128::from(secs) * 1_000_000_000);
        }
        return number(s).map(|f| (f * 1e9) as i128);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339).or_else(|_| OffsetDateTime::parse(s, &Iso8601::PARSING)) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = PrimitiveDateTime::parse(s, &Iso8601::PARSING) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    Date::parse(s, &Iso8601::PARSING).ok().map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

/// `true`/`false`, ASCII case-insensitively.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block, or a bare address meaning that single host.
pub(crate) fn network(s: &str) -> Option<IpNet> {
    let s = s.trim();
    match s.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => s.parse::<IpAddr>().ok().map(IpNet::from),
    }
}

/// A request address; IPv4-mapped IPv6 addresses are read as IPv4 so IPv4 blocks still match.
pub(crate) fn address(s: &str) -> Option<IpAddr> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

/// Standard-alphabet base64, padding optional. Small enough not to warrant a dependency.
pub(crate) fn base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone trailing sextet cannot encode a byte.
    (bits < 6).then_some(out)
}
