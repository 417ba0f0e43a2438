//! The one HTTP error type: maps domain errors to a status and a JSON body
//! `{"error": code, "message": text}`, logs the cause of server errors, and never sends
//! internals to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::accounts::AccountError;
use crate::engine::EngineError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    /// A missing, wrong or revoked API key; never says which.
    #[error("unauthorized")]
    Unauthorized,
    /// Well-formed input with invalid items; `details` lists each (for example index and field).
    #[error("{message}")]
    Unprocessable {
        message: String,
        details: serde_json::Value,
    },
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("only owners can do that")]
    Forbidden,
    #[error("missing or wrong CSRF token; reload the page")]
    Csrf,
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    #[error("too many connections from this address")]
    TooManyConnections,
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::Conflict(code, _) => (StatusCode::CONFLICT, code),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::TooManyConnections => (StatusCode::TOO_MANY_REQUESTS, "too_many_connections"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut body = json!({ "error": code, "message": self.to_string() });
        let retry_after = match &self {
            ApiError::RateLimited(seconds) => Some(*seconds),
            _ => None,
        };
        let bearer = matches!(self, ApiError::Unauthorized);
        if let Some(seconds) = retry_after {
            body["retry_after_seconds"] = json!(seconds);
        }
        if let ApiError::Unprocessable { details, .. } = self {
            body["details"] = details;
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if bearer {
            // API keys (server to server) are bearer tokens; browsers use the session cookie.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Duplicate => ApiError::Conflict("duplicate", "it exists already".into()),
            StoreError::Conflict => {
                ApiError::Conflict("changed", "it changed meanwhile; try again".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(msg) => ApiError::BadRequest(msg),
            EngineError::ConversationNotFound | EngineError::ArticleNotFound => ApiError::NotFound,
            EngineError::AlreadyAssigned => ApiError::Conflict(
                "already_assigned",
                "another agent owns this conversation".into(),
            ),
            EngineError::Busy => ApiError::Conflict("busy", e.to_string()),
            EngineError::Store(inner) => inner.into(),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(msg) => ApiError::BadRequest(msg),
            AccountError::InvalidCredentials => ApiError::InvalidCredentials,
            AccountError::EmailTaken => {
                ApiError::Conflict("email_taken", "a user with this email exists".into())
            }
            AccountError::InvalidInvite => ApiError::Conflict(
                "invalid_invite",
                "this invitation is unknown, used or expired".into(),
            ),
            AccountError::NotFound => ApiError::NotFound,
            AccountError::Store(inner) => inner.into(),
            other => ApiError::Internal(other.into()),
        }
    }
}
