//! Expanding a rule that references a managed rule group into the group's rules.

use super::compile::Compiler;
use super::{ManagedGroupConfig, OverrideAction, RuleConfig};
use std::time::Duration;

use crate::managed::{self, Exclusion, FieldRef, ManagedCheck};
use crate::{parse_list, IpList, ListSource};
use crate::{Action, Rule, Statement};

// === impl Compiler ===

impl Compiler<'_> {
    /// The group's rules as rules of the ACL, named `<rule>:<group rule>`, in the group's order
    /// at the referencing rule's priority; `None` after reporting a problem.
    pub(super) fn managed_group(&mut self, rule: &RuleConfig, cfg: &ManagedGroupConfig, at: &str) -> Option<Vec<Rule>> {
        let before = self.issues_len();
        let gat = format!("{at}.statement.managed_rule_group");
        if rule.action.is_some() {
            self.issue(
                format!("{at}.action"),
                "a managed rule group reference takes override_action (none or count), not action",
            );
        }
        let Some(group) = managed::group(&cfg.name) else {
            let known: Vec<&str> = managed::GROUPS.iter().map(|g| g.name).collect();
            self.issue(
                format!("{gat}.name"),
                format!("no managed rule group {:?} (known: {})", cfg.name, known.join(", ")),
            );
            return None;
        };
        if let Some(v) = cfg.version.as_deref().filter(|v| !group.versions.contains(v)) {
            self.issue(
                format!("{gat}.version"),
                format!("{} has no version {v:?} (known: {})", group.name, group.versions.join(", ")),
            );
        }
        if group.name == managed::IP_REPUTATION.name {
            return self.ip_reputation(rule, cfg, &gat);
        }
        if !cfg.lists.is_empty() || cfg.forwarded_ip.is_some() {
            self.issue(format!("{gat}.lists"), "only the ip_reputation group takes lists and forwarded_ip");
        }
        if group.name == "bot_control" {
            let bots = self.bots.get_or_insert_with(Vec::new);
            for b in &cfg.verified_bots {
                bots.push((
                    b.user_agent.to_ascii_lowercase(),
                    b.domains.iter().map(|d| d.trim_start_matches('.').to_ascii_lowercase()).collect(),
                ));
            }
            for (i, b) in cfg.verified_bots.iter().enumerate() {
                if b.user_agent.trim().is_empty() || b.domains.is_empty() {
                    self.issue(
                        format!("{gat}.verified_bots[{i}]"),
                        "a verified bot needs a user_agent word and at least one domain",
                    );
                }
            }
        } else if !cfg.verified_bots.is_empty() {
            self.issue(format!("{gat}.verified_bots"), "only the bot_control group takes verified_bots");
        }
        let known = |name: &str| group.rules.iter().any(|r| r.name == name);
        let rule_names = || group.rules.iter().map(|r| r.name).collect::<Vec<_>>().join(", ");
        let mut overrides = Vec::new();
        for (i, o) in cfg.rule_action_overrides.iter().enumerate() {
            if !known(&o.name) {
                self.issue(
                    format!("{gat}.rule_action_overrides[{i}].name"),
                    format!("{} has no rule {:?} (rules: {})", group.name, o.name, rule_names()),
                );
            }
            if let Some(action) = self.action(&o.action, &format!("{gat}.rule_action_overrides[{i}].action")) {
                overrides.push((o.name.as_str(), action));
            }
        }
        let mut exclusions: Vec<(Vec<String>, Exclusion)> = Vec::new();
        for (i, e) in cfg.exclusions.iter().enumerate() {
            let eat = format!("{gat}.exclusions[{i}]");
            for (j, name) in e.rules.iter().enumerate() {
                if !known(name) {
                    self.issue(
                        format!("{eat}.rules[{j}]"),
                        format!("{} has no rule {name:?} (rules: {})", group.name, rule_names()),
                    );
                }
            }
            if e.rules.is_empty() && e.routes.is_empty() && e.fields.is_empty() {
                self.issue(
                    eat.clone(),
                    "an exclusion needs rules, routes or fields; to turn the group off, remove the rule",
                );
            }
            let mut fields = Vec::new();
            for (j, f) in e.fields.iter().enumerate() {
                match FieldRef::parse(f) {
                    Ok(f) => fields.push(f),
                    Err(why) => self.issue(format!("{eat}.fields[{j}]"), format!("{f:?}: {why}")),
                }
            }
            exclusions.push((e.rules.clone(), Exclusion { routes: e.routes.clone(), fields }));
        }
        let scope_down = match &cfg.scope_down_statement {
            Some(s) => Some(self.statement(s, &format!("{gat}.scope_down_statement"), 2)?),
            None => None,
        };
        if self.issues_len() > before {
            return None;
        }
        // Build the group's patterns now, while the configuration loads, not on a request.
        managed::warm(group);
        let rules = group.rules.iter().filter(|r| r.from <= cfg.sensitivity).map(|r| {
            let check = ManagedCheck {
                rule: r,
                bit: managed::rule_bit(r),
                level: cfg.sensitivity,
                exclusions: exclusions
                    .iter()
                    .filter(|(names, _)| names.is_empty() || names.iter().any(|n| n == r.name))
                    .map(|(_, e)| e.clone())
                    .collect(),
            };
            let check = Statement::Managed(Box::new(check));
            let statement = match &scope_down {
                Some(s) => Statement::And(vec![s.clone(), check]),
                None => check,
            };
            let own = overrides.iter().rev().find(|(n, _)| *n == r.name).map(|(_, a)| a.clone());
            let default = if r.counts { Action::Count { insert_headers: Vec::new() } } else { Action::Block(None) };
            let action = match rule.override_action {
                Some(OverrideAction::Count) => Action::Count { insert_headers: Vec::new() },
                _ => own.unwrap_or(default),
            };
            Rule {
                name: format!("{}:{}", rule.name, r.name),
                priority: rule.priority,
                statement,
                action,
                labels: vec![format!("portcullis:managed:{}:{}", group.name, r.name)],
                group: Some(rule.name.clone()),
            }
        });
        Some(rules.collect())
    }

    /// The `ip_reputation` group: one rule per list, named `<rule>:<list>`, blocking unless
    /// overridden. File lists are read now, so that a missing file or a bad line is a
    /// configuration error; URL lists start empty and are fetched by the gateway.
    fn ip_reputation(&mut self, rule: &RuleConfig, cfg: &ManagedGroupConfig, gat: &str) -> Option<Vec<Rule>> {
        let before = self.issues_len();
        if cfg.lists.is_empty() {
            self.issue(format!("{gat}.lists"), "ip_reputation needs at least one list: {name, file | url, refresh}");
        }
        if !cfg.exclusions.is_empty() {
            self.issue(format!("{gat}.exclusions"), "ip_reputation inspects no fields; use scope_down_statement");
        }
        let forwarded = self.forwarded(cfg.forwarded_ip.as_ref(), gat);
        let scope_down = match &cfg.scope_down_statement {
            Some(s) => Some(self.statement(s, &format!("{gat}.scope_down_statement"), 2)?),
            None => None,
        };
        let mut rules = Vec::new();
        for (i, list) in cfg.lists.iter().enumerate() {
            let at = format!("{gat}.lists[{i}]");
            if list.name.is_empty() || !list.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                self.issue(format!("{at}.name"), format!("name {:?} must be A-Z, a-z, 0-9, _ and -", list.name));
            }
            if cfg.lists.iter().take(i).any(|l| l.name == list.name) {
                self.issue(format!("{at}.name"), format!("list name {:?} is used twice", list.name));
            }
            let refresh = match list.refresh.as_deref().map_or(Ok(3600), parse_duration_s) {
                Ok(s) if s >= 5 => Duration::from_secs(s),
                Ok(_) => {
                    self.issue(format!("{at}.refresh"), "refresh must be at least 5s");
                    continue;
                }
                Err(why) => {
                    self.issue(format!("{at}.refresh"), why);
                    continue;
                }
            };
            let source = match (&list.file, &list.url) {
                (Some(file), None) => ListSource::File(file.clone()),
                (None, Some(url)) if url_allowed(url) => ListSource::Url(url.clone()),
                (None, Some(url)) => {
                    self.issue(
                        format!("{at}.url"),
                        format!("{url:?} must be https:// (http:// only on 127.0.0.1, [::1] or localhost)"),
                    );
                    continue;
                }
                _ => {
                    self.issue(at.clone(), "a list needs exactly one of file and url");
                    continue;
                }
            };
            let ip_list = IpList::shared(source, refresh);
            if let ListSource::File(path) = ip_list.source() {
                match std::fs::read_to_string(path) {
                    Ok(text) => {
                        let parsed = parse_list(&text);
                        for (line, entry) in parsed.bad.iter().take(5) {
                            self.issue(
                                format!("{at}.file"),
                                format!("{path}:{line}: {entry:?} is not an address or a CIDR"),
                            );
                        }
                        ip_list.replace(&parsed.nets);
                    }
                    Err(e) => self.issue(format!("{at}.file"), format!("cannot read {path}: {e}")),
                }
            }
            let own = cfg.rule_action_overrides.iter().rev().find(|o| o.name == list.name);
            let action = match (rule.override_action, own) {
                (Some(OverrideAction::Count), _) => Action::Count { insert_headers: Vec::new() },
                (_, Some(o)) => self.action(&o.action, &format!("{gat}.rule_action_overrides"))?,
                _ => Action::Block(None),
            };
            let check = Statement::IpList { list: ip_list, forwarded: forwarded.clone() };
            rules.push(Rule {
                name: format!("{}:{}", rule.name, list.name),
                priority: rule.priority,
                statement: match &scope_down {
                    Some(s) => Statement::And(vec![s.clone(), check]),
                    None => check,
                },
                action,
                labels: vec![format!("portcullis:managed:ip_reputation:{}", list.name)],
                group: Some(rule.name.clone()),
            });
        }
        for (i, o) in cfg.rule_action_overrides.iter().enumerate() {
            if !cfg.lists.iter().any(|l| l.name == o.name) {
                self.issue(format!("{gat}.rule_action_overrides[{i}].name"), format!("no list named {:?}", o.name));
            }
        }
        (self.issues_len() == before).then_some(rules)
    }
}

/// Seconds in `30s`, `15m`, `1h`, `1d` or a bare number of seconds.
fn parse_duration_s(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 15m, 1h or 1d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is not a duration such as 30s, 15m, 1h or 1d")),
    };
    Ok(n.saturating_mul(scale))
}

/// Whether a list may be fetched from `url`: HTTPS, or plain HTTP on a loopback address.
fn url_allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}
