//! Checking a rate-based statement and building it.

use super::compile::Compiler;
use super::{AggregateKeyConfig, AggregateKeyName, CustomKeyConfig, CustomKeyName, DetailedCustomKey, RateBasedConfig};
use crate::statement::{AggregateKey, CustomKey, RateBased};
use crate::{RateState, Statement};

impl Compiler<'_> {
    /// The statement, with the counts of the live rule of the same `fingerprint` (ACL and rule
    /// names) and settings, so that a reload keeps them.
    pub(super) fn rate_based(&mut self, cfg: &RateBasedConfig, at: &str, fingerprint: &str) -> Option<Statement> {
        let before = self.issues_len();
        if !(MIN_LIMIT..=MAX_LIMIT).contains(&cfg.limit) {
            self.issue(format!("{at}.limit"), format!("limit {} must be {MIN_LIMIT}-{MAX_LIMIT}", cfg.limit));
        }
        if !WINDOWS.contains(&cfg.window) {
            self.issue(
                format!("{at}.window"),
                format!("window {} must be one of 60, 120, 300, 600 (seconds)", cfg.window),
            );
        }
        let forwarded = self.forwarded(cfg.forwarded_ip.as_ref(), at);
        let key = match &cfg.aggregate_key {
            None | Some(AggregateKeyConfig::Name(AggregateKeyName::Ip)) => AggregateKey::Ip,
            Some(AggregateKeyConfig::Name(AggregateKeyName::Constant)) => AggregateKey::Constant,
            Some(AggregateKeyConfig::Name(AggregateKeyName::ForwardedIp)) => match forwarded.clone() {
                Some(f) => AggregateKey::ForwardedIp(f),
                None => {
                    self.issue(
                        format!("{at}.forwarded_ip"),
                        "aggregate_key forwarded_ip needs forwarded_ip: {header, position, fallback}",
                    );
                    AggregateKey::Ip
                }
            },
            Some(AggregateKeyConfig::Custom(c)) => {
                if c.custom_keys.is_empty() || c.custom_keys.len() > MAX_CUSTOM_KEYS {
                    self.issue(format!("{at}.aggregate_key.custom_keys"), format!("1 to {MAX_CUSTOM_KEYS} keys"));
                }
                AggregateKey::Custom(
                    c.custom_keys
                        .iter()
                        .enumerate()
                        .map(|(i, k)| self.custom_key(k, &format!("{at}.aggregate_key.custom_keys[{i}]")))
                        .collect(),
                )
            }
        };
        if cfg.forwarded_ip.is_some() && !matches!(key, AggregateKey::ForwardedIp(_)) {
            self.issue(format!("{at}.forwarded_ip"), "forwarded_ip applies only with aggregate_key: forwarded_ip");
        }
        let scope_down = match &cfg.scope_down_statement {
            Some(s) => Some(self.statement(s, &format!("{at}.scope_down_statement"), 2)?),
            None => None,
        };
        if self.issues_len() > before {
            return None;
        }
        let fingerprint = format!("{fingerprint}\u{0}{}\u{0}{}\u{0}{key:?}", cfg.limit, cfg.window);
        let state = RateState::shared(fingerprint, cfg.window);
        Some(Statement::RateBased(Box::new(RateBased { limit: cfg.limit, key, scope_down, state })))
    }

    fn custom_key(&mut self, cfg: &CustomKeyConfig, at: &str) -> CustomKey {
        let named = |this: &mut Self, name: &str, what: &str| {
            if name.is_empty() {
                this.issue(at.to_owned(), format!("the {what} name is empty"));
            }
            name.to_owned()
        };
        match cfg {
            CustomKeyConfig::Name(CustomKeyName::UriPath) => CustomKey::UriPath,
            CustomKeyConfig::Name(CustomKeyName::HttpMethod) => CustomKey::Method,
            CustomKeyConfig::Name(CustomKeyName::Ip) => CustomKey::Ip,
            CustomKeyConfig::Detailed(DetailedCustomKey::Header(n)) => {
                CustomKey::Header(named(self, n, "header").to_ascii_lowercase())
            }
            CustomKeyConfig::Detailed(DetailedCustomKey::QueryArgument(n)) => {
                CustomKey::QueryArgument(named(self, n, "argument"))
            }
            CustomKeyConfig::Detailed(DetailedCustomKey::Cookie(n)) => CustomKey::Cookie(named(self, n, "cookie")),
            CustomKeyConfig::Detailed(DetailedCustomKey::LabelNamespace(n)) => {
                let ns = named(self, n, "namespace");
                CustomKey::LabelNamespace(if ns.ends_with(':') { ns } else { ns + ":" })
            }
        }
    }
}

/// AWS's bounds on a rate-based rule's limit.
const MIN_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 2_000_000_000;
/// AWS's evaluation windows, in seconds.
const WINDOWS: [u64; 4] = [60, 120, 300, 600];
/// AWS's limit on custom aggregation keys.
const MAX_CUSTOM_KEYS: usize = 5;
