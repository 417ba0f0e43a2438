//! The website widget channel: the JSON protocol of `docs/protocol.md` over `/ws/widget`.
//!
//! Each connection is one task running one `select!` loop over the socket, the conversation's hub
//! subscription and the shutdown signal. One task (rather than split reader and writer tasks) keeps
//! an idle connection small: the target is at most 16 KiB of server memory per idle socket.

mod nps;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{
    CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade, close_code,
};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::error::ApiError;
use crate::engine::{ClientId, CustomerInput, EngineError, MessageText};
use crate::hub::{HubEvent, Subscription};
use crate::store::SurveyKind;
use crate::store::{Author, Channel, ConversationState, Message, SuggestedArticle};
use crate::surveys::{Answer, Comment, Score, SurveyError, Surveys};

const CSAT_QUESTION: &str = "How would you rate the help you got?";

/// Largest frame the protocol accepts; larger ones get `frame_too_large` and the socket stays open.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Largest frame the websocket layer reads at all; beyond this it closes with 1009.
pub const HARD_FRAME_LIMIT: usize = 64 * 1024;
/// Refused frames tolerated on one connection before it is closed with 1008.
pub const MAX_PROTOCOL_ERRORS: u32 = 10;
/// tungstenite reads in chunks of this size. The default (128 KiB) would dominate an idle
/// connection's memory; widget frames are small.
const READ_BUFFER_BYTES: usize = 2 * 1024;

// ---- wire format ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientFrame {
    Hello {
        #[serde(default)]
        visitor_token: Option<String>,
        #[serde(default)]
        last_seen_id: Option<i64>,
    },
    /// The customer's rating of a resolved conversation (1-5) with an optional comment.
    Csat {
        score: i64,
        #[serde(default)]
        comment: Option<String>,
    },
    Message {
        client_id: String,
        text: String,
    },
    Choose {
        client_id: String,
        article_id: String,
    },
    Handoff {
        client_id: String,
    },
    Typing {
        active: bool,
    },
    /// Asks for a one-time code to continue this conversation's customer in Telegram.
    LinkTelegram,
    /// The customer's NPS score (0-10) for the question `ask_id`.
    Nps {
        ask_id: i64,
        score: i64,
    },
    /// The reason for the NPS score; `null` (or absent) skips it.
    NpsReason {
        ask_id: i64,
        #[serde(default)]
        reason: Option<String>,
    },
    /// "No thanks" on a survey card (`ask_id` names the NPS question).
    SurveyDismiss {
        kind: SurveyKind,
        #[serde(default)]
        ask_id: Option<i64>,
    },
    /// "Don't ask me again": no more surveys or proactive messages.
    SurveyOptOut,
}

const CLIENT_TYPES: &[&str] = &[
    "csat",
    "hello",
    "message",
    "choose",
    "handoff",
    "typing",
    "link_telegram",
    "nps",
    "nps_reason",
    "survey_dismiss",
    "survey_opt_out",
];

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Welcome {
        visitor_token: &'a str,
        conversation_id: i64,
        state: ConversationState,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_name: Option<&'a str>,
    },
    Ack {
        client_id: &'a str,
        message_id: i64,
    },
    Message {
        id: i64,
        author: Author,
        text: &'a str,
        created_at: i64,
        client_id: Option<&'a str>,
        article_id: Option<&'a str>,
        suggestions: &'a [SuggestedArticle],
        offer_handoff: bool,
        author_name: Option<&'a str>,
    },
    State {
        state: ConversationState,
        reason: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        agent_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        queue_position: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        estimated_wait_seconds: Option<u64>,
    },
    Typing {
        author: Author,
        active: bool,
    },
    /// Asks the customer to rate the conversation that was just resolved (CSAT), or how
    /// likely they are to recommend us (NPS, with its `ask_id` and the scale's end labels).
    Survey {
        kind: &'static str,
        question: &'static str,
        min: u8,
        max: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        ask_id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        min_label: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_label: Option<&'static str>,
    },
    /// The NPS score was recorded: the follow-up question (answer with `nps_reason`).
    SurveyReason {
        kind: &'static str,
        ask_id: i64,
        question: &'static str,
    },
    /// The rating was recorded.
    SurveyThanks {
        kind: &'static str,
    },
    /// The survey card was dismissed.
    SurveyClosed {
        kind: &'static str,
    },
    /// The opt-out is stored: no more surveys.
    SurveyOptedOut,
    LinkCode {
        code: &'a str,
        expires_in: u64,
    },
    Error {
        code: &'static str,
        message: &'a str,
        client_id: Option<&'a str>,
    },
}

