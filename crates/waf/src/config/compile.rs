//! Checking a [`WebAclConfig`] and building the [`WebAcl`].

use std::collections::BTreeMap;

use ipnet::IpNet;
use regex::bytes::{RegexBuilder, RegexSetBuilder};

use super::{
    ActionConfig, ActionName, CustomResponseConfig, DetailedAction, DetailedField, FieldConfig, FieldName,
    ResponseBodyConfig, StatementConfig, WebAclConfig,
};
use crate::{
    Action, CustomResponse, DefaultAction, FieldToMatch, ForwardedIp, InvalidFallback, MatchScope, Oversize,
    Positional, Rule, Statement, Transformation, WebAcl,
};

/// Checks `cfg` and builds its web ACL.
///
/// `at` is the ACL's path in the whole configuration (`web_acls[0]`). Every problem found is
/// pushed onto `issues` as (field path, message), e.g.
/// (`web_acls[0].rules[1].statement.and[0].byte_match.search`, `…`); the result is `None` when
/// there was any. Never stops at the first problem.
pub fn compile(cfg: &WebAclConfig, at: &str, issues: &mut Vec<(String, String)>) -> Option<WebAcl> {
    let before = issues.len();
    let geo = cfg.geo_database.as_deref().map(crate::GeoDb::open);
    if let Some(Err(why)) = &geo {
        issues.push((format!("{at}.geo_database"), why.clone()));
    }
    let mut c = Compiler { bodies: &cfg.custom_response_bodies, issues, bots: None, geo };
    c.check_name(&cfg.name, &format!("{at}.name"));
    c.check_bodies(at);
    let default_action = c.default_action(&cfg.default_action, &format!("{at}.default_action"));
    if !(8 * 1024..=64 * 1024).contains(&cfg.body_inspection_limit) {
        let why = format!("body_inspection_limit {} must be 8192-65536 (bytes)", cfg.body_inspection_limit);
        c.issue(format!("{at}.body_inspection_limit"), why);
    }
    let challenge = match &cfg.challenge_config {
        None => crate::ChallengeConfig::default(),
        Some(settings) => {
            if !(60..=259_200).contains(&settings.immunity_time) {
                let why = format!("immunity_time {} must be 60-259200 (seconds)", settings.immunity_time);
                c.issue(format!("{at}.challenge_config.immunity_time"), why);
            }
            if !(8..=24).contains(&settings.difficulty) {
                let why = format!("difficulty {} must be 8-24 (bits)", settings.difficulty);
                c.issue(format!("{at}.challenge_config.difficulty"), why);
            }
            crate::ChallengeConfig { immunity_s: settings.immunity_time, difficulty: settings.difficulty }
        }
    };
    let mut rules = Vec::with_capacity(cfg.rules.len());
    for (i, rule) in cfg.rules.iter().enumerate() {
        let at = format!("{at}.rules[{i}]");
        for (j, earlier) in cfg.rules.iter().take(i).enumerate() {
            if earlier.name == rule.name {
                c.issue(format!("{at}.name"), format!("rule name {:?} is already used by rules[{j}]", rule.name));
            }
            if earlier.priority == rule.priority {
                c.issue(format!("{at}.priority"), format!("priority {} is already used by rules[{j}]", rule.priority));
            }
        }
        c.check_name(&rule.name, &format!("{at}.name"));
        for (k, label) in rule.labels.iter().enumerate() {
            if let Err(why) = check_label(label, LabelUse::Rule) {
                c.issue(format!("{at}.labels[{k}]"), why);
            }
        }
        if let StatementConfig::ManagedRuleGroup(group) = &rule.statement {
            rules.extend(c.managed_group(rule, group, &at).into_iter().flatten());
            continue;
        }
        let statement = match &rule.statement {
            StatementConfig::RateBased(rate) => {
                let fingerprint = format!("{}\u{0}{}", cfg.name, rule.name);
                c.rate_based(rate, &format!("{at}.statement.rate_based"), &fingerprint)
            }
            other => c.statement(other, &format!("{at}.statement"), 1),
        };
        if rule.override_action.is_some() {
            c.issue(
                format!("{at}.override_action"),
                "only a rule with a managed_rule_group statement has override_action; use action",
            );
        }
        let action = match &rule.action {
            Some(action) => c.action(action, &format!("{at}.action")),
            None => {
                c.issue(format!("{at}.action"), "missing field `action`");
                None
            }
        };
        if let (Some(action), Some(statement)) = (action, statement) {
            rules.push(Rule {
                name: rule.name.clone(),
                priority: rule.priority,
                statement,
                action,
                labels: rule.labels.clone(),
                group: None,
            });
        }
    }
    if c.issues.len() > before {
        return None;
    }
    match WebAcl::new(cfg.name.clone(), default_action?, rules) {
        Ok(acl) => Some(
            acl.with_challenge(challenge).with_bot_control(c.bots.take()).with_body_limit(cfg.body_inspection_limit),
        ),
        Err(e) => {
            c.issue(at.to_owned(), e.to_string());
            None
        }
    }
}

