//! Managed rule groups shipped with Portcullis: `core` and `known_bad_inputs`.
//!
//! A group is a versioned list of named rules. Each rule inspects every input of the request
//! (see [`crate::inputs`]) in the parts it names, with one detector, and adds the label
//! `portcullis:managed:<group>:<rule>` when it matches. A web ACL references a group from one
//! of its rules; [`crate::compile`] expands the reference into the group's rules, applying the
//! reference's sensitivity, action overrides, exclusions and scope-down statement.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::RegexSet;

use crate::classes::Classes;
use crate::detect::{self, set, set_ci, Sensitivity};
use crate::inputs::{Input, Part};
use crate::memo::Memo;

mod bot_control;
mod core;
mod known_bad_inputs;
mod protocol;

/// A managed rule group.
#[derive(Debug)]
pub(crate) struct Group {
    /// The group's name in configurations (`core`).
    pub(crate) name: &'static str,
    /// The versions it has, oldest first; the last is the default.
    pub(crate) versions: &'static [&'static str],
    /// The rules, in evaluation order.
    pub(crate) rules: &'static [ManagedRule],
}

/// One rule of a managed group.
#[derive(Debug)]
pub(crate) struct ManagedRule {
    /// Unique within the group.
    pub(crate) name: &'static str,
    /// The parts of the request it inspects.
    pub(crate) parts: &'static [Part],
    /// What it looks for.
    pub(crate) detector: Detector,
    /// The lowest group sensitivity at which the rule is on.
    pub(crate) from: Sensitivity,
    /// Whether the rule only counts (and labels) unless overridden; otherwise it blocks.
    pub(crate) counts: bool,
}

/// What a managed rule looks for in each view of each input.
#[derive(Debug)]
pub(crate) enum Detector {
    /// SQL injection (libinjection, plus patterns at high sensitivity).
    Sqli,
    /// Cross-site scripting (libinjection, plus patterns at high sensitivity).
    Xss,
    /// Any pattern of the set, over the view folded as given.
    Patterns(&'static LazyLock<RegexSet>, Fold),
    /// An input of this part longer than this many bytes (raw, before decoding).
    LongerThan(usize),
    /// What the client is (`bot_control`).
    Bot(Bot),
    /// A protocol anomaly of the request as a whole.
    Protocol(protocol::Protocol),
}

/// A `bot_control` check.
#[derive(Debug)]
pub(crate) enum Bot {
    /// The `User-Agent` matches the category's names.
    Category(&'static LazyLock<RegexSet>),
    /// No `User-Agent`, or an empty one.
    NoUserAgent,
    /// A browser's `User-Agent` without the headers every browser sends.
    NonBrowserHeaders,
    /// A search engine's crawler, verified by DNS.
    Verified,
    /// A search engine's name, from an address that does not resolve to the engine.
    Spoofed,
}

/// How a view is prepared before patterns run over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    /// As it is, the patterns ignoring case.
    Caseless,
    /// `\` as `/`, overlong UTF-8 and full-width forms of `.` `/` `\` as ASCII, leftovers of
    /// broken escapes as `/`, NUL bytes removed: the spellings of `../` that decoders accept.
    /// The patterns ignore case.
    Path,
    /// What a shell ignores removed (`\\`, `'`, `\"`, `^`); separators kept. The patterns
    /// ignore case.
    Shell,
    /// As it is (byte patterns such as serialisation markers are case-sensitive).
    Exact,
}

/// A managed rule as a statement: the detector with the settings of the group's reference.
#[derive(Clone, Debug)]
pub struct ManagedCheck {
    pub(crate) rule: &'static ManagedRule,
    /// The rule's bit in [`scan`]'s results, for pattern rules.
    pub(crate) bit: Option<u32>,
    pub(crate) level: Sensitivity,
    /// Inputs this rule skips; when a route exclusion has no fields the rule is off there.
    pub(crate) exclusions: Vec<Exclusion>,
}

/// Where a managed rule does not look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// Only on these route keys (`POST /comments`); on every route when empty.
    pub routes: Vec<String>,
    /// These inputs; the whole request when empty.
    pub fields: Vec<FieldRef>,
}

