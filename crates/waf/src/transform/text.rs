//! Byte-level normalisers: case, whitespace, trimming and NUL bytes.

use std::borrow::Cow;

use super::{finish, is_c_space, NBSP};

/// `t:lowercase`: ASCII only, like C's `tolower` in the "C" locale.
pub(super) fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(input.to_ascii_lowercase())
    } else {
        Cow::Borrowed(input)
    }
}

/// `t:uppercase`: ASCII only, like C's `toupper` in the "C" locale.
pub(super) fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_lowercase) {
        Cow::Owned(input.to_ascii_uppercase())
    } else {
        Cow::Borrowed(input)
    }
}

/// `t:compressWhitespace`, with AWS's list of whitespace (which includes the non-breaking space).
pub(super) fn compress_white_space(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| is_white_space(b)) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if !is_white_space(b) {
            out.push(b);
            in_space = false;
        } else if !in_space {
            out.push(b' ');
            in_space = true;
        }
    }
    finish(input, out)
}

/// `t:removeWhitespace`: C whitespace and the non-breaking space.
pub(super) fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| is_white_space(b)) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| !is_white_space(b)).collect())
}

/// `t:trimLeft`: drops C whitespace at the start.
pub(super) fn trim_left(input: &[u8]) -> &[u8] {
    let start = input.iter().take_while(|&&b| is_c_space(b)).count();
    input.get(start..).unwrap_or_default()
}

/// `t:trimRight`: drops C whitespace at the end.
pub(super) fn trim_right(input: &[u8]) -> &[u8] {
    let end = input.len() - input.iter().rev().take_while(|&&b| is_c_space(b)).count();
    input.get(..end).unwrap_or_default()
}

/// `t:removeNulls`.
pub(super) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
}

/// `t:replaceNulls`.
pub(super) fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().map(|&b| if b == 0 { b' ' } else { b }).collect())
}

/// Whitespace for `COMPRESS_WHITE_SPACE` and `REMOVE_WHITESPACE`: C's `isspace` plus 0xA0.
fn is_white_space(b: u8) -> bool {
    is_c_space(b) || b == NBSP
}
