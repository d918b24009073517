//! `HTML_ENTITY_DECODE`.

use std::borrow::Cow;

use super::hex::{is_hex, strtol_low_byte};
use super::{at, finish, NBSP};

/// `t:htmlEntityDecode`, as in ModSecurity v3 after advisory GHSA-cxqf-vgrr-xxrv (which widened
/// the named entities to every ASCII one attackers use, and made names match only in full).
pub(super) fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        match entity_at(input, i) {
            Entity::Decoded { byte, end } => {
                out.push(byte);
                // The closing `;` is optional.
                i = if at(input, end) == b';' { end + 1 } else { end };
            }
            Entity::Copy(count) => {
                let stop = (i + count).min(len);
                out.extend_from_slice(input.get(i..stop).unwrap_or_default());
                i = stop;
            }
        }
    }
    finish(input, out)
}

/// What to do at one position of the input.
enum Entity {
    /// An entity decoded to `byte`; its digits or name end at `end`.
    Decoded { byte: u8, end: usize },
    /// Copy this many bytes unchanged: a plain byte, or the part of a broken entity that
    /// ModSecurity skips over before looking for the next one.
    Copy(usize),
}

fn entity_at(input: &[u8], i: usize) -> Entity {
    let len = input.len();
    // An ampersand and at least one byte after it.
    if at(input, i) != b'&' || i + 1 >= len {
        return Entity::Copy(1);
    }
    let mut j = i + 1;
    if at(input, j) != b'#' {
        let start = j;
        while j < len && at(input, j).is_ascii_alphanumeric() {
            j += 1;
        }
        if j == start {
            return Entity::Copy(1);
        }
        return match named(input.get(start..j).unwrap_or_default()) {
            Some(byte) => Entity::Decoded { byte, end: j },
            // Unknown: copy the ampersand and the name.
            None => Entity::Copy(j - i),
        };
    }
    // Numeric: `&#` then decimal digits, or `&#x` / `&#X` then hex digits.
    if j + 1 >= len {
        return Entity::Copy(2);
    }
    j += 1;
    let (radix, copied) = if at(input, j) | 0x20 == b'x' {
        if j + 1 >= len {
            return Entity::Copy(3);
        }
        j += 1;
        (16, 3)
    } else {
        (10, 2)
    };
    let is_digit = |b: u8| if radix == 16 { is_hex(b) } else { b.is_ascii_digit() };
    let start = j;
    while j < len && is_digit(at(input, j)) {
        j += 1;
    }
    if j == start {
        return Entity::Copy(copied);
    }
    Entity::Decoded { byte: strtol_low_byte(input.get(start..j).unwrap_or_default(), radix), end: j }
}

/// The byte a named entity stands for: ASCII characters and the non-breaking space, matched
/// without regard to case and only in full (`&ltest;` is not `<`).
fn named(name: &[u8]) -> Option<u8> {
    NAMED.iter().find(|(entity, _)| entity.as_bytes().eq_ignore_ascii_case(name)).map(|&(_, byte)| byte)
}

/// ModSecurity v3's table (`html_entity_decode.cc`, `named_entities`).
const NAMED: [(&str, u8); 32] = [
    ("amp", b'&'),
    ("apos", b'\''),
    ("ast", b'*'),
    ("bsol", b'\\'),
    ("caret", b'^'),
    ("colon", b':'),
    ("comma", b','),
    ("commat", b'@'),
    ("dollar", b'$'),
    ("equals", b'='),
    ("grave", b'`'),
    ("gt", b'>'),
    ("hyphen", b'-'),
    ("lbrace", b'{'),
    ("lbrack", b'['),
    ("lowbar", b'_'),
    ("lpar", b'('),
    ("lt", b'<'),
    ("nbsp", NBSP),
    ("num", b'#'),
    ("percnt", b'%'),
    ("period", b'.'),
    ("plus", b'+'),
    ("quest", b'?'),
    ("quot", b'"'),
    ("rbrace", b'}'),
    ("rbrack", b']'),
    ("rpar", b')'),
    ("semi", b';'),
    ("sol", b'/'),
    ("tilde", b'~'),
    ("verbar", b'|'),
];
