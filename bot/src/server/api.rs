//! The server-to-server HTTP API (a shop's backend): purchases in, customer value scores out,
//! linking chat customers to the shop's ids, consent, and refreshing scores on demand.
//! Every route needs `Authorization: Bearer <key>` (`hark apikey add NAME`); a missing, wrong
//! or revoked key gets 401 and nothing else. See `docs/api.md`.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use feedback::value::{Amount, CustomerId, Transaction, parse_date};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::store::TransactionImport;

/// Most purchases one request may carry (the body limit applies too).
pub const MAX_PURCHASES: usize = 10_000;
/// At most this many bad rows are listed in an error.
const MAX_LISTED: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/purchases", post(post_purchases))
        .route("/api/customers/{id}/value", get(customer_value))
        .route(
            "/api/customers/by-external-id/{external_id}/value",
            get(customer_value_by_external_id),
        )
        .route("/api/customers/{id}/external-id", put(put_external_id))
        .route("/api/customers/{id}/consent", put(put_consent))
        .route("/api/value/refresh", post(refresh))
}

/// Proof that the request carried a live API key (the key's id).
pub struct ApiKey(pub i64);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or(ApiError::Unauthorized)?;
        match state
            .store()
            .live_api_key(&crate::apikey::hash(key))
            .await?
        {
            Some(id) => Ok(ApiKey(id)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

fn customer_path(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::NotFound)
}

/// One problem with one purchase of a batch.
fn problem(index: usize, field: Option<&str>, text: impl Into<String>) -> Value {
    json!({ "index": index, "field": field, "problem": text.into() })
}

/// Validates one purchase object; every problem of it is pushed.
fn purchase(index: usize, row: &Value, problems: &mut Vec<Value>) -> Option<Transaction> {
    let Some(object) = row.as_object() else {
        problems.push(problem(index, None, "a purchase must be a JSON object"));
        return None;
    };
    let before = problems.len();
    for key in object.keys() {
        if !matches!(key.as_str(), "customer_id" | "date" | "amount" | "order_id") {
            problems.push(problem(index, Some(key), "unknown field"));
        }
    }
    let customer_id = match object.get("customer_id") {
        Some(Value::String(s)) => CustomerId::parse(s)
            .map_err(|e| problems.push(problem(index, Some("customer_id"), e)))
            .ok(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => CustomerId::parse(&n.to_string())
            .map_err(|e| problems.push(problem(index, Some("customer_id"), e)))
            .ok(),
        None | Some(Value::Null) => {
            problems.push(problem(
                index,
                Some("customer_id"),
                "customer_id is missing",
            ));
            None
        }
        Some(_) => {
            problems.push(problem(
                index,
                Some("customer_id"),
                "customer_id must be a string",
            ));
            None
        }
    };
    let date = match object.get("date") {
        Some(Value::String(s)) => parse_date(s)
            .map_err(|e| problems.push(problem(index, Some("date"), e)))
            .ok(),
        None | Some(Value::Null) => {
            problems.push(problem(index, Some("date"), "date is missing"));
            None
        }
        Some(_) => {
            problems.push(problem(
                index,
                Some("date"),
                "date must be a string YYYY-MM-DD",
            ));
            None
        }
    };
    let amount = match object.get("amount") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) => Amount::new(v)
                .map_err(|e| problems.push(problem(index, Some("amount"), e)))
                .ok(),
            None => {
                problems.push(problem(index, Some("amount"), "amount is not a number"));
                None
            }
        },
        None | Some(Value::Null) => {
            problems.push(problem(index, Some("amount"), "amount is missing"));
            None
        }
        Some(_) => {
            problems.push(problem(index, Some("amount"), "amount must be a number"));
            None
        }
    };
    let order_id = match object.get("order_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 128 => {
            Some(s.trim().to_owned())
        }
        Some(_) => {
            problems.push(problem(
                index,
                Some("order_id"),
                "order_id must be a non-empty string of at most 128 bytes",
            ));
            None
        }
    };
    if problems.len() > before {
        return None;
    }
    Some(Transaction {
        customer_id: customer_id?,
        date: date?,
        amount: amount?,
        order_id,
    })
}