impl<'a> ServerFrame<'a> {
    fn message(m: &'a Message) -> Self {
        ServerFrame::Message {
            id: m.id,
            author: m.author,
            text: &m.body,
            created_at: m.created_at,
            client_id: m.client_id.as_deref(),
            article_id: m.article_id.as_deref(),
            suggestions: &m.meta.suggestions,
            offer_handoff: m.meta.offer_handoff,
            author_name: m.meta.author_name.as_deref(),
        }
    }
}

/// A refused frame: reported to the client, counted towards [`MAX_PROTOCOL_ERRORS`].
struct Refusal {
    code: &'static str,
    message: String,
    client_id: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            client_id: None,
        }
    }
    fn about(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }
}

/// Turns one websocket payload into a [`ClientFrame`], naming precisely what is wrong.
fn parse_frame(bytes: &[u8]) -> Result<ClientFrame, Refusal> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(Refusal::new(
            "frame_too_large",
            format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Refusal::new("invalid_utf8", "the frame is not valid UTF-8"))?;
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Refusal::new("invalid_json", format!("the frame is not valid JSON: {e}")))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| Refusal::new("bad_request", "the frame has no \"type\""))?;
    if !CLIENT_TYPES.contains(&kind) {
        return Err(Refusal::new(
            "unknown_type",
            format!("unknown frame type {kind:?}"),
        ));
    }
    serde_json::from_value(value).map_err(|e| Refusal::new("bad_request", e.to_string()))
}

// ---- connection ----------------------------------------------------------------------------

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(permit) = state.connections.try_acquire(peer.ip()) else {
        return ApiError::TooManyConnections.into_response();
    };
    let tracker = state.tracker.clone();
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                Connection::new(state, socket).run().await;
                drop(permit);
            })
        })
}

/// Where a connection stands after `hello`.
struct Session {
    conversation_id: i64,
    customer_id: i64,
    updates: Subscription,
}

struct Connection {
    state: AppState,
    socket: WebSocket,
    session: Option<Session>,
    errors: u32,
    bucket: TokenBucket,
}

enum Flow {
    Continue,
    Close(u16, &'static str),
}

impl Connection {
    fn new(state: AppState, socket: WebSocket) -> Self {
        let rate = state.limits.ws_messages_per_second;
        Connection {
            state,
            socket,
            session: None,
            errors: 0,
            bucket: TokenBucket::new(rate),
        }
    }

    async fn run(mut self) {
        let shutdown = self.state.shutdown.clone();
        let close = loop {
            let flow = tokio::select! {
                frame = self.socket.recv() => match frame {
                    Some(Ok(WsMessage::Text(text))) => self.on_frame(text.as_bytes()).await,
                    Some(Ok(WsMessage::Binary(bytes))) => self.on_frame(&bytes).await,
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Ok(Flow::Continue),
                    Some(Ok(WsMessage::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "widget socket failed");
                        break None;
                    }
                },
                update = recv_update(&mut self.session) => self.on_update(update).await,
                () = shutdown.cancelled() => Ok(Flow::Close(close_code::AWAY, "server going away")),
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Close(code, reason)) => break Some((code, reason)),
                Err(()) => break None,
            }
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = self.socket.send(WsMessage::Close(Some(frame))).await;
        }
    }

    /// Handles one frame from the client. `Err` means the socket is gone.
    async fn on_frame(&mut self, bytes: &[u8]) -> Result<Flow, ()> {
        match self.handle_frame(bytes).await {
            Ok(()) => Ok(Flow::Continue),
            Err(refusal) => {
                self.send(&ServerFrame::Error {
                    code: refusal.code,
                    message: &refusal.message,
                    client_id: refusal.client_id.as_deref(),
                })
                .await?;
                if refusal.code == "internal" {
                    return Ok(Flow::Continue);
                }
                self.errors += 1;
                if self.errors >= MAX_PROTOCOL_ERRORS {
                    return Ok(Flow::Close(close_code::POLICY, "too many protocol errors"));
                }
                Ok(Flow::Continue)
            }
        }
    }

