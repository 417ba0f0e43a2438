//! The conversation engine: what happens when a customer writes, whatever the channel.
//!
//! *Architecture invariant*: this module knows nothing of HTTP, websockets or Telegram. Channels
//! parse their wire format into [`ClientId`], [`MessageText`] and the engine's calls, and render
//! the [`HubEvent`]s they receive back into their own format.
//!
//! One customer turn is decided (knowledge-base answer, clarification, handoff), stored in one
//! transaction together with the bot's reply and the metrics events, and only then published and
//! acknowledged.

mod agent;
mod escalation;

use std::sync::Arc;

pub use agent::{Agent, AssignedBy};
pub use escalation::{BusinessHours, EscalationPolicy, describe_opening, find_email};
use feedback::sentiment::Analyzer;
use kb::{KnowledgeBase, Outcome};
use serde_json::json;

use crate::hub::{Hub, HubEvent, Subscription, Topic};
use crate::store::Store;
use crate::store::{
    Author, Channel, Conversation, ConversationState, EventKind, Exchange, Message, NewEvent,
    NewMessage, NewTurn, StoreError, StreakChange, SuggestedArticle,
};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(String),
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("article not found")]
    ArticleNotFound,
    #[error("another agent owns this conversation")]
    AlreadyAssigned,
    #[error("the conversation is changing too often; try again")]
    Busy,
    #[error(transparent)]
    Store(StoreError),
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => EngineError::ConversationNotFound,
            other => EngineError::Store(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The longest message a customer may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// A customer's message text: trimmed, non-empty, at most [`MAX_MESSAGE_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(EngineError::Invalid("text is empty".into()));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(EngineError::Invalid(format!(
                "text is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        Ok(MessageText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen message id that makes sends idempotent: 1–64 of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(ClientId(raw.to_owned()))
        } else {
            Err(EngineError::Invalid(
                "client_id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the customer did in one turn.
#[derive(Debug, Clone)]
pub enum CustomerInput {
    /// Wrote a message.
    Text(MessageText),
    /// Picked one of the suggested articles.
    Choose { article_id: String },
    /// Pressed "talk to a person".
    AskForPerson,
}

/// The answer to a customer turn: the stored id of the customer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: i64,
    /// True when this client id was already stored; nothing new happened.
    pub duplicate: bool,
}

/// Why a conversation was handed to a person; recorded with the `handoff_requested` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    CustomerButton,
    CustomerAsked,
    BotCouldNotAnswer,
    NegativeSentiment,
    ValuedCustomerSensitiveTopic,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::CustomerButton => "customer_button",
            HandoffReason::CustomerAsked => "customer_asked",
            HandoffReason::BotCouldNotAnswer => "bot_could_not_answer",
            HandoffReason::NegativeSentiment => "negative_sentiment",
            HandoffReason::ValuedCustomerSensitiveTopic => "valued_customer_sensitive_topic",
        }
    }
}

/// The bot's fixed lines. Kept together so they can be translated or configured later.
pub mod lines {
    pub const CLARIFY: &str = "I'm not sure I understood. Did you mean one of these?";
    pub const NOT_CONFIDENT: &str = "I'm sorry, I don't know the answer to that. \
        These articles might help, or I can get a person for you.";
    pub const NOT_CONFIDENT_NO_SUGGESTIONS: &str =
        "I'm sorry, I don't know the answer to that. I can get a person for you.";
    pub const HANDOFF: &str =
        "I'm getting a person for you. Someone from our team will reply here as soon as they can.";
    pub const ALREADY_WAITING: &str =
        "You're in the queue: someone from our team will reply here as soon as they can.";
    pub const ASK_FOR_PERSON: &str = "Talk to a person";
    pub const UPSET: &str = "I'm sorry about this. I'm getting a person from our team for you \
        right away; they will reply here.";
    /// Outside business hours; `{when}` is the next opening.
    pub const AWAY: &str = "Our team is away right now and back {when}. Leave your message \
        and an email address here, and we'll get back to you.";
    /// `{email}` is the address the customer left.
    pub const CONTACT_NOTED: &str = "Thank you. We'll reply to {email} as soon as we're back.";
    pub const RESOLVED: &str = "This conversation was marked as resolved. \
        If you need anything else, just write here.";
    pub const BACK_TO_BOT: &str =
        "You're back with the assistant. Ask me anything, or ask for a person again.";
}

