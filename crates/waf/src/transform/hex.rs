//! `HEX_DECODE`, `SQL_HEX_DECODE` and the hex helpers the other decoders share.

use std::borrow::Cow;

use super::{at, finish};

/// `t:hexDecode`: each pair of bytes becomes one byte; a trailing odd byte is dropped.
pub(super) fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let out = input.chunks_exact(2).map(|pair| x2c(at(pair, 0), at(pair, 1))).collect();
    finish(input, out)
}

/// `t:sqlHexDecode`: `0x`/`0X` and at least one pair of hex digits becomes the bytes the pairs
/// name; decoding stops at the first position without a whole pair.
pub(super) fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| matches!(w, [b'0', b'x' | b'X'])) {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        let starts_literal = i + 3 < len
            && at(input, i) == b'0'
            && at(input, i + 1) | 0x20 == b'x'
            && is_hex(at(input, i + 2))
            && is_hex(at(input, i + 3));
        if !starts_literal {
            out.push(at(input, i));
            i += 1;
            continue;
        }
        i += 2;
        loop {
            out.push(x2c(at(input, i), at(input, i + 1)));
            i += 2;
            if !(i + 1 < len && is_hex(at(input, i)) && is_hex(at(input, i + 1))) {
                break;
            }
        }
    }
    finish(input, out)
}

/// An ASCII hex digit.
pub(super) fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// An ASCII octal digit.
pub(super) fn is_octal(b: u8) -> bool {
    matches!(b, b'0'..=b'7')
}

/// `f` or `F`: the high byte of full-width ASCII (U+FF01 to U+FF5E) is `ff`.
pub(super) fn is_f(b: u8) -> bool {
    b | 0x20 == b'f'
}

/// ModSecurity's `x2c`: the byte two hex digits name. Like the original it does not check its
/// input, so other characters give deterministic nonsense (`0z` is `#`); the test vectors for
/// `t:hexDecode` rely on that.
pub(super) fn x2c(high: u8, low: u8) -> u8 {
    xsingle2c(high).wrapping_mul(16).wrapping_add(xsingle2c(low))
}

/// ModSecurity's `xsingle2c`: the value of one hex digit, unchecked as in [`x2c`].
pub(super) fn xsingle2c(digit: u8) -> u8 {
    if digit >= b'A' {
        (digit & 0xdf).wrapping_sub(b'A').wrapping_add(10)
    } else {
        digit.wrapping_sub(b'0')
    }
}

/// The value of a run of digits in `radix` as C's `strtol` gives it (saturating at
/// `i64::MAX`), cut to its low byte as ModSecurity's `(unsigned char)` cast does.
pub(super) fn strtol_low_byte(digits: &[u8], radix: u8) -> u8 {
    let value = digits.iter().fold(0u64, |acc, &d| {
        let digit = if radix == 16 { xsingle2c(d) } else { d.wrapping_sub(b'0') };
        acc.saturating_mul(u64::from(radix)).saturating_add(u64::from(digit))
    });
    (value.min(i64::MAX as u64) & 0xff) as u8
}
