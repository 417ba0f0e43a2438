//! The owners' dashboard over HTTP: the page (`/console/dashboard`), its JSON API and CSV
//! exports (`docs/console-api.md`, "Owners' reports"). A thin adapter over
//! [`crate::reports::Reports`]; every endpoint is for owners only.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::auth::OwnerSession;
use super::error::ApiError;
use crate::reports::summary::SummaryError;
use crate::reports::{
    Bucket, CommentKind, CommentPage, CustomerPage, CustomerQuery, Page, Period, ReportError,
    Reports, Table, comments_csv, customers_csv,
};

const PAGE: &str = include_str!("../../../web-console/dashboard.html");
const SCRIPT: &str = include_str!("../../../web-console/dashboard.js");
const STYLE: &str = include_str!("../../../web-console/dashboard.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/dashboard", get(page))
        .route("/console/dashboard.js", get(script))
        .route("/console/dashboard.css", get(style))
        .route("/api/reports/dashboard", get(dashboard))
        .route("/api/reports/customers", get(customers))
        .route("/api/reports/comments", get(comments))
        .route("/api/reports/csv/{table}", get(csv))
        .route(
            "/api/reports/weekly-summary",
            axum::routing::post(send_summary),
        )
}

/// Sends the weekly summary now (it is also sent on its schedule).
async fn send_summary(
    State(state): State<AppState>,
    _owner: OwnerSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    let language = state.engine.kb().language();
    let (outcome, summary) = state
        .summary
        .send(state.engine.store(), language)
        .await
        .map_err(|e| match e {
            SummaryError::NotConfigured => ApiError::Conflict("not_configured", e.to_string()),
            SummaryError::Report(inner) => inner.into(),
            SummaryError::Store(inner) => inner.into(),
            other => ApiError::Internal(other.into()),
        })?;
    Ok(Json(serde_json::json!({
        "delivery_id": outcome.delivery_id,
        "delivered": outcome.delivered,
        "attempts": outcome.attempts,
        "summary": summary,
    })))
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid(message) => ApiError::BadRequest(message),
            ReportError::Store(inner) => inner.into(),
            other => ApiError::Internal(other.into()),
        }
    }
}

async fn page() -> impl IntoResponse {
    (super::console::page_headers(), Html(PAGE))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
}

/// The query string, refusing parameters this endpoint does not know (a typo would otherwise
/// silently show another report than the one asked for).
struct Params(HashMap<String, String>);

impl Params {
    fn new(
        query: Result<Query<HashMap<String, String>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Self, ApiError> {
        let Query(map) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let mut unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(ApiError::BadRequest(format!(
                "unknown parameter {}; this endpoint takes {}",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(Params(map))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn period(&self) -> Result<Period, ApiError> {
        let today = time::OffsetDateTime::now_utc().date();
        Ok(Period::parse(
            self.get("from"),
            self.get("to"),
            self.get("days"),
            today,
        )?)
    }

    fn customer_query(&self) -> Result<CustomerQuery, ApiError> {
        Ok(CustomerQuery::parse(
            self.get("sort"),
            self.get("order"),
            self.get("segment"),
            self.get("at_risk"),
            self.get("q"),
        )?)
    }

    fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::parse(self.get("limit"), self.get("offset"))?)
    }
}

const PERIOD: [&str; 4] = ["from", "to", "days", "bucket"];
const CUSTOMERS: [&str; 7] = [
    "sort", "order", "segment", "at_risk", "q", "limit", "offset",
];
const COMMENTS: [&str; 6] = ["from", "to", "days", "kind", "limit", "offset"];

fn reports(state: &AppState) -> Reports {
    Reports::new(state.engine.store().clone())
}

async fn dashboard(
    State(state): State<AppState>,
    _owner: OwnerSession,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::new(query, &PERIOD)?;
    let period = params.period()?;
    let bucket = Bucket::parse(params.get("bucket"))?;
    let report = reports(&state).dashboard(&period, bucket).await?;
    Ok(Json(report).into_response())
}

async fn customers(
    State(state): State<AppState>,
    _owner: OwnerSession,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<CustomerPage>, ApiError> {
    let params = Params::new(query, &CUSTOMERS)?;
    let (filters, page) = (params.customer_query()?, params.page()?);
    Ok(Json(reports(&state).customers(&filters, page).await?))
}

async fn comments(
    State(state): State<AppState>,
    _owner: OwnerSession,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<CommentPage>, ApiError> {
    let params = Params::new(query, &COMMENTS)?;
    let (period, page) = (params.period()?, params.page()?);
    let kind = CommentKind::parse(params.get("kind"))?;
    let all = reports(&state).comments(&period, kind).await?;
    Ok(Json(CommentPage {
        total: all.len(),
        limit: page.limit,
        offset: page.offset,
        rows: all.into_iter().skip(page.offset).take(page.limit).collect(),
    }))
}

async fn csv(
    State(state): State<AppState>,
    _owner: OwnerSession,
    Path(table): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let table = Table::parse(&table).map_err(|_| ApiError::NotFound)?;
    let service = reports(&state);
    let (body, suffix) = match table {
        Table::Customers => {
            let params = Params::new(query, &CUSTOMERS[..5])?;
            let rows = service.all_customers(&params.customer_query()?).await?;
            (customers_csv(&rows), String::new())
        }
        Table::Comments => {
            let params = Params::new(query, &COMMENTS[..4])?;
            let period = params.period()?;
            let kind = CommentKind::parse(params.get("kind"))?;
            let rows = service.comments(&period, kind).await?;
            (comments_csv(&rows), period_suffix(&period))
        }
        _ => {
            let params = Params::new(query, &PERIOD)?;
            let period = params.period()?;
            let bucket = Bucket::parse(params.get("bucket"))?;
            let report = service.dashboard(&period, bucket).await?;
            let body = report
                .csv(table)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no CSV for {table:?}")))?;
            (body, period_suffix(&period))
        }
    };
    let disposition = format!("attachment; filename=\"hark-{}{suffix}.csv\"", table.name());
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn period_suffix(period: &Period) -> String {
    format!(
        "-{}-{}",
        crate::reports::period::format_date(period.from),
        crate::reports::period::format_date(period.to)
    )
}
