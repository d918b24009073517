//! What kinds of bytes a value holds, found in one pass over it: the quick checks that tell a
//! detector, a fold or a decoder whether it has anything to do. Every managed rule runs over
//! every view of every input, and most views need none of them, so these run once per view
//! by table lookups instead of one search per question.

/// A set of the flags below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Classes(pub(crate) u8);

impl Classes {
    /// A byte no SQL injection does without (a quote, a statement separator, an operator),
    /// or a comment opener (`--`, `/*`).
    pub(crate) const SQLI: u8 = 1;
    /// A byte that markup or a script URL needs.
    pub(crate) const XSS: u8 = 2;
    /// What the path fold rewrites: NUL, `%`, `?`, `\`, a non-ASCII byte, or a hex literal
    /// (`0x`).
    pub(crate) const PATH_FOLD: u8 = 4;
    /// What the shell fold removes: `\`, `'`, `"`, `^`.
    pub(crate) const SHELL_FOLD: u8 = 8;

    /// The classes of `value`'s bytes.
    pub(crate) fn of(value: &[u8]) -> Self {
        let mut flags = 0u8;
        let mut pairs = 0u8;
        let mut prev = 0u8;
        for &b in value {
            flags |= SINGLE[usize::from(b)];
            pairs |= FIRST[usize::from(prev)] & SECOND[usize::from(b)];
            prev = b;
        }
        if pairs & (DASHES | SLASH_STAR) != 0 {
            flags |= Self::SQLI;
        }
        if pairs & HEX != 0 {
            flags |= Self::PATH_FOLD;
        }
        Self(flags)
    }

    /// Whether any byte is of class `flag`.
    pub(crate) fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

/// Each byte's classes on its own.
static SINGLE: [u8; 256] = {
    let mut t = [0u8; 256];
    mark(&mut t, b"'\"`#;=<>|&{}\\", Classes::SQLI);
    mark(&mut t, b"<>:=&(`", Classes::XSS);
    mark(&mut t, b"\0%?\\", Classes::PATH_FOLD);
    mark(&mut t, b"\\'\"^", Classes::SHELL_FOLD);
    let mut b = 0x80;
    while b < 256 {
        t[b] |= Classes::PATH_FOLD;
        b += 1;
    }
    t
};

/// Two-byte sequences, by their first and second byte: a pair is present when the bits of its
/// first byte, then of its second, share a flag.
const DASHES: u8 = 1;
const SLASH_STAR: u8 = 2;
const HEX: u8 = 4;

static FIRST: [u8; 256] = {
    let mut t = [0u8; 256];
    mark(&mut t, b"-", DASHES);
    mark(&mut t, b"/", SLASH_STAR);
    mark(&mut t, b"0", HEX);
    t
};

static SECOND: [u8; 256] = {
    let mut t = [0u8; 256];
    mark(&mut t, b"-", DASHES);
    mark(&mut t, b"*", SLASH_STAR);
    mark(&mut t, b"xX", HEX);
    t
};

/// Sets `flag` in `table` for each of `bytes`.
const fn mark(table: &mut [u8; 256], bytes: &[u8], flag: u8) {
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] |= flag;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::Classes;

    /// The one-pass classes against the plain definition of each, over every byte and every
    /// pair of bytes.
    #[test]
    fn classes_match_their_definitions() {
        let plain = |v: &[u8]| {
            let any = |set: &[u8]| v.iter().any(|b| set.contains(b));
            let pair = |p: &[u8], q: &[u8]| v.windows(2).any(|w| p.contains(&w[0]) && q.contains(&w[1]));
            let mut f = 0;
            if any(b"'\"`#;=<>|&{}\\") || pair(b"-", b"-") || pair(b"/", b"*") {
                f |= Classes::SQLI;
            }
            if any(b"<>:=&(`") {
                f |= Classes::XSS;
            }
            if any(b"\0%?\\") || v.iter().any(|&b| b >= 0x80) || pair(b"0", b"xX") {
                f |= Classes::PATH_FOLD;
            }
            if any(b"\\'\"^") {
                f |= Classes::SHELL_FOLD;
            }
            f
        };
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let v = [b'k', a, b, b'k'];
                assert_eq!(Classes::of(&v).0, plain(&v), "{v:?}");
            }
        }
        assert_eq!(Classes::of(b"").0, 0);
        assert!(!Classes::of(b"plain words, 12-3 / 4 * x").has(Classes::SQLI));
    }
}
