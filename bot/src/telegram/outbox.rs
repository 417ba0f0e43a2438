//! Delivery: every message for a Telegram customer, in id order, exactly once as far as the
//! Bot API allows, and the CSAT question after a resolved conversation (both from the hub's
//! Telegram outbox topic).
//!
//! The hub is only a wake-up call. What was delivered is the `outbox_delivered` cursor in the
//! database (the highest message id delivered), advanced after each message, so a restart or a
//! lag (`RecvError::Lagged`) catches up from the store. A message is sent before the cursor
//! moves: a crash between the two can repeat that one message, never lose it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::updates::{Press, lines};
use super::{Telegram, TelegramError};
use crate::hub::{HubEvent, Topic};
use crate::store::{Channel, ConversationState, Message, SurveyKind, now_ms};

const DELIVERED_CURSOR: &str = "outbox_delivered";
/// Catch-up reads the store in pages of this many messages.
const PAGE: i64 = 200;
/// Ids delivered recently, to drop the hub's copy of a message catch-up already sent.
const REMEMBERED: usize = 4096;
/// Resolved conversations older than this are not asked for CSAT after a restart.
const CSAT_CATCH_UP: Duration = Duration::from_secs(24 * 3600);
/// The longest button label (Telegram shows about this much on a phone).
const BUTTON_CHARS: usize = 60;

struct Delivery {
    telegram: Arc<Telegram>,
    cursor: i64,
    recent: HashSet<i64>,
    order: VecDeque<i64>,
}

