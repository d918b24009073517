//! `*`/`?` wildcard patterns, compiled once: the common shapes (`*`, a literal, a literal then
//! `*`) get direct comparisons, and the rest is pre-split at its stars so that matching is a
//! prefix test, a suffix test and a leftmost search per middle segment (no backtracking, since
//! every segment has a fixed length). Matching never allocates.

/// One pattern element. Literals produced by policy variables and `${*}`-style escapes are
/// `Lit` too, which is why patterns are built from tokens rather than strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    One,
    Star,
}

/// Actions compare ASCII case-insensitively (IAM rule); ARNs and condition values exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Sensitive,
    Insensitive,
}

/// Reads `*` and `?` in `s` as wildcards.
pub(crate) fn tokens(s: &str) -> impl Iterator<Item = Tok> + '_ {
    s.chars().map(|c| match c {
        '*' => Tok::Star,
        '?' => Tok::One,
        c => Tok::Lit(c),
    })
}

/// A compiled wildcard pattern matched against a whole string.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    kind: Kind,
    fold: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    /// `?` but no `*`: one segment spanning the whole text.
    Fixed(Segment),
    /// At least one `*`: `head*middle…*tail`, empty middle segments dropped.
    Starred {
        head: Segment,
        middle: Box<[Segment]>,
        tail: Segment,
    },
}

/// A star-free run: literal text and single-character wildcards.
#[derive(Debug, Clone, Default)]
struct Segment {
    pieces: Box<[Piece]>,
    chars: usize,
}

#[derive(Debug, Clone)]
enum Piece {
    Lit(Box<str>),
    One,
}

impl Pattern {
    pub(crate) fn new(s: &str, case: Case) -> Self {
        Self::from_tokens(&tokens(s).collect::<Vec<_>>(), case)
    }

    pub(crate) fn from_tokens(toks: &[Tok], case: Case) -> Self {
        let fold = case == Case::Insensitive;
        let mut segments: Vec<Segment> = toks.split(|t| *t == Tok::Star).map(|run| Segment::new(run, fold)).collect();
        let kind = match segments.len() {
            1 => {
                let seg = segments.pop().unwrap_or_default();
                match seg.literal() {
                    Some(literal) => Kind::Exact(literal.into()),
                    None => Kind::Fixed(seg),
                }
            }
            _ => {
                let tail = segments.pop().unwrap_or_default();
                let head = segments.remove(0);
                match (head.literal(), tail.chars, segments.iter().all(|s| s.chars == 0)) {
                    (Some(""), 0, true) => Kind::Any,
                    (Some(prefix), 0, true) => Kind::Prefix(prefix.into()),
                    _ => Kind::Starred { head, middle: segments.into_iter().filter(|s| s.chars > 0).collect(), tail },
                }
            }
        };
        Self { kind, fold }
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let fold = self.fold;
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(s) => text.len() == s.len() && strip_literal(text, s, fold).is_some(),
            Kind::Prefix(p) => strip_literal(text, p, fold).is_some(),
            Kind::Fixed(seg) => seg.strip_prefix(text, fold).is_some_and(str::is_empty),
            Kind::Starred { head, middle, tail } => {
                let Some(rest) = head.strip_prefix(text, fold) else { return false };
                let Some(mut rest) = tail.strip_suffix(rest, fold) else { return false };
                for seg in middle.iter() {
                    match seg.find(rest, fold) {
                        Some(after) => rest = after,
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

impl Segment {
    fn new(run: &[Tok], fold: bool) -> Self {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        for tok in run {
            match tok {
                Tok::Lit(c) => lit.push(if fold { c.to_ascii_lowercase() } else { *c }),
                // Runs come from splitting at stars, so this is a `?`.
                Tok::One | Tok::Star => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit).into()));
                    }
                    pieces.push(Piece::One);
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit.into()));
        }
        Self { pieces: pieces.into(), chars: run.len() }
    }

