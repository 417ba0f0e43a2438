//! Learning from operations over HTTP (`docs/console-api.md`): the owners' unanswered-questions
//! report (JSON or CSV), agents linking an article to a question the bot did not answer, and
//! owners approving or rejecting those links. A thin adapter over [`crate::learning`].

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{OwnerSession, StaffSession};
use super::error::ApiError;
use crate::learning::{Learning, LearningError, UnansweredGroup};
use crate::store::{SuggestionState, now_ms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/kb/unanswered", get(unanswered))
        .route("/api/kb/suggestions", get(list).post(suggest))
        .route("/api/kb/suggestions/{id}/approve", post(approve))
        .route("/api/kb/suggestions/{id}/reject", post(reject))
        .route("/api/conversations/{id}/learning", get(conversation))
}

impl From<LearningError> for ApiError {
    fn from(e: LearningError) -> Self {
        let invalid = |field: &str, e: &LearningError| ApiError::Unprocessable {
            message: e.to_string(),
            details: json!({ "field": field }),
        };
        match e {
            LearningError::Invalid(msg) => ApiError::BadRequest(msg),
            LearningError::UnknownArticle(_) => invalid("article_id", &e),
            LearningError::UnknownConversation => invalid("conversation_id", &e),
            LearningError::UnknownMessage
            | LearningError::NotCustomerMessage
            | LearningError::BotAnswered
            | LearningError::NotAQuestion
            | LearningError::NotAnsweredByAgent => invalid("message_id", &e),
            LearningError::AlreadySuggested => {
                ApiError::Conflict("already_suggested", e.to_string())
            }
            LearningError::AlreadyDecided(_) => {
                ApiError::Conflict("already_decided", e.to_string())
            }
            LearningError::SuggestionNotFound => ApiError::NotFound,
            LearningError::OwnersOnly => ApiError::Forbidden,
            LearningError::Store(inner) => inner.into(),
            LearningError::Task(inner) => ApiError::Internal(inner.into()),
        }
    }
}

fn learning(state: &AppState) -> Learning {
    Learning::new(state.engine.store().clone(), state.engine.kb().clone())
}

/// A positive id from the path; anything else is simply not found.
fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

const DAY_MS: i64 = 24 * 3600 * 1000;
/// The report covers the last 30 days unless told otherwise.
const DEFAULT_PERIOD_MS: i64 = 30 * DAY_MS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    /// Unix ms, inclusive.
    since: Option<i64>,
    /// Unix ms, exclusive.
    until: Option<i64>,
    limit: Option<usize>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

async fn unanswered(
    State(state): State<AppState>,
    OwnerSession(_owner): OwnerSession,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let until = query.until.unwrap_or_else(|| now_ms() + 1);
    let since = query.since.unwrap_or(until - DEFAULT_PERIOD_MS);
    if since < 0 || until < 0 {
        return Err(ApiError::BadRequest(
            "since and until are Unix milliseconds".into(),
        ));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::BadRequest("format must be json or csv".into())),
    };
    let groups = learning(&state).report(since, until, limit).await?;
    if csv {
        let body = report_csv(&groups).map_err(ApiError::Internal)?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"unanswered-questions.csv\"",
                ),
            ],
            body,
        )
            .into_response());
    }
    Ok(Json(json!({"since": since, "until": until, "groups": groups})).into_response())
}

/// Spreadsheets run cells that start with these as formulas; customers wrote this text.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn report_csv(groups: &[UnansweredGroup]) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "question",
        "count",
        "conversations",
        "agent_answered",
        "learned",
        "last_seen_ms",
        "examples",
    ])?;
    for g in groups {
        let examples: Vec<&str> = g.examples.iter().map(|q| q.text.as_str()).collect();
        out.write_record([
            spreadsheet_safe(&g.question),
            g.count.to_string(),
            g.conversations.to_string(),
            g.agent_answered.to_string(),
            g.learned.to_string(),
            g.last_seen.to_string(),
            spreadsheet_safe(&examples.join(" | ")),
        ])?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `pending` (default), `approved`, `rejected` or `all`.
    state: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    OwnerSession(_owner): OwnerSession,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = match query.state.as_deref().unwrap_or("pending") {
        "all" => None,
        other => Some(other.parse::<SuggestionState>().map_err(|_| {
            ApiError::BadRequest("state must be pending, approved, rejected or all".into())
        })?),
    };
    let suggestions = learning(&state).suggestions(filter, 500).await?;
    Ok(Json(json!({"suggestions": suggestions})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuggestBody {
    conversation_id: i64,
    message_id: i64,
    article_id: String,
}

async fn suggest(
    State(state): State<AppState>,
    session: StaffSession,
    body: Result<Json<SuggestBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let suggestion = learning(&state)
        .suggest(
            body.conversation_id,
            body.message_id,
            &body.article_id,
            &session.staff,
        )
        .await?;
    Ok(Json(json!({"suggestion": suggestion})))
}

async fn approve(
    State(state): State<AppState>,
    OwnerSession(owner): OwnerSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let (suggestion, rebuilt) = learning(&state).approve(id, &owner.staff).await?;
    Ok(Json(
        json!({"suggestion": suggestion, "kb_rebuilt": rebuilt}),
    ))
}

async fn reject(
    State(state): State<AppState>,
    OwnerSession(owner): OwnerSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let suggestion = learning(&state).reject(id, &owner.staff).await?;
    Ok(Json(json!({"suggestion": suggestion})))
}

/// Which messages of a conversation can be linked to an article, and the links made so far.
async fn conversation(
    State(state): State<AppState>,
    _session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let view = learning(&state)
        .conversation(id)
        .await
        .map_err(|e| match e {
            LearningError::UnknownConversation => ApiError::NotFound,
            other => other.into(),
        })?;
    Ok(Json(json!(view)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_cannot_become_formulas() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("-1 star"), "'-1 star");
        assert_eq!(spreadsheet_safe("do you ship?"), "do you ship?");
    }
}
