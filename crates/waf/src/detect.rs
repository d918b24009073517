//! Attack detectors: SQL injection and cross-site scripting by libinjection's tokenizers (the
//! `libinjectionrs` port) with checks of our own on top, at two sensitivity levels.
//!
//! `Low` is libinjection's verdict alone: the fewest false positives. `High` adds patterns for
//! what libinjection lets through (multi-word SQL keywords its port misses, JavaScript sinks
//! outside markup); `docs/waf.md` gives the measurements behind the choice.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::RegexSet;

use crate::classes::Classes;
use crate::memo::Memo;
use crate::Transformation;

/// How eagerly a detector reports (AWS `SensitivityLevel`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Only what the tokenizer is sure of: fewer false positives.
    #[default]
    Low,
    /// Also the patterns of our own: more attacks caught, more false positives.
    High,
}

/// Whether `value` is SQL injection.
pub(crate) fn sqli(value: &[u8], level: Sensitivity) -> bool {
    sqli_given(value, level, Prescan::of(value))
}

/// Whether `value` is cross-site scripting, as markup or after HTML entity decoding.
pub(crate) fn xss(value: &[u8], level: Sensitivity) -> bool {
    xss_given(value, level, Prescan::of(value))
}

/// [`sqli`], with the detector's patterns over `value` already matched.
pub(crate) fn sqli_given(value: &[u8], level: Sensitivity, scan: Prescan) -> bool {
    if !may_be_sqli(value, scan) {
        return false;
    }
    if tokenizer_sqli(value) {
        return true;
    }
    scan.has(Prescan::SQLI_KEYWORDS, || SQLI_KEYWORDS.is_match(value))
        || level == Sensitivity::High && SQLI_EXTRA.is_match(value)
}

/// [`xss`], with the detector's patterns over `value` already matched.
pub(crate) fn xss_given(value: &[u8], level: Sensitivity, scan: Prescan) -> bool {
    if !scan.classes.has(Classes::XSS) {
        return false;
    }
    let decoded = Transformation::HtmlEntityDecode.apply(value);
    // Script escapes (`<script\x3e`) hide markup from the tokenizer but not from a browser
    // that evaluates the reflected string.
    let decoded = if decoded.windows(2).any(|w| w == b"\\x" || w == b"\\u") {
        Cow::Owned(Transformation::JsDecode.apply(&decoded).into_owned())
    } else {
        decoded
    };
    if tokenizer_xss(&decoded) {
        return true;
    }
    // The scan saw `value`; a decoded view is another text.
    let markup = match decoded {
        Cow::Borrowed(_) => scan.has(Prescan::XSS_MARKUP, || XSS_MARKUP.is_match(value)),
        Cow::Owned(ref text) => XSS_MARKUP.is_match(text),
    };
    markup || level == Sensitivity::High && XSS_EXTRA.is_match(&decoded)
}

/// What a detector needs to know of a value before it looks closer: the classes of its bytes,
/// and which of the detectors' low-sensitivity patterns match it. Managed rules get the
/// patterns' results from their one combined scan of every view ([`crate::managed`]);
/// statements match each pattern here when the detector needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prescan {
    pub(crate) classes: Classes,
    /// The flags below, when known.
    patterns: Option<u8>,
}

impl Prescan {
    /// [`SQLI_HINT`] matches.
    pub(crate) const SQLI_HINT: u8 = 1;
    /// A pattern of [`SQLI_KEYWORDS`] matches.
    pub(crate) const SQLI_KEYWORDS: u8 = 2;
    /// A pattern of [`XSS_MARKUP`] matches.
    pub(crate) const XSS_MARKUP: u8 = 4;

    /// The classes of `value`; its patterns matched on demand.
    fn of(value: &[u8]) -> Self {
        Self { classes: Classes::of(value), patterns: None }
    }

    /// What a scan found: the classes and the pattern flags above.
    pub(crate) fn known(classes: Classes, patterns: u8) -> Self {
        Self { classes, patterns: Some(patterns) }
    }

    /// Whether the pattern behind `flag` matches: known from the scan, or `matches()` now.
    fn has(self, flag: u8, matches: impl FnOnce() -> bool) -> bool {
        self.patterns.map_or_else(matches, |known| known & flag != 0)
    }
}

/// The detectors' low-sensitivity patterns, for the managed rules' combined scan: each
/// pattern and the [`Prescan`] flag it sets.
pub(crate) fn prescan_patterns() -> impl Iterator<Item = (&'static str, u8)> {
    std::iter::once((SQLI_HINT.as_str(), Prescan::SQLI_HINT))
        .chain(SQLI_KEYWORDS.patterns().iter().map(|p| (p.as_str(), Prescan::SQLI_KEYWORDS)))
        .chain(XSS_MARKUP.patterns().iter().map(|p| (p.as_str(), Prescan::XSS_MARKUP)))
}

/// Builds the detectors' pattern sets.
pub(crate) fn warm() {
    for set in [&SQLI_KEYWORDS, &SQLI_EXTRA, &XSS_MARKUP, &XSS_EXTRA] {
        LazyLock::force(set);
    }
    LazyLock::force(&SQLI_HINT);
}

