//! Webhook mode: Telegram POSTs each update to `/telegram/webhook` on hark's own server, with
//! the secret it was given in `X-Telegram-Bot-Api-Secret-Token`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use teloxide::types::Update;

use crate::server::AppState;
use crate::server::error::ApiError;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(telegram) = state.telegram.clone() else {
        return Err(ApiError::NotFound);
    };
    let Some(expected) = telegram.webhook_secret.as_deref() else {
        // Polling mode: there is no webhook to post to.
        return Err(ApiError::NotFound);
    };
    let given = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !same_secret(given, expected) {
        return Err(ApiError::Unauthorized);
    }
    let update: Update = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "the webhook received something that is not a Telegram update");
        ApiError::BadRequest("the body is not a Telegram update".into())
    })?;
    telegram.handle_once(update).await;
    Ok("ok")
}

/// Compares secrets in time independent of where they differ (hashing first makes the
/// comparison fixed-length).
fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_match_exactly() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cre", "s3cret"));
        assert!(!same_secret("", "s3cret"));
    }
}