    async fn handle_frame(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let frame = parse_frame(bytes)?;
        let (conversation_id, customer_id) = match (&frame, &self.session) {
            (ClientFrame::Hello { .. }, Some(_)) => {
                return Err(Refusal::new("bad_request", "hello was already sent"));
            }
            (ClientFrame::Hello { .. }, None) => (0, 0),
            (_, None) => return Err(Refusal::new("hello_required", "send hello first")),
            (_, Some(session)) => (session.conversation_id, session.customer_id),
        };
        let engine = self.state.engine.clone();
        let (client_id, input) = match frame {
            ClientFrame::Hello {
                visitor_token,
                last_seen_id,
            } => return self.hello(visitor_token, last_seen_id.unwrap_or(0)).await,
            ClientFrame::Typing { active } => {
                engine.typing(conversation_id, Author::Customer, active);
                return Ok(());
            }
            ClientFrame::Message { client_id, text } => {
                let input = MessageText::parse(&text)
                    .map(CustomerInput::Text)
                    .map_err(|e| Refusal::new("bad_request", e.to_string()).about(&client_id))?;
                (client_id, input)
            }
            ClientFrame::Choose {
                client_id,
                article_id,
            } => (client_id, CustomerInput::Choose { article_id }),
            ClientFrame::Handoff { client_id } => (client_id, CustomerInput::AskForPerson),
            ClientFrame::LinkTelegram => return self.link_code(conversation_id).await,
            ClientFrame::Csat { score, comment } => {
                return self.csat(conversation_id, score, comment).await;
            }
            ClientFrame::Nps { ask_id, score } => {
                return self.nps_score(customer_id, ask_id, score).await;
            }
            ClientFrame::NpsReason { ask_id, reason } => {
                return self.nps_reason(customer_id, ask_id, reason).await;
            }
            ClientFrame::SurveyDismiss { kind, ask_id } => {
                return self
                    .survey_dismiss(conversation_id, customer_id, kind, ask_id)
                    .await;
            }
            ClientFrame::SurveyOptOut => return self.survey_opt_out(customer_id).await,
        };
        let client_id =
            ClientId::parse(&client_id).map_err(|e| Refusal::new("bad_request", e.to_string()))?;
        if !self.bucket.take() {
            return Err(Refusal::new(
                "rate_limited",
                "too many messages; re-send this one later with the same client_id",
            )
            .about(client_id.as_str()));
        }
        let receipt = engine
            .customer_turn(conversation_id, &client_id, input)
            .await
            .map_err(|e| match e {
                EngineError::Invalid(msg) => Refusal::new("bad_request", msg),
                EngineError::ArticleNotFound => Refusal::new("bad_request", "unknown article_id"),
                other => {
                    tracing::error!(error = ?other, conversation_id, "customer turn failed");
                    Refusal::new("internal", "the message could not be stored; send it again")
                }
            })
            .map_err(|r| r.about(client_id.as_str()))?;
        self.send(&ServerFrame::Ack {
            client_id: client_id.as_str(),
            message_id: receipt.message_id,
        })
        .await
        .map_err(|()| Refusal::new("internal", "socket closed"))
    }

    async fn hello(&mut self, token: Option<String>, last_seen_id: i64) -> Result<(), Refusal> {
        let internal = |e: EngineError| {
            tracing::error!(error = ?e, "widget hello failed");
            Refusal::new("internal", "could not start the conversation; try again")
        };
        let engine = self.state.engine.clone();
        // A token we never issued, or a malformed one, starts a new visitor: it proves nothing.
        let known = match token.filter(|t| is_token(t)) {
            Some(token) => engine
                .store()
                .customer_by_identity(Channel::Web, &token_key(&token))
                .await
                .map_err(|e| internal(e.into()))?
                .map(|customer| (token, customer)),
            None => None,
        };
        let (token, customer_id) = match known {
            Some(found) => found,
            None => {
                let token = new_token();
                let customer = engine
                    .customer_for(Channel::Web, &token_key(&token))
                    .await
                    .map_err(internal)?;
                (token, customer)
            }
        };
        let conversation = engine
            .current_conversation(customer_id, Channel::Web)
            .await
            .map_err(internal)?;
        // Subscribe before reading the history so nothing falls between the two.
        let updates = engine.subscribe(conversation.id);
        let missed = engine
            .history_after(conversation.id, last_seen_id)
            .await
            .map_err(internal)?;
        self.session = Some(Session {
            conversation_id: conversation.id,
            customer_id,
            updates,
        });
        let closed = || Refusal::new("internal", "socket closed");
        let agent_name = match conversation.assigned_to {
            Some(id) if conversation.state == ConversationState::Agent => {
                engine.store().staff(id).await.ok().map(|s| s.display_name)
            }
            _ => None,
        };
        self.send(&ServerFrame::Welcome {
            visitor_token: &token,
            conversation_id: conversation.id,
            state: conversation.state,
            agent_name: agent_name.as_deref(),
        })
        .await
        .map_err(|()| closed())?;
        for message in &missed {
            self.send(&ServerFrame::message(message))
                .await
                .map_err(|()| closed())?;
        }
        // One survey at a time: CSAT about a resolved conversation first; else the NPS
        // question still open from an earlier visit, or a new one if due.
        let asked_csat = conversation.state == ConversationState::Resolved
            && self
                .ask_csat(conversation.id)
                .await
                .map_err(|()| closed())?;
        if !asked_csat {
            self.offer_nps(&conversation).await.map_err(|()| closed())?;
        }
        if conversation.state == ConversationState::Waiting
            && let Some((position, wait)) = self.state.dispatcher.position(conversation.id)
        {
            self.send(&ServerFrame::State {
                state: ConversationState::Waiting,
                reason: None,
                agent_name: None,
                queue_position: Some(position),
                estimated_wait_seconds: Some(wait),
            })
            .await
            .map_err(|()| closed())?;
        }
        Ok(())
    }

