//! Web ACLs: rules in priority order, their actions and labels, and the verdict.

use crate::eval::{Evaluation, NotApplied};
use crate::statement::qualify;
use crate::Statement;

/// A named web ACL: rules evaluated in ascending priority, and the action for a request no
/// rule ends.
///
/// Labels that its rules add are qualified as `portcullis:webacl:<acl name>:<label>`.
#[derive(Clone, Debug)]
pub struct WebAcl {
    name: String,
    default_action: DefaultAction,
    /// How challenge actions work in this ACL.
    challenge: ChallengeConfig,
    /// With `bot_control`: the crawlers verified by DNS besides the built-in search engines
    /// (a `User-Agent` word, lower case, and its domains).
    bots: Option<Vec<(String, Vec<String>)>>,
    /// How many bytes of a body rules inspect.
    body_limit: usize,
    /// Sorted by ascending priority; names and priorities are unique.
    rules: Vec<Rule>,
    /// `portcullis:webacl:<name>:`.
    prefix: String,
}

/// How the challenge action works in one web ACL (AWS `ChallengeConfig`, plus the work asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeConfig {
    /// How long a solved challenge's token lets its client through, in seconds.
    pub immunity_s: u64,
    /// Leading zero bits the browser's proof of work must find (each bit doubles the work).
    pub difficulty: u8,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        // AWS's default immunity; 16 bits take a browser well under a second.
        Self { immunity_s: 300, difficulty: 16 }
    }
}

/// What a web ACL does with a request that no rule ends (AWS `DefaultAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Let it through.
    Allow,
    /// Refuse it: 403, or this response.
    Block(Option<CustomResponse>),
}

/// One rule of a web ACL.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique within the ACL; reported in the verdict.
    pub name: String,
    /// Unique within the ACL; lower runs first.
    pub priority: u32,
    /// What the rule tests.
    pub statement: Statement,
    /// What happens when the statement matches.
    pub action: Action,
    /// Labels added when the statement matches, without the ACL's prefix (`ns:name`), or
    /// fully qualified (`portcullis:managed:core:SQLi`).
    pub labels: Vec<String>,
    /// The rule of the ACL that referenced the managed group this rule comes from. The rules
    /// of one group share its priority and run in the group's order.
    pub group: Option<String>,
}

/// What a matching rule does (AWS `RuleAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Let the request through and stop; insert these request headers (names without the
    /// `x-amzn-waf-` prefix, which is added).
    Allow {
        /// Header names and values.
        insert_headers: Vec<(String, String)>,
    },
    /// Refuse the request and stop: 403, or this response.
    Block(Option<CustomResponse>),
    /// Let the request through as `Count` when its client holds a token of a solved
    /// challenge within the immunity time; otherwise stop and answer the challenge.
    Challenge,
    /// Record the match, add the labels and the request headers, and go on.
    Count {
        /// Header names (without `x-amzn-waf-`) and values.
        insert_headers: Vec<(String, String)>,
    },
}

/// The response to a blocked request, instead of the plain 403.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomResponse {
    /// 200–599.
    pub status: u16,
    /// The content type and the body.
    pub body: Option<(String, Vec<u8>)>,
    /// Response headers (never `content-type`).
    pub headers: Vec<(String, String)>,
}

/// The result of evaluating a web ACL over one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// Let the request through or refuse it.
    pub outcome: Outcome<'a>,
    /// The rule that ended evaluation; `None` when the default action applied.
    pub terminating_rule: Option<&'a str>,
    /// Fully qualified labels of every rule that matched, in the order added.
    pub labels: Vec<String>,
    /// The Count rules that matched, in evaluation order.
    pub counted: Vec<&'a str>,
    /// Request headers to insert (`x-amzn-waf-` prefixed; the last value of a name wins).
    /// Empty when the outcome is `Block`.
    pub insert_headers: Vec<(String, String)>,
    /// What the terminating rule matched on; `None` when the default action applied.
    pub matched: Option<Matched<'a>>,
}

/// Let a request through or refuse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Forward it (with the verdict's inserted headers).
    Allow,
    /// Answer 403, or this response.
    Block(Option<&'a CustomResponse>),
    /// Answer the challenge (202): a browser gets a proof-of-work page, other clients only
    /// the `x-portcullis-waf-action: challenge` header.
    Challenge(ChallengeConfig),
}

