//! Metrics queries and alarms in the admin API: `GET /metrics/query` reads this node's
//! built-in metrics store (as CloudWatch `GetMetricStatistics`); `/alarms` lists, shows (with
//! history), creates, replaces and deletes alarms. Alarms of the config file are shown but
//! changed only by editing it.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use model::AlarmConfig;
use serde::Deserialize;
use serde_json::json;
use store::Outcome;
use telemetry::{Dims, MetricName, Statistic};

use crate::auth::{aws_error, now_ms, Authed};
use crate::routes::{write_audit, AppState};

/// The routes, behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics/query", get(query))
        .route("/alarms", get(list))
        .route("/alarms/{name}", get(describe).put(put).delete(delete))
}

fn alarm_arn(s: &AppState, name: &str) -> String {
    s.arn("alarms", &format!("alarm/{name}"))
}

/// `GET /metrics/query` parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricQuery {
    metric: String,
    #[serde(default)]
    statistic: Option<String>,
    /// Seconds; default 60.
    #[serde(default)]
    period: Option<u32>,
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    key: Option<String>,
    /// Default: an hour before `to_ms`.
    #[serde(default)]
    from_ms: Option<i64>,
    /// Default: now.
    #[serde(default)]
    to_ms: Option<i64>,
}

async fn query(who: Authed, State(s): State<AppState>, Query(q): Query<MetricQuery>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetMetrics", &s.arn("gateway", "metrics")).await {
        return r;
    }
    let invalid = |m: String| aws_error(StatusCode::BAD_REQUEST, "ValidationError", &m);
    let Some(metric) = MetricName::parse(&q.metric) else {
        let names: Vec<&str> = MetricName::ALL.iter().map(|n| n.as_str()).collect();
        return invalid(format!("unknown metric `{}`; one of {}", q.metric, names.join(", ")));
    };
    let statistic = match q.statistic.as_deref() {
        None => Statistic::Sum,
        Some(t) => match Statistic::parse(t) {
            Some(st) => st,
            None => {
                return invalid(format!("unknown statistic `{t}`; Sum, Average, Minimum, Maximum, SampleCount or pNN"))
            }
        },
    };
    let to_ms = q.to_ms.unwrap_or_else(now_ms);
    let query = telemetry::Query {
        metric,
        dims: Dims { api: q.api, stage: q.stage, route: q.route, key: q.key },
        statistic,
        period_secs: q.period.unwrap_or(60),
        from_ms: q.from_ms.unwrap_or(to_ms - 3_600_000),
        to_ms,
    };
    match s.alarms.metrics().series().query(&query) {
        Ok(points) => Json(json!({
            "metric": metric.as_str(),
            "statistic": statistic.to_string(),
            "period": query.period_secs,
            "dimensions": { "api": query.dims.api, "stage": query.dims.stage, "route": query.dims.route, "key": query.dims.key },
            "datapoints": points.iter().map(|p| json!({
                "timestamp_ms": p.timestamp_ms, "value": p.value, "sample_count": p.sample_count,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => invalid(e.to_string()),
    }
}

async fn list(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetAlarms", &alarm_arn(&s, "*")).await {
        return r;
    }
    Json(json!({ "alarms": s.alarms.list() })).into_response()
}

async fn describe(who: Authed, State(s): State<AppState>, Path(name): Path<String>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetAlarms", &alarm_arn(&s, &name)).await {
        return r;
    }
    match s.alarms.get(&name) {
        Some(v) => Json(v).into_response(),
        None => aws_error(StatusCode::NOT_FOUND, "ResourceNotFound", &format!("no alarm named {name}")),
    }
}

async fn put(
    who: Authed,
    State(s): State<AppState>,
    Path(name): Path<String>,
    Json(mut def): Json<AlarmConfig>,
) -> Response {
    let target = alarm_arn(&s, &name);
    if let Err(r) = s.authorize(&who, "portcullis:PutAlarm", &target).await {
        return r;
    }
    if def.name.is_empty() {
        def.name.clone_from(&name);
    }
    if def.name != name {
        return aws_error(StatusCode::BAD_REQUEST, "ValidationError", "the body's name differs from the path's");
    }
    let result = s.alarms.put(def, now_ms()).await;
    let (outcome, detail) = match &result {
        Ok(_) => (Outcome::Success, String::new()),
        Err(e) => (Outcome::Failure, refused_message(e)),
    };
    write_audit(&s.store, &who.actor, "alarms.PutAlarm", &target, outcome, detail).await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => refused(&e),
    }
}

async fn delete(who: Authed, State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let target = alarm_arn(&s, &name);
    if let Err(r) = s.authorize(&who, "portcullis:DeleteAlarm", &target).await {
        return r;
    }
    let result = s.alarms.delete(&name).await;
    let (outcome, detail) = match &result {
        Ok(true) => (Outcome::Success, String::new()),
        Ok(false) => (Outcome::Failure, "no such alarm".into()),
        Err(e) => (Outcome::Failure, refused_message(e)),
    };
    write_audit(&s.store, &who.actor, "alarms.DeleteAlarm", &target, outcome, detail).await;
    match result {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => aws_error(StatusCode::NOT_FOUND, "ResourceNotFound", &format!("no alarm named {name}")),
        Err(e) => refused(&e),
    }
}

fn refused_message(e: &alarms::Refused) -> String {
    match e {
        alarms::Refused::Invalid(issues) => issues
            .iter()
            .map(|(f, m)| if f.is_empty() { m.clone() } else { format!("{f}: {m}") })
            .collect::<Vec<_>>()
            .join("; "),
        alarms::Refused::ConfigOwned => "the alarm is defined in the config file; change it there".into(),
        alarms::Refused::Store(e) => format!("the store failed: {e}"),
    }
}

fn refused(e: &alarms::Refused) -> Response {
    let (status, kind) = match e {
        alarms::Refused::Invalid(_) => (StatusCode::BAD_REQUEST, "ValidationError"),
        alarms::Refused::ConfigOwned => (StatusCode::CONFLICT, "ConflictException"),
        alarms::Refused::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException"),
    };
    aws_error(status, kind, &refused_message(e))
}
