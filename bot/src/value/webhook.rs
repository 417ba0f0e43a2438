//! Outgoing webhooks: a JSON body signed with HMAC-SHA256, retried with exponential backoff on
//! network errors, 429 and 5xx, and every attempt recorded in `webhook_deliveries`.
//!
//! # Verifying a delivery (receivers)
//! Each request carries `X-Hark-Delivery` (an id shared by the retries of one delivery),
//! `X-Hark-Event`, `X-Hark-Timestamp` (Unix seconds of this attempt) and
//! `X-Hark-Signature: sha256=<hex>`, where the hex is
//! `HMAC-SHA256(secret, "<timestamp>.<raw body>")`. A receiver recomputes it over the raw
//! bytes, compares in constant time, rejects timestamps more than five minutes from its clock
//! (replay), and ignores a delivery id it has already processed (retries after a lost answer).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::store::{Store, StoreError, WebhookAttempt, now_ms};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Where and how to deliver.
#[derive(Clone, PartialEq)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: String,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled before each further one.
    pub first_retry: Duration,
    /// Per-attempt time limit.
    pub timeout: Duration,
}

impl WebhookSettings {
    pub fn new(url: String, secret: String) -> Self {
        WebhookSettings {
            url,
            secret,
            max_attempts: 5,
            first_retry: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookSettings {
    /// Checks the settings (`name` is the config keys' prefix, e.g. `value_webhook`) and builds
    /// the HTTP client deliveries use: redirects are not followed, so a signed body only ever
    /// goes to the configured address.
    pub fn client(&self, name: &str) -> Result<reqwest::Client, String> {
        if self.secret.len() < 16 {
            return Err(format!("{name}_secret must be at least 16 characters"));
        }
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!("{name}_url must be an http(s) URL"));
        }
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("max_attempts", &self.max_attempts)
            .field("first_retry", &self.first_retry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this branch cannot be reached.
        unreachable!("HMAC accepts any key length")
    });
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryOutcome {
    pub delivery_id: String,
    pub delivered: bool,
    pub attempts: u32,
}

/// Posts `payload` as event `event`, retrying as configured, recording every attempt.
pub async fn deliver(
    client: &reqwest::Client,
    store: &Store,
    settings: &WebhookSettings,
    event: &str,
    delivery_id: &str,
    body: &str,
) -> Result<DeliveryOutcome, StoreError> {
    let mut wait = settings.first_retry;
    let attempts = settings.max_attempts.max(1);
    for attempt in 1..=attempts {
        let timestamp = now_ms() / 1000;
        let signature = sign(settings.secret.as_bytes(), timestamp, body.as_bytes());
        let sent = client
            .post(&settings.url)
            .timeout(settings.timeout)
            .header("content-type", "application/json")
            .header("user-agent", "hark-webhook/1")
            .header("x-hark-event", event)
            .header("x-hark-delivery", delivery_id)
            .header("x-hark-timestamp", timestamp.to_string())
            .header("x-hark-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let (code, error, retryable) = match sent {
            Ok(response) => {
                let status = response.status();
                let retry = status.is_server_error() || status.as_u16() == 429;
                let error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                (Some(i64::from(status.as_u16())), error, retry)
            }
            // Without the URL: it may carry credentials.
            Err(e) => (None, Some(e.without_url().to_string()), true),
        };
        let delivered = error.is_none();
        let last = delivered || !retryable || attempt == attempts;
        let status = match (delivered, last) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "retrying",
        };
        store
            .record_webhook_attempt(&WebhookAttempt {
                delivery_id: delivery_id.to_owned(),
                event: event.to_owned(),
                url: settings.url.clone(),
                attempt: i64::from(attempt),
                status: status.to_owned(),
                response_code: code,
                error,
                body: body.to_owned(),
                created_at: now_ms(),
            })
            .await?;
        if last {
            return Ok(DeliveryOutcome {
                delivery_id: delivery_id.to_owned(),
                delivered,
                attempts: attempt,
            });
        }
        tracing::warn!(attempt, delivery_id, "webhook delivery failed; retrying");
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
    unreachable!("the loop returns on its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test',
        //   b'1700000000.{\"event\":\"customers.at_risk\"}', hashlib.sha256).hexdigest())"
        let sig = sign(
            b"whsec_test",
            1_700_000_000,
            br#"{"event":"customers.at_risk"}"#,
        );
        assert_eq!(
            sig,
            "sha256=8b179d3e0cdff8dc8abc6caa50ab67501f8b7ee2fa53bec851cd7227f4d278dc"
        );
        assert_ne!(
            sign(
                b"whsec_test",
                1_700_000_001,
                br#"{"event":"customers.at_risk"}"#
            ),
            sig
        );
    }
}
