//! Comments: `REPLACE_COMMENTS` and `REMOVE_COMMENTS_CHAR`.

use std::borrow::Cow;

use super::{at, finish};

/// `t:replaceComments` (ModSecurity's `replace_comments.cc`): each `/* … */` becomes one space,
/// an unterminated comment too; a `*/` outside a comment is kept.
pub(super) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| w == b"/*") {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut in_comment = false;
    let mut i = 0;
    while i < len {
        let pair = (at(input, i), at(input, i + 1));
        if !in_comment && pair == (b'/', b'*') && i + 1 < len {
            in_comment = true;
            i += 2;
        } else if in_comment && pair == (b'*', b'/') && i + 1 < len {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            if !in_comment {
                out.push(pair.0);
            }
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    finish(input, out)
}

/// `t:removeCommentsChar` (ModSecurity's `remove_comments_char.cc`): deletes `/*`, `*/`, `<!--`,
/// `-->`, `--` and `#`, tried in that order at each position.
pub(super) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| matches!(b, b'/' | b'*' | b'<' | b'-' | b'#')) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&first, tail)) = rest.split_first() {
        let marker = [&b"/*"[..], b"*/", b"<!--", b"-->", b"--", b"#"].into_iter().find(|m| rest.starts_with(m));
        match marker {
            Some(m) => rest = rest.get(m.len()..).unwrap_or_default(),
            None => {
                out.push(first);
                rest = tail;
            }
        }
    }
    finish(input, out)
}