    /// The text when the segment has no `?` (`""` when empty).
    fn literal(&self) -> Option<&str> {
        match &*self.pieces {
            [] => Some(""),
            [Piece::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// Matches the segment at the start of `text`; returns what follows.
    fn strip_prefix<'t>(&self, mut text: &'t str, fold: bool) -> Option<&'t str> {
        for piece in self.pieces.iter() {
            text = match piece {
                Piece::Lit(l) => strip_literal(text, l, fold)?,
                Piece::One => text.get(text.chars().next()?.len_utf8()..)?,
            };
        }
        Some(text)
    }

    /// Matches the segment at the end of `text`; returns what precedes.
    fn strip_suffix<'t>(&self, text: &'t str, fold: bool) -> Option<&'t str> {
        let start = match self.chars {
            0 => text.len(),
            n => text.char_indices().nth_back(n - 1)?.0,
        };
        let (before, candidate) = text.split_at(start);
        self.strip_prefix(candidate, fold).filter(|rest| rest.is_empty()).map(|_| before)
    }

    /// Leftmost occurrence in `text`; returns what follows it. Leftmost is always right: a
    /// fixed-length segment found earlier leaves a longer remainder for the segments after it.
    fn find<'t>(&self, text: &'t str, fold: bool) -> Option<&'t str> {
        if let (false, Some(lit)) = (fold, self.literal()) {
            return find_literal(text, lit).and_then(|i| text.get(i + lit.len()..));
        }
        text.char_indices().find_map(|(i, _)| self.strip_prefix(&text[i..], fold))
    }
}

/// Byte offset of the first `lit` in `text`. ARN pieces are short, where a plain scan on the
/// first byte beats `str::find`'s searcher set-up. A match always starts on a char boundary
/// because `lit` starts with a leading byte.
fn find_literal(text: &str, lit: &str) -> Option<usize> {
    let (hay, needle) = (text.as_bytes(), lit.as_bytes());
    let first = *needle.first()?;
    let last = hay.len().checked_sub(needle.len())?;
    (0..=last).find(|&i| hay[i] == first && hay[i..].starts_with(needle))
}

/// `text` without the leading `lit`, comparing ASCII case-insensitively when `fold`.
fn strip_literal<'t>(text: &'t str, lit: &str, fold: bool) -> Option<&'t str> {
    if !fold {
        return text.strip_prefix(lit);
    }
    let head = text.as_bytes().get(..lit.len())?;
    if head.eq_ignore_ascii_case(lit.as_bytes()) {
        text.get(lit.len()..)
    } else {
        None
    }
}

/// An `Arn*` condition value: the six colon-separated ARN parts are matched one by one, each
/// with its own wildcards, and the last part may itself contain `:` (IAM rule). A value with
/// fewer than six parts (typically `*`) is matched against the whole string instead.
#[derive(Debug, Clone)]
pub(crate) enum ArnPattern {
    Parts(Box<[Pattern]>),
    Whole(Pattern),
}

impl ArnPattern {
    pub(crate) fn new(s: &str) -> Self {
        Self::from_tokens(tokens(s).collect())
    }

    pub(crate) fn from_tokens(toks: Vec<Tok>) -> Self {
        let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
        for tok in toks {
            if tok == Tok::Lit(':') && parts.len() < 6 {
                parts.push(Vec::new());
            } else if let Some(last) = parts.last_mut() {
                last.push(tok);
            }
        }
        if parts.len() == 6 {
            Self::Parts(parts.into_iter().map(|p| Pattern::from_tokens(&p, Case::Sensitive)).collect())
        } else {
            Self::Whole(Pattern::from_tokens(&parts.join(&Tok::Lit(':')), Case::Sensitive))
        }
    }

    pub(crate) fn matches(&self, arn: &str) -> bool {
        match self {
            Self::Parts(patterns) => {
                let mut parts = arn.splitn(6, ':');
                patterns.iter().all(|p| parts.next().is_some_and(|s| p.matches(s)))
            }
            Self::Whole(p) => p.matches(arn),
        }
    }
}
