//! `URL_DECODE` and `URL_DECODE_UNI`.

use std::borrow::Cow;

use super::hex::{is_f, is_hex, x2c};
use super::{at, finish};

/// `t:urlDecode` (ModSecurity's `urldecode_nonstrict_inplace`).
pub(super) fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    decode(input, Unicode::Ignore)
}

/// `t:urlDecodeUni`, without a unicode map file (ModSecurity's `SecUnicodeMapFile`), so `%uHHHH`
/// keeps the low byte.
pub(super) fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    decode(input, Unicode::Decode)
}

/// Whether `%uHHHH` is an escape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unicode {
    Ignore,
    Decode,
}

fn decode(input: &[u8], unicode: Unicode) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        match at(input, i) {
            b'%' if unicode == Unicode::Decode && at(input, i + 1) | 0x20 == b'u' => {
                let digits = [at(input, i + 2), at(input, i + 3), at(input, i + 4), at(input, i + 5)];
                if i + 5 < len && digits.iter().all(|&d| is_hex(d)) {
                    let mut byte = x2c(digits[2], digits[3]);
                    // Full-width ASCII (U+FF01 to U+FF5E) maps onto ASCII.
                    if byte > 0x00 && byte < 0x5f && is_f(digits[0]) && is_f(digits[1]) {
                        byte += 0x20;
                    }
                    out.push(byte);
                    i += 6;
                } else {
                    // Not a valid %u escape: keep "%u" and go on after it.
                    out.push(at(input, i));
                    out.push(at(input, i + 1));
                    i += 2;
                }
            }
            b'%' => {
                let (high, low) = (at(input, i + 1), at(input, i + 2));
                if i + 2 < len && is_hex(high) && is_hex(low) {
                    out.push(x2c(high, low));
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    finish(input, out)
}
