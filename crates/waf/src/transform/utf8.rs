//! `UTF8_TO_UNICODE`.

use std::borrow::Cow;

use super::{at, finish};

/// `t:utf8toUnicode` (ModSecurity's `utf8_to_unicode.cc`), including its handling of bad input:
///
/// - a two- to four-byte sequence becomes `%u` and the code point in lowercase hex, at least
///   four digits;
/// - an overlong form or a surrogate (U+D800 to U+DFFF) is written that way too, followed by
///   its raw lead byte;
/// - a lead byte from 0xF5 on is written raw before the sequence is read;
/// - a lead byte whose continuation bytes are missing or wrong is dropped, and decoding goes on
///   at the next byte;
/// - any other byte is kept.
///
/// ModSecurity works on a C string and so also drops NUL bytes; here they are kept like other
/// ASCII. The output is at most 3.5 times the input (seven bytes for a two-byte overlong form).
pub(super) fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len * 2);
    let mut i = 0;
    while i < len {
        let lead = at(input, i);
        let continuation = |k: usize| at(input, i + k) & 0xc0 == 0x80;
        let tail = |k: usize| u32::from(at(input, i + k) & 0x3f);
        // The sequence length (0 if none was decoded) and the code point.
        let (seq, point) = if lead & 0x80 == 0 {
            out.push(lead);
            (0, 0)
        } else if lead & 0xe0 == 0xc0 {
            if continuation(1) {
                (2, u32::from(lead & 0x1f) << 6 | tail(1))
            } else {
                (0, 0)
            }
        } else if lead & 0xf0 == 0xe0 {
            if continuation(1) && continuation(2) {
                (3, u32::from(lead & 0x0f) << 12 | tail(1) << 6 | tail(2))
            } else {
                (0, 0)
            }
        } else if lead & 0xf8 == 0xf0 {
            // Beyond U+10FFFF.
            if lead >= 0xf5 {
                out.push(lead);
            }
            if continuation(1) && continuation(2) && continuation(3) {
                (4, u32::from(lead & 0x07) << 18 | tail(1) << 12 | tail(2) << 6 | tail(3))
            } else {
                (0, 0)
            }
        } else {
            // A continuation byte without a lead, or 0xF8 and above.
            out.push(lead);
            (0, 0)
        };
        if seq > 0 {
            push_code_point(&mut out, point);
        }
        if (0xd800..=0xdfff).contains(&point) {
            out.push(lead);
        }
        let overlong = match seq {
            2 => point < 0x80,
            3 => point < 0x800,
            4 => point < 0x1_0000,
            _ => false,
        };
        if overlong {
            out.push(lead);
        }
        i += seq.max(1);
    }
    finish(input, out)
}

/// Writes `%u` and `point` in lowercase hex, padded to four digits.
fn push_code_point(out: &mut Vec<u8>, point: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"%u");
    let digits = (8 - point.leading_zeros() as usize / 4).max(4);
    for shift in (0..digits).rev() {
        let nibble = (point >> (shift * 4)) & 0xf;
        out.push(HEX.get(nibble as usize).copied().unwrap_or(b'0'));
    }
}
