//! AWS WAF text transformations over raw bytes.
//!
//! Every transformation takes arbitrary bytes (not necessarily UTF-8), never panics, runs in
//! time linear in its input and borrows the input when it would not change it. Decoders only
//! shrink or keep the length, except [`Transformation::Utf8ToUnicode`], whose output is at most
//! 3.5 times its input. Hashes return a fixed-size raw digest.
//!
//! The behaviour is that of ModSecurity v3's `t:` functions (`src/actions/transformations/*.cc`
//! in `owasp-modsecurity/ModSecurity`), with C string artefacts left out: an embedded NUL byte is
//! data, not the end of the input, except where a test vector pins the C behaviour
//! (see [`Transformation::Base64Decode`]).

use std::borrow::Cow;

use sha2::Digest;

mod base64;
pub(crate) use base64::base64_ext_head;
mod cmdline;
mod comments;
mod entity;
mod escape;
mod hex;
mod path;
mod text;
mod url;
mod utf8;

/// One AWS WAF text transformation type (`TextTransformation.Type`).
///
/// A rule statement lists transformations by priority; AWS WAF runs all of them, lowest priority
/// first, before it inspects the field (see [`apply_all`]).
///
/// Three valid AWS names have no variant, because neither AWS nor ModSecurity documents what
/// they do precisely enough to reproduce: see [`Transformation::UNSUPPORTED_AWS_NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformation {
    // === decoding ===
    /// `URL_DECODE` (`t:urlDecode`): `%HH` becomes the byte it names and `+` a space. A `%` not
    /// followed by two hex digits is kept as it is.
    UrlDecode,
    /// `URL_DECODE_UNI` (`t:urlDecodeUni`): [`Self::UrlDecode`] plus IIS `%uHHHH`, which keeps
    /// only the low byte, except that full-width ASCII (`%uFF01`–`%uFF5E`) becomes plain ASCII.
    UrlDecodeUni,
    /// `HTML_ENTITY_DECODE` (`t:htmlEntityDecode`): `&#nnn;`, `&#xhh;` (the low byte of the value;
    /// the `;` is optional) and the named entities that stand for ASCII characters, such as
    /// `&lt;`, `&quot;`, `&colon;` and `&nbsp;` (byte 0xA0). Names are matched without regard to
    /// case, and only in full. Unknown entities are kept.
    HtmlEntityDecode,
    /// `JS_DECODE` (`t:jsDecode`): JavaScript escapes `\uHHHH` (low byte, full-width ASCII
    /// adjusted), `\xHH`, octal `\OOO` (one byte at most) and `\a \b \f \n \r \t \v`; any other
    /// escaped character loses its backslash.
    JsDecode,
    /// `CSS_DECODE` (`t:cssDecode`): CSS 2 escapes, `\` and one to six hex digits (the last two
    /// digits give the byte, full-width ASCII adjusted) with one following whitespace dropped;
    /// `\` newline is removed; any other escaped character loses its backslash.
    CssDecode,
    /// `BASE64_DECODE` (`t:base64Decode`): strict standard Base64, as ModSecurity does it through
    /// Mbed TLS. The input ends at its first NUL byte (ModSecurity reads it as a C string, and a
    /// test vector relies on that). Spaces before a line break and line breaks are allowed. Any
    /// other character outside the alphabet, a third `=`, or data after `=` makes the output
    /// empty. Only whole four-character groups are decoded.
    Base64Decode,
    /// `BASE64_DECODE_EXT` (`t:base64DecodeExt`): forgiving Base64 that accepts both the standard
    /// and the URL-safe alphabet and skips every other character. `=` is skipped too, except that
    /// a single `=` after one character of a group makes the output empty.
    Base64DecodeExt,
    /// `HEX_DECODE` (`t:hexDecode`): each pair of characters becomes one byte; a trailing odd
    /// character is dropped. Pairs that are not hex digits are converted with ModSecurity's
    /// unchecked arithmetic (`0z` becomes `#`), as its test vectors expect.
    HexDecode,
    /// `SQL_HEX_DECODE` (`t:sqlHexDecode`): `0x` followed by hex digit pairs becomes the bytes
    /// they name (`0x414243` is `ABC`). `0x` without at least one pair is kept.
    SqlHexDecode,
    /// `ESCAPE_SEQ_DECODE` (`t:escapeSeqDecode`): ANSI C escapes `\a \b \f \n \r \t \v \\ \? \'
    /// \"`, `\xHH` and octal `\O` to `\OOO` (the value's low byte). Any other escaped character
    /// loses its backslash.
    EscapeSeqDecode,
    /// `UTF8_TO_UNICODE` (`t:utf8toUnicode`): each UTF-8 sequence of two to four bytes becomes
    /// `%uhhhh` (lowercase hex, at least four digits). Like ModSecurity, an overlong form or a
    /// surrogate is followed by its raw lead byte, and the lead byte of a sequence with missing
    /// or bad continuation bytes is dropped. Other bytes, NUL included, are kept. This is the
    /// one decoder that grows its input, by 3.5 times at most.
    Utf8ToUnicode,

    // === normalisation ===
    /// `NONE`: the input, unchanged.
    None,
    /// `LOWERCASE` (`t:lowercase`): ASCII `A-Z` to `a-z`; other bytes are kept.
    Lowercase,
    /// `UPPERCASE` (`t:uppercase`): ASCII `a-z` to `A-Z`; other bytes are kept.
    Uppercase,
    /// `COMPRESS_WHITE_SPACE` (`t:compressWhitespace`): each run of space, `\t \n \v \f \r` and
    /// non-breaking space (0xA0) becomes one space. AWS lists the non-breaking space; current
    /// ModSecurity v3 no longer treats it as whitespace here. AWS wins.
    CompressWhiteSpace,
    /// `REMOVE_WHITESPACE` (`t:removeWhitespace`): removes space, `\t \n \v \f \r` and 0xA0.
    RemoveWhitespace,
    /// `TRIM` (`t:trim`): removes space and `\t \n \v \f \r` at both ends.
    Trim,
    /// `TRIM_LEFT` (`t:trimLeft`): as [`Self::Trim`], at the start only.
    TrimLeft,
    /// `TRIM_RIGHT` (`t:trimRight`): as [`Self::Trim`], at the end only.
    TrimRight,
    /// `CMD_LINE` (`t:cmdLine`): deletes `\ " ' ^`, turns each run of space, `,`, `;`, `\t`,
    /// `\r` and `\n` into one space, deletes a space before `/` or `(`, and lowercases ASCII.
    CmdLine,
    /// `NORMALIZE_PATH` (`t:normalizePath`): removes repeated slashes, `.` segments and `..`
    /// segments with the segment before them, never above the root; a relative path keeps the
    /// `..` it cannot resolve.
    NormalizePath,
    /// `NORMALIZE_PATH_WIN` (`t:normalizePathWin`): [`Self::NormalizePath`] after turning each
    /// backslash into a slash.
    NormalizePathWin,
    /// `REMOVE_NULLS` (`t:removeNulls`): removes every NUL byte.
    RemoveNulls,
    /// `REPLACE_NULLS` (`t:replaceNulls`): replaces every NUL byte with a space.
    ReplaceNulls,
    /// `REPLACE_COMMENTS` (`t:replaceComments`): each C comment `/* … */` becomes one space, and
    /// so does an unterminated one; a lone `*/` is kept.
    ReplaceComments,
    /// `REMOVE_COMMENTS_CHAR` (`t:removeCommentsChar`): deletes the comment markers `/*`, `*/`,
    /// `<!--`, `-->`, `--` and `#`, leaving the text between them.
    RemoveCommentsChar,

    // === hashing ===
    /// `MD5` (`t:md5`): the 16-byte raw MD5 digest of the input.
    Md5,
    /// `SHA256`: the 32-byte raw SHA-256 digest of the input (ModSecurity has no such function;
    /// this follows AWS's description of `MD5`).
    Sha256,
}

