//! The metering phase: on routes with `api_key_required`, finds the caller's API key (from the
//! `x-api-key` header, or the custom authorizer's `usageIdentifierKey` when the API's key
//! source is `AUTHORIZER`) and the usage plan that gives it this stage. Runs after authorisation, so refused callers are never
//! counted. The plan's throttle and quota are taken in the throttle phase, together with every
//! other limit, so that a request refused by any of them takes from none.

use std::sync::Arc;

use directory::{KeyInfo, Lookup};
use http::Request;
use identity::custom::Verdict;
use limits::{Acquire, BucketCheck, Level};
use model::{ApiKeySource, ResponseType};

use crate::metering::FAILED_LOOKUPS;

use crate::body::ReqBody;
use crate::ctx::RequestCtx;
use crate::flow::Flow;
use crate::reject::Reject;
use crate::runtime::Runtime;

/// The header API keys come in (`api_key_source: HEADER`).
const X_API_KEY: &str = "x-api-key";

/// Requires a valid key in a plan of this stage where the route asks for one.
pub(crate) async fn check(rt: &Runtime, cx: &mut RequestCtx, req: &mut Request<ReqBody>) -> Result<Flow, Reject> {
    let (Some(api), Some(route)) = (cx.api(rt), cx.route) else { return Ok(Flow::Continue) };
    if !api.route_key_required.get(route).copied().unwrap_or(false) {
        return Ok(Flow::Continue);
    }
    let refuse = |why: &'static str| Reject::client(ResponseType::InvalidApiKey, why);
    let value = match api.api_key_source {
        ApiKeySource::Header => {
            let Some(value) = req.headers().get(X_API_KEY) else { return Err(refuse("no x-api-key header")) };
            value.to_str().map_err(|_| refuse("the x-api-key header is not text"))?
        }
        ApiKeySource::Authorizer => match cx.authorizer.as_deref().and_then(|a| a.verdict.as_deref()) {
            Some(Verdict::Policy { usage_key: Some(k), .. }) => k.as_str(),
            _ => return Err(refuse("the authorizer gave no usageIdentifierKey")),
        },
    };
    let info = match rt.metering.api_keys.cached(value) {
        Lookup::Cached(info) => info,
        Lookup::Miss(hash) => load(rt, cx, &hash).await?,
    };
    let Some(info) = info else { return Err(refuse("unknown API key")) };
    if !info.enabled {
        return Err(refuse("disabled API key"));
    }
    let stage = cx.stage(rt).ok_or_else(|| refuse("no stage"))?;
    let plan =
        stage.plans.iter().position(|sp| rt.compiled.plans.get(sp.plan).is_some_and(|p| info.plans.contains(&p.id)));
    let Some(plan) = plan else { return Err(refuse("the API key is in no usage plan of this stage")) };
    cx.usage_plan = Some(plan);
    cx.api_key = Some(info);
    Ok(Flow::Continue)
}

/// Reads an uncached key from the store, unless this client has caused too many lookups that
/// found no usable key (then it is refused unread).
async fn load(rt: &Runtime, cx: &RequestCtx, hash: &[u8; 32]) -> Result<Option<Arc<KeyInfo>>, Reject> {
    let (failed, now) = (&rt.metering.failed_lookups, limits::now_us());
    let bucket = BucketCheck { key: cx.source_ip.to_string(), limit: FAILED_LOOKUPS, level: Level::Client };
    if !failed.would_allow(&bucket.key, FAILED_LOOKUPS, now) {
        return Err(Reject::client(
            ResponseType::InvalidApiKey,
            "too many unknown API keys from this client; not looked up",
        ));
    }
    let info = rt.metering.api_keys.load(hash).await.map_err(|e| {
        Reject::internal(ResponseType::ApiConfigurationError, "the API-key store is unavailable").because(e)
    })?;
    if !info.as_ref().is_some_and(|i| i.enabled) {
        failed.acquire(&Acquire { buckets: vec![bucket], quota: None }, now);
    }
    Ok(info)
}