/// What a terminating rule matched on, for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    /// The rule's name.
    pub rule: &'a str,
    /// The field (`QUERY_STRING`), or `IP` / `LABEL`; empty when only a `Not` matched.
    pub field: &'static str,
    /// The transformed value, at most 64 characters, non-printable bytes escaped.
    pub value_excerpt: String,
}

/// Why a web ACL could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// Two rules share a name.
    #[error("web ACL {acl}: two rules are named {rule:?}")]
    DuplicateName {
        /// The ACL.
        acl: String,
        /// The name.
        rule: String,
    },
    /// Two rules share a priority.
    #[error("web ACL {acl}: rules {first:?} and {second:?} both have priority {priority}")]
    DuplicatePriority {
        /// The ACL.
        acl: String,
        /// The rule listed first.
        first: String,
        /// The rule listed second.
        second: String,
        /// The shared priority.
        priority: u32,
    },
}

// === impl WebAcl ===

impl WebAcl {
    /// A web ACL with these rules in any order; they run by ascending priority.
    ///
    /// Fails when two rules share a name or a priority.
    pub fn new(name: String, default_action: DefaultAction, mut rules: Vec<Rule>) -> Result<Self, AclError> {
        for (i, rule) in rules.iter().enumerate() {
            for other in rules.iter().skip(i + 1) {
                if other.name == rule.name {
                    return Err(AclError::DuplicateName { acl: name, rule: rule.name.clone() });
                }
                if other.priority == rule.priority && (rule.group.is_none() || other.group != rule.group) {
                    return Err(AclError::DuplicatePriority {
                        acl: name,
                        first: rule.name.clone(),
                        second: other.name.clone(),
                        priority: rule.priority,
                    });
                }
            }
        }
        // Stable: a managed group's rules keep their order.
        rules.sort_by_key(|r| r.priority);
        let prefix = format!("portcullis:webacl:{name}:");
        let (challenge, bots, body_limit) = (ChallengeConfig::default(), None, 16 * 1024);
        Ok(Self { name, default_action, challenge, bots, body_limit, rules, prefix })
    }

    /// The same ACL with these challenge settings.
    #[must_use]
    pub fn with_challenge(mut self, challenge: ChallengeConfig) -> Self {
        self.challenge = challenge;
        self
    }

    /// The same ACL inspecting at most `bytes` of a body.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How many bytes of a body rules inspect (the gateway reads that much, at most).
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The same ACL with `bot_control` on (`Some`), verifying these crawlers too.
    #[must_use]
    pub fn with_bot_control(mut self, extra: Option<Vec<(String, Vec<String>)>>) -> Self {
        self.bots = extra;
        self
    }

    /// For a `User-Agent` naming a crawler this ACL verifies by DNS (it uses `bot_control`),
    /// the domains the client's address must resolve to.
    pub fn bot_domains(&self, ua: &[u8]) -> Option<Vec<String>> {
        let extra = self.bots.as_ref()?;
        // On every request of the ACL: compared in place, without a lower-cased copy.
        let names = |word: &[u8]| !word.is_empty() && ua.windows(word.len()).any(|w| w.eq_ignore_ascii_case(word));
        if let Some((_, domains)) = extra.iter().find(|(word, _)| names(word.as_bytes())) {
            return Some(domains.clone());
        }
        crate::managed::VERIFIABLE
            .iter()
            .find(|(word, _)| names(word.as_bytes()))
            .map(|(_, domains)| domains.iter().map(|d| (*d).to_owned()).collect())
    }

    /// Whether any rule challenges, so the gateway accepts challenge solutions for this ACL.
    pub fn challenges(&self) -> bool {
        self.rules.iter().any(|r| r.action == Action::Challenge)
    }

    /// The challenge settings.
    pub fn challenge_config(&self) -> ChallengeConfig {
        self.challenge
    }

    /// The ACL's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rules, by ascending priority.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Each rate-based rule's name and counts, for the gateway to share them across nodes.
    pub fn rate_states(&self) -> Vec<(&str, &std::sync::Arc<crate::RateState>)> {
        self.rules
            .iter()
            .filter_map(|r| match &r.statement {
                Statement::RateBased(rate) => Some((r.name.as_str(), &rate.state)),
                _ => None,
            })
            .collect()
    }