/// An input by part and name, as exclusions write it: `path`, `query:q`, `header:x-sig`,
/// `cookie:session`, `body:comment` (form or multipart field), `body:/post/html` (JSON Pointer,
/// which also covers everything under it), `body` (the whole body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    part: Part,
    /// Empty for the whole part.
    name: String,
}

/// The groups, by name.
pub(crate) static GROUPS: [&Group; 4] = [&core::GROUP, &known_bad_inputs::GROUP, &IP_REPUTATION, &bot_control::GROUP];

/// The search engines the gateway verifies by DNS: a `User-Agent` word and its domains.
pub(crate) use bot_control::VERIFIABLE;

/// The `ip_reputation` group: its rules are the IP lists its reference names, one rule each.
pub(crate) static IP_REPUTATION: Group = Group { name: "ip_reputation", versions: &["1"], rules: &[] };

/// The group named `name`.
pub(crate) fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().copied().find(|g| g.name == name)
}

/// Builds every pattern set the rules of `group` and the detectors use.
pub(crate) fn warm(group: &Group) {
    detect::warm();
    for rule in group.rules {
        if let Detector::Patterns(set, _) = rule.detector {
            LazyLock::force(set);
        }
    }
    LazyLock::force(&SCANNER);
}

/// Every pattern rule of every group, and the detectors' own patterns, in one set over the view
/// as it is, plus one set per fold that can change a view, run only on views it changes. A
/// benign view is scanned once for all rules. (Fold patterns also see the unfolded view: they
/// describe attacks in either form.)
///
/// Each set also exists in a multi-line form that runs once over all views of the request
/// joined by newlines: a request in which it finds nothing needs no scan of each view. (With
/// `(?m)`, `^` and `$` match at the newlines, so a pattern that matches one view alone matches
/// the joined text too; the reverse does not hold, and a match there only means looking view
/// by view.)
#[derive(Debug)]
struct Scanner {
    raw: Pass,
    /// The patterns of the rules that fold, by fold.
    folded: Vec<(Fold, Pass)>,
}

/// One set of patterns and what each one's match means.
#[derive(Debug)]
struct Pass {
    /// Over one view.
    set: RegexSet,
    /// The same patterns over all views joined by newlines.
    joined: RegexSet,
    /// Each pattern's bits in the scan results: its rule's, or a detector's flag above
    /// [`PRESCAN_SHIFT`].
    bits: Vec<u64>,
}

/// A view's scan bits: pattern rules from bit 0, then the view's [`Classes`] from
/// [`CLASSES_SHIFT`], then the detectors' [`detect::Prescan`] pattern flags from
/// [`PRESCAN_SHIFT`].
const CLASSES_SHIFT: u32 = 48;
const PRESCAN_SHIFT: u32 = 56;

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let mut raw: (Vec<String>, Vec<u64>) = (Vec::new(), Vec::new());
    let mut folded: Vec<(Fold, Vec<String>, Vec<u64>)> = Vec::new();
    for (bit, (set, fold)) in pattern_rules().enumerate() {
        let bit = 1u64 << bit;
        for pattern in set.patterns() {
            raw.0.push(pattern.clone());
            raw.1.push(bit);
        }
        if matches!(fold, Fold::Path | Fold::Shell) {
            let i = folded.iter().position(|(f, _, _)| *f == fold).unwrap_or_else(|| {
                folded.push((fold, Vec::new(), Vec::new()));
                folded.len() - 1
            });
            if let Some((_, patterns, bits)) = folded.get_mut(i) {
                patterns.extend(set.patterns().iter().cloned());
                bits.extend(std::iter::repeat_n(bit, set.len()));
            }
        }
    }
    for (pattern, flag) in detect::prescan_patterns() {
        raw.0.push(pattern.to_owned());
        raw.1.push(u64::from(flag) << PRESCAN_SHIFT);
    }
    Scanner {
        raw: Pass::new(&raw.0, raw.1),
        folded: folded.into_iter().map(|(fold, patterns, bits)| (fold, Pass::new(&patterns, bits))).collect(),
    }
});

