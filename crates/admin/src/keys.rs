//! The API-key and usage-plan routes of the admin API: keys are created (the value is in that
//! one answer and nowhere else, never in the audit trail), listed, enabled, disabled and
//! deleted; attached to the config's usage plans; and their recorded usage is reported in the
//! shape of API Gateway's GetUsage, or exported as CSV for billing.

use std::collections::{BTreeMap, HashMap};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use directory::NewApiKey;
use http::{header, StatusCode};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{ApiKey, Store as _, UsageRecord};

use crate::auth::{aws_error, now_ms, Authed};
use crate::control::PlanView;
use crate::iam::{directory_error, finish};
use crate::routes::AppState;

/// The routes, all behind the SigV4 layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", get(describe).patch(update).delete(delete))
        .route("/usage-plans", get(plans))
        .route("/usage-plans/{plan}/keys", get(plan_keys))
        .route("/usage-plans/{plan}/keys/{id}", put(attach).delete(detach))
        .route("/usage-plans/{plan}/usage", get(usage))
}

fn key_arn(s: &AppState, id: &str) -> String {
    s.arn("apikeys", &format!("apikey/{id}"))
}

fn plan_arn(s: &AppState, id: &str) -> String {
    s.arn("apikeys", &format!("usageplan/{id}"))
}

/// A key as the API shows it: never its value or hash.
fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "description": k.description,
        "customer_id": k.customer_id,
        "prefix": k.prefix,
        "enabled": k.enabled,
        "imported": k.imported,
        "created_at_ms": k.created_at_ms,
        "updated_at_ms": k.updated_at_ms,
    })
}

async fn list(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetApiKeys", &key_arn(&s, "*")).await {
        return r;
    }
    let result = s.api_keys.list().await.map(|keys| json!({ "items": keys.iter().map(key_json).collect::<Vec<_>>() }));
    finish(&s, &who, None, result, StatusCode::OK).await
}

async fn create(who: Authed, State(s): State<AppState>, Json(body): Json<NewApiKey>) -> Response {
    let target = key_arn(&s, "*");
    if let Err(r) = s.authorize(&who, "portcullis:CreateApiKey", &target).await {
        return r;
    }
    let result = s.api_keys.create(body, now_ms()).await.map(|(k, value)| {
        let mut v = key_json(&k);
        v["value"] = json!(value.as_str());
        (k.id, v)
    });
    // The audit record names the new key by id; the value is only in the response.
    let target = match &result {
        Ok((id, _)) => key_arn(&s, id),
        Err(_) => target,
    };
    finish(&s, &who, Some(("apikeys.CreateApiKey", &target)), result.map(|(_, v)| v), StatusCode::CREATED).await
}

async fn describe(who: Authed, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetApiKey", &key_arn(&s, &id)).await {
        return r;
    }
    let result = async {
        let k = s.api_keys.get(&id).await?;
        let plans = s.api_keys.plans_of(&id).await?;
        let mut v = key_json(&k);
        v["usage_plans"] = json!(plans);
        Ok(v)
    }
    .await;
    finish(&s, &who, None, result, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    enabled: bool,
}

async fn update(who: Authed, State(s): State<AppState>, Path(id): Path<String>, Json(body): Json<Update>) -> Response {
    let target = key_arn(&s, &id);
    if let Err(r) = s.authorize(&who, "portcullis:UpdateApiKey", &target).await {
        return r;
    }
    let result = s.api_keys.set_enabled(&id, body.enabled, now_ms()).await.map(|k| key_json(&k));
    let action = if body.enabled { "apikeys.EnableApiKey" } else { "apikeys.DisableApiKey" };
    finish(&s, &who, Some((action, &target)), result, StatusCode::OK).await
}

async fn delete(who: Authed, State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let target = key_arn(&s, &id);
    if let Err(r) = s.authorize(&who, "portcullis:DeleteApiKey", &target).await {
        return r;
    }
    let result = s.api_keys.delete(&id).await.map(|()| json!({ "id": id }));
    finish(&s, &who, Some(("apikeys.DeleteApiKey", &target)), result, StatusCode::OK).await
}

fn plan_json(p: &PlanView) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "throttle": p.throttle.map(|(rate, burst)| json!({ "rate": rate, "burst": burst })),
        "quota": p.quota.as_ref().map(|q| json!({
            "limit": q.limit(),
            "period": q.period().name(),
            "offset": q.offset(),
            "time_zone": q.time_zone(),
        })),
        "api_stages": p.api_stages.iter().map(|(a, st)| json!({ "api": a, "stage": st })).collect::<Vec<_>>(),
    })
}

async fn plans(who: Authed, State(s): State<AppState>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetUsagePlans", &plan_arn(&s, "*")).await {
        return r;
    }
    let items: Vec<Value> = s.control.usage_plans().iter().map(plan_json).collect();
    (StatusCode::OK, Json(json!({ "items": items }))).into_response()
}

