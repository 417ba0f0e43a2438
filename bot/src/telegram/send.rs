//! Sending to Telegram within its limits: about 30 messages per second in all and one per
//! second per chat, `retry_after` honoured on 429, and texts over 4,096 characters split.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardMarkup, MessageId};
use tokio::time::Instant;

use super::TelegramError;

/// Telegram's limit on one message's text, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 4096;
/// How often one request is tried before the message is given up (logged).
const MAX_ATTEMPTS: u32 = 6;

/// How fast hark sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Messages per second across all chats.
    pub per_second: u32,
    /// The least time between two messages to one chat.
    pub per_chat_interval: Duration,
}

impl Default for SendLimits {
    fn default() -> Self {
        SendLimits {
            per_second: 30,
            per_chat_interval: Duration::from_secs(1),
        }
    }
}

/// Hands out send slots: each call reserves the earliest instant allowed both by the global
/// rate and by the chat's interval, so concurrent senders queue fairly without a central task.
pub struct Limiter {
    limits: SendLimits,
    // std mutex: a few arithmetic operations per send, never held across an await.
    slots: Mutex<Slots>,
}

struct Slots {
    next_any: Instant,
    next_chat: HashMap<i64, Instant>,
}

impl Limiter {
    pub fn new(limits: SendLimits) -> Self {
        Limiter {
            limits,
            slots: Mutex::new(Slots {
                next_any: Instant::now(),
                next_chat: HashMap::new(),
            }),
        }
    }

    fn global_interval(&self) -> Duration {
        Duration::from_secs(1) / self.limits.per_second.max(1)
    }

    /// Waits for this chat's next slot.
    pub async fn wait(&self, chat: i64) {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            // Forget chats whose slot has passed, so the map holds only recently active ones.
            if slots.next_chat.len() > 1024 {
                slots.next_chat.retain(|_, at| *at > now);
            }
            let chat_next = slots.next_chat.get(&chat).copied().unwrap_or(now);
            let slot = now.max(slots.next_any).max(chat_next);
            slots.next_any = slot + self.global_interval();
            slots
                .next_chat
                .insert(chat, slot + self.limits.per_chat_interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Telegram said "retry after": nothing goes to that chat, nor anywhere, before then.
    pub fn back_off(&self, chat: i64, wait: Duration) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + wait;
        slots.next_any = slots.next_any.max(until);
        let chat_next = slots.next_chat.entry(chat).or_insert(until);
        *chat_next = (*chat_next).max(until);
    }
}

/// A bot with the limiter in front of it.
pub struct Sender {
    pub bot: teloxide::Bot,
    pub limiter: Limiter,
}

impl Sender {
    /// Sends `text` to `chat`, split into as many messages as it needs; the keyboard goes with
    /// the last part. Returns the id of the last message sent.
    pub async fn send_text(
        &self,
        chat: i64,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<MessageId, TelegramError> {
        let parts = split_text(text, MAX_TEXT_UNITS);
        let last = parts.len().saturating_sub(1);
        let mut sent = MessageId(0);
        for (i, part) in parts.iter().enumerate() {
            let markup = if i == last { keyboard.clone() } else { None };
            sent = self
                .with_retry(chat, || {
                    let request = self.bot.send_message(ChatId(chat), part.as_str());
                    let request = match markup.clone() {
                        Some(m) => request.reply_markup(m),
                        None => request,
                    };
                    async move { request.await.map(|m| m.id) }
                })
                .await?;
        }
        Ok(sent)
    }

    /// Runs one request for `chat` within the limits, retrying on 429 (after `retry_after`)
    /// and on network errors (with backoff). Other API errors (blocked by the user, chat not
    /// found) are not retried.
    pub async fn with_retry<T, F, Fut>(&self, chat: i64, mut request: F) -> Result<T, TelegramError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.wait(chat).await;
            match request().await {
                Ok(value) => return Ok(value),
                Err(RequestError::RetryAfter(after)) if attempt < MAX_ATTEMPTS => {
                    tracing::info!(chat, retry_after = %after, "Telegram asked to slow down");
                    self.limiter.back_off(chat, after.duration());
                }
                Err(RequestError::Network(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(chat, error = %e, "sending to Telegram failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(TelegramError::Request(e)),
            }
        }
    }
}

/// Splits `text` into parts of at most `max_units` UTF-16 code units (how Telegram counts),
/// preferring paragraph breaks, then line breaks, then spaces; a word longer than a whole part
/// is cut between characters.
pub fn split_text(text: &str, max_units: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while utf16_len(rest) > max_units {
        // The longest prefix that fits, as a byte index on a char boundary.
        let mut units = 0;
        let mut fit = 0;
        for (i, c) in rest.char_indices() {
            units += c.len_utf16();
            if units > max_units {
                break;
            }
            fit = i + c.len_utf8();
        }
        let head = &rest[..fit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .filter_map(|sep| head.rfind(sep).filter(|&at| at > 0))
            .next()
            .unwrap_or(fit);
        let (part, tail) = rest.split_at(cut);
        parts.push(part.trim_end().to_owned());
        rest = tail.trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_one_part() {
        assert_eq!(split_text("hello", 4096), vec!["hello".to_owned()]);
    }

    #[test]
    fn splits_on_paragraphs_then_words() {
        let para = "word ".repeat(500); // 2,500 characters
        let text = format!("{}\n\n{}", para.trim(), para.trim());
        let parts = split_text(&text, 4096);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], para.trim());
        assert_eq!(parts[1], para.trim());

        let words = "abcd ".repeat(1000); // 5,000 characters, no line breaks
        let parts = split_text(&words, 4096);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| utf16_len(p) <= 4096));
        assert!(
            parts
                .iter()
                .all(|p| !p.starts_with(' ') && !p.ends_with(' '))
        );
        assert_eq!(parts.join(" "), words.trim());
    }

    #[test]
    fn counts_like_telegram_and_cuts_long_words() {
        // Each emoji is two UTF-16 units: 3,000 of them are 6,000 units.
        let emoji = "😀".repeat(3000);
        let parts = split_text(&emoji, 4096);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), 2048);
        assert_eq!(parts.concat(), emoji);
    }

    #[tokio::test]
    async fn spaces_messages_per_chat_and_in_all() {
        let limiter = Limiter::new(SendLimits {
            per_second: 100,
            per_chat_interval: Duration::from_millis(200),
        });
        let start = Instant::now();
        limiter.wait(1).await;
        limiter.wait(1).await;
        assert!(start.elapsed() >= Duration::from_millis(200));

        let start = Instant::now();
        for chat in 100..150 {
            limiter.wait(chat).await;
        }
        // 50 chats at 100 per second take about half a second.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(480), "{took:?}");
        assert!(took < Duration::from_millis(900), "{took:?}");

        limiter.back_off(7, Duration::from_millis(300));
        let start = Instant::now();
        limiter.wait(7).await;
        assert!(start.elapsed() >= Duration::from_millis(290));
    }
}