// === impl Pass ===

impl Pass {
    fn new(patterns: &[String], bits: Vec<u64>) -> Self {
        let build = |patterns: &mut dyn Iterator<Item = String>| {
            // The patterns already compiled one by one; together they must too.
            #[allow(clippy::expect_used)]
            regex::bytes::RegexSetBuilder::new(patterns)
                .size_limit(1 << 26)
                .dfa_size_limit(1 << 24)
                .build()
                .expect("built-in WAF patterns compile together")
        };
        let set = build(&mut patterns.iter().cloned());
        let joined = build(&mut patterns.iter().map(|p| format!("(?m){p}")));
        Self { set, joined, bits }
    }

    /// The bits of the patterns that match `view`.
    fn bits(&self, view: &[u8]) -> u64 {
        // Most views match nothing: a yes/no scan first, then which patterns.
        if !self.set.is_match(view) {
            return 0;
        }
        self.set.matches(view).iter().fold(0, |bits, i| bits | self.bits.get(i).copied().unwrap_or(0))
    }

    /// Whether any pattern may match any of `views`: false only when none does.
    fn anywhere<'a>(&self, views: impl Iterator<Item = Cow<'a, [u8]>>) -> bool {
        let mut joined = Vec::new();
        for view in views {
            // Most requests have no view that a fold changes: no buffer then.
            if joined.is_empty() {
                joined.reserve(JOINED_CAPACITY);
            }
            joined.extend_from_slice(&view);
            joined.push(b'\n');
        }
        !joined.is_empty() && self.joined.is_match(&joined)
    }
}

/// The usual size of a request's joined views.
const JOINED_CAPACITY: usize = 4096;

/// The pattern rules of every group, in a fixed order: a rule's position is its bit.
fn pattern_rules() -> impl Iterator<Item = (&'static LazyLock<RegexSet>, Fold)> {
    GROUPS.iter().flat_map(|g| g.rules.iter()).filter_map(|r| match r.detector {
        Detector::Patterns(set, fold) => Some((set, fold)),
        _ => None,
    })
}

/// The bit of `rule` in [`scan`]'s results, if it is a pattern rule.
pub(crate) fn rule_bit(rule: &ManagedRule) -> Option<u32> {
    let mut all = GROUPS.iter().flat_map(|g| g.rules.iter()).filter(|r| matches!(r.detector, Detector::Patterns(..)));
    all.position(|r| std::ptr::eq(r, rule)).and_then(|i| u32::try_from(i).ok())
}

/// For each view of each input, in order, the bits of the pattern rules that match it, and
/// above [`PRESCAN_SHIFT`] the detectors' [`detect::Prescan`] flags.
pub(crate) fn scan(inputs: &[Input<'_>]) -> Vec<u64> {
    let scanner = &*SCANNER;
    let views = || inputs.iter().flat_map(|input| input.views.iter().map(move |view| (input.part, &view[..])));
    let mut out: Vec<u64> = views().map(|(_, v)| u64::from(Classes::of(v).0) << CLASSES_SHIFT).collect();
    // Most requests match nothing: one look at all views together for each set first.
    let raw_anywhere = scanner.raw.anywhere(views().map(|(_, v)| Cow::Borrowed(v)));
    let folds_anywhere = scanner.folded.iter().any(|(fold, pass)| {
        pass.anywhere(views().zip(&out).filter_map(|((_, v), bits)| match fold.apply(v, prescan(*bits).classes) {
            Cow::Owned(folded) => Some(Cow::Owned(folded)),
            Cow::Borrowed(_) => None,
        }))
    });
    if !raw_anywhere && !folds_anywhere {
        return out;
    }
    let scan_view = |view: &[u8], classes: Classes| {
        let mut bits = scanner.raw.bits(view);
        for (fold, pass) in &scanner.folded {
            if let Cow::Owned(prepared) = fold.apply(view, classes) {
                bits |= pass.bits(&prepared);
            }
        }
        bits
    };
    for ((part, view), bits) in views().zip(&mut out) {
        let classes = prescan(*bits).classes;
        // A client sends the same headers and cookies with every request: their results are
        // remembered (by value), as the tokenizers' are.
        *bits |= if matches!(part, Part::Header | Part::Cookie) {
            SCAN_MEMO.get_or(view, || scan_view(view, classes))
        } else {
            scan_view(view, classes)
        };
    }
    out
}

/// Each input with the scan bits of its views ([`scan`] gives them flat, in order).
fn with_scans<'i, 'v>(inputs: &'i [Input<'v>], scans: &'i [u64]) -> impl Iterator<Item = (&'i Input<'v>, &'i [u64])> {
    let mut rest = scans;
    inputs.iter().map(move |input| {
        let (mine, after) = rest.split_at(input.views.len().min(rest.len()));
        rest = after;
        (input, mine)
    })
}