/// How a label is used: labels a rule adds, or a label match's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelUse {
    /// Added by a rule: no prefix, no reserved first word.
    Rule,
    /// A label match key: may be fully qualified (`portcullis:`/`awswaf:`) and may end in `:`.
    Key,
}

/// Checks a label: `:`-separated components of `[A-Za-z0-9_-]`, each 1–128 characters, at
/// most five namespaces before the name, and (unless fully qualified) no reserved first word.
pub(crate) fn check_label(label: &str, usage: LabelUse) -> Result<(), String> {
    let qualified = usage == LabelUse::Key && (label.starts_with("portcullis:") || label.starts_with("awswaf:"));
    let body = match usage {
        LabelUse::Key => label.strip_suffix(':').unwrap_or(label),
        LabelUse::Rule => label,
    };
    let parts: Vec<&str> = body.split(':').collect();
    if parts.iter().any(|p| p.is_empty() || p.len() > 128 || !p.bytes().all(is_name_byte)) {
        return Err(format!(
            "label {label:?}: each ':'-separated part must be 1-128 characters of A-Z, a-z, 0-9, _ and -"
        ));
    }
    if qualified {
        return Ok(());
    }
    if parts.len() > MAX_LABEL_PARTS {
        return Err(format!("label {label:?} has more than {} namespaces", MAX_LABEL_PARTS - 1));
    }
    match parts.first() {
        Some(first) if RESERVED.contains(first) => {
            Err(format!("label {label:?} starts with the reserved word {first:?} (reserved: {})", RESERVED.join(", ")))
        }
        _ => Ok(()),
    }
}

/// The state of one compilation: the ACL's bodies and where problems go.
pub(super) struct Compiler<'c> {
    bodies: &'c BTreeMap<String, ResponseBodyConfig>,
    issues: &'c mut Vec<(String, String)>,
    /// Whether a rule references `bot_control`, and the crawlers it verifies besides the
    /// built-in ones.
    pub(super) bots: Option<Vec<(String, Vec<String>)>>,
    /// The ACL's geo database, or why it could not be opened.
    geo: Option<Result<std::sync::Arc<crate::GeoDb>, String>>,
}

// === impl Compiler ===