// === impl Transformation ===

impl Transformation {
    /// Every supported transformation, decoders first, in the order of the AWS documentation.
    pub const ALL: [Self; 28] = [
        Self::UrlDecode,
        Self::UrlDecodeUni,
        Self::HtmlEntityDecode,
        Self::JsDecode,
        Self::CssDecode,
        Self::Base64Decode,
        Self::Base64DecodeExt,
        Self::HexDecode,
        Self::SqlHexDecode,
        Self::EscapeSeqDecode,
        Self::Utf8ToUnicode,
        Self::None,
        Self::Lowercase,
        Self::Uppercase,
        Self::CompressWhiteSpace,
        Self::RemoveWhitespace,
        Self::Trim,
        Self::TrimLeft,
        Self::TrimRight,
        Self::CmdLine,
        Self::NormalizePath,
        Self::NormalizePathWin,
        Self::RemoveNulls,
        Self::ReplaceNulls,
        Self::ReplaceComments,
        Self::RemoveCommentsChar,
        Self::Md5,
        Self::Sha256,
    ];

    /// Valid AWS WAF type names that [`Self::parse`] rejects on purpose. AWS added them with the
    /// newer types (`UPPERCASE`, `TRIM`, `SHA256`, …) without saying precisely what they do, and
    /// ModSecurity has no counterpart to copy, so a rule that uses one should fail to load rather
    /// than be inspected differently from AWS.
    pub const UNSUPPORTED_AWS_NAMES: [&'static str; 3] = ["JS_DECODE_EXT", "CMD_LINE_WIN", "CMD_LINE_UNIX"];

    /// The transformation with this exact AWS name (`"URL_DECODE"`, case-sensitive), or `None`
    /// for a name that is unknown or listed in [`Self::UNSUPPORTED_AWS_NAMES`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The AWS name of this transformation, as [`Self::parse`] accepts it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UrlDecode => "URL_DECODE",
            Self::UrlDecodeUni => "URL_DECODE_UNI",
            Self::HtmlEntityDecode => "HTML_ENTITY_DECODE",
            Self::JsDecode => "JS_DECODE",
            Self::CssDecode => "CSS_DECODE",
            Self::Base64Decode => "BASE64_DECODE",
            Self::Base64DecodeExt => "BASE64_DECODE_EXT",
            Self::HexDecode => "HEX_DECODE",
            Self::SqlHexDecode => "SQL_HEX_DECODE",
            Self::EscapeSeqDecode => "ESCAPE_SEQ_DECODE",
            Self::Utf8ToUnicode => "UTF8_TO_UNICODE",
            Self::None => "NONE",
            Self::Lowercase => "LOWERCASE",
            Self::Uppercase => "UPPERCASE",
            Self::CompressWhiteSpace => "COMPRESS_WHITE_SPACE",
            Self::RemoveWhitespace => "REMOVE_WHITESPACE",
            Self::Trim => "TRIM",
            Self::TrimLeft => "TRIM_LEFT",
            Self::TrimRight => "TRIM_RIGHT",
            Self::CmdLine => "CMD_LINE",
            Self::NormalizePath => "NORMALIZE_PATH",
            Self::NormalizePathWin => "NORMALIZE_PATH_WIN",
            Self::RemoveNulls => "REMOVE_NULLS",
            Self::ReplaceNulls => "REPLACE_NULLS",
            Self::ReplaceComments => "REPLACE_COMMENTS",
            Self::RemoveCommentsChar => "REMOVE_COMMENTS_CHAR",
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA256",
        }
    }

    /// Runs this transformation over `input`.
    ///
    /// Returns [`Cow::Borrowed`] (the input, or for the trims a part of it) when the result
    /// equals the input, and [`Cow::Owned`] otherwise. Never panics; linear time.
    pub fn apply(self, input: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Self::UrlDecode => url::url_decode(input),
            Self::UrlDecodeUni => url::url_decode_uni(input),
            Self::HtmlEntityDecode => entity::html_entity_decode(input),
            Self::JsDecode => escape::js_decode(input),
            Self::CssDecode => escape::css_decode(input),
            Self::Base64Decode => base64::base64_decode(input),
            Self::Base64DecodeExt => base64::base64_decode_ext(input),
            Self::HexDecode => hex::hex_decode(input),
            Self::SqlHexDecode => hex::sql_hex_decode(input),
            Self::EscapeSeqDecode => escape::escape_seq_decode(input),
            Self::Utf8ToUnicode => utf8::utf8_to_unicode(input),
            Self::None => Cow::Borrowed(input),
            Self::Lowercase => text::lowercase(input),
            Self::Uppercase => text::uppercase(input),
            Self::CompressWhiteSpace => text::compress_white_space(input),
            Self::RemoveWhitespace => text::remove_whitespace(input),
            Self::Trim => Cow::Borrowed(text::trim_right(text::trim_left(input))),
            Self::TrimLeft => Cow::Borrowed(text::trim_left(input)),
            Self::TrimRight => Cow::Borrowed(text::trim_right(input)),
            Self::CmdLine => cmdline::cmd_line(input),
            Self::NormalizePath => path::normalize_path(input, path::Flavour::Unix),
            Self::NormalizePathWin => path::normalize_path(input, path::Flavour::Windows),
            Self::RemoveNulls => text::remove_nulls(input),
            Self::ReplaceNulls => text::replace_nulls(input),
            Self::ReplaceComments => comments::replace_comments(input),
            Self::RemoveCommentsChar => comments::remove_comments_char(input),
            Self::Md5 => Cow::Owned(md5::Md5::digest(input).to_vec()),
            Self::Sha256 => Cow::Owned(sha2::Sha256::digest(input).to_vec()),
        }
    }
}

