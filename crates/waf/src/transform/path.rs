//! `NORMALIZE_PATH` and `NORMALIZE_PATH_WIN`.

use std::borrow::Cow;

use super::{at, finish};

/// Which separators a path uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavour {
    /// Only `/`.
    Unix,
    /// `/` and `\`; every `\` becomes `/`.
    Windows,
}

/// `t:normalizePath` and `t:normalizePathWin`: a port of ModSecurity's
/// `NormalisePath::normalize_path_inplace`, working in place on a copy of the input. `src` reads
/// and `dst` writes; `dst` never passes `src`, so the bytes still to read are never overwritten.
pub(super) fn normalize_path(input: &[u8], flavour: Flavour) -> Cow<'_, [u8]> {
    let Some(end) = input.len().checked_sub(1) else {
        return Cow::Borrowed(input);
    };
    let windows = flavour == Flavour::Windows;
    let is_separator = |b: u8| b == b'/' || (windows && b == b'\\');
    let mut buf = input.to_vec();
    let relative = !is_separator(at(&buf, 0));
    let trailing = is_separator(at(&buf, end));
    let (mut src, mut dst) = (0usize, 0usize);
    let mut hit_root = false;
    let mut done = false;

    while !done && src <= end && dst <= end {
        if windows {
            for k in [src, src + 1] {
                if k <= end && at(&buf, k) == b'\\' {
                    set(&mut buf, k, b'/');
                }
            }
        }
        // Normalise at the end of the input and at the end of each segment (before a `/`).
        let at_segment_end = if src == end {
            done = true;
            true
        } else {
            at(&buf, src + 1) == b'/'
        };
        if at_segment_end && !(src != end && at(&buf, src) == b'/') {
            if at(&buf, src) == b'.' {
                let previous = dst.checked_sub(1).map(|p| at(&buf, p));
                if previous == Some(b'.') {
                    // `..`: a back-reference.
                    if relative && (hit_root || dst <= 2) {
                        // Nothing to remove in a relative path: keep the `..`.
                        hit_root = true;
                    } else {
                        // Drop `..` and the segment before it, but never go above the root.
                        let mut back = dst.checked_sub(3);
                        while let Some(b) = back.filter(|&b| b > 0 && at(&buf, b) != b'/') {
                            back = Some(b - 1);
                        }
                        dst = match back {
                            Some(b) if b > 0 => b,
                            _ => {
                                hit_root = true;
                                // An absolute path ending in `..` keeps its root slash.
                                usize::from(!relative && src == end)
                            }
                        };
                        if done {
                            continue;
                        }
                        src += 1;
                    }
                } else if dst == 0 {
                    // `.` at the start of a relative path.
                    if done {
                        continue;
                    }
                    src += 1;
                } else if previous == Some(b'/') {
                    // `/.`: a self-reference.
                    if done {
                        continue;
                    }
                    dst -= 1;
                    src += 1;
                }
            } else if dst > 0 {
                hit_root = false;
            }
        }

        // Copy one byte, collapsing a run of slashes into its last one.
        if at(&buf, src) == b'/' {
            while src < end && is_separator(at(&buf, src + 1)) {
                src += 1;
            }
            // A relative path does not start with a slash.
            if relative && dst == 0 {
                src += 1;
                continue;
            }
        }
        let byte = at(&buf, src);
        set(&mut buf, dst, byte);
        dst += 1;
        src += 1;
    }

    // No trailing slash unless the input had one.
    if !trailing && dst > 0 && at(&buf, dst - 1) == b'/' {
        dst -= 1;
    }
    buf.truncate(dst);
    finish(input, buf)
}

/// Writes `byte` at `i` if `i` is in bounds.
fn set(buf: &mut [u8], i: usize, byte: u8) {
    if let Some(slot) = buf.get_mut(i) {
        *slot = byte;
    }
}
