//! Compiling throttles, usage plans and the shared-state settings: every limit becomes a
//! ready [`limits::Limit`] or [`limits::Quota`], and every plan is attached to the stages it
//! covers, so a request finds its plans by index.

use std::sync::Arc;

use limits::{Limit, Period, Quota};

use super::{CompiledApi, Issue};
use crate::config::{Config, QuotaPeriod, RedisFailureMode, ThrottleConfig, UsagePlanConfig};
use crate::positions::{join_index, join_key};
use crate::routes::RouteKey;

/// A usage plan, ready to serve.
#[derive(Debug)]
pub struct CompiledPlan {
    /// The plan's id.
    pub id: Arc<str>,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Each key's throttle.
    pub throttle: Option<Limit>,
    /// Each key's quota.
    pub quota: Option<Quota>,
    /// `(api, stage)` names the plan covers.
    pub api_stages: Vec<(String, String)>,
}

/// A plan as one stage sees it.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Index in [`super::Compiled::plans`].
    pub plan: usize,
    /// Per-route throttles by route index (`None`: the plan's throttle).
    pub route_throttle: Vec<Option<Limit>>,
}

/// Turns a throttle setting into a limit, or reports why it cannot be one.
pub(super) fn limit(t: &ThrottleConfig, at: &str, issues: &mut Vec<Issue>) -> Option<Limit> {
    Limit::new(t.rate, t.burst).map_err(|e| issues.push((join_key(at, "rate"), e))).ok()
}

/// The gateway-wide limit and the per-client one.
pub(super) fn global_limits(c: &Config, issues: &mut Vec<Issue>) -> (Option<Limit>, Option<Limit>) {
    let t = &c.throttling;
    let global = limit(&ThrottleConfig { rate: t.rate, burst: t.burst }, "throttling", issues);
    let per_client = t.per_client.as_ref().and_then(|p| limit(p, "throttling.per_client", issues));
    if let Some(r) = &c.shared_state.redis {
        let at = |f: &str| format!("shared_state.redis.{f}");
        if r.url.starts_with("rediss://") {
            issues.push((
                at("url"),
                "TLS to Redis (`rediss://`) is not supported yet: use `redis://` on a private network or a TLS tunnel"
                    .into(),
            ));
        } else if !r.url.starts_with("redis://") {
            issues.push((at("url"), "must start with `redis://`".into()));
        }
        let ms = r.timeout.as_std().as_millis();
        if !(1..=10_000).contains(&ms) {
            issues.push((at("timeout"), "must be from 1ms to 10s: every request may wait this long".into()));
        }
        if r.retry_interval.as_std().as_millis() < 10 {
            issues.push((at("retry_interval"), "must be at least 10ms".into()));
        }
        if r.key_prefix.is_empty() || r.key_prefix.contains(char::is_whitespace) {
            issues.push((at("key_prefix"), "must be non-empty, without spaces".into()));
        }
    }
    let flush = c.usage.flush_interval.as_std().as_secs();
    if !(1..=300).contains(&flush) {
        issues.push(("usage.flush_interval".into(), "must be from 1s to 5m".into()));
    }
    (global, per_client)
}

/// Compiles the plans and attaches each to the stages it covers.
pub(super) fn compile_plans(
    c: &Config,
    apis: &mut [CompiledApi],
    global: Option<Limit>,
    issues: &mut Vec<Issue>,
) -> Vec<CompiledPlan> {
    let mut plans = Vec::new();
    for (i, p) in c.usage_plans.iter().enumerate() {
        let at = join_index("usage_plans", i);
        if let Some(j) = c.usage_plans[..i].iter().position(|o| o.id == p.id) {
            issues.push((join_key(&at, "id"), format!("plan id `{}` is already used by usage_plans[{j}]", p.id)));
        }
        if p.id.is_empty()
            || p.id.len() > 64
            || !p.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            issues.push((join_key(&at, "id"), "use 1-64 letters, digits, `-` or `_`".into()));
        }
        let throttle = p.throttle.as_ref().and_then(|t| limit(t, &join_key(&at, "throttle"), issues));
        if let Some(t) = throttle {
            under_global(t, global, &join_key(&at, "throttle"), issues);
        }
        let quota = p.quota.as_ref().and_then(|q| {
            let period = match q.period {
                QuotaPeriod::Day => Period::Day,
                QuotaPeriod::Week => Period::Week,
                QuotaPeriod::Month => Period::Month,
            };
            Quota::new(q.limit, period, q.offset, &q.time_zone)
                .map_err(|e| {
                    let field = if matches!(e, limits::QuotaError::TimeZone(_)) { "time_zone" } else { "offset" };
                    issues.push((join_key(&join_key(&at, "quota"), field), e.to_string()));
                })
                .ok()
        });
        let index = plans.len();
        attach(p, index, &at, apis, global, issues);
        plans.push(CompiledPlan {
            id: Arc::from(p.id.as_str()),
            name: p.name.clone().unwrap_or_else(|| p.id.clone()),
            description: p.description.clone(),
            throttle,
            quota,
            api_stages: p.api_stages.iter().map(|s| (s.api.clone(), s.stage.clone())).collect(),
        });
    }
    plans
}

