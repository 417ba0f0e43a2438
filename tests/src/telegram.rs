//! A fake Telegram Bot API server on loopback, for driving hark's real teloxide client.
//!
//! It implements what hark calls (getMe, getUpdates with long polling and offsets, sendMessage,
//! answerCallbackQuery, editMessageReplyMarkup, setWebhook, deleteWebhook), records every call
//! with the time it arrived, and can be told to fail the next call of a method (a 429 with
//! `retry_after`, or a body that is not JSON).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const TOKEN: &str = "123456:TEST-token";
const BOT_ID: i64 = 123_456;

/// One recorded Bot API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
    /// The id the fake gave the message it sent (sendMessage only).
    pub message_id: Option<i64>,
}

/// What the next call of a method gets instead of the normal answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 429 with `parameters.retry_after`.
    TooManyRequests { retry_after: u64 },
    /// A 200 whose body is this text verbatim (malformed JSON, odd updates).
    Raw(String),
}

#[derive(Default)]
struct Inner {
    /// Updates not yet confirmed by a getUpdates with a higher offset.
    pending: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
    calls: Vec<Call>,
    scripted: VecDeque<(String, Scripted)>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake server.
pub struct FakeTelegram {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long helpers wait for hark to call the fake.
pub const WAIT: Duration = Duration::from_secs(15);

impl FakeTelegram {
    pub async fn start() -> anyhow::Result<FakeTelegram> {
        let shared = Shared::default();
        {
            let mut inner = shared.lock();
            inner.next_update_id = 1000;
            inner.next_message_id = 1;
        }
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeTelegram { addr, shared, task })
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// hark's Telegram settings pointing at this fake, with a short long-poll.
    pub fn settings(&self) -> hark_bot::telegram::TelegramSettings {
        hark_bot::telegram::TelegramSettings {
            api_url: Some(self.api_url()),
            poll_timeout: Duration::from_secs(1),
            ..hark_bot::telegram::TelegramSettings::new(TOKEN)
        }
    }

    /// Queues an update (its `update_id` is assigned here) and returns its id.
    pub fn push(&self, mut update: Value) -> i64 {
        let mut inner = self.shared.lock();
        inner.next_update_id += 1;
        let id = inner.next_update_id;
        update["update_id"] = json!(id);
        inner.pending.push(update);
        id
    }

    /// A customer writes `text` in private chat `chat`.
    pub fn push_text(&self, chat: i64, text: &str) -> i64 {
        let mut message = customer_message(chat, self.message_id());
        message["text"] = json!(text);
        if text.starts_with('/') {
            let length = text.split_whitespace().next().map_or(0, str::len);
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        self.push(json!({ "message": message }))
    }

    /// A customer sends a sticker.
    pub fn push_sticker(&self, chat: i64) -> i64 {
        let mut message = customer_message(chat, self.message_id());
        message["sticker"] = json!({
            "file_id": "CAACAgIAAxkBAAE", "file_unique_id": "AgADcQAD", "type": "regular",
            "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": "👍"
        });
        self.push(json!({ "message": message }))
    }

    /// A customer edits an earlier message.
    pub fn push_edit(&self, chat: i64, text: &str) -> i64 {
        let mut message = customer_message(chat, self.message_id());
        message["text"] = json!(text);
        message["edit_date"] = json!(1_700_000_100);
        self.push(json!({ "edited_message": message }))
    }

    /// A customer presses a button with `data` under the bot's message `message_id`.
    pub fn push_press(&self, chat: i64, message_id: i64, data: &str) -> i64 {
        let mut message = bot_message(chat, message_id);
        message["text"] = json!("…");
        self.push(json!({
            "callback_query": {
                "id": format!("cb-{}", message_id * 1000 + self.message_id()),
                "from": customer(chat),
                "chat_instance": "ci-1",
                "message": message,
                "data": data,
            }
        }))
    }

    fn message_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        inner.next_message_id += 1;
        inner.next_message_id
    }

    /// The next call of `method` gets `answer`.
    pub fn script(&self, method: &str, answer: Scripted) {
        self.shared
            .lock()
            .scripted
            .push_back((method.to_owned(), answer));
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The messages sent to `chat` so far (sendMessage calls that succeeded or not).
    pub fn sent_to(&self, chat: i64) -> Vec<Call> {
        self.calls_of("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == json!(chat))
            .collect()
    }

    /// Waits until `count` messages were sent to `chat` in all; returns them all.
    pub async fn wait_sent(&self, chat: i64, count: usize) -> anyhow::Result<Vec<Call>> {
        self.wait_for(|fake| {
            let sent = fake.sent_to(chat);
            (sent.len() >= count).then_some(sent)
        })
        .await
    }

    /// Waits until a message whose text contains `needle` was sent to `chat`; returns it.
    pub async fn wait_text(&self, chat: i64, needle: &str) -> anyhow::Result<Call> {
        self.wait_for(|fake| {
            fake.sent_to(chat)
                .into_iter()
                .find(|c| c.body["text"].as_str().is_some_and(|t| t.contains(needle)))
        })
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{e}: no message containing {needle:?}; sent: {:?}",
                texts(&self.sent_to(chat))
            )
        })
    }

