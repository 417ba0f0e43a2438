//! The Telegram channel: a thin adapter between the Bot API (through teloxide) and the engine.
//!
//! - Incoming: long polling (`getUpdates`, the offset stored after each update) or a webhook
//!   behind the same axum server (`POST /telegram/webhook`, secret header checked). Each update
//!   becomes one engine call with the client id `tg-<update_id>`, so an update handled twice
//!   stores nothing new. Updates are handled one at a time, in order.
//! - Outgoing: one task follows the hub's Telegram outbox (bot, system and agent messages, and
//!   state changes: resolved conversations get the CSAT question), and delivers to the chats,
//!   keeping a delivered-up-to cursor in the database so a restart or a lag catches up from
//!   the store.
//!
//! *Architecture invariant*: nothing here decides what to answer; that is the engine's job.

pub mod csat;
pub mod nps;
mod outbox;
pub mod send;
mod updates;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teloxide::RequestError;
use teloxide::payloads::{GetUpdatesSetters, SetWebhookSetters};
use teloxide::prelude::Requester;
use teloxide::types::Update;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::server::AppState;
use crate::surveys::Surveys;
pub use send::SendLimits;
use send::{Limiter, Sender};

/// Where the adapter keeps the last update it handled.
const UPDATE_CURSOR: &str = "update_offset";
/// How long one `getUpdates` call waits for updates.
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(25);

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram request failed: {0}")]
    Request(#[from] RequestError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Survey(#[from] crate::surveys::SurveyError),
    #[error(transparent)]
    Nps(crate::surveys::nps::NpsError),
}

/// How the channel is configured.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub token: String,
    /// The Bot API base URL (a self-hosted Bot API server, or the tests' fake one).
    pub api_url: Option<String>,
    /// Public URL of `/telegram/webhook` on this server: set it to receive updates by webhook
    /// instead of long polling.
    pub webhook_url: Option<String>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (webhook mode).
    pub webhook_secret: Option<String>,
    pub limits: SendLimits,
    /// How long one long poll waits (tests shorten it).
    pub poll_timeout: Duration,
}

impl TelegramSettings {
    pub fn new(token: impl Into<String>) -> Self {
        TelegramSettings {
            token: token.into(),
            api_url: None,
            webhook_url: None,
            webhook_secret: None,
            limits: SendLimits::default(),
            poll_timeout: DEFAULT_POLL_TIMEOUT,
        }
    }
}

/// The running channel.
pub struct Telegram {
    engine: Engine,
    surveys: Surveys,
    nps: crate::surveys::nps::Nps,
    sender: Sender,
    webhook_secret: Option<String>,
    /// Updates are handled one at a time (polling and webhook alike), so their effects happen in
    /// Telegram's order and the stored offset means "everything up to here is done".
    handling: tokio::sync::Mutex<()>,
}

/// Starts the channel's tasks on `state`'s tracker; they stop when the server shuts down.
pub async fn start(state: &AppState, settings: &TelegramSettings) -> anyhow::Result<Arc<Telegram>> {
    let mut bot = teloxide::Bot::new(&settings.token);
    if let Some(url) = &settings.api_url {
        let url = url::Url::parse(url).with_context(|| format!("Telegram API url {url:?}"))?;
        bot = bot.set_api_url(url);
    }
    let webhook = match (&settings.webhook_url, &settings.webhook_secret) {
        (Some(url), Some(secret)) => Some((
            url::Url::parse(url).with_context(|| format!("Telegram webhook url {url:?}"))?,
            secret.clone(),
        )),
        (Some(_), None) => {
            anyhow::bail!("a Telegram webhook needs a secret (telegram_webhook_secret)")
        }
        _ => None,
    };
    let engine = state.engine.clone();
    let telegram = Arc::new(Telegram {
        surveys: Surveys::new(engine.store().clone(), Arc::clone(engine.sentiment())),
        nps: state.nps.clone(),
        engine,
        sender: Sender {
            bot,
            limiter: Limiter::new(settings.limits),
        },
        webhook_secret: webhook.as_ref().map(|(_, secret)| secret.clone()),
        handling: tokio::sync::Mutex::new(()),
    });
    match telegram.sender.bot.get_me().await {
        Ok(me) => tracing::info!(username = ?me.username, "Telegram bot connected"),
        // Not fatal: the API may be briefly unreachable; the loops below keep trying.
        Err(e) => tracing::warn!(error = %e, "Telegram getMe failed"),
    }
    match webhook {
        Some((url, secret)) => {
            telegram
                .sender
                .bot
                .set_webhook(url)
                .secret_token(secret)
                .max_connections(1)
                .await
                .context("setting the Telegram webhook")?;
        }
        None => {
            // getUpdates fails while a webhook is set.
            if let Err(e) = telegram.sender.bot.delete_webhook().await {
                tracing::warn!(error = %e, "Telegram deleteWebhook failed");
            }
            let me = Arc::clone(&telegram);
            let shutdown = state.shutdown.clone();
            let timeout = settings.poll_timeout;
            state
                .tracker
                .spawn(async move { me.poll(shutdown, timeout).await });
        }
    }
    let me = Arc::clone(&telegram);
    let shutdown = state.shutdown.clone();
    state
        .tracker
        .spawn(async move { outbox::run(me, shutdown).await });
    if let Some(every) = state.nps.settings().schedule_every {
        let me = Arc::clone(&telegram);
        let shutdown = state.shutdown.clone();
        state
            .tracker
            .spawn(async move { nps::run_schedule(me, shutdown, every).await });
    }
    Ok(telegram)
}

