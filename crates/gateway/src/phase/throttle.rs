//! The throttling phase: every limit that applies to the request — the gateway as a whole,
//! the client address, the stage, the route, and the API key's plan (its throttle, or the
//! plan's override for this route, and its quota) — is checked and taken in one call to the
//! counters, all or nothing: the most restrictive wins, and a refused request counts against
//! nothing. Allowed metered requests are tallied for the usage records.

use http::Request;
use limits::{Acquire, BucketCheck, Decision, FailureMode, Level, QuotaCheck, UsageKey};
use model::{CompiledApi, ResponseType};

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::metering::{secs_until, RateInfo};
use crate::reject::Reject;
use crate::runtime::Runtime;

/// Takes a token from every bucket that applies, and one request from the quota.
pub(crate) async fn check(rt: &Runtime, cx: &mut RequestCtx, _req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let now = limits::now_us();
    let mut acquire = Acquire::default();
    let mut bucket = |key: String, limit, level| acquire.buckets.push(BucketCheck { key, limit, level });
    bucket("g".into(), rt.compiled.global_limit, Level::Global);
    if let Some(l) = rt.compiled.client_limit {
        bucket(format!("c:{}", cx.source_ip), l, Level::Client);
    }
    let (Some(api), Some(stage), Some(route)) = (cx.api(rt), cx.stage(rt), cx.route) else {
        return decide(rt, cx, acquire, now, None).await;
    };
    if let Some(l) = stage.throttle {
        bucket(format!("s:{}:{}", api.name, stage.name), l, Level::Stage);
    }
    if let Some(l) = api.route_throttle.get(route).copied().flatten() {
        bucket(format!("r:{}:{}:{}", api.name, stage.name, route_label(api, route)), l, Level::Route);
    }
    let metered = match (cx.usage_plan.and_then(|i| stage.plans.get(i)), &cx.api_key) {
        (Some(sp), Some(key)) => rt.compiled.plans.get(sp.plan).map(|plan| (sp, plan, key.clone())),
        _ => None,
    };
    let Some((sp, plan, key)) = metered else { return decide(rt, cx, acquire, now, None).await };
    let key_id = key.id.clone();
    match sp.route_throttle.get(route).copied().flatten() {
        Some(l) => bucket(
            format!("pr:{}:{key_id}:{}:{}:{}", plan.id, api.name, stage.name, route_label(api, route)),
            l,
            Level::PlanRoute,
        ),
        None => {
            if let Some(l) = plan.throttle {
                bucket(format!("p:{}:{key_id}", plan.id), l, Level::Plan);
            }
        }
    }
    let window = plan.quota.as_ref().map(|q| {
        let w = q.window(now);
        acquire.quota = Some(QuotaCheck {
            key: format!("q:{}:{key_id}", plan.id),
            limit: q.limit(),
            window_start_us: w.start_us,
            window_end_us: w.end_us,
            seed: None,
        });
        w
    });
    let usage = UsageKey {
        plan: plan.id.clone(),
        key_id,
        customer_id: key.customer_id.clone(),
        day: window.as_ref().map_or_else(|| utc_day(now), |w| w.today),
        api: api.label.clone(),
        stage: stage.label.clone(),
        route: route_label(api, route),
    };
    decide(rt, cx, acquire, now, Some((usage, window))).await
}

/// Asks the counters (twice when a quota counter must first be seeded from recorded usage)
/// and turns their answer into the request's fate. `metered`: what to tally, and the quota
/// window.
async fn decide(
    rt: &Runtime,
    cx: &mut RequestCtx,
    mut acquire: Acquire,
    now: i64,
    metered: Option<(UsageKey, Option<limits::Window>)>,
) -> Result<Flow, Reject> {
    let mut decision = ask(rt, &acquire).await?;
    if decision == Decision::SeedNeeded {
        if let (Some((u, Some(w))), Some(q)) = (&metered, acquire.quota.as_mut()) {
            q.seed = Some(seed(rt, &u.plan, &u.key_id, w).await?);
            decision = ask(rt, &acquire).await?;
        }
    }
    let usage = metered.map(|(u, _)| u);
    match decision {
        Decision::Allowed(a) => {
            if a.degraded {
                rt.metrics.shared_counters_degraded(match rt.metering.counters.failure_mode() {
                    Some(FailureMode::FailOpen) => "fail_open",
                    _ => "local",
                });
            }
            if let (Some(used), Some(q)) = (a.quota_used, &acquire.quota) {
                cx.rate_limit = Some(RateInfo {
                    limit: q.limit,
                    remaining: q.limit.saturating_sub(used),
                    reset_secs: secs_until(q.window_end_us, now),
                    retry_after: false,
                });
            }
            if let Some(u) = usage {
                rt.metering.usage.record(u);
            }
            Ok(Flow::Continue)
        }
        Decision::Throttled { level, limit, retry_after_us } => {
            let reset_secs = secs_until(now + retry_after_us, now);
            cx.rate_limit =
                Some(RateInfo { limit: u64::from(limit.burst()), remaining: 0, reset_secs, retry_after: true });
            let name = level_name(level);
            rt.metrics.throttled(name);
            Err(Reject::client(ResponseType::Throttled, format!("{name} throttle ({limit:?})")))
        }
        Decision::QuotaExceeded { limit, resets_at_us } => {
            let reset_secs = secs_until(resets_at_us, now);
            cx.rate_limit = Some(RateInfo { limit, remaining: 0, reset_secs, retry_after: true });
            rt.metrics.throttled("quota");
            Err(Reject::client(ResponseType::QuotaExceeded, format!("quota of {limit} used up")))
        }
        Decision::SeedNeeded => {
            Err(Reject::internal(ResponseType::ApiConfigurationError, "a quota counter was not seeded"))
        }
    }
}

async fn ask(rt: &Runtime, acquire: &Acquire) -> Result<Decision, Reject> {
    rt.metering.counters.acquire(acquire).await.map_err(|e| {
        rt.metrics.shared_counters_degraded("fail_closed");
        Reject::internal(ResponseType::LimitsUnavailable, "shared counters unavailable (fail_closed)").because(e)
    })
}

/// Requests already used in the window according to the store, plus those counted here but
/// not yet written: a restarted node does not hand out a quota afresh.
async fn seed(rt: &Runtime, plan: &str, key_id: &str, w: &limits::Window) -> Result<u64, Reject> {
    use store::Store as _;
    let (from, to) = (w.first_day.to_string(), w.last_day.to_string());
    let stored = rt.directory.store().usage_total(plan, key_id, &from, &to).await.map_err(|e| {
        Reject::internal(ResponseType::ApiConfigurationError, "cannot read recorded usage for a quota").because(e)
    })?;
    let pending = rt.metering.usage.pending(plan, key_id, w.first_day, w.last_day);
    Ok(u64::try_from(stored).unwrap_or(0) + pending)
}

fn route_label(api: &CompiledApi, route: usize) -> std::sync::Arc<str> {
    api.route_labels.get(route).cloned().unwrap_or_else(|| std::sync::Arc::from("-"))
}

fn utc_day(now_us: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_microsecond(now_us)
        .map_or(jiff::civil::Date::ZERO, |t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

const fn level_name(l: Level) -> &'static str {
    match l {
        Level::Global => "global",
        Level::Client => "client",
        Level::Stage => "stage",
        Level::Route => "route",
        Level::Plan => "plan",
        Level::PlanRoute => "plan_route",
    }
}