    /// Waits until `check` returns something.
    pub async fn wait_for<T>(&self, check: impl Fn(&Self) -> Option<T>) -> anyhow::Result<T> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = check(self) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!("timed out after {WAIT:?} waiting for the bot");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until hark has confirmed every queued update (asked for a higher offset).
    pub async fn wait_confirmed(&self) -> anyhow::Result<()> {
        self.wait_for(|fake| {
            let inner = fake.shared.lock();
            let last = inner.next_update_id;
            let confirmed = inner
                .calls
                .iter()
                .filter(|c| c.method == "getUpdates")
                .any(|c| c.body["offset"].as_i64().is_some_and(|o| o > last));
            confirmed.then_some(())
        })
        .await
    }
}

/// The texts of recorded sendMessage calls.
pub fn texts(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The callback data of the buttons in a sendMessage call, row by row flattened.
pub fn buttons(call: &Call) -> Vec<(String, String)> {
    call.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn customer(chat: i64) -> Value {
    json!({"id": chat, "is_bot": false, "first_name": "Ann", "language_code": "en"})
}

fn customer_message(chat: i64, message_id: i64) -> Value {
    json!({
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "Ann"},
        "from": customer(chat),
    })
}

fn bot_message(chat: i64, message_id: i64) -> Value {
    json!({
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "Ann"},
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Shop", "username": "shop_bot"},
    })
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

async fn handle(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body)
        .ok()
        .or_else(|| multipart_fields(&headers, &body))
        .unwrap_or_else(|| json!({}));
    // Bot API method names are case-insensitive (teloxide sends `SendMessage`); record them as
    // the documentation spells them.
    let mut chars = method.chars();
    let method: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let scripted = {
        let mut inner = shared.lock();
        inner.calls.push(Call {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
            message_id: None,
        });
        let at = inner.scripted.iter().position(|(m, _)| *m == method);
        at.and_then(|i| inner.scripted.remove(i)).map(|(_, s)| s)
    };
    match scripted {
        Some(Scripted::TooManyRequests { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "ok": false, "error_code": 429,
                    "description": format!("Too Many Requests: retry after {retry_after}"),
                    "parameters": {"retry_after": retry_after}
                })),
            )
                .into_response();
        }
        Some(Scripted::Raw(text)) => return text.into_response(),
        None => {}
    }
    match method.as_str() {
        "getMe" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Shop", "username": "shop_bot",
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false
        })),
        "getUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            let timeout = body["timeout"].as_u64().unwrap_or(0).min(30);
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let ready = {
                    let mut inner = shared.lock();
                    // Asking from `offset` confirms (forgets) every update below it.
                    inner
                        .pending
                        .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    inner.pending.iter().take(100).cloned().collect::<Vec<_>>()
                };
                if !ready.is_empty() || Instant::now() >= deadline {
                    return ok(Value::Array(ready));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        "sendMessage" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            let id = {
                let mut inner = shared.lock();
                inner.next_message_id += 1;
                let id = inner.next_message_id;
                if let Some(call) = inner.calls.last_mut() {
                    call.message_id = Some(id);
                }
                id
            };
            let mut message = bot_message(chat, id);
            message["text"] = body["text"].clone();
            if body.get("reply_markup").is_some() {
                message["reply_markup"] = body["reply_markup"].clone();
            }
            ok(message)
        }
        "editMessageReplyMarkup" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            let id = body["message_id"].as_i64().unwrap_or(0);
            let mut message = bot_message(chat, id);
            message["text"] = json!("…");
            ok(message)
        }
        "answerCallbackQuery" | "setWebhook" | "deleteWebhook" => ok(json!(true)),
        other => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"ok": false, "error_code": 404, "description": format!("Not Found: method {other}")})),
        )
            .into_response(),
    }
}

/// The text fields of a `multipart/form-data` body (teloxide sends setWebhook that way) as a
/// JSON object.
fn multipart_fields(headers: &axum::http::HeaderMap, body: &[u8]) -> Option<Value> {
    let content_type = headers.get("content-type")?.to_str().ok()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        fields.insert(name.to_owned(), value);
    }
    Some(Value::Object(fields))
}