/// The conversation engine. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    kb: Arc<KnowledgeBase>,
    hub: Hub,
    sentiment: Arc<Analyzer>,
    policy: Arc<EscalationPolicy>,
}

impl Engine {
    pub fn new(store: Store, kb: Arc<KnowledgeBase>, hub: Hub, sentiment: Arc<Analyzer>) -> Self {
        Engine {
            store,
            kb,
            hub,
            sentiment,
            policy: Arc::new(EscalationPolicy::default()),
        }
    }

    pub fn with_policy(mut self, policy: EscalationPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn kb(&self) -> &Arc<KnowledgeBase> {
        &self.kb
    }

    /// The event hub, for features that publish stored facts of their own (proactive messages).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The sentiment analyzer the engine scores messages with (surveys score comments with it).
    pub fn sentiment(&self) -> &Arc<Analyzer> {
        &self.sentiment
    }

    /// Finds the customer behind a channel identity, creating both on first contact.
    pub async fn customer_for(&self, channel: Channel, key: &str) -> Result<i64> {
        if let Some(id) = self.store.customer_by_identity(channel, key).await? {
            return Ok(id);
        }
        Ok(self.store.create_customer(channel, key).await?)
    }

    /// The customer's current conversation on `channel`, started if there is none yet.
    pub async fn current_conversation(
        &self,
        customer_id: i64,
        channel: Channel,
    ) -> Result<Conversation> {
        match self.store.latest_conversation(customer_id, channel).await? {
            Some(conversation) => Ok(conversation),
            None => Ok(self.store.create_conversation(customer_id, channel).await?),
        }
    }

    /// Messages of a conversation after `after_id`, for replay on (re)connect.
    pub async fn history_after(&self, conversation_id: i64, after_id: i64) -> Result<Vec<Message>> {
        Ok(self.store.messages_after(conversation_id, after_id).await?)
    }

    pub fn subscribe(&self, conversation_id: i64) -> Subscription {
        self.hub.subscribe(Topic::Conversation(conversation_id))
    }

    /// Subscribes to any hub topic (a channel's outbox, the queue).
    pub fn subscribe_topic(&self, topic: Topic) -> Subscription {
        self.hub.subscribe(topic)
    }

    /// Relays a typing indicator to the other side of the conversation (not stored).
    pub fn typing(&self, conversation_id: i64, author: Author, active: bool) {
        self.hub.publish(
            Topic::Conversation(conversation_id),
            HubEvent::Typing {
                conversation_id,
                author,
                active,
            },
        );
    }

    /// Handles one customer turn: decide, store atomically, then publish.
    pub async fn customer_turn(
        &self,
        conversation_id: i64,
        client_id: &ClientId,
        input: CustomerInput,
    ) -> Result<Receipt> {
        let conversation = self.store.conversation(conversation_id).await?;
        let turn = self.decide(&conversation, client_id, input).await?;
        let new_state = turn.new_state;
        let handoff_reason = turn.handoff_reason.clone();
        match self.store.record_exchange(&turn).await? {
            Exchange::Duplicate { message_id } => Ok(Receipt {
                message_id,
                duplicate: true,
            }),
            Exchange::Stored { messages } => {
                let message_id = messages.first().map(|m| m.id).unwrap_or_default();
                let topic = Topic::Conversation(conversation_id);
                let mut after = conversation.clone();
                if let Some(state) = new_state {
                    after.state = state;
                }
                for message in messages {
                    self.publish_message(&after, message);
                }
                if let Some(state) = new_state {
                    let event = HubEvent::State {
                        conversation_id,
                        state,
                        reason: handoff_reason,
                        agent_name: None,
                    };
                    self.hub.publish(topic, event.clone());
                    self.hub.publish(Topic::Queue, event);
                }
                if let Some(when) = self.away_until() {
                    self.after_hours(&conversation, &after, &turn.customer.body, when)
                        .await?;
                }
                Ok(Receipt {
                    message_id,
                    duplicate: false,
                })
            }
        }
    }

    /// Outside business hours: a handoff leaves a task for the team, and an email address the
    /// waiting customer writes is kept as their contact address (and acknowledged).
    async fn after_hours(
        &self,
        before: &Conversation,
        after: &Conversation,
        text: &str,
        back: time::OffsetDateTime,
    ) -> Result<()> {
        if after.state != ConversationState::Waiting {
            return Ok(());
        }
        if before.state != ConversationState::Waiting {
            let task = crate::store::NewTask {
                kind: "left_message".into(),
                customer_id: Some(after.customer_id),
                conversation_id: Some(after.id),
                title: "Message left outside business hours".into(),
                detail: json!({
                    "reason": after.handoff_reason,
                    "back": describe_opening(back),
                }),
            };
            self.store.create_task(&task).await?;
        }
        let Some(email) = find_email(text) else {
            return Ok(());
        };
        if !self
            .store
            .set_customer_email_if_missing(after.customer_id, &email)
            .await?
        {
            return Ok(());
        }
        let mut change = crate::store::ConversationChange::keep(after);
        let line = lines::CONTACT_NOTED.replace("{email}", &email);
        change.message = Some((NewMessage::new(Author::System, line), None));
        if let crate::store::Applied::Done {
            message: Some(message),
            ..
        } = self.store.apply_change(&change).await?
        {
            self.publish_message(after, message);
        }
        Ok(())
    }

    /// Decides everything about one turn without writing anything.
    async fn decide(
        &self,
        conversation: &Conversation,
        client_id: &ClientId,
        input: CustomerInput,
    ) -> Result<NewTurn> {
        let mut turn = NewTurn {
            conversation_id: conversation.id,
            customer: NewMessage::new(Author::Customer, ""),
            replies: Vec::new(),
            new_state: None,
            handoff_reason: None,
            streak: StreakChange::Keep,
            events: Vec::new(),
        };
        turn.customer.client_id = Some(client_id.as_str().to_owned());
        let event = |kind| {
            NewEvent::new(kind)
                .conversation(conversation.id)
                .customer(conversation.customer_id)
        };

        let mut state = conversation.state;
        if state == ConversationState::Resolved {
            // Writing again after a resolution reopens the conversation with the bot.
            state = ConversationState::Bot;
            turn.new_state = Some(ConversationState::Bot);
            turn.events.push(event(EventKind::Reopened));
        }

        match &input {
            CustomerInput::Text(text) => {
                turn.customer.body = text.as_str().to_owned();
                turn.customer.sentiment = Some(self.sentiment.score(text.as_str()).compound);
            }
            CustomerInput::Choose { article_id } => {
                let article = self
                    .kb
                    .article(article_id)
                    .ok_or(EngineError::ArticleNotFound)?;
                turn.customer.body = article.title;
            }
            CustomerInput::AskForPerson => turn.customer.body = lines::ASK_FOR_PERSON.to_owned(),
        }
        turn.events.push(event(EventKind::MessageReceived));

        if state != ConversationState::Bot {
            // A person owns (or is about to own) the conversation: the bot stays silent.
            if state == ConversationState::Waiting && matches!(input, CustomerInput::AskForPerson) {
                turn.replies
                    .push(NewMessage::new(Author::System, lines::ALREADY_WAITING));
            }
            return Ok(turn);
        }

        let escalate = match &input {
            CustomerInput::Text(text) => {
                self.escalation(conversation, text, turn.customer.sentiment)
                    .await?
            }
            _ => None,
        };
        match input {
            CustomerInput::AskForPerson => {
                self.hand_over(&mut turn, HandoffReason::CustomerButton, &event)
            }
            CustomerInput::Text(text) if asks_for_person(text.as_str()) => {
                self.hand_over(&mut turn, HandoffReason::CustomerAsked, &event)
            }
            CustomerInput::Text(_) if escalate.is_some() => {
                if let Some(reason) = escalate {
                    self.hand_over(&mut turn, reason, &event);
                }
            }
            CustomerInput::Choose { article_id } => {
                let article = self
                    .kb
                    .article(&article_id)
                    .ok_or(EngineError::ArticleNotFound)?;
                turn.events
                    .push(event(EventKind::ClarifyChosen).data(json!({"article_id": article.id})));
                turn.streak = StreakChange::Reset;
                let mut reply = NewMessage::new(Author::Bot, article.answer);
                reply.article_id = Some(article.id);
                turn.replies.push(reply);
            }
            CustomerInput::Text(text) => {
                let kb = Arc::clone(&self.kb);
                let query = text.as_str().to_owned();
                // Scoring is CPU work (about a millisecond); keep it off the async workers.
                let decision = tokio::task::spawn_blocking(move || kb.ask(&query)).await?;
                let suggestions: Vec<SuggestedArticle> = decision
                    .suggestions
                    .iter()
                    .take(3)
                    .map(|s| SuggestedArticle {
                        article_id: s.article_id.clone(),
                        title: s.title.clone(),
                    })
                    .collect();
                match (decision.outcome, decision.article_id) {
                    (Outcome::Answer, Some(article_id)) => {
                        let answer = self
                            .kb
                            .article(&article_id)
                            .map(|a| a.answer)
                            .unwrap_or_default();
                        turn.events.push(event(EventKind::Answered).data(
                            json!({"article_id": article_id, "confidence": decision.confidence}),
                        ));
                        turn.streak = StreakChange::Reset;
                        let mut reply = NewMessage::new(Author::Bot, answer);
                        reply.article_id = Some(article_id);
                        reply.meta.outcome = Some("answer".into());
                        reply.meta.confidence = Some(decision.confidence);
                        turn.replies.push(reply);
                    }
                    (Outcome::Clarify, _) if !suggestions.is_empty() => {
                        turn.events.push(event(EventKind::Clarified).data(json!({
                            "candidates": suggestions.iter().map(|s| &s.article_id).collect::<Vec<_>>(),
                            "confidence": decision.confidence,
                        })));
                        let mut reply = NewMessage::new(Author::Bot, lines::CLARIFY);
                        reply.meta.suggestions = suggestions;
                        reply.meta.offer_handoff = true;
                        reply.meta.outcome = Some("clarify".into());
                        reply.meta.confidence = Some(decision.confidence);
                        turn.replies.push(reply);
                    }
                    _ => {
                        turn.events.push(event(EventKind::NotAnswered).data(json!({
                            "confidence": decision.confidence,
                            "query": text.as_str(),
                        })));
                        turn.streak = StreakChange::Increment;
                        let limit_reached = self
                            .policy
                            .unanswered_limit
                            .is_some_and(|limit| conversation.unanswered_streak + 1 >= limit);
                        if limit_reached {
                            self.hand_over(&mut turn, HandoffReason::BotCouldNotAnswer, &event);
                        } else {
                            let line = if suggestions.is_empty() {
                                lines::NOT_CONFIDENT_NO_SUGGESTIONS
                            } else {
                                lines::NOT_CONFIDENT
                            };
                            let mut reply = NewMessage::new(Author::Bot, line);
                            reply.meta.suggestions = suggestions;
                            reply.meta.offer_handoff = true;
                            reply.meta.outcome = Some("handoff".into());
                            reply.meta.confidence = Some(decision.confidence);
                            turn.replies.push(reply);
                        }
                    }
                }
            }
        }
        Ok(turn)
    }

    /// Whether the policy hands this message to a person even though the bot might answer it:
    /// the customer is strongly upset, or a valuable or at-risk customer raises a sensitive topic.
    async fn escalation(
        &self,
        conversation: &Conversation,
        text: &MessageText,
        sentiment: Option<f64>,
    ) -> Result<Option<HandoffReason>> {
        if let (Some(limit), Some(score)) = (self.policy.negative_sentiment, sentiment)
            && score <= limit
        {
            return Ok(Some(HandoffReason::NegativeSentiment));
        }
        if self.policy.sensitive_topic(text.as_str()).is_some()
            && let Some(score) = self.store.customer_score(conversation.customer_id).await?
            && (score.segment == crate::store::Segment::High || score.at_risk)
        {
            return Ok(Some(HandoffReason::ValuedCustomerSensitiveTopic));
        }
        Ok(None)
    }

    /// When people are back, if they are away now (outside business hours).
    pub fn away_until(&self) -> Option<time::OffsetDateTime> {
        let hours = self.policy.business_hours?;
        let now = time::OffsetDateTime::now_utc();
        if hours.is_open(now) {
            None
        } else {
            hours.next_open(now)
        }
    }

    fn hand_over(
        &self,
        turn: &mut NewTurn,
        reason: HandoffReason,
        event: &dyn Fn(EventKind) -> NewEvent,
    ) {
        let away = self.away_until();
        turn.new_state = Some(ConversationState::Waiting);
        turn.handoff_reason = Some(reason.as_str().to_owned());
        turn.events
            .push(event(EventKind::HandoffRequested).data(json!({
                "reason": reason.as_str(),
                "outside_business_hours": away.is_some(),
            })));
        let line = match (away, reason) {
            (Some(when), _) => lines::AWAY.replace("{when}", &describe_opening(when)),
            (None, HandoffReason::NegativeSentiment) => lines::UPSET.to_owned(),
            (None, _) => lines::HANDOFF.to_owned(),
        };
        turn.replies.push(NewMessage::new(Author::System, line));
    }
}

/// Whether a message asks for a human, in the phrasings customers use ("can I talk to a person",
/// "human please", "get me an agent", "real person!").
pub fn asks_for_person(text: &str) -> bool {
    const PEOPLE: &[&str] = &[
        "human",
        "person",
        "agent",
        "representative",
        "rep",
        "operator",
        "someone",
        "somebody",
        "staff",
        "people",
        "humans",
        "mensch",
        "persona",
        "agente",
    ];
    const ASKING: &[&str] = &[
        "talk", "speak", "chat", "connect", "transfer", "get", "want", "need", "contact", "call",
        "reach", "give", "put", "real", "live", "actual", "please", "pls", "hablar", "sprechen",
    ];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mentions_person = |w: &String| PEOPLE.contains(&w.as_str());
    match words.as_slice() {
        [] => false,
        // "human", "agent!", "a person"
        [only] | [_, only] if mentions_person(only) => true,
        _ => {
            words.iter().any(mentions_person)
                && words.iter().any(|w| ASKING.contains(&w.as_str()))
                && words.len() <= 12
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_is_trimmed_and_bounded() {
        assert_eq!(
            MessageText::parse("  hi  ").ok().map(|t| t.0),
            Some("hi".into())
        );
        assert!(MessageText::parse(" \n\t ").is_err());
        assert!(MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
    }

    #[test]
    fn client_ids_are_short_and_plain() {
        assert!(ClientId::parse("c-1_AbC").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"a".repeat(65)).is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse("<script>").is_err());
    }

    #[test]
    fn recognises_requests_for_a_person() {
        for yes in [
            "human",
            "Agent!",
            "a person please",
            "can I talk to a human?",
            "I want to speak to someone",
            "connect me with an agent",
            "real person please",
            "get me a representative",
        ] {
            assert!(asks_for_person(yes), "{yes}");
        }
        for no in [
            "how long does delivery take?",
            "my order never arrived",
            "is the travel agent discount available for people who order twice a year and more than three items?",
            "what is your returns policy",
        ] {
            assert!(!asks_for_person(no), "{no}");
        }
    }
}