    /// Issues a one-time code the customer sends to the Telegram bot (`/link CODE`).
    async fn link_code(&mut self, conversation_id: i64) -> Result<(), Refusal> {
        let store = self.state.engine.store().clone();
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = ?e, "issuing a link code failed");
            Refusal::new("internal", "could not issue a code; try again")
        };
        let conversation = store
            .conversation(conversation_id)
            .await
            .map_err(internal)?;
        let code = crate::linking::issue(&store, conversation.customer_id)
            .await
            .map_err(internal)?;
        self.send(&ServerFrame::LinkCode {
            code: &code.code,
            expires_in: code.expires_in.as_secs(),
        })
        .await
        .map_err(|()| Refusal::new("internal", "socket closed"))
    }

    fn surveys(&self) -> Surveys {
        Surveys::new(
            self.state.engine.store().clone(),
            Arc::clone(self.state.engine.sentiment()),
        )
    }

    /// Asks for CSAT when the conversation is resolved, not yet rated and the customer did not
    /// opt out. True when it asked.
    async fn ask_csat(&mut self, conversation_id: i64) -> Result<bool, ()> {
        match self.surveys().csat_due(conversation_id).await {
            Ok(true) => {
                self.send(&ServerFrame::Survey {
                    kind: "csat",
                    question: CSAT_QUESTION,
                    min: 1,
                    max: 5,
                    ask_id: None,
                    min_label: None,
                    max_label: None,
                })
                .await?;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                tracing::warn!(error = ?e, conversation_id, "could not check the CSAT survey");
                Ok(false)
            }
        }
    }

    async fn csat(
        &mut self,
        conversation_id: i64,
        score: i64,
        comment: Option<String>,
    ) -> Result<(), Refusal> {
        let bad = |e: SurveyError| match e {
            SurveyError::Store(inner) => {
                tracing::error!(error = ?inner, "recording CSAT failed");
                Refusal::new("internal", "the rating could not be stored; send it again")
            }
            other => Refusal::new("bad_request", other.to_string()),
        };
        let score = Score::parse(SurveyKind::Csat, score).map_err(bad)?;
        let comment = match comment.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(Comment::parse(text).map_err(bad)?),
            _ => None,
        };
        let conversation = self
            .state
            .engine
            .store()
            .conversation(conversation_id)
            .await
            .map_err(|_| Refusal::new("internal", "try again"))?;
        if conversation.state != ConversationState::Resolved {
            return Err(Refusal::new(
                "bad_request",
                "only a resolved conversation can be rated",
            ));
        }
        self.surveys()
            .record(Answer {
                customer_id: conversation.customer_id,
                conversation_id: Some(conversation_id),
                channel: Channel::Web,
                score,
                comment,
            })
            .await
            .map_err(bad)?;
        self.send(&ServerFrame::SurveyThanks { kind: "csat" })
            .await
            .map_err(|()| Refusal::new("internal", "socket closed"))?;
        self.offer_nps(&conversation)
            .await
            .map_err(|()| Refusal::new("internal", "socket closed"))
    }

    async fn on_update(&mut self, update: Result<HubEvent, RecvError>) -> Result<Flow, ()> {
        match update {
            Ok(HubEvent::Message(message)) => self.send(&ServerFrame::message(&message)).await?,
            Ok(HubEvent::State {
                conversation_id,
                state,
                reason,
                agent_name,
            }) => {
                self.send(&ServerFrame::State {
                    state,
                    reason: reason.as_deref(),
                    agent_name: agent_name.as_deref(),
                    queue_position: None,
                    estimated_wait_seconds: None,
                })
                .await?;
                if state == ConversationState::Resolved && !self.ask_csat(conversation_id).await? {
                    match self
                        .state
                        .engine
                        .store()
                        .conversation(conversation_id)
                        .await
                    {
                        Ok(conversation) => self.offer_nps(&conversation).await?,
                        Err(e) => {
                            tracing::warn!(error = ?e, conversation_id, "reading a resolved conversation failed")
                        }
                    }
                }
            }
            Ok(HubEvent::QueuePosition {
                position,
                estimated_wait_seconds,
                ..
            }) => {
                self.send(&ServerFrame::State {
                    state: ConversationState::Waiting,
                    reason: None,
                    agent_name: None,
                    queue_position: Some(position),
                    estimated_wait_seconds: Some(estimated_wait_seconds),
                })
                .await?
            }
            // Agents only; never on a customer's topic.
            Ok(HubEvent::Note(_) | HubEvent::Agents(_)) => {}
            Ok(HubEvent::Typing { author, active, .. }) if author != Author::Customer => {
                self.send(&ServerFrame::Typing { author, active }).await?
            }
            Ok(HubEvent::Typing { .. }) => {}
            Err(RecvError::Lagged(_)) => {
                // Fell behind the hub: the client's next resume replays by id; ask for it now.
                return Ok(Flow::Close(
                    close_code::AGAIN,
                    "lagged; reconnect to resume",
                ));
            }
            Err(RecvError::Closed) => return Err(()),
        }
        Ok(Flow::Continue)
    }

    async fn send(&mut self, frame: &ServerFrame<'_>) -> Result<(), ()> {
        let text = serde_json::to_string(frame).map_err(|_| ())?;
        self.socket
            .send(WsMessage::Text(text.into()))
            .await
            .map_err(|_| ())
    }
}