/// What the detectors need to know of a view, from its scan bits.
fn prescan(bits: u64) -> detect::Prescan {
    let byte = |shift: u32| u8::try_from((bits >> shift) & 0xff).unwrap_or(u8::MAX);
    detect::Prescan::known(Classes(byte(CLASSES_SHIFT)), byte(PRESCAN_SHIFT))
}

/// Whether no managed rule can match the header value `value`: it was seen before, and nothing
/// of it matched then (see [`learn_clean_headers`]). Such a header need not be inspected
/// again: a client sends the same `User-Agent`, `Accept` and `Authorization` with every
/// request.
pub(crate) fn known_clean_header(value: &[u8]) -> bool {
    CLEAN_HEADERS.get(value) == Some(true)
}

/// Remembers which header values of a request no managed rule of any group, at any
/// sensitivity, matches in any view: those with no decoded view, no pattern of the scan, and
/// no verdict of the SQLi or XSS detector at high sensitivity. (Bot control reads the
/// headers from the request, not from the inputs; size rules do not look at headers.)
pub(crate) fn learn_clean_headers(inputs: &[Input<'_>], scans: &[u64]) {
    for (input, bits) in with_scans(inputs, scans) {
        let (Some(value), [bits]) = (input.views.first(), bits) else { continue };
        if input.part != Part::Header || value.len() > crate::memo::MAX_LEN || CLEAN_HEADERS.get(value).is_some() {
            continue;
        }
        let matched = *bits & !(0xff << CLASSES_SHIFT) != 0
            || detect::sqli(value, Sensitivity::High)
            || detect::xss(value, Sensitivity::High);
        CLEAN_HEADERS.insert(value, !matched);
    }
}

/// Header values by whether they are clean (see [`learn_clean_headers`]).
static CLEAN_HEADERS: LazyLock<Memo<bool>> = LazyLock::new(Memo::default);

/// Scan results of header and cookie values.
static SCAN_MEMO: LazyLock<Memo<u64>> = LazyLock::new(Memo::default);

// === impl ManagedCheck ===

impl ManagedCheck {
    /// The first input and view that the rule's detector reports, as (input index, excerpt);
    /// `None` when nothing matches or the rule is excluded on this route.
    pub(crate) fn find(
        &self,
        view: &crate::RequestView<'_>,
        inputs: &[Input<'_>],
        scans: &[u64],
        route: Option<&str>,
    ) -> Option<String> {
        let on_route = |e: &&Exclusion| e.routes.is_empty() || route.is_some_and(|r| e.routes.iter().any(|x| x == r));
        // Most references have no exclusions: nothing to collect then.
        let active: Vec<&Exclusion> =
            if self.exclusions.is_empty() { Vec::new() } else { self.exclusions.iter().filter(on_route).collect() };
        if active.iter().any(|e| e.fields.is_empty()) {
            return None;
        }
        let rule = self.rule;
        match &rule.detector {
            Detector::Bot(check) => return bot(check, view),
            Detector::Protocol(check) => return check.find(view),
            _ => {}
        }
        for (input, scan) in with_scans(inputs, scans) {
            if !rule.parts.contains(&input.part) || active.iter().any(|e| e.fields.iter().any(|f| f.covers(input))) {
                continue;
            }
            if let Some(bit) = self.bit {
                if let Some(view) =
                    input.views.iter().zip(scan).find(|(_, bits)| *bits & (1 << bit) != 0).map(|(v, _)| v)
                {
                    return Some(format!("{}: {}", describe(input), crate::eval::excerpt(view)));
                }
                continue;
            }
            if let Detector::LongerThan(max) = rule.detector {
                if input.views.first().is_some_and(|v| v.len() > max) {
                    return Some(format!("{}: {} bytes", describe(input), input.views.first().map_or(0, |v| v.len())));
                }
                continue;
            }
            if let Some((view, _)) = input.views.iter().zip(scan).find(|(v, bits)| self.detects(v, prescan(**bits))) {
                return Some(format!("{}: {}", describe(input), crate::eval::excerpt(view)));
            }
        }
        None
    }

    fn detects(&self, view: &[u8], scan: detect::Prescan) -> bool {
        match self.rule.detector {
            Detector::Sqli => detect::sqli_given(view, self.level, scan),
            Detector::Xss => detect::xss_given(view, self.level, scan),
            // Pattern rules are decided by `scan`, bot and protocol rules by the request as a whole.
            Detector::Patterns(..) | Detector::LongerThan(_) | Detector::Bot(_) | Detector::Protocol(_) => false,
        }
    }
}

/// A bot check over the request; what it saw when it matches.
fn bot(check: &Bot, view: &crate::RequestView<'_>) -> Option<String> {
    let ua = view.header_values("user-agent").next().unwrap_or_default();
    let has = |name: &str| view.header_values(name).next().is_some();
    let matched = match check {
        Bot::Category(set) => set.is_match(ua),
        Bot::NoUserAgent => ua.trim_ascii().is_empty(),
        Bot::NonBrowserHeaders => {
            let browser = ua.starts_with(b"Mozilla/")
                && [&b"Chrome/"[..], b"Firefox/", b"Safari/"]
                    .iter()
                    .any(|w| crate::statement::find_from(ua, w, 0).is_some());
            browser && !(has("accept-language") && has("accept-encoding"))
        }
        Bot::Verified => view.bot_verified == Some(true),
        Bot::Spoofed => view.bot_verified == Some(false),
    };
    matched.then(|| format!("HEADER user-agent: {}", crate::eval::excerpt(ua)))
}

// === impl Fold ===

impl Fold {
    /// The view prepared for this fold's patterns; borrowed when nothing changes, which is
    /// the common case.
    fn apply(self, view: &[u8], classes: Classes) -> Cow<'_, [u8]> {
        let shell_ignores = |b: &u8| matches!(b, b'\\' | b'\'' | b'"' | b'^');
        match self {
            Self::Shell if classes.has(Classes::SHELL_FOLD) => {
                Cow::Owned(view.iter().filter(|b| !shell_ignores(b)).copied().collect())
            }
            Self::Path if classes.has(Classes::PATH_FOLD) => Cow::Owned(fold_path(view)),
            Self::Caseless | Self::Exact | Self::Shell | Self::Path => Cow::Borrowed(view),
        }
    }
}

/// See [`Fold::Path`]: every spelling of `.`, `/` and `\` that some decoder accepts becomes the
/// ASCII character, and leftovers of broken encodings become `/`, so that the traversal
/// patterns see the path a lenient server would resolve.
fn fold_path(view: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(view.len());
    let mut i = 0;
    while let Some(&b) = view.get(i) {
        let (ascii, used) = match b {
            // `0x2e`, `0x2f`, `0x5c`: hex literals of the three characters.
            b'0' if matches!(view.get(i + 1), Some(b'x' | b'X')) => match hex_pair(view, i + 2) {
                Some(c @ (b'.' | b'/' | b'\\')) => (Some(c), 4),
                _ => (Some(b'0'), 1),
            },
            // A `%` escape that did not decode: junk between path parts.
            b'%' if view.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
                && view.get(i + 2).is_some_and(u8::is_ascii_alphanumeric) =>
            {
                (Some(b'/'), 3)
            }
            0x80..=0xff => non_ascii(view, i),
            0 => (None, 1),
            b'?' => (Some(b'.'), 1),
            other => (Some(other), 1),
        };
        match ascii {
            Some(b'\\') => out.push(b'/'),
            Some(c) => out.push(c),
            None => {}
        }
        i += used.max(1);
    }
    out
}

/// The byte two hex digits at `at` name.
fn hex_pair(view: &[u8], at: usize) -> Option<u8> {
    let digit = |i: usize| view.get(i).and_then(|b| (*b as char).to_digit(16));
    Some(u8::try_from(digit(at)? * 16 + digit(at + 1)?).unwrap_or(0))
}

/// A non-ASCII sequence at `i`: an overlong UTF-8 form of an ASCII character, or a character
/// that Windows' best-fit mapping turns into `.`, `/` or `\`, as that character; any other
/// byte is dropped.
fn non_ascii(view: &[u8], i: usize) -> (Option<u8>, usize) {
    let lead = view[i];
    let len = match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        0xf8..=0xfb => 5,
        0xfc..=0xfd => 6,
        _ => return (None, 1),
    };
    let Some(tail) = view.get(i + 1..i + len) else { return (None, 1) };
    if !tail.iter().all(|c| (0x80..=0xbf).contains(c)) {
        return (None, 1);
    }
    let mut value = u32::from(lead) & (0x7f >> len);
    for c in tail {
        value = (value << 6) | u32::from(c & 0x3f);
    }
    let ascii = match value {
        0..=0x7f => u8::try_from(value).ok(),
        0x2024 | 0xfe52 | 0xff0e => Some(b'.'),
        0x2044 | 0x2215 | 0xff0f | 0xefc8 | 0xf025 => Some(b'/'),
        0x2216 | 0xfe68 | 0xff3c => Some(b'\\'),
        _ => None,
    };
    (ascii, len)
}