fn find_plan(s: &AppState, id: &str) -> Option<PlanView> {
    s.control.usage_plans().into_iter().find(|p| p.id == id)
}

fn no_plan(id: &str) -> Response {
    aws_error(StatusCode::NOT_FOUND, "NotFoundException", &format!("the running config has no usage plan `{id}`"))
}

async fn plan_keys(who: Authed, State(s): State<AppState>, Path(plan): Path<String>) -> Response {
    if let Err(r) = s.authorize(&who, "portcullis:GetUsagePlanKeys", &plan_arn(&s, &plan)).await {
        return r;
    }
    if find_plan(&s, &plan).is_none() {
        return no_plan(&plan);
    }
    let result = async {
        let ids = s.api_keys.keys_of(&plan).await?;
        let mut items = Vec::new();
        for id in ids {
            if let Ok(k) = s.api_keys.get(&id).await {
                items.push(
                    json!({ "id": k.id, "type": "API_KEY", "name": k.name, "prefix": k.prefix, "enabled": k.enabled }),
                );
            }
        }
        Ok(json!({ "items": items }))
    }
    .await;
    finish(&s, &who, None, result, StatusCode::OK).await
}

async fn attach(who: Authed, State(s): State<AppState>, Path((plan, id)): Path<(String, String)>) -> Response {
    let target = plan_arn(&s, &plan);
    if let Err(r) = s.authorize(&who, "portcullis:CreateUsagePlanKey", &target).await {
        return r;
    }
    let all = s.control.usage_plans();
    let Some(this) = all.iter().find(|p| p.id == plan) else {
        return no_plan(&plan);
    };
    // One plan per key per stage: a plan sharing a stage with this one clashes.
    let clashes = |other: &str| {
        all.iter().find(|p| p.id == other).is_some_and(|o| o.api_stages.iter().any(|st| this.api_stages.contains(st)))
    };
    let result =
        s.api_keys.attach(&plan, &id, now_ms(), clashes).await.map(|()| json!({ "usage_plan": plan, "id": id }));
    finish(&s, &who, Some(("apikeys.CreateUsagePlanKey", &format!("{target}/apikey/{id}"))), result, StatusCode::OK)
        .await
}