/// Waits for the next hub event of the session, or forever before `hello`.
async fn recv_update(session: &mut Option<Session>) -> Result<HubEvent, RecvError> {
    match session {
        Some(session) => session.updates.recv().await,
        None => std::future::pending().await,
    }
}

// ---- visitor tokens ------------------------------------------------------------------------

/// A new visitor token: 32 random bytes, hex. The browser keeps it; we keep only its hash.
fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn is_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The identity key stored for a token: its SHA-256, so a database leak does not leak sessions.
fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

// ---- rate limit ----------------------------------------------------------------------------

/// Messages per second per connection, with a burst of twice the rate.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        TokenBucket {
            rate,
            capacity: rate * 2.0,
            tokens: rate * 2.0,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).min(Duration::from_secs(60));
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(bytes: &[u8]) -> &'static str {
        match parse_frame(bytes) {
            Ok(_) => "ok",
            Err(r) => r.code,
        }
    }

    #[test]
    fn names_what_is_wrong_with_a_frame() {
        assert_eq!(code(br#"{"type":"hello"}"#), "ok");
        assert_eq!(
            code(br#"{"type":"message","client_id":"a","text":"hi"}"#),
            "ok"
        );
        assert_eq!(code(br#"{"type":"link_telegram"}"#), "ok");
        assert_eq!(code(b"not json"), "invalid_json");
        assert_eq!(code(b"\xff\xfe"), "invalid_utf8");
        assert_eq!(code(br#"{"type":"launch"}"#), "unknown_type");
        assert_eq!(code(br#"{"text":"hi"}"#), "bad_request");
        assert_eq!(code(br#"[1,2]"#), "bad_request");
        assert_eq!(code(br#"{"type":"message","text":"hi"}"#), "bad_request");
        assert_eq!(
            code(br#"{"type":"message","client_id":"a","text":"hi","x":1}"#),
            "bad_request"
        );
        let big = format!(
            r#"{{"type":"message","client_id":"a","text":"{}"}}"#,
            "a".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(code(big.as_bytes()), "frame_too_large");
    }

    #[test]
    fn tokens_are_hashed_and_checked() {
        let token = new_token();
        assert!(is_token(&token));
        assert!(!is_token("abc"));
        assert_ne!(token_key(&token), token);
        assert_eq!(token_key(&token), token_key(&token));
    }

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let mut bucket = TokenBucket::new(5);
        let allowed = (0..20).filter(|_| bucket.take()).count();
        assert_eq!(allowed, 10);
    }
}