impl Telegram {
    /// Long polling: fetch, handle each update, store the offset after each.
    async fn poll(self: Arc<Self>, shutdown: CancellationToken, timeout: Duration) {
        let mut failures = 0u32;
        loop {
            let last = match self.engine.store().telegram_cursor(UPDATE_CURSOR).await {
                Ok(last) => last.unwrap_or(0),
                Err(e) => {
                    tracing::error!(error = ?e, "reading the Telegram offset failed");
                    if pause(&shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            let offset = i32::try_from(last + 1).unwrap_or(0);
            let request = self
                .sender
                .bot
                .get_updates()
                .offset(offset)
                .timeout(u32::try_from(timeout.as_secs()).unwrap_or(25));
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = request => result,
            };
            let updates = match result {
                Ok(updates) => {
                    failures = 0;
                    updates.into_iter().map(Ok).collect()
                }
                Err(RequestError::InvalidJson { raw, source }) => {
                    tracing::warn!(error = %source, "getUpdates answered malformed JSON");
                    salvage_updates(&raw)
                }
                Err(RequestError::RetryAfter(after)) => {
                    if pause(&shutdown, after.duration()).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, failures, "getUpdates failed");
                    let wait = Duration::from_millis(500 * 2u64.pow(failures.min(6)));
                    if pause(&shutdown, wait).await {
                        return;
                    }
                    continue;
                }
            };
            for update in updates {
                match update {
                    Ok(update) => self.handle_once(update).await,
                    // An update we cannot read (logged in `salvage_updates`): move past it.
                    Err(id) => {
                        if let Err(e) = self
                            .engine
                            .store()
                            .advance_telegram_cursor(UPDATE_CURSOR, id)
                            .await
                        {
                            tracing::error!(error = ?e, update_id = id, "storing the Telegram offset failed");
                        }
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
        }
    }

    /// Handles one update unless it was handled already (by id), then records its id.
    pub async fn handle_once(&self, update: Update) {
        let _one_at_a_time = self.handling.lock().await;
        let id = i64::from(update.id.0);
        match self.engine.store().telegram_cursor(UPDATE_CURSOR).await {
            Ok(Some(last)) if id <= last => {
                tracing::debug!(update_id = id, "update already handled");
                return;
            }
            _ => {}
        }
        if let Err(e) = self.handle(update).await {
            tracing::error!(error = ?e, update_id = id, "handling a Telegram update failed");
        }
        if let Err(e) = self
            .engine
            .store()
            .advance_telegram_cursor(UPDATE_CURSOR, id)
            .await
        {
            tracing::error!(error = ?e, update_id = id, "storing the Telegram offset failed");
        }
    }
}

/// Sleeps `wait` unless the server shuts down first; true when it does.
async fn pause(shutdown: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}

/// Reads what it can from a `getUpdates` answer teloxide could not parse: every element with an
/// `update_id` is either a readable update or skipped by id (logged). `Err(id)` marks a skipped
/// one, so the offset still moves past it and the next poll does not fetch it again.
fn salvage_updates(raw: &str) -> Vec<Result<Update, i64>> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(raw) else {
        tracing::warn!("getUpdates answer is not JSON; polling again");
        return Vec::new();
    };
    let Some(items) = value.get("result").and_then(|r| r.as_array()) else {
        tracing::warn!("getUpdates answer has no result list; polling again");
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("update_id").and_then(serde_json::Value::as_i64)?;
            // From text, not from the `Value`: teloxide's update parser reads borrowed keys,
            // which a `Value` cannot lend (every update would come out as unreadable).
            match serde_json::from_str::<Update>(&item.to_string()) {
                Ok(update) => Some(Ok(update)),
                Err(e) => {
                    tracing::warn!(update_id = id, error = %e, "skipping an unreadable update");
                    Some(Err(id))
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvages_the_readable_updates_and_skips_the_rest_by_id() {
        let raw = r#"{"ok":true,"result":[
            {"update_id":5,"message":{"message_id":1,"date":1700000000,
              "chat":{"id":42,"type":"private","first_name":"Ann"},"text":"hi"}},
            {"update_id":"six"},
            {"update_id":7,"message":"garbage"}
        ]}"#;
        let got = salvage_updates(raw);
        assert_eq!(got.len(), 2);
        assert!(
            matches!(&got[0], Ok(u) if u.id.0 == 5 && matches!(u.kind, teloxide::types::UpdateKind::Message(_))),
            "{:?}",
            got[0]
        );
        // Update 7's content is unreadable: teloxide keeps it as an `Error` kind, still by id.
        assert!(matches!(&got[1], Ok(u) if u.id.0 == 7) || matches!(got[1], Err(7)));
        assert!(salvage_updates("not json").is_empty());
        assert!(salvage_updates(r#"{"ok":true}"#).is_empty());
    }
}