// === impl FieldRef ===

impl FieldRef {
    /// Parses `part` or `part:name`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (part, name) = text.split_once(':').unwrap_or((text, ""));
        let part = match part {
            "path" => Part::Path,
            "query" => Part::Query,
            "header" => Part::Header,
            "cookie" => Part::Cookie,
            "body" => Part::Body,
            other => return Err(format!("{other:?} is not path, query, header, cookie or body")),
        };
        if part == Part::Path && !name.is_empty() {
            return Err("path takes no name".to_owned());
        }
        let name = if part == Part::Header { name.to_ascii_lowercase() } else { name.to_owned() };
        Ok(Self { part, name })
    }

    fn covers(&self, input: &Input<'_>) -> bool {
        if self.part != input.part {
            return false;
        }
        if self.name.is_empty() {
            return true;
        }
        let name: &str = &input.name;
        match self.part {
            Part::Header => name.eq_ignore_ascii_case(&self.name),
            // A JSON Pointer covers what is under it.
            Part::Body if self.name.starts_with('/') => {
                name == self.name || name.strip_prefix(self.name.as_str()).is_some_and(|rest| rest.starts_with('/'))
            }
            _ => name == self.name,
        }
    }
}

/// How a hit names its input: `QUERY q`, `HEADER user-agent`, `BODY /a/b`, `PATH`.
fn describe(input: &Input<'_>) -> String {
    let part = match input.part {
        Part::Path => "PATH",
        Part::Query => "QUERY",
        Part::Header => "HEADER",
        Part::Cookie => "COOKIE",
        Part::Body => "BODY",
    };
    if input.name.is_empty() {
        part.to_owned()
    } else {
        format!("{part} {}", input.name)
    }
}

/// Every part.
const ALL: &[Part] = &[Part::Path, Part::Query, Part::Header, Part::Cookie, Part::Body];
/// Where values an application acts upon arrive; headers carry fewer of them and more
/// structured noise (`accept`, `sec-ch-ua`), so broad rules leave them out.
const ARGS: &[Part] = &[Part::Path, Part::Query, Part::Cookie, Part::Body];

#[cfg(test)]
mod tests;