/// A key's limits cannot be above the gateway's, as in API Gateway (reference §6.2).
fn under_global(l: Limit, global: Option<Limit>, at: &str, issues: &mut Vec<Issue>) {
    if let Some(g) = global {
        if l.rate() > g.rate() || l.burst() > g.burst() {
            issues.push((at.to_owned(), format!("a plan's throttle cannot be above the gateway's ({g:?})")));
        }
    }
}

/// Reports routes that require a key in an API whose stages no plan covers: every request
/// to them would be refused.
pub(super) fn check_key_routes(c: &Config, apis: &[CompiledApi], issues: &mut Vec<Issue>) {
    for api in apis {
        if api.stages.iter().any(|s| !s.plans.is_empty()) {
            continue;
        }
        let Some((i, cfg)) = c.apis.iter().enumerate().find(|(_, a)| a.name == api.name) else { continue };
        if let Some(r) = cfg.routes.iter().position(|r| r.api_key_required) {
            let at = join_key(&join_index(&join_key(&join_index("apis", i), "routes"), r), "api_key_required");
            issues.push((
                at,
                format!("no usage plan covers a stage of API `{}`, so no key could call this route", api.name),
            ));
        }
    }
}

/// Adds plan `index` to each stage it names, with its per-route throttles.
fn attach(
    p: &UsagePlanConfig,
    index: usize,
    at: &str,
    apis: &mut [CompiledApi],
    global: Option<Limit>,
    issues: &mut Vec<Issue>,
) {
    if p.api_stages.is_empty() {
        issues.push((join_key(at, "api_stages"), "a plan needs at least one API stage".into()));
    }
    for (k, s) in p.api_stages.iter().enumerate() {
        let sat = join_index(&join_key(at, "api_stages"), k);
        let Some(api) = apis.iter_mut().find(|a| a.name == s.api) else {
            issues.push((join_key(&sat, "api"), format!("no API is named `{}`", s.api)));
            continue;
        };
        let Some(stage_index) = api.stages.iter().position(|st| st.name == s.stage) else {
            issues.push((join_key(&sat, "stage"), format!("API `{}` has no stage `{}`", s.api, s.stage)));
            continue;
        };
        if p.api_stages[..k].iter().any(|o| o.api == s.api && o.stage == s.stage) {
            issues.push((sat.clone(), format!("`{}` stage `{}` is listed twice", s.api, s.stage)));
        }
        let mut route_throttle = vec![None; api.routes.iter().count()];
        for (key, t) in &s.throttle {
            let tat = join_key(&join_key(&sat, "throttle"), key);
            let found = RouteKey::parse(key)
                .ok()
                .and_then(|want| api.routes.iter().position(|(have, _)| have.display() == want.display()));
            match found {
                Some(r) => {
                    route_throttle[r] = limit(t, &tat, issues);
                    if let Some(l) = route_throttle[r] {
                        under_global(l, global, &tat, issues);
                    }
                }
                None => issues.push((tat, format!("API `{}` has no route `{key}`", s.api))),
            }
        }
        api.stages[stage_index].plans.push(StagePlan { plan: index, route_throttle });
    }
}

/// The failure mode in the counters' terms.
pub(crate) const fn failure_mode(m: RedisFailureMode) -> limits::FailureMode {
    match m {
        RedisFailureMode::Local => limits::FailureMode::Local,
        RedisFailureMode::FailClosed => limits::FailureMode::FailClosed,
        RedisFailureMode::FailOpen => limits::FailureMode::FailOpen,
    }
}