impl Compiler<'_> {
    pub(super) fn issues_len(&self) -> usize {
        self.issues.len()
    }

    pub(super) fn issue(&mut self, at: String, message: impl Into<String>) {
        self.issues.push((at, message.into()));
    }

    fn check_name(&mut self, name: &str, at: &str) {
        if name.is_empty() || name.len() > 128 || !name.bytes().all(is_name_byte) {
            self.issue(at.to_owned(), format!("name {name:?} must be 1-128 characters of A-Z, a-z, 0-9, _ and -"));
        }
    }

    fn check_bodies(&mut self, at: &str) {
        if self.bodies.len() > MAX_BODIES {
            self.issue(format!("{at}.custom_response_bodies"), format!("at most {MAX_BODIES} bodies"));
        }
        for (key, body) in self.bodies {
            if !CONTENT_TYPES.contains(&body.content_type.as_str()) {
                self.issue(
                    format!("{at}.custom_response_bodies.{key}.content_type"),
                    format!("content type {:?} must be one of {}", body.content_type, CONTENT_TYPES.join(", ")),
                );
            }
        }
    }

    fn default_action(&mut self, cfg: &ActionConfig, at: &str) -> Option<DefaultAction> {
        match cfg {
            ActionConfig::Name(ActionName::Allow) => Some(DefaultAction::Allow),
            ActionConfig::Name(ActionName::Block) => Some(DefaultAction::Block(None)),
            ActionConfig::Detailed(DetailedAction::Block(block)) => {
                let response = match &block.custom_response {
                    Some(r) => Some(self.custom_response(r, &format!("{at}.block.custom_response"))?),
                    None => None,
                };
                Some(DefaultAction::Block(response))
            }
            ActionConfig::Name(ActionName::Count | ActionName::Challenge) | ActionConfig::Detailed(_) => {
                self.issue(at.to_owned(), "the default action must be allow or block (without settings for allow)");
                None
            }
        }
    }

    pub(super) fn action(&mut self, cfg: &ActionConfig, at: &str) -> Option<Action> {
        let headers = |this: &mut Self, map: &BTreeMap<String, String>, at: String| {
            for name in map.keys() {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    this.issue(format!("{at}.{name}"), format!("header name {name:?} must be A-Z, a-z, 0-9 and -"));
                }
            }
            map.iter().map(|(n, v)| (n.clone(), v.clone())).collect::<Vec<_>>()
        };
        Some(match cfg {
            ActionConfig::Name(ActionName::Allow) => Action::Allow { insert_headers: Vec::new() },
            ActionConfig::Name(ActionName::Block) => Action::Block(None),
            ActionConfig::Name(ActionName::Count) => Action::Count { insert_headers: Vec::new() },
            ActionConfig::Name(ActionName::Challenge) => Action::Challenge,
            ActionConfig::Detailed(DetailedAction::Allow(h)) => {
                Action::Allow { insert_headers: headers(self, &h.insert_headers, format!("{at}.allow.insert_headers")) }
            }
            ActionConfig::Detailed(DetailedAction::Count(h)) => {
                Action::Count { insert_headers: headers(self, &h.insert_headers, format!("{at}.count.insert_headers")) }
            }
            ActionConfig::Detailed(DetailedAction::Block(block)) => match &block.custom_response {
                Some(r) => Action::Block(Some(self.custom_response(r, &format!("{at}.block.custom_response"))?)),
                None => Action::Block(None),
            },
        })
    }

    fn custom_response(&mut self, cfg: &CustomResponseConfig, at: &str) -> Option<CustomResponse> {
        let before = self.issues.len();
        if !(200..=599).contains(&cfg.status) {
            self.issue(format!("{at}.status"), format!("status {} must be 200-599", cfg.status));
        }
        let body = match &cfg.body {
            None => None,
            Some(key) => match self.bodies.get(key) {
                Some(b) => Some((b.content_type.clone(), b.content.clone().into_bytes())),
                None => {
                    let known: Vec<&str> = self.bodies.keys().map(String::as_str).collect();
                    self.issue(
                        format!("{at}.body"),
                        format!("no custom_response_bodies entry {key:?} (known: {})", known.join(", ")),
                    );
                    None
                }
            },
        };
        for name in cfg.headers.keys() {
            if name.eq_ignore_ascii_case("content-type") || name.is_empty() || !name.bytes().all(is_header_byte) {
                self.issue(format!("{at}.headers.{name}"), format!("header {name:?} is not allowed here"));
            }
        }
        let headers = cfg.headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        (self.issues.len() == before).then_some(CustomResponse { status: cfg.status, body, headers })
    }

    pub(super) fn statement(&mut self, cfg: &StatementConfig, at: &str, depth: usize) -> Option<Statement> {
        if depth > MAX_DEPTH {
            self.issue(at.to_owned(), format!("statements are nested more than {MAX_DEPTH} deep"));
            return None;
        }
        match cfg {
            StatementConfig::ByteMatch(b) => {
                let at = format!("{at}.byte_match");
                let field = self.field(&b.field, &format!("{at}.field"));
                let transforms = self.transforms(&b.transforms, &format!("{at}.transforms"));
                let word = b.position == Positional::ContainsWord;
                if b.search.is_empty() {
                    self.issue(format!("{at}.search"), "the search string is empty");
                } else if word && !b.search.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.issue(format!("{at}.search"), "contains_word needs a search string of A-Z, a-z, 0-9 and _");
                }
                let search = b.search.clone().into_bytes();
                Some(Statement::ByteMatch { field: field?, transforms: transforms?, position: b.position, search })
            }
            StatementConfig::RegexMatch(r) => {
                let at = format!("{at}.regex_match");
                let field = self.field(&r.field, &format!("{at}.field"));
                let transforms = self.transforms(&r.transforms, &format!("{at}.transforms"));
                let built = RegexBuilder::new(&r.regex).size_limit(REGEX_SIZE_LIMIT).build();
                let regex = built.map_err(|e| self.issue(format!("{at}.regex"), format!("invalid regex: {e}"))).ok();
                Some(Statement::RegexMatch { field: field?, transforms: transforms?, regex: regex? })
            }
            StatementConfig::RegexPatternSet(r) => {
                let at = format!("{at}.regex_pattern_set");
                let field = self.field(&r.field, &format!("{at}.field"));
                let transforms = self.transforms(&r.transforms, &format!("{at}.transforms"));
                let mut ok = !r.regexes.is_empty();
                if !ok {
                    self.issue(format!("{at}.regexes"), "at least one regex is needed");
                }
                for (i, re) in r.regexes.iter().enumerate() {
                    if let Err(e) = RegexBuilder::new(re).size_limit(REGEX_SIZE_LIMIT).build() {
                        self.issue(format!("{at}.regexes[{i}]"), format!("invalid regex: {e}"));
                        ok = false;
                    }
                }
                let set = RegexSetBuilder::new(&r.regexes).size_limit(REGEX_SIZE_LIMIT).build();
                let set = match set {
                    Ok(set) => Some(set),
                    Err(e) if ok => {
                        self.issue(format!("{at}.regexes"), format!("invalid regex set: {e}"));
                        None
                    }
                    Err(_) => None,
                };
                Some(Statement::RegexPatternSet { field: field?, transforms: transforms?, set: set? })
            }
            StatementConfig::SizeConstraint(s) => {
                let at = format!("{at}.size_constraint");
                let field = self.field(&s.field, &format!("{at}.field"));
                let transforms = self.transforms(&s.transforms, &format!("{at}.transforms"));
                Some(Statement::SizeConstraint { field: field?, transforms: transforms?, op: s.op, size: s.size })
            }
            StatementConfig::IpSet(s) => {
                let at = format!("{at}.ip_set");
                let mut nets = Vec::with_capacity(s.cidrs.len());
                for (i, cidr) in s.cidrs.iter().enumerate() {
                    let parsed = cidr.parse::<IpNet>().or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from));
                    match parsed {
                        Ok(net) => nets.push(net.trunc()),
                        Err(_) => self.issue(format!("{at}.cidrs[{i}]"), format!("{cidr:?} is not a CIDR")),
                    }
                }
                let forwarded = self.forwarded(s.forwarded_ip.as_ref(), &at);
                (nets.len() == s.cidrs.len()).then_some(Statement::IpSet { nets, forwarded })
            }
            StatementConfig::LabelMatch(l) => {
                if let Err(why) = check_label(&l.key, super::compile::LabelUse::Key) {
                    self.issue(format!("{at}.label_match.key"), why);
                    return None;
                }
                Some(Statement::LabelMatch { scope: l.scope, key: l.key.clone() })
            }
            StatementConfig::SqliMatch(m) => {
                let at = format!("{at}.sqli_match");
                let field = self.field(&m.field, &format!("{at}.field"));
                let transforms = self.transforms(&m.transforms, &format!("{at}.transforms"));
                Some(Statement::SqliMatch { field: field?, transforms: transforms?, level: m.sensitivity })
            }
            StatementConfig::XssMatch(m) => {
                let at = format!("{at}.xss_match");
                let field = self.field(&m.field, &format!("{at}.field"));
                let transforms = self.transforms(&m.transforms, &format!("{at}.transforms"));
                Some(Statement::XssMatch { field: field?, transforms: transforms? })
            }
            StatementConfig::GeoMatch(g) => {
                let at = format!("{at}.geo_match");
                for (i, code) in g.country_codes.iter().enumerate() {
                    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                        self.issue(
                            format!("{at}.country_codes[{i}]"),
                            format!("{code:?} is not an ISO 3166 alpha-2 code (FR, US)"),
                        );
                    }
                }
                if g.country_codes.is_empty() {
                    self.issue(format!("{at}.country_codes"), "at least one country code is needed");
                }
                let db = match &self.geo {
                    Some(Ok(db)) => Some(db.clone()),
                    // Reported once, at geo_database.
                    Some(Err(_)) => None,
                    None => {
                        self.issue(
                            at.clone(),
                            "geo_match needs the web ACL's geo_database (a MaxMind-format .mmdb file)",
                        );
                        None
                    }
                };
                let forwarded = self.forwarded(g.forwarded_ip.as_ref(), &at);
                let countries = g.country_codes.iter().map(|c| c.to_ascii_uppercase()).collect();
                Some(Statement::GeoMatch { countries, db: db?, forwarded })
            }
            StatementConfig::ManagedRuleGroup(_) => {
                self.issue(
                    format!("{at}.managed_rule_group"),
                    "a managed rule group must be a rule's whole statement, not inside another statement",
                );
                None
            }
            StatementConfig::RateBased(_) => {
                self.issue(
                    format!("{at}.rate_based"),
                    "a rate-based statement must be a rule's whole statement, not inside another statement",
                );
                None
            }
            StatementConfig::And(list) => self.list(list, &format!("{at}.and"), depth).map(Statement::And),
            StatementConfig::Or(list) => self.list(list, &format!("{at}.or"), depth).map(Statement::Or),
            StatementConfig::Not(inner) => {
                self.statement(inner, &format!("{at}.not"), depth + 1).map(|s| Statement::Not(Box::new(s)))
            }
        }
    }

    fn list(&mut self, list: &[StatementConfig], at: &str, depth: usize) -> Option<Vec<Statement>> {
        if list.len() < 2 {
            self.issue(at.to_owned(), format!("and/or need at least 2 statements, not {}", list.len()));
        }
        let built: Vec<Option<Statement>> =
            list.iter().enumerate().map(|(i, s)| self.statement(s, &format!("{at}[{i}]"), depth + 1)).collect();
        if list.len() < 2 {
            return None;
        }
        built.into_iter().collect()
    }

    /// A statement's `forwarded_ip` (at `at.forwarded_ip`), its header name checked.
    pub(super) fn forwarded(&mut self, cfg: Option<&super::ForwardedIpConfig>, at: &str) -> Option<ForwardedIp> {
        let f = cfg?;
        if f.header.is_empty() || !f.header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            self.issue(format!("{at}.forwarded_ip.header"), "header name must be A-Z, a-z, 0-9 and -");
        }
        Some(ForwardedIp { header: f.header.to_ascii_lowercase(), position: f.position, fallback: f.fallback })
    }

    pub(super) fn field(&mut self, cfg: &FieldConfig, at: &str) -> Option<FieldToMatch> {
        let all = |oversize| (MatchScope::All, None, Vec::new(), oversize);
        let items = |c: &super::ItemsConfig| (c.scope, c.include.clone(), c.exclude.clone(), c.oversize);
        Some(match cfg {
            FieldConfig::Name(FieldName::UriPath) => FieldToMatch::UriPath,
            FieldConfig::Name(FieldName::QueryString) => FieldToMatch::QueryString,
            FieldConfig::Name(FieldName::AllQueryArguments) => FieldToMatch::AllQueryArguments,
            FieldConfig::Name(FieldName::Method) => FieldToMatch::Method,
            FieldConfig::Name(FieldName::Body) => FieldToMatch::Body { oversize: Oversize::Continue },
            FieldConfig::Name(FieldName::Headers) => {
                let (scope, include, exclude, oversize) = all(Oversize::Continue);
                FieldToMatch::Headers { scope, include, exclude, oversize }
            }
            FieldConfig::Name(FieldName::Cookies) => {
                let (scope, include, exclude, oversize) = all(Oversize::Continue);
                FieldToMatch::Cookies { scope, include, exclude, oversize }
            }
            FieldConfig::Name(FieldName::JsonBody) => FieldToMatch::JsonBody {
                paths: None,
                scope: MatchScope::All,
                invalid: InvalidFallback::EvaluateAsString,
                oversize: Oversize::Continue,
            },
            FieldConfig::Detailed(DetailedField::SingleHeader(name)) => {
                if name.is_empty() {
                    self.issue(format!("{at}.single_header"), "the header name is empty");
                }
                FieldToMatch::SingleHeader(name.to_ascii_lowercase())
            }
            FieldConfig::Detailed(DetailedField::SingleQueryArgument(name)) => {
                if name.is_empty() {
                    self.issue(format!("{at}.single_query_argument"), "the argument name is empty");
                }
                FieldToMatch::SingleQueryArgument(name.clone())
            }
            FieldConfig::Detailed(DetailedField::Headers(c)) => {
                let (scope, include, exclude, oversize) = items(c);
                FieldToMatch::Headers { scope, include, exclude, oversize }
            }
            FieldConfig::Detailed(DetailedField::Cookies(c)) => {
                let (scope, include, exclude, oversize) = items(c);
                FieldToMatch::Cookies { scope, include, exclude, oversize }
            }
            FieldConfig::Detailed(DetailedField::Body(c)) => FieldToMatch::Body { oversize: c.oversize },
            FieldConfig::Detailed(DetailedField::JsonBody(c)) => {
                for (i, p) in c.paths.iter().flatten().enumerate() {
                    if !(p.is_empty() || p.starts_with('/')) {
                        self.issue(format!("{at}.json_body.paths[{i}]"), format!("{p:?} is not a JSON Pointer"));
                    }
                }
                FieldToMatch::JsonBody {
                    paths: c.paths.clone(),
                    scope: c.scope,
                    invalid: c.invalid_fallback,
                    oversize: c.oversize,
                }
            }
        })
    }

    fn transforms(&mut self, names: &[String], at: &str) -> Option<Vec<Transformation>> {
        let before = self.issues.len();
        if names.len() > MAX_TRANSFORMS {
            self.issue(at.to_owned(), format!("at most {MAX_TRANSFORMS} transformations"));
        }
        let mut out = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            match Transformation::parse(name) {
                Some(t) => out.push(t),
                None => {
                    let known: Vec<&str> = Transformation::ALL.iter().map(|t| t.as_str()).collect();
                    let why = if Transformation::UNSUPPORTED_AWS_NAMES.contains(&name.as_str()) {
                        "is an AWS transformation Portcullis does not support"
                    } else {
                        "is not a transformation"
                    };
                    self.issue(format!("{at}[{i}]"), format!("{name:?} {why}; known: {}", known.join(", ")));
                }
            }
        }
        (self.issues.len() == before).then_some(out)
    }
}

// === helpers ===

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// An HTTP token character (RFC 9110).
fn is_header_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// First words a label may not start with: AWS's list, plus our own prefix.
const RESERVED: [&str; 9] =
    ["aws", "awswaf", "waf", "managed", "rulegroup", "webacl", "regexpatternset", "ipset", "portcullis"];
/// At most five namespaces and the name.
const MAX_LABEL_PARTS: usize = 6;
/// How deep statements may nest; a rule's own statement is at depth 1.
const MAX_DEPTH: usize = 10;
/// AWS's limit on transformations per statement.
const MAX_TRANSFORMS: usize = 10;
/// AWS's limit on custom response bodies per ACL.
const MAX_BODIES: usize = 50;
/// The content types AWS allows for custom response bodies.
const CONTENT_TYPES: [&str; 3] = ["text/plain", "text/html", "application/json"];
/// The most memory one compiled regex (or set) may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