/// libinjection's SQLi verdict on `value`, remembered for short values: header values such as
/// a client's `User-Agent` or `Referer` come back on every request, and the port takes
/// microseconds for each.
fn tokenizer_sqli(value: &[u8]) -> bool {
    SQLI_MEMO.get_or(value, || guarded(|| libinjectionrs::detect_sqli(value).is_injection()))
}

/// libinjection's XSS verdict on `value`, remembered likewise.
fn tokenizer_xss(value: &[u8]) -> bool {
    XSS_MEMO.get_or(value, || guarded(|| libinjectionrs::detect_xss(value).is_injection()))
}

/// Remembered verdicts.
static SQLI_MEMO: LazyLock<Memo<bool>> = LazyLock::new(Memo::default);
static XSS_MEMO: LazyLock<Memo<bool>> = LazyLock::new(Memo::default);

/// Runs a detector of the `libinjectionrs` port, taking a panic inside it for a detection:
/// the port is machine-translated C, and a crafted input that trips it must not get through.
fn guarded(detect: impl FnOnce() -> bool + std::panic::UnwindSafe) -> bool {
    std::panic::catch_unwind(detect).unwrap_or(true)
}

/// Whether `value` may be SQL injection at all: it has a byte no injection does without (a
/// quote, a comment, a statement separator or an operator), or [`SQLI_HINT`] matched it (a SQL
/// keyword that joins clauses, or a function call). libinjection's port is slow (about 0.6 µs
/// a value); on this project's corpora it reports no value this leaves out other than three
/// benign ones, so most header values, identifiers and plain text skip it.
fn may_be_sqli(value: &[u8], scan: Prescan) -> bool {
    scan.classes.has(Classes::SQLI) || scan.has(Prescan::SQLI_HINT, || SQLI_HINT.is_match(value))
}

/// What makes an injection without any byte of [`Classes::SQLI`]: a clause keyword (`1 UNION SELECT 2`,
/// `1 ORDER BY 5`), a boolean with a literal (`1 or 1`), or a function call (`version()`).
/// Words common in prose (`like`, `case`, `update`) are left out: without an operator or a
/// quote beside them they make no injection.
static SQLI_HINT: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    // A literal of this crate; the unit tests run it.
    #[allow(clippy::expect_used)]
    regex::bytes::Regex::new(
        r"(?i-u)\b(?:union|select|order\s+by|group\s+by|having|waitfor|(?:and|or|xor)\s*[@\d])\b|\w\(",
    )
    .expect("SQLi hint compiles")
});

/// SQL the C libinjection reports and its port lets through: multi-word keywords (`UNION ALL
/// SELECT`, `ORDER BY`, `WAITFOR DELAY`) and time-based probes (patterns ignore case). On at
/// every sensitivity, since they only restore what the tokenizer is meant to find.
static SQLI_KEYWORDS: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\bunion\b[\s/*!()+]+(?:all\b|distinct\b)?[\s/*!()+]*select\b",
        r"\b(?:order|group)\s+by\s+[\d\s,]*(?:\d|sleep\s*\(|benchmark\s*\(|if\s*\()[\s\d,]*(?:--|#|/\*|;|$)",
        r"\b(?:sleep|benchmark|pg_sleep)\s*\(\s*\d",
        r"\bwaitfor\s+(?:delay|time)\s+['\x22]",
        r"\bselect\s+(?:@@|user\s*\(|version\s*\(|database\s*\(|current_user\b|schema_name\b|table_name\b|column_name\b|\*\s+from\b|null\s*,|\d+\s*,\s*\d+)",
        r"['\x22]\s*\)*\s*(?:;|\|\||&&)?\s*(?:drop|truncate|shutdown|declare|exec(?:ute)?|insert\s+into|delete\s+from|update\s+\w+\s+set|create\s+(?:user|table|database)|alter\s+table|backup\s+database)\b",
        r"\b(?:and|or|having|where)\s+\(?\s*\d+\s*(?:=|<>|!=)\s*\(?\d+\b",
        r"\b(?:extractvalue|updatexml)\s*\(|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\bxp_cmdshell\b|\binformation_schema\s*\.",
    ])
});

/// SQL that libinjection's port lets through (patterns ignore case).
static SQLI_EXTRA: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"\bunion\b[\s/*!()]+(?:all\b|distinct\b)?[\s/*!()]*select\b",
        r"\bselect\b.{1,200}?\bfrom\b.{1,200}?\b(?:where|limit|group\s+by|order\s+by|information_schema|sys\.|mysql\.|dual)\b",
        r"\b(?:sleep|benchmark|pg_sleep|dbms_pipe\.receive_message)\s*\(",
        r"\bwaitfor\s+(?:delay|time)\b",
        r"\b(?:and|or|xor|&&|\|\|)\s*['\x22`]?\s*\(?\s*(?:\d+|'[^']*'|\x22[^\x22]*\x22)\s*(?:=|<>|!=|>|<|\blike\b)\s*\(?\s*(?:\d+|'[^']*'|\x22[^\x22]*\x22)",
        r"(?:'|\x22|\))\s*(?:;|\|\||&&)?\s*(?:drop|insert|update|delete|create|alter|truncate|exec|execute|declare|shutdown)\b",
        r"\b(?:extractvalue|updatexml|load_file|into\s+(?:out|dump)file|xp_cmdshell|information_schema\.|utl_inaddr|ctxsys\.|sysobjects|syscolumns)\b",
        r"['\x22`]\s*(?:or|and|\|\||&&)\s*['\x22`]?\s*[\w]+\s*['\x22`]?\s*(?:=|like)",
        r"\border\s+by\s+\d+\s*(?:--|#|/\*)",
        r"(?:'|\x22)\s*(?:--|#|/\*)",
    ])
});

/// Markup and script URLs that libinjection's XSS check lets through (entity-decoded input,
/// patterns ignoring case): on at every sensitivity, as none of them is plain text.
static XSS_MARKUP: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"<\s*/?\s*(?:script|iframe|svg|img|body|object|embed|math|style|link|meta|base|frameset|applet|isindex)\b[^>]*(?:>|\bon[a-z]{3,20}\s*=|\bsrc\s*=|\bhref\s*=)",
        r"<[a-z][\w:-]*[\s/\x00-\x20][^>]*\bon[a-z]{3,20}\s*=",
        r"(?:^|[\s\x22'`=(:,;])(?:javascript|vbscript|livescript)\s*:\s*(?:[^v\s;]|v[^o])[^\n]{0,80}?[(`=]",
        r"(?:javascript|vbscript|livescript)\s*:\s*void\b[^\n]{0,40}?\([^\n]{0,40}?\(",
        r"\b(?:document\s*\.\s*(?:cookie|domain|write\s*\()|string\s*\.\s*fromcharcode\s*\()",
        r"\bdata\s*:\s*text/html",
    ])
});