pub(super) async fn run(telegram: Arc<Telegram>, shutdown: CancellationToken) {
    // Subscribe before reading the store, so nothing falls between the two.
    let mut outbox = telegram
        .engine
        .subscribe_topic(Topic::Outbox(Channel::Telegram));
    let cursor = loop {
        match telegram
            .engine
            .store()
            .telegram_cursor(DELIVERED_CURSOR)
            .await
        {
            Ok(cursor) => break cursor.unwrap_or(0),
            Err(e) => {
                tracing::error!(error = ?e, "reading the Telegram delivery cursor failed");
                if super::pause(&shutdown, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    };
    let mut delivery = Delivery {
        telegram,
        cursor,
        recent: HashSet::new(),
        order: VecDeque::new(),
    };
    delivery.catch_up(&shutdown).await;
    delivery.catch_up_surveys().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            event = outbox.recv() => match event {
                Ok(HubEvent::Message(message)) => {
                    if !delivery.recent.contains(&message.id) {
                        delivery.deliver(&message, None).await;
                    }
                }
                // The engine publishes state changes to the outbox after the message that
                // came with them, so the CSAT question follows the "resolved" line.
                Ok(HubEvent::State { conversation_id, state: ConversationState::Resolved, .. }) => {
                    delivery.ask_csat(conversation_id).await;
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "Telegram outbox lagged; catching up from the store");
                    delivery.catch_up(&shutdown).await;
                    delivery.catch_up_surveys().await;
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

impl Delivery {
    /// Delivers everything stored after the cursor.
    async fn catch_up(&mut self, shutdown: &CancellationToken) {
        loop {
            let page = match self
                .telegram
                .engine
                .store()
                .telegram_outbox_after(self.cursor, PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = ?e, "reading the Telegram outbox failed");
                    return;
                }
            };
            let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
            for item in page {
                if shutdown.is_cancelled() {
                    return;
                }
                if !self.recent.contains(&item.message.id) {
                    self.deliver(&item.message, item.chat_key.as_deref()).await;
                }
            }
            if !full {
                return;
            }
        }
    }

    /// Sends one message to its chat and moves the cursor past it.
    async fn deliver(&mut self, message: &Message, chat_key: Option<&str>) {
        let chat = match chat_key {
            Some(key) => Some(key.to_owned()),
            None => self.chat_of(message.conversation_id).await,
        };
        match chat.and_then(|key| key.parse::<i64>().ok()) {
            Some(chat) => {
                let text = match &message.meta.author_name {
                    Some(name) => format!("{name}: {}", message.body),
                    None => message.body.clone(),
                };
                if let Err(e) = self
                    .telegram
                    .sender
                    .send_text(chat, &text, keyboard(message))
                    .await
                {
                    // Blocked by the user, chat gone, or retries exhausted: logged, not retried
                    // forever (it would hold up every other chat).
                    tracing::warn!(error = %e, message_id = message.id, chat, "delivering to Telegram failed");
                }
            }
            None => tracing::warn!(
                message_id = message.id,
                conversation_id = message.conversation_id,
                "no Telegram chat for this conversation"
            ),
        }
        self.remember(message.id);
        if message.id > self.cursor {
            self.cursor = message.id;
            if let Err(e) = self
                .telegram
                .engine
                .store()
                .advance_telegram_cursor(DELIVERED_CURSOR, message.id)
                .await
            {
                tracing::error!(error = ?e, "storing the Telegram delivery cursor failed");
            }
        }
    }

    fn remember(&mut self, id: i64) {
        if self.recent.insert(id) {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.recent.remove(&old);
            }
        }
    }

    async fn chat_of(&self, conversation_id: i64) -> Option<String> {
        let store = self.telegram.engine.store();
        let conversation = store.conversation(conversation_id).await.ok()?;
        store
            .identity_key(conversation.customer_id, Channel::Telegram)
            .await
            .ok()
            .flatten()
    }

    /// Asks the CSAT question about a resolved Telegram conversation, once, unless the customer
    /// opted out or already answered.
    async fn ask_csat(&self, conversation_id: i64) {
        if let Err(e) = self.try_ask_csat(conversation_id).await {
            tracing::warn!(error = %e, conversation_id, "asking for CSAT failed");
        }
    }

    async fn try_ask_csat(&self, conversation_id: i64) -> Result<(), TelegramError> {
        let store = self.telegram.engine.store();
        let conversation = store.conversation(conversation_id).await?;
        if conversation.channel != Channel::Telegram {
            return Ok(());
        }
        let Some(chat) = store
            .identity_key(conversation.customer_id, Channel::Telegram)
            .await?
            .and_then(|key| key.parse::<i64>().ok())
        else {
            return Ok(());
        };
        if !self.telegram.surveys.csat_due(conversation_id).await? {
            // Rated before (a reopened conversation): NPS may still be due, one question at
            // a time as always. After a CSAT question, NPS follows its answer instead.
            if conversation.state == ConversationState::Resolved {
                self.telegram
                    .ask_nps(
                        chat,
                        conversation.customer_id,
                        crate::surveys::nps::Occasion::Resolved { conversation_id },
                    )
                    .await?;
            }
            return Ok(());
        }
        if !store
            .claim_survey_prompt(SurveyKind::Csat, conversation_id, chat)
            .await?
        {
            return Ok(());
        }
        let buttons = (1..=5)
            .map(|score| {
                InlineKeyboardButton::callback(
                    score.to_string(),
                    Press::Csat {
                        conversation_id,
                        score,
                    }
                    .data(),
                )
            })
            .collect::<Vec<_>>();
        let sent = self
            .telegram
            .sender
            .send_text(
                chat,
                super::csat::lines::QUESTION,
                Some(InlineKeyboardMarkup::new(vec![buttons])),
            )
            .await?;
        store
            .set_survey_prompt_message(SurveyKind::Csat, conversation_id, i64::from(sent.0))
            .await?;
        Ok(())
    }

    /// Asks what a restart or a lag left unasked.
    async fn catch_up_surveys(&self) {
        let since = now_ms() - i64::try_from(CSAT_CATCH_UP.as_millis()).unwrap_or(0);
        match self
            .telegram
            .engine
            .store()
            .telegram_resolved_unsurveyed(since)
            .await
        {
            Ok(ids) => {
                for id in ids {
                    self.ask_csat(id).await;
                }
            }
            Err(e) => tracing::error!(error = ?e, "reading resolved Telegram conversations failed"),
        }
    }
}

/// The buttons under a bot message: its suggested articles, then "talk to a person".
fn keyboard(message: &Message) -> Option<InlineKeyboardMarkup> {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = message
        .meta
        .suggestions
        .iter()
        .enumerate()
        .map(|(index, s)| {
            vec![InlineKeyboardButton::callback(
                label(&s.title),
                Press::Suggestion {
                    message_id: message.id,
                    index,
                }
                .data(),
            )]
        })
        .collect();
    if message.meta.offer_handoff {
        rows.push(vec![InlineKeyboardButton::callback(
            lines::TALK_TO_PERSON,
            Press::Handoff {
                message_id: message.id,
            }
            .data(),
        )]);
    }
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

fn label(title: &str) -> String {
    if title.chars().count() <= BUTTON_CHARS {
        return title.to_owned();
    }
    let mut short: String = title.chars().take(BUTTON_CHARS - 1).collect();
    short.push('…');
    short
}
