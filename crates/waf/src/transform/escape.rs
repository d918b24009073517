//! Backslash escapes: `JS_DECODE`, `CSS_DECODE` and `ESCAPE_SEQ_DECODE`.

use std::borrow::Cow;

use super::hex::{is_f, is_hex, is_octal, x2c, xsingle2c};
use super::{at, finish, is_c_space};

/// `t:jsDecode` (ModSecurity's `js_decode.cc`).
pub(super) fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        let c = at(input, i);
        if c != b'\\' {
            out.push(c);
            i += 1;
        } else if i + 5 < len && at(input, i + 1) == b'u' && (i + 2..i + 6).all(|k| is_hex(at(input, k))) {
            // \uHHHH: the low byte, with full-width ASCII mapped onto ASCII.
            let mut byte = x2c(at(input, i + 4), at(input, i + 5));
            if byte > 0x00 && byte < 0x5f && is_f(at(input, i + 2)) && is_f(at(input, i + 3)) {
                byte += 0x20;
            }
            out.push(byte);
            i += 6;
        } else if i + 3 < len && at(input, i + 1) == b'x' && is_hex(at(input, i + 2)) && is_hex(at(input, i + 3)) {
            out.push(x2c(at(input, i + 2), at(input, i + 3)));
            i += 4;
        } else if i + 1 < len && is_octal(at(input, i + 1)) {
            // \OOO: at most three digits, and only two if three would not fit in a byte.
            let mut digits = octal_run(input, i + 1);
            if digits == 3 && at(input, i + 1) > b'3' {
                digits = 2;
            }
            out.push(octal_value(input, i + 1, digits));
            i += 1 + digits;
        } else if i + 1 < len {
            out.push(match at(input, i + 1) {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                // \\, \', \", \? and anything else: the character without its backslash.
                other => other,
            });
            i += 2;
        } else {
            // A backslash at the very end stays.
            out.push(c);
            i += 1;
        }
    }
    finish(input, out)
}

/// `t:cssDecode` (ModSecurity's `css_decode.cc`), following
/// <https://www.w3.org/TR/CSS2/syndata.html#characters>.
pub(super) fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        let c = at(input, i);
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        // The backslash itself is never kept; a trailing one continues to nothing.
        i += 1;
        if i >= len {
            break;
        }
        let mut j = 0;
        while j < 6 && i + j < len && is_hex(at(input, i + j)) {
            j += 1;
        }
        if j == 0 {
            // A newline after the backslash is a line continuation; anything else is literal.
            if at(input, i) != b'\n' {
                out.push(at(input, i));
            }
            i += 1;
            continue;
        }
        // Only the last two digits are used. With four digits, or five or six with leading
        // zeros, the value may be full-width ASCII (U+FF01 to U+FF5E), which maps onto ASCII.
        let byte = if j == 1 { xsingle2c(at(input, i)) } else { x2c(at(input, i + j - 2), at(input, i + j - 1)) };
        let full_width_check = match j {
            4 => true,
            5 => at(input, i) == b'0',
            6 => at(input, i) == b'0' && at(input, i + 1) == b'0',
            _ => false,
        };
        if full_width_check && byte > 0x00 && byte < 0x5f && is_f(at(input, i + j - 3)) && is_f(at(input, i + j - 4)) {
            out.push(byte + 0x20);
        } else {
            out.push(byte);
        }
        // One whitespace after a hex escape belongs to the escape.
        if i + j < len && is_c_space(at(input, i + j)) {
            j += 1;
        }
        i += j;
    }
    finish(input, out)
}

/// `t:escapeSeqDecode` (ModSecurity's `escape_seq_decode.cc`).
pub(super) fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        let c = at(input, i);
        if c != b'\\' || i + 1 >= len {
            out.push(c);
            i += 1;
            continue;
        }
        let next = at(input, i + 1);
        let simple = match next {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(next),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
        } else if next | 0x20 == b'x' && i + 3 < len && is_hex(at(input, i + 2)) && is_hex(at(input, i + 3)) {
            out.push(x2c(at(input, i + 2), at(input, i + 3)));
            i += 4;
        } else if is_octal(next) {
            // \O to \OOO; a value above 255 keeps its low byte, as C's char cast does.
            let digits = octal_run(input, i + 1);
            out.push(octal_value(input, i + 1, digits));
            i += 1 + digits;
        } else {
            // Not an escape this function knows: drop the backslash.
            out.push(next);
            i += 2;
        }
    }
    finish(input, out)
}

/// How many octal digits (one to three) start at `start`, which holds one.
fn octal_run(input: &[u8], start: usize) -> usize {
    (1..3).take_while(|&k| is_octal(at(input, start + k))).count() + 1
}

/// The low byte of the octal number in `digits` bytes from `start`.
fn octal_value(input: &[u8], start: usize, digits: usize) -> u8 {
    let value = (start..start + digits).fold(0u32, |acc, k| acc * 8 + u32::from(at(input, k).wrapping_sub(b'0')));
    (value & 0xff) as u8
}