/// Script outside markup, at high sensitivity (entity-decoded input, patterns ignoring case).
static XSS_EXTRA: LazyLock<RegexSet> = LazyLock::new(|| {
    set_ci(&[
        r"<\s*/?\s*(?:script|iframe|svg|img|body|object|embed|math|style|link|meta|base|form|input|video|audio|details|marquee|frameset|applet|isindex|xss\w*)\b",
        r"[\s\x22'/]on[a-z]{3,20}\s*=",
        r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|fetch|atob)\s*(?:\(|`|\)\s*\(|\.\s*(?:call|apply)\s*\()",
        r"\b(?:window\s*\.\s*location|top\s*\[|self\s*\[|constructor\s*\()",
        r"\bexpression\s*\(",
    ])
});

/// A compiled set of built-in patterns, matched byte-wise in ASCII mode (`\b` and `\w` are
/// ASCII, `.` any byte): faster, and attack text is ASCII.
pub(crate) fn set(patterns: &[&str]) -> RegexSet {
    build(patterns, "(?-u)")
}

/// [`set`] with every pattern ignoring ASCII case: the automaton folds case, so the input
/// needs no lower-cased copy.
pub(crate) fn set_ci(patterns: &[&str]) -> RegexSet {
    build(patterns, "(?i-u)")
}

fn build(patterns: &[&str], flags: &str) -> RegexSet {
    let ascii = patterns.iter().map(|p| format!("{flags}{p}"));
    // The patterns are literals of this crate, and a unit test builds every set.
    #[allow(clippy::expect_used)]
    regex::bytes::RegexSetBuilder::new(ascii).size_limit(1 << 24).build().expect("built-in WAF patterns compile")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_sets_compile() {
        assert!(!SQLI_EXTRA.is_empty());
        assert!(!SQLI_KEYWORDS.is_empty());
        assert!(!XSS_EXTRA.is_empty());
        assert!(!XSS_MARKUP.is_empty());
    }

    #[test]
    fn low_is_libinjection_and_high_adds_patterns() {
        assert!(sqli(b"1' OR '1'='1", Sensitivity::Low));
        assert!(!sqli(b"O'Brien", Sensitivity::High));
        assert!(!sqli(b"hello world", Sensitivity::High));
        assert!(xss(b"<script>alert(1)</script>", Sensitivity::Low));
        assert!(xss(b"&lt;script&gt;alert(1)&lt;/script&gt;", Sensitivity::Low));
        assert!(!xss(b"a < b and c > d", Sensitivity::High));
    }

    #[test]
    fn bare_tokens_skip_the_tokenizer() {
        let may = |v: &[u8]| may_be_sqli(v, Prescan::of(v));
        assert!(!may(b"abcDEF123_.,:"));
        assert!(!may(b"Mozilla/5.0 (X11"[..11].as_ref()));
        assert!(!may(b"Calle Mayor 12, 3B"));
        assert!(may(b"1 or 1"));
        assert!(may(b"-1 UNION ALL SELECT 7,7"));
        assert!(may(b"x' --"));
        assert!(may(b"ascii(substring(version(),1,1))"));
        assert!(!may(b"Happy birthday (again) :)"));
        assert!(!Classes::of(b"plain words").has(Classes::XSS));
    }
}