/// `POST /api/purchases`: a JSON array of `{customer_id, date, amount, order_id?}`, stored all
/// or nothing. Customers are matched by external id (created when unknown); an order id
/// already stored for the customer is skipped, so a retried request adds nothing.
async fn post_purchases(
    State(state): State<AppState>,
    _key: ApiKey,
    body: Bytes,
) -> Result<Json<TransactionImport>, ApiError> {
    let rows: Vec<Value> = parse_json(&body)?;
    if rows.is_empty() {
        return Err(ApiError::BadRequest("no purchases in the array".into()));
    }
    if rows.len() > MAX_PURCHASES {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_PURCHASES} purchases per request"
        )));
    }
    let mut problems = Vec::new();
    let purchases: Vec<Transaction> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| purchase(i, row, &mut problems))
        .collect();
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(MAX_LISTED);
        let listed = problems.len();
        return Err(ApiError::Unprocessable {
            message: format!(
                "{total} problems in the purchases (first {listed} listed); nothing was stored"
            ),
            details: Value::Array(problems),
        });
    }
    let done = state.store().import_transactions(&purchases).await?;
    Ok(Json(done))
}

async fn value_of(state: &AppState, customer_id: i64) -> Result<Json<Value>, ApiError> {
    let external_id = state.store().external_id(customer_id).await?;
    let score = state
        .store()
        .customer_score(customer_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut body = serde_json::to_value(score).map_err(|e| ApiError::Internal(e.into()))?;
    body["external_id"] = json!(external_id);
    Ok(Json(body))
}

/// `GET /api/customers/{id}/value`: the stored scores of a customer (hark's id).
async fn customer_value(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    value_of(&state, customer_path(&id)?).await
}

/// `GET /api/customers/by-external-id/{external_id}/value`: the same, by the shop's id.
async fn customer_value_by_external_id(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(external_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = state
        .store()
        .customer_by_external_id(&external_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    value_of(&state, id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalIdBody {
    external_id: String,
}

/// `PUT /api/customers/{id}/external-id`: the shop says which of its customers this chat
/// customer is (the widget's own word is never trusted for that). A purchase-only record with
/// that id is folded into this customer; another chat customer holding it is a 409.
async fn put_external_id(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = customer_path(&id)?;
    let body: ExternalIdBody = parse_json(&body)?;
    let external_id = CustomerId::check(&body.external_id)
        .map_err(|e| ApiError::BadRequest(e.replace("customer_id", "external_id")))?;
    match state.store().link_external_id(id, external_id).await? {
        Some(link) => Ok(Json(json!({
            "customer_id": id,
            "external_id": external_id,
            "link": link,
        }))),
        None => Err(ApiError::Conflict(
            "external_id_taken",
            "another chat customer has this external id".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    consent: bool,
}

/// `PUT /api/customers/{id}/consent`: record (or withdraw) the customer's consent to
/// proactive messages, as collected by the shop.
async fn put_consent(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = customer_path(&id)?;
    let body: ConsentBody = parse_json(&body)?;
    state.store().customer(id).await?;
    state.store().set_contact_consent(id, body.consent).await?;
    let may_contact = state.store().may_contact(id).await?;
    Ok(Json(json!({
        "customer_id": id,
        "consent": body.consent,
        "may_contact": may_contact,
    })))
}

/// `POST /api/value/refresh`: recompute every score now; answers with what the run did.
async fn refresh(State(state): State<AppState>, _key: ApiKey) -> Result<Json<Value>, ApiError> {
    let report = state
        .value
        .refresh(state.store(), state.engine.hub(), "api")
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| ApiError::Internal(e.into()))?,
    ))
}
