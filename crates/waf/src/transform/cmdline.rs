//! `CMD_LINE`.

use std::borrow::Cow;

use super::finish;

/// `t:cmdLine` (ModSecurity's `cmd_line.cc`).
pub(super) fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    // Whether the last byte written is a space this function wrote.
    let mut space = false;
    for &b in input {
        match b {
            // Deleted; they do not end a run of spaces either.
            b'"' | b'\'' | b'\\' | b'^' => {}
            // Each run becomes one space.
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            // No space before `/` or `(`.
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
    finish(input, out)
}