impl std::fmt::Display for Transformation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs `list` over `input` in order: the first entry first. Callers sort a statement's
/// transformations by ascending priority before calling this.
///
/// Borrows the input when no step changes it, and copies only when a step does. The output is
/// bounded: only [`Transformation::Utf8ToUnicode`] grows its input (3.5 times at most), and AWS
/// allows at most ten transformations per statement.
pub fn apply_all<'a>(list: &[Transformation], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut current = Cow::Borrowed(input);
    for &transformation in list {
        current = match current {
            Cow::Borrowed(bytes) => transformation.apply(bytes),
            Cow::Owned(bytes) => Cow::Owned(reapply(transformation, bytes)),
        };
    }
    current
}

/// Applies `transformation` to bytes the caller already owns, reusing the buffer when the
/// result is the same bytes or a part of them (the trims).
fn reapply(transformation: Transformation, mut bytes: Vec<u8>) -> Vec<u8> {
    let (start, len) = match transformation.apply(&bytes) {
        Cow::Owned(changed) => return changed,
        // A borrowed result is a sub-slice of `bytes`; find where it starts.
        Cow::Borrowed(same) => match (same.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize) {
            Some(start) if start <= bytes.len() && same.len() <= bytes.len() - start => (start, same.len()),
            _ => return same.to_vec(),
        },
    };
    bytes.truncate(start + len);
    bytes.drain(..start);
    bytes
}

/// The input itself if `out` holds the same bytes, so that an unchanged value stays borrowed.
fn finish(input: &[u8], out: Vec<u8>) -> Cow<'_, [u8]> {
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// The byte at `i`, or NUL past the end: the C code these functions come from reads its
/// NUL-terminated buffer the same way, and this keeps every read in bounds.
fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The non-breaking space in Latin-1, which AWS and ModSecurity treat as whitespace in places.
const NBSP: u8 = 0xa0;

#[cfg(test)]
mod tests;