async fn detach(who: Authed, State(s): State<AppState>, Path((plan, id)): Path<(String, String)>) -> Response {
    let target = plan_arn(&s, &plan);
    if let Err(r) = s.authorize(&who, "portcullis:DeleteUsagePlanKey", &target).await {
        return r;
    }
    let result = s.api_keys.detach(&plan, &id).await.map(|()| json!({ "usage_plan": plan, "id": id }));
    finish(&s, &who, Some(("apikeys.DeleteUsagePlanKey", &format!("{target}/apikey/{id}"))), result, StatusCode::OK)
        .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UsageQuery {
    start_date: String,
    end_date: String,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// Longest report, in days.
const MAX_REPORT_DAYS: i32 = 366;

async fn usage(
    who: Authed,
    State(s): State<AppState>,
    Path(plan_id): Path<String>,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", &e.body_text()),
    };
    if let Err(r) = s.authorize(&who, "portcullis:GetUsage", &plan_arn(&s, &plan_id)).await {
        return r;
    }
    // A plan removed from the config still has its records: they are reported without a quota.
    let plan = find_plan(&s, &plan_id).unwrap_or_else(|| PlanView {
        id: plan_id.clone(),
        name: plan_id.clone(),
        description: String::new(),
        throttle: None,
        quota: None,
        api_stages: Vec::new(),
    });
    let (start, end) = match dates(&q.start_date, &q.end_date) {
        Ok(d) => d,
        Err(m) => return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", &m),
    };
    // Rows from the start of the quota window that holds `start`, so that the first day's
    // remaining quota counts what the window used before it.
    let from = plan.quota.as_ref().map_or(start, |qt| qt.window_of_day(start).first_day.min(start));
    let rows = match s.store.usage(&plan_id, q.key_id.as_deref(), &from.to_string(), &end.to_string()).await {
        Ok(r) => r,
        Err(e) => return directory_error(&e.into()),
    };
    let mut keys: Vec<String> = match &q.key_id {
        Some(k) => vec![k.clone()],
        None => s.api_keys.keys_of(&plan_id).await.unwrap_or_default(),
    };
    keys.extend(rows.iter().map(|r| r.key_id.clone()));
    keys.sort();
    keys.dedup();
    if keys.is_empty() && find_plan(&s, &plan_id).is_none() {
        return no_plan(&plan_id);
    }
    match q.format.as_deref() {
        None | Some("json") => Json(usage_json(&plan, &keys, &rows, from, start, end)).into_response(),
        Some("csv") => {
            let body = usage_csv(&plan_id, &rows, start);
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
        Some(other) => aws_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            &format!("format must be json or csv, not `{other}`"),
        ),
    }
}

fn dates(start: &str, end: &str) -> Result<(Date, Date), String> {
    let parse = |name: &str, v: &str| {
        v.parse::<Date>().map_err(|_| format!("{name} must be a date like 2026-11-25, got `{v}`"))
    };
    let (start, end) = (parse("startDate", start)?, parse("endDate", end)?);
    let span = (end - start).get_days();
    if span < 0 {
        return Err("endDate is before startDate".into());
    }
    if span >= MAX_REPORT_DAYS {
        return Err(format!("a report covers at most {MAX_REPORT_DAYS} days"));
    }
    Ok((start, end))
}

/// GetUsage's shape: per key, one `[used, remaining]` pair per day from start to end
/// (`remaining` is null without a quota), plus the per-route rows behind it. `rows` begin at
/// `from`, the start of the quota window that holds `start`, so each day's remaining counts
/// the whole window up to it.
fn usage_json(plan: &PlanView, keys: &[String], rows: &[UsageRecord], from: Date, start: Date, end: Date) -> Value {
    let mut per_day: HashMap<(&str, &str), i64> = HashMap::new();
    for r in rows {
        *per_day.entry((r.key_id.as_str(), r.day.as_str())).or_default() += r.count;
    }
    let mut values = BTreeMap::new();
    for key in keys {
        let mut pairs = Vec::new();
        // One walk over the days: the window's running total resets where a new window starts.
        let (mut day, mut window, mut so_far) = (from, None::<limits::Window>, 0i64);
        while day <= end {
            let used = per_day.get(&(key.as_str(), day.to_string().as_str())).copied().unwrap_or(0);
            let remaining = plan.quota.as_ref().map(|q| {
                if window.as_ref().is_none_or(|w| day > w.last_day) {
                    window = Some(q.window_of_day(day));
                    so_far = 0;
                }
                so_far += used;
                i64::try_from(q.limit()).unwrap_or(i64::MAX).saturating_sub(so_far).max(0)
            });
            if day >= start {
                pairs.push(json!([used, remaining]));
            }
            let Some(next) = day.tomorrow().ok() else { break };
            day = next;
        }
        values.insert(key.clone(), pairs);
    }
    let first = start.to_string();
    let items: Vec<Value> = rows
        .iter()
        .filter(|r| r.day >= first)
        .map(|r| json!({ "keyId": r.key_id, "day": r.day, "api": r.api, "stage": r.stage, "route": r.route, "count": r.count }))
        .collect();
    json!({
        "usagePlanId": plan.id,
        "startDate": first,
        "endDate": end.to_string(),
        "values": values,
        "items": items,
    })
}

/// One line per key, day and route, for billing systems.
fn usage_csv(plan: &str, rows: &[UsageRecord], start: Date) -> String {
    let mut out = String::from("usage_plan_id,key_id,customer_id,day,api,stage,route,count\n");
    let start = start.to_string();
    for r in rows.iter().filter(|r| r.day >= start) {
        let cells = [plan, &r.key_id, &r.customer_id, &r.day, &r.api, &r.stage, &r.route];
        for c in cells {
            out.push_str(&csv_cell(c));
            out.push(',');
        }
        out.push_str(&r.count.to_string());
        out.push('\n');
    }
    out
}

/// A CSV cell: quoted when it holds a separator or quote, and never read as a formula by a
/// spreadsheet (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`, as OWASP
/// advises against CSV injection).
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_cell, dates};

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("GET /pets"), "GET /pets");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\t=1"), "'\t=1");
    }

    #[test]
    fn remaining_counts_the_whole_window_and_resets_with_the_next() {
        use jiff::civil::date;
        let quota = limits::Quota::new(10, limits::Period::Month, 0, "UTC").ok();
        let plan = super::PlanView {
            id: "p".into(),
            name: "p".into(),
            description: String::new(),
            throttle: None,
            quota,
            api_stages: Vec::new(),
        };
        let row = |day: &str, count| store::UsageRecord {
            plan_id: "p".into(),
            key_id: "k".into(),
            day: day.into(),
            api: "a".into(),
            stage: "s".into(),
            route: "GET /".into(),
            count,
            customer_id: String::new(),
        };
        let rows = [row("2026-11-01", 3), row("2026-11-30", 2), row("2026-12-01", 4)];
        let v =
            super::usage_json(&plan, &["k".into()], &rows, date(2026, 11, 1), date(2026, 11, 29), date(2026, 12, 2));
        // November used 3 before the report starts; December starts afresh.
        assert_eq!(v["values"]["k"], serde_json::json!([[0, 7], [2, 5], [4, 6], [0, 6]]));
        assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "rows before startDate only count, not shown");
    }

    #[test]
    fn report_dates_are_checked() {
        assert!(dates("2026-11-01", "2026-11-30").is_ok());
        assert!(dates("2026-11-30", "2026-11-01").is_err());
        assert!(dates("2026-13-01", "2026-11-01").is_err());
        assert!(dates("2025-01-01", "2026-11-01").is_err());
    }
}
