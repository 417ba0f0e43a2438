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
        Assigned = "assigned",
        Unassigned = "unassigned",
        FirstAgentResponse = "first_agent_response",
        Resolved = "resolved",
        ReturnedToBot = "returned_to_bot",
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
    /// The staff member who owns the conversation (while waiting: who it is assigned to).
    pub assigned_to: Option<i64>,
    /// When the conversation entered the queue for a person (Unix ms).
    pub waiting_since: Option<i64>,
    /// Why it was handed to a person (a machine code such as `customer_asked`).
    pub handoff_reason: Option<String>,
    /// When a person first replied since it entered the queue.
    pub first_response_at: Option<i64>,
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
    /// With `new_state` waiting: why (stored on the conversation for the queue).
    pub handoff_reason: Option<String>,
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

/// A staff member (owner or agent). The password hash never leaves the store except through
/// [`super::Store::staff_credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staff {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub capacity: i64,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct StaffRow {
    id: i64,
    email: String,
    display_name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    capacity: i64,
    disabled_at: Option<i64>,
    created_at: i64,
}

impl From<StaffRow> for Staff {
    fn from(r: StaffRow) -> Self {
        Staff {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            capacity: r.capacity,
            disabled: r.disabled_at.is_some(),
            created_at: r.created_at,
        }
    }
}

/// A staff member about to be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaff {
    /// Lowercased, trimmed.
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub capacity: i64,
    /// argon2 PHC string; `None` for an invited user who has not set a password yet.
    pub password_hash: Option<String>,
}

/// A private note on a conversation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Note {
    pub id: i64,
    pub conversation_id: i64,
    pub staff_id: i64,
    pub author_name: String,
    pub body: String,
    pub created_at: i64,
}

/// A change to who owns a conversation and where it stands, applied by
/// [`super::Store::apply_change`] only if the conversation is still in `expect_state` with
/// `expect_assigned` (another agent may have acted first), in one transaction with an optional
/// message and the metrics events.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationChange {
    pub conversation_id: i64,
    pub expect_state: ConversationState,
    pub expect_assigned: Option<i64>,
    pub state: ConversationState,
    pub assigned_to: Option<i64>,
    pub waiting_since: Option<i64>,
    pub handoff_reason: Option<String>,
    pub first_response_at: Option<i64>,
    /// A message to store with the change, and the staff member who wrote it.
    pub message: Option<(NewMessage, Option<i64>)>,
    pub events: Vec<NewEvent>,
}

/// What [`super::Store::apply_change`] did.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived return value, never stored in bulk
pub enum Applied {
    Done {
        conversation: Conversation,
        message: Option<Message>,
    },
    /// The message's client id was stored before: nothing changed.
    Duplicate { message_id: i64 },
}

/// One conversation as the agents' queue shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct QueueRow {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub conversation: Conversation,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub customer_external_id: Option<String>,
    pub assigned_name: Option<String>,
    pub segment: Option<String>,
    pub churn_risk: Option<f64>,
    pub at_risk: Option<i64>,
    pub last_message: Option<String>,
    pub last_message_at: Option<i64>,
    /// Customer messages since the last agent message.
    pub unread: i64,
    /// The lowest sentiment of the customer's last three scored messages.
    pub recent_sentiment: Option<f64>,
}

/// A past conversation in the customer panel.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct ConversationSummary {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub state: ConversationState,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_message: Option<String>,
}

/// A survey answer as the customer panel and reports read it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct SurveyAnswer {
    pub kind: String,
    pub score: i64,
    pub comment: Option<String>,
    pub conversation_id: Option<i64>,
    pub created_at: i64,
}

text_enum! {
    /// A survey: CSAT (1 to 5, after a resolved conversation) or NPS (0 to 10).
    SurveyKind { Csat = "csat", Nps = "nps" }
}

/// A stored survey answer.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct SurveyResponse {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: SurveyKind,
    pub customer_id: i64,
    pub conversation_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub score: i64,
    pub comment: Option<String>,
    pub comment_sentiment: Option<f64>,
    pub created_at: i64,
}

/// A survey answer about to be stored (already validated by `crate::surveys`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSurveyResponse {
    pub kind: SurveyKind,
    pub customer_id: i64,
    pub conversation_id: Option<i64>,
    pub channel: Channel,
    pub score: i64,
    pub comment: Option<String>,
    pub comment_sentiment: Option<f64>,
}
