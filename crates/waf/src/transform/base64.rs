//! `BASE64_DECODE` and `BASE64_DECODE_EXT`.

use std::borrow::Cow;

use super::finish;

/// `t:base64Decode`: ModSecurity hands the input, as a C string, to Mbed TLS's strict
/// `mbedtls_base64_decode`, and returns an empty value when that fails.
pub(super) fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let text = match input.iter().position(|&b| b == 0) {
        Some(nul) => input.get(..nul).unwrap_or_default(),
        None => input,
    };
    finish(input, decode_strict(text).unwrap_or_default())
}

/// `t:base64DecodeExt` (ModSecurity's `Base64::decode_forgiven_engine`).
pub(super) fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    let mut digits = 0usize;
    let mut pending = 0u8;
    for (pos, &c) in input.iter().enumerate() {
        if c == b'=' {
            // A lone `=` after the first digit of a group cannot be padding: give up.
            if input.get(pos + 1) != Some(&b'=') && digits % 4 == 1 {
                return finish(input, Vec::new());
            }
            continue;
        }
        let Some(value) = forgiving_value(c) else { continue };
        match digits % 4 {
            0 => pending = value << 2,
            1 => {
                out.push(pending | value >> 4);
                pending = (value & 0x0f) << 4;
            }
            2 => {
                out.push(pending | value >> 2);
                pending = (value & 0x03) << 6;
            }
            _ => out.push(pending | value),
        }
        digits += 1;
    }
    finish(input, out)
}

/// The first bytes `t:base64DecodeExt` gives for `input` (up to 12: whole groups of its first 16
/// digits), with ` ` read as `+`, into a buffer on the stack: a quick look before a full decode.
/// `input` holds only digits of either alphabet and spaces.
pub(crate) fn base64_ext_head(input: &[u8]) -> ([u8; 12], usize) {
    let mut out = [0u8; 12];
    let mut len = 0;
    let mut group = 0u32;
    let mut digits = 0;
    let values = input.iter().filter_map(|&c| forgiving_value(if c == b' ' { b'+' } else { c }));
    for value in values.take(16) {
        group = group << 6 | u32::from(value);
        digits += 1;
        if digits % 4 == 0 {
            let [_, b0, b1, b2] = group.to_be_bytes();
            if let Some(slot) = out.get_mut(len..len + 3) {
                slot.copy_from_slice(&[b0, b1, b2]);
                len += 3;
            }
            group = 0;
        }
    }
    (out, len)
}

/// Mbed TLS's `mbedtls_base64_decode`: spaces are allowed only before a line end (`\n` or
/// `\r\n`), `=` only at the end and at most twice; anything else outside the standard alphabet
/// is an error. Only whole groups of four are written, so a trailing group without its padding
/// is dropped.
fn decode_strict(text: &[u8]) -> Option<Vec<u8>> {
    let len = text.len();
    let mut equals = 0;
    let mut i = 0;
    while i < len {
        let spaces_before = text.get(i..).unwrap_or_default().iter().take_while(|&&b| b == b' ').count();
        i += spaces_before;
        match text.get(i..) {
            None | Some([]) => break,
            Some([b'\r', b'\n', ..]) => {
                i += 2;
                continue;
            }
            Some([b'\n', ..]) => {
                i += 1;
                continue;
            }
            Some([b'=', ..]) if spaces_before == 0 && equals < 2 => equals += 1,
            Some([c, ..]) if spaces_before == 0 && equals == 0 && standard_value(*c).is_some() => {}
            Some(_) => return None,
        }
        i += 1;
    }

    let mut out = Vec::with_capacity(len / 4 * 3);
    let mut group = 0u32;
    let mut in_group = 0;
    let mut padding = 0;
    for &c in text.iter().filter(|&&c| !matches!(c, b'\r' | b'\n' | b' ')) {
        group <<= 6;
        match standard_value(c) {
            Some(value) => group |= u32::from(value),
            None => padding += 1,
        }
        in_group += 1;
        if in_group == 4 {
            let [_, b0, b1, b2] = group.to_be_bytes();
            out.push(b0);
            if padding <= 1 {
                out.push(b1);
            }
            if padding == 0 {
                out.push(b2);
            }
            group = 0;
            in_group = 0;
        }
    }
    Some(out)
}

/// The value of a character of the standard alphabet (RFC 4648 section 4).
fn standard_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// The value of a character in either alphabet, standard or URL-safe (`-` and `_`).
fn forgiving_value(c: u8) -> Option<u8> {
    match c {
        b'-' => Some(62),
        b'_' => Some(63),
        _ => standard_value(c),
    }
}
