//! Expanding a rule that references a managed rule group into the group's rules.

use super::compile::Compiler;
use super::{ManagedGroupConfig, OverrideAction, RuleConfig};
use crate::managed::{self, Exclusion, FieldRef, ManagedCheck};
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
            let action = match rule.override_action {
                Some(OverrideAction::Count) => Action::Count { insert_headers: Vec::new() },
                _ => own.unwrap_or(Action::Block(None)),
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
}
