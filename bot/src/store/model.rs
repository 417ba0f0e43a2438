//! The rows hark stores and the enums behind their text columns.

use serde::{Deserialize, Serialize};

use super::StoreError;

/// Declares a closed set of values stored as lowercase text, with `as_str`, `FromStr` and the
/// `TryFrom<String>` that sqlx's `#[sqlx(try_from = "String")]` uses when reading rows.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, StoreError> {
                s.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a customer talks to us.
    Channel { Web = "web", Telegram = "telegram" }
}

text_enum! {
    /// The life of a conversation: the bot answers until someone asks for a person; then it
    /// waits for one; an agent owns it (and the bot is silent); finally it is resolved.
    ConversationState { Bot = "bot", Waiting = "waiting", Agent = "agent", Resolved = "resolved" }
}

text_enum! {
    /// Who wrote a message.
    Author { Customer = "customer", Bot = "bot", Agent = "agent", System = "system" }
}

text_enum! {
    /// Metrics events. Reports are computed from these rows.
    EventKind {
        ConversationStarted = "conversation_started",
        MessageReceived = "message_received",
        Answered = "answered",
        Clarified = "clarified",
        ClarifyChosen = "clarify_chosen",
        NotAnswered = "not_answered",
        HandoffRequested = "handoff_requested",
        Reopened = "reopened",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Customer {
    pub id: i64,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Conversation {
    pub id: i64,
    pub customer_id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub state: ConversationState,
    pub unanswered_streak: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a message carries beyond its text; stored as JSON so later issues can add fields
/// without a migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageMeta {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<SuggestedArticle>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offer_handoff: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

impl std::fmt::Display for MessageMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&json)
    }
}

impl TryFrom<String> for MessageMeta {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("message meta: {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestedArticle {
    pub article_id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    #[sqlx(try_from = "String")]
    pub author: Author,
    pub body: String,
    pub client_id: Option<String>,
    pub article_id: Option<String>,
    pub sentiment: Option<f64>,
    #[sqlx(try_from = "String")]
    pub meta: MessageMeta,
    pub created_at: i64,
}

impl Message {
    pub(super) fn from_new(
        id: i64,
        conversation_id: i64,
        new: &NewMessage,
        created_at: i64,
    ) -> Self {
        Message {
            id,
            conversation_id,
            author: new.author,
            body: new.body.clone(),
            client_id: new.client_id.clone(),
            article_id: new.article_id.clone(),
            sentiment: new.sentiment,
            meta: new.meta.clone(),
            created_at,
        }
    }
}

/// A message about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub author: Author,
    pub body: String,
    pub client_id: Option<String>,
    pub article_id: Option<String>,
    pub sentiment: Option<f64>,
    pub meta: MessageMeta,
}

impl NewMessage {
    pub fn new(author: Author, body: impl Into<String>) -> Self {
        NewMessage {
            author,
            body: body.into(),
            client_id: None,
            article_id: None,
            sentiment: None,
            meta: MessageMeta::default(),
        }
    }
}

/// How a turn changes the count of consecutive questions the bot could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreakChange {
    Keep,
    Reset,
    Increment,
}

/// One customer turn: the customer's message, the replies decided for it, and its effects.
#[derive(Debug, Clone)]
pub struct NewTurn {
    pub conversation_id: i64,
    pub customer: NewMessage,
    pub replies: Vec<NewMessage>,
    pub new_state: Option<ConversationState>,
    pub streak: StreakChange,
    pub events: Vec<NewEvent>,
}

/// What [`super::Store::record_exchange`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Exchange {
    /// Stored: the customer's message first, then the replies.
    Stored { messages: Vec<Message> },
    /// A message with the same client id was already stored under `message_id`.
    Duplicate { message_id: i64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub conversation_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            conversation_id: None,
            customer_id: None,
            data: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn conversation(mut self, id: i64) -> Self {
        self.conversation_id = Some(id);
        self
    }
    pub fn customer(mut self, id: i64) -> Self {
        self.customer_id = Some(id);
        self
    }
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct Event {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    pub conversation_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub data: String,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct ArticleRow {
    id: String,
    title: String,
    answer: String,
    questions: String,
    tags: String,
}

impl ArticleRow {
    pub(super) fn into_article(self) -> Result<kb::Article, StoreError> {
        let list = |field: &str, raw: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(raw)
                .map_err(|e| StoreError::Corrupt(format!("article {} {field}: {e}", self.id)))
        };
        Ok(kb::Article {
            questions: list("questions", &self.questions)?,
            tags: list("tags", &self.tags)?,
            id: self.id,
            title: self.title,
            answer: self.answer,
        })
    }
}

/// What [`super::Store::import_transactions`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransactionImport {
    pub inserted: usize,
    /// Purchases whose order id was already stored for the customer.
    pub skipped: usize,
    pub new_customers: usize,
}

/// A stored purchase.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct Purchase {
    pub customer: String,
    pub occurred_on: String,
    pub amount: f64,
    pub order_id: Option<String>,
}

text_enum! {
    /// What a staff member may do: owners manage users, settings and reports; agents work
    /// conversations. Owners can work conversations too.
    Role { Owner = "owner", Agent = "agent" }
}

text_enum! {
    /// A customer's value segment (by CLV rank).
    Segment { High = "high", Mid = "mid", Low = "low" }
}

text_enum! {
    /// Whether an agent's task is still to do.
    TaskState { Open = "open", Done = "done" }
}

/// A task for agents that is not a live chat (at-risk outreach, detractor follow-up, a message
/// left outside business hours).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct Task {
    pub id: i64,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub title: String,
    /// JSON object with the task's particulars (reasons, scores, the message left).
    pub detail: String,
    #[sqlx(try_from = "String")]
    pub state: TaskState,
    pub assigned_to: Option<i64>,
    pub created_at: i64,
    pub done_at: Option<i64>,
    pub done_by: Option<i64>,
}

/// A task about to be raised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub kind: String,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub title: String,
    pub detail: serde_json::Value,
}

/// The latest value scores of one customer, as the value model stored them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerScore {
    pub customer_id: i64,
    pub model_version: String,
    /// When the model these scores come from was fitted (Unix ms).
    pub fitted_at: i64,
    pub scored_at: i64,
    pub p_alive: Option<f64>,
    pub expected_purchases: Option<f64>,
    pub clv: Option<f64>,
    pub segment: Segment,
    /// In [0, 1].
    pub churn_risk: f64,
    pub at_risk: bool,
    /// Plain-words reasons for the churn risk.
    pub reasons: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CustomerScoreRow {
    customer_id: i64,
    model_version: String,
    fitted_at: i64,
    scored_at: i64,
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    clv: Option<f64>,
    #[sqlx(try_from = "String")]
    segment: Segment,
    churn_risk: f64,
    at_risk: i64,
    reasons: String,
}

impl CustomerScoreRow {
    pub(super) fn into_score(self) -> Result<CustomerScore, StoreError> {
        let reasons = serde_json::from_str(&self.reasons).map_err(|e| {
            StoreError::Corrupt(format!("customer {} score reasons: {e}", self.customer_id))
        })?;
        Ok(CustomerScore {
            customer_id: self.customer_id,
            model_version: self.model_version,
            fitted_at: self.fitted_at,
            scored_at: self.scored_at,
            p_alive: self.p_alive,
            expected_purchases: self.expected_purchases,
            clv: self.clv,
            segment: self.segment,
            churn_risk: self.churn_risk,
            at_risk: self.at_risk != 0,
            reasons,
        })
    }
}