    /// The IP lists of the `ip_reputation` rules, for the gateway to refresh.
    pub fn ip_lists(&self) -> Vec<&std::sync::Arc<crate::IpList>> {
        fn walk<'a>(s: &'a Statement, out: &mut Vec<&'a std::sync::Arc<crate::IpList>>) {
            match s {
                Statement::IpList { list, .. } => out.push(list),
                Statement::And(all) | Statement::Or(all) => all.iter().for_each(|s| walk(s, out)),
                Statement::Not(one) => walk(one, out),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.rules.iter().for_each(|r| walk(&r.statement, &mut out));
        out
    }

    /// Whether any rule inspects the body, so the gateway reads its first bytes only for ACLs
    /// that need them.
    pub fn inspects_body(&self) -> bool {
        self.rules.iter().any(|r| r.statement.inspects_body())
    }

    /// Evaluates the rules over `view` by ascending priority until one allows or blocks;
    /// otherwise the default action applies.
    pub fn evaluate(&self, view: &crate::RequestView<'_>) -> Verdict<'_> {
        self.run(&mut Evaluation::new(view, &self.prefix))
    }

    /// [`Self::evaluate`] also returning how many single transformations ran.
    #[cfg(test)]
    pub(crate) fn evaluate_counting(&self, view: &crate::RequestView<'_>) -> (Verdict<'_>, usize) {
        let mut ev = Evaluation::new(view, &self.prefix);
        let verdict = self.run(&mut ev);
        (verdict, ev.transforms_run)
    }

    fn run<'s>(&'s self, ev: &mut Evaluation<'s, '_, '_>) -> Verdict<'s> {
        let mut verdict = Verdict {
            outcome: Outcome::Allow,
            terminating_rule: None,
            labels: Vec::new(),
            counted: Vec::new(),
            insert_headers: Vec::new(),
            matched: None,
        };
        for rule in &self.rules {
            ev.hit = None;
            match rule.statement.eval(ev) {
                Ok(true) => {}
                Ok(false) | Err(NotApplied) => continue,
            }
            for label in &rule.labels {
                let label = qualify(&self.prefix, label);
                if !ev.labels.contains(&label) {
                    ev.labels.push(label);
                }
            }
            let (field, value_excerpt) = ev.hit.take().unwrap_or(("", String::new()));
            let matched = Matched { rule: &rule.name, field, value_excerpt };
            match &rule.action {
                Action::Count { insert_headers } => {
                    verdict.counted.push(&rule.name);
                    insert(&mut verdict.insert_headers, insert_headers);
                }
                Action::Allow { insert_headers } => {
                    insert(&mut verdict.insert_headers, insert_headers);
                    return finish(verdict, ev, Outcome::Allow, Some(matched));
                }
                Action::Block(response) => {
                    return finish(verdict, ev, Outcome::Block(response.as_ref()), Some(matched));
                }
                Action::Challenge => {
                    let view = ev.view();
                    let immune = view
                        .challenge_token_issued_s
                        .is_some_and(|issued| view.now_s.saturating_sub(issued) < self.challenge.immunity_s);
                    if immune {
                        verdict.counted.push(&rule.name);
                        continue;
                    }
                    return finish(verdict, ev, Outcome::Challenge(self.challenge), Some(matched));
                }
            }
        }
        let outcome = match &self.default_action {
            DefaultAction::Allow => Outcome::Allow,
            DefaultAction::Block(response) => Outcome::Block(response.as_ref()),
        };
        finish(verdict, ev, outcome, None)
    }
}

// === helpers ===

/// The verdict with its outcome, labels and terminating match filled in.
fn finish<'s>(
    mut verdict: Verdict<'s>,
    ev: &mut Evaluation<'s, '_, '_>,
    outcome: Outcome<'s>,
    matched: Option<Matched<'s>>,
) -> Verdict<'s> {
    verdict.outcome = outcome;
    verdict.terminating_rule = matched.as_ref().map(|m| m.rule);
    verdict.matched = matched;
    verdict.labels = std::mem::take(&mut ev.labels);
    if !matches!(outcome, Outcome::Allow) {
        verdict.insert_headers.clear();
    }
    verdict
}

/// Adds `headers` to `out` with the `x-amzn-waf-` prefix; a name already there is replaced.
fn insert(out: &mut Vec<(String, String)>, headers: &[(String, String)]) {
    for (name, value) in headers {
        let name = format!("{HEADER_PREFIX}{}", name.to_ascii_lowercase());
        out.retain(|(n, _)| *n != name);
        out.push((name, value.clone()));
    }
}

/// AWS WAF's prefix for the request headers its rules insert.
const HEADER_PREFIX: &str = "x-amzn-waf-";

#[cfg(test)]
mod tests;
