//! Learning from operations: which customer questions the bot could not answer (grouped, so
//! owners see which articles are missing), and the loop that teaches it: an agent who answered
//! such a question links a knowledge-base article to it; an owner approves, and the question
//! becomes an example question of the article (the live knowledge base is rebuilt at once).
//!
//! Knows nothing of HTTP: the console's routes (`server::learning`) are a thin adapter.
//!
//! A question counts as unanswered when the bot said it did not know (`not_answered`), or when
//! it asked the customer to pick between articles (`clarified`) and the customer's next turn
//! handed the conversation to a person instead of picking one. Handoffs for other reasons
//! (upset customer, sensitive topic) are not a gap in the knowledge base and are not counted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kb::{KnowledgeBase, Language};
use serde::Serialize;

use crate::engine::asks_for_person;
use crate::store::{
    ApproveOutcome, Author, EventKind, Message, NewSuggestion, Role, Staff, Store, StoreError,
    Suggestion, SuggestionState, TurnEvent, question_key,
};

#[derive(Debug, thiserror::Error)]
pub enum LearningError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown article {0:?}")]
    UnknownArticle(String),
    #[error("no such message in this conversation")]
    UnknownMessage,
    #[error("conversation not found")]
    UnknownConversation,
    #[error("only a customer's message can be linked to an article")]
    NotCustomerMessage,
    #[error("the bot answered this message; only unanswered questions can be linked")]
    BotAnswered,
    #[error("this message asks for a person; it is not a question an article answers")]
    NotAQuestion,
    #[error("no agent has answered this question yet; reply to the customer first")]
    NotAnsweredByAgent,
    #[error("this question was already suggested for this article")]
    AlreadySuggested,
    #[error("suggestion not found")]
    SuggestionNotFound,
    #[error("this suggestion was already {}", .0.as_str())]
    AlreadyDecided(SuggestionState),
    #[error("only owners can approve or reject suggestions")]
    OwnersOnly,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

pub type Result<T, E = LearningError> = std::result::Result<T, E>;

/// At most this many questions a group lists as examples (its count covers all of them).
pub const MAX_EXAMPLES: usize = 5;
/// At most this many turn events are read for one report (about a month of a busy shop).
const MAX_TURN_EVENTS: i64 = 50_000;
/// At most this many questions, the most recent, are grouped: grouping is quadratic in the
/// number of groups.
pub const MAX_GROUPED: usize = 2_000;

/// Why a question counts as unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnansweredHow {
    /// The bot said it did not know.
    NotAnswered,
    /// The bot offered articles to pick from; the customer asked for a person instead.
    ClarifiedThenHandedOver,
}

/// A link between this question (or the same words asked elsewhere) and an article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedArticle {
    pub suggestion_id: i64,
    pub article_id: String,
    pub state: SuggestionState,
}

/// One customer question the bot did not answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnansweredQuestion {
    pub message_id: i64,
    pub conversation_id: i64,
    pub text: String,
    pub asked_at: i64,
    pub how: UnansweredHow,
    /// An agent wrote in the conversation after this question.
    pub agent_answered: bool,
    /// Suggestions linking these words to articles (any conversation).
    pub linked: Vec<LinkedArticle>,
}

/// Similar unanswered questions: a topic the knowledge base is probably missing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnansweredGroup {
    /// The most typical question of the group, as a title.
    pub question: String,
    /// How many times such a question was asked in the period.
    pub count: usize,
    /// In how many conversations.
    pub conversations: usize,
    /// When such a question was last asked (Unix ms).
    pub last_seen: i64,
    /// How many of them an agent answered later in the conversation.
    pub agent_answered: usize,
    /// How many of them are linked to an article by an approved suggestion.
    pub learned: usize,
    /// Up to [`MAX_EXAMPLES`] questions, most typical first.
    pub examples: Vec<UnansweredQuestion>,
}

/// The unanswered-questions report: customer questions the bot did not answer in
/// `[since_ms, until_ms)` (the most recent [`MAX_GROUPED`] of them), grouped by similarity,
/// biggest group first (ties: most recent first), at most `limit` groups.
pub async fn unanswered_report(
    store: &Store,
    lang: Language,
    since_ms: i64,
    until_ms: i64,
    limit: usize,
) -> Result<Vec<UnansweredGroup>> {
    if since_ms >= until_ms {
        return Err(LearningError::Invalid("since must be before until".into()));
    }
    let events = store
        .turn_events(since_ms, until_ms, MAX_TURN_EVENTS)
        .await?;
    let mut questions = unanswered_questions(&events);
    if questions.is_empty() {
        return Ok(Vec::new());
    }
    if questions.len() > MAX_GROUPED {
        questions.sort_by_key(|q| std::cmp::Reverse(q.asked_at));
        questions.truncate(MAX_GROUPED);
    }
    let suggestions = store.suggestions_since(since_ms).await?;
    mark_linked(&mut questions, &suggestions);
    let groups =
        tokio::task::spawn_blocking(move || group_questions(questions, lang, limit)).await?;
    Ok(groups)
}

/// The unanswered questions among turn events (ordered by conversation, then event id).
pub fn unanswered_questions(events: &[TurnEvent]) -> Vec<UnansweredQuestion> {
    // One entry per customer turn, in order: its message and the kinds of its events.
    struct Turn<'a> {
        first: &'a TurnEvent,
        agent_answered: bool,
        kinds: Vec<EventKind>,
    }
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for e in events {
        match turns.last_mut() {
            Some(t) if t.first.message_id == e.message_id => {
                t.kinds.push(e.kind);
                t.agent_answered |= e.agent_answered != 0;
            }
            _ => turns.push(Turn {
                first: e,
                agent_answered: e.agent_answered != 0,
                kinds: vec![e.kind],
            }),
        }
    }
    let mut out = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let how = if turn.kinds.contains(&EventKind::NotAnswered) {
            UnansweredHow::NotAnswered
        } else if turn.kinds.contains(&EventKind::Clarified) {
            let next = turns
                .get(i + 1)
                .filter(|n| n.first.conversation_id == turn.first.conversation_id);
            match next {
                Some(n)
                    if n.kinds.contains(&EventKind::HandoffRequested)
                        && !n.kinds.contains(&EventKind::ClarifyChosen) =>
                {
                    UnansweredHow::ClarifiedThenHandedOver
                }
                _ => continue,
            }
        } else {
            continue;
        };
        out.push(UnansweredQuestion {
            message_id: turn.first.message_id,
            conversation_id: turn.first.conversation_id,
            text: turn.first.body.clone(),
            asked_at: turn.first.asked_at,
            how,
            agent_answered: turn.agent_answered,
            linked: Vec::new(),
        });
    }
    out
}

/// Notes, for each question, the suggestions made for the same words (rejected ones too: the
/// owner sees that this link was considered).
fn mark_linked(questions: &mut [UnansweredQuestion], suggestions: &[Suggestion]) {
    let mut by_key: HashMap<&str, Vec<LinkedArticle>> = HashMap::new();
    for s in suggestions {
        by_key
            .entry(s.question_key.as_str())
            .or_default()
            .push(LinkedArticle {
                suggestion_id: s.id,
                article_id: s.article_id.clone(),
                state: s.state,
            });
    }
    for q in questions {
        if let Some(links) = by_key.get(question_key(&q.text).as_str()) {
            q.linked = links.clone();
        }
    }
}

/// Groups questions with [`kb::group_similar`]; biggest group first, then most recent.
pub fn group_questions(
    questions: Vec<UnansweredQuestion>,
    lang: Language,
    limit: usize,
) -> Vec<UnansweredGroup> {
    let texts: Vec<String> = questions.iter().map(|q| q.text.clone()).collect();
    let groups = kb::group_similar(&texts, lang);
    let mut out: Vec<UnansweredGroup> = groups
        .into_iter()
        .filter(|g| !g.members.is_empty())
        .map(|g| {
            let members: Vec<&UnansweredQuestion> =
                g.members.iter().map(|&i| &questions[i]).collect();
            let conversations: HashSet<i64> = members.iter().map(|q| q.conversation_id).collect();
            UnansweredGroup {
                question: members[0].text.clone(),
                count: members.len(),
                conversations: conversations.len(),
                last_seen: members.iter().map(|q| q.asked_at).max().unwrap_or_default(),
                agent_answered: members.iter().filter(|q| q.agent_answered).count(),
                learned: members
                    .iter()
                    .filter(|q| {
                        q.linked
                            .iter()
                            .any(|l| l.state == SuggestionState::Approved)
                    })
                    .count(),
                examples: members
                    .iter()
                    .take(MAX_EXAMPLES)
                    .map(|q| (*q).clone())
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    out.truncate(limit);
    out
}

// ---- linking questions to articles --------------------------------------------------------------

/// A conversation's messages that an agent may link to an article, and the suggestions made
/// for its messages so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationLearning {
    pub linkable: Vec<i64>,
    pub suggestions: Vec<Suggestion>,
}

/// The customer messages the bot did not answer (no `answered` or `clarify_chosen` event in
/// their turn), that are not requests for a person, and that an agent wrote after.
pub fn linkable_messages(messages: &[Message], events: &[(EventKind, i64)]) -> Vec<i64> {
    let answered_at: HashSet<i64> = events
        .iter()
        .filter(|(kind, _)| matches!(kind, EventKind::Answered | EventKind::ClarifyChosen))
        .map(|(_, at)| *at)
        .collect();
    let last_agent = messages
        .iter()
        .filter(|m| m.author == Author::Agent)
        .map(|m| m.id)
        .max();
    messages
        .iter()
        .filter(|m| {
            m.author == Author::Customer
                && !answered_at.contains(&m.created_at)
                && !asks_for_person(&m.body)
                && last_agent.is_some_and(|agent| agent > m.id)
        })
        .map(|m| m.id)
        .collect()
}

/// The learning loop over the store and the live knowledge base. Cheap to clone.
#[derive(Clone)]
pub struct Learning {
    store: Store,
    kb: Arc<KnowledgeBase>,
}

impl Learning {
    pub fn new(store: Store, kb: Arc<KnowledgeBase>) -> Self {
        Learning { store, kb }
    }

    /// The report over the live knowledge base's language.
    pub async fn report(
        &self,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<UnansweredGroup>> {
        unanswered_report(&self.store, self.kb.language(), since_ms, until_ms, limit).await
    }

    /// Which of the conversation's messages can be linked, and the suggestions so far.
    pub async fn conversation(&self, conversation_id: i64) -> Result<ConversationLearning> {
        self.store
            .conversation(conversation_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => LearningError::UnknownConversation,
                other => other.into(),
            })?;
        let messages = self.store.messages_after(conversation_id, 0).await?;
        let events = self.store.conversation_event_kinds(conversation_id).await?;
        Ok(ConversationLearning {
            linkable: linkable_messages(&messages, &events),
            suggestions: self.store.conversation_suggestions(conversation_id).await?,
        })
    }

    /// An agent suggests that `article_id` answers the customer's question `message_id` of
    /// `conversation_id`; stored as pending for an owner to decide.
    pub async fn suggest(
        &self,
        conversation_id: i64,
        message_id: i64,
        article_id: &str,
        by: &Staff,
    ) -> Result<Suggestion> {
        let article_id = article_id.trim();
        if article_id.is_empty() {
            return Err(LearningError::Invalid("article_id is empty".into()));
        }
        self.store
            .conversation(conversation_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => LearningError::UnknownConversation,
                other => other.into(),
            })?;
        let messages = self.store.messages_after(conversation_id, 0).await?;
        let message = messages
            .iter()
            .find(|m| m.id == message_id)
            .ok_or(LearningError::UnknownMessage)?;
        if message.author != Author::Customer {
            return Err(LearningError::NotCustomerMessage);
        }
        let events = self.store.conversation_event_kinds(conversation_id).await?;
        if !linkable_messages(&messages, &events).contains(&message_id) {
            let answered = events.iter().any(|(kind, at)| {
                *at == message.created_at
                    && matches!(kind, EventKind::Answered | EventKind::ClarifyChosen)
            });
            return Err(if answered {
                LearningError::BotAnswered
            } else if asks_for_person(&message.body) {
                LearningError::NotAQuestion
            } else {
                LearningError::NotAnsweredByAgent
            });
        }
        if !self.store.article_exists(article_id).await? {
            return Err(LearningError::UnknownArticle(article_id.to_owned()));
        }
        let new = NewSuggestion {
            question: message.body.trim().to_owned(),
            question_key: question_key(&message.body),
            article_id: article_id.to_owned(),
            conversation_id,
            message_id,
            suggested_by: by.id,
        };
        self.store
            .create_suggestion(&new)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => LearningError::AlreadySuggested,
                other => other.into(),
            })
    }

    /// Suggestions in `state` (all when `None`).
    pub async fn suggestions(
        &self,
        state: Option<SuggestionState>,
        limit: usize,
    ) -> Result<Vec<Suggestion>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self.store.suggestions(state, limit).await?)
    }

    /// An owner approves: the question becomes an example question of the article, and the
    /// live knowledge base is rebuilt before this returns, so the bot answers the question
    /// from now on. Returns the decided suggestion and whether the rebuild succeeded (when it
    /// fails, the approval stands and the periodic refresh retries the rebuild).
    pub async fn approve(&self, suggestion_id: i64, owner: &Staff) -> Result<(Suggestion, bool)> {
        if owner.role != Role::Owner {
            return Err(LearningError::OwnersOnly);
        }
        let outcome = self
            .store
            .approve_suggestion(suggestion_id, owner.id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => LearningError::SuggestionNotFound,
                StoreError::Conflict => LearningError::AlreadyDecided(SuggestionState::Approved),
                other => other.into(),
            })?;
        match outcome {
            ApproveOutcome::AlreadyDecided(state) => Err(LearningError::AlreadyDecided(state)),
            ApproveOutcome::ArticleGone => {
                let s = self.store.suggestion(suggestion_id).await?;
                Err(LearningError::UnknownArticle(s.article_id))
            }
            ApproveOutcome::Approved { .. } => {
                let rebuilt = match crate::app::rebuild_kb(&self.store, &self.kb).await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::error!(error = ?e, "rebuilding the knowledge base after an approval failed");
                        false
                    }
                };
                Ok((self.store.suggestion(suggestion_id).await?, rebuilt))
            }
        }
    }

    /// An owner rejects: nothing changes in the knowledge base.
    pub async fn reject(&self, suggestion_id: i64, owner: &Staff) -> Result<Suggestion> {
        if owner.role != Role::Owner {
            return Err(LearningError::OwnersOnly);
        }
        match self
            .store
            .reject_suggestion(suggestion_id, owner.id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => LearningError::SuggestionNotFound,
                other => other.into(),
            })? {
            Some(state) => Err(LearningError::AlreadyDecided(state)),
            None => Ok(self.store.suggestion(suggestion_id).await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        kind: EventKind,
        conversation: i64,
        message: i64,
        body: &str,
        agent: bool,
    ) -> TurnEvent {
        TurnEvent {
            kind,
            conversation_id: conversation,
            message_id: message,
            body: body.to_owned(),
            asked_at: message * 1000,
            agent_answered: i64::from(agent),
        }
    }

    fn question(
        id: i64,
        conversation: i64,
        text: &str,
        at: i64,
        agent: bool,
    ) -> UnansweredQuestion {
        UnansweredQuestion {
            message_id: id,
            conversation_id: conversation,
            text: text.to_owned(),
            asked_at: at,
            how: UnansweredHow::NotAnswered,
            agent_answered: agent,
            linked: Vec::new(),
        }
    }

    #[test]
    fn not_answered_and_clarified_then_handed_over_count_others_do_not() {
        use EventKind::*;
        let events = vec![
            // Conversation 1: answered, then not answered (agent replied later).
            event(Answered, 1, 1, "how long does delivery take", false),
            event(NotAnswered, 1, 3, "do you ship to mars", true),
            // Conversation 2: clarified, then the customer asked for a person.
            event(Clarified, 2, 10, "my tea tastes odd", false),
            event(HandoffRequested, 2, 12, "Talk to a person", false),
            // Conversation 3: clarified, then the customer picked an article.
            event(Clarified, 3, 20, "points", false),
            event(ClarifyChosen, 3, 22, "Leaf Points", false),
            // Conversation 4: clarified as its last turn; conversation 5 starts with a handoff
            // that must not be taken for conversation 4's next turn.
            event(Clarified, 4, 30, "gift", false),
            event(HandoffRequested, 5, 40, "I am furious", false),
            // Conversation 6: not answered twice in a row, the second also handed over.
            event(NotAnswered, 6, 50, "bitcoin?", false),
            event(NotAnswered, 6, 52, "crypto payments", false),
            event(HandoffRequested, 6, 52, "crypto payments", false),
        ];
        let found = unanswered_questions(&events);
        let got: Vec<(i64, UnansweredHow, bool)> = found
            .iter()
            .map(|q| (q.message_id, q.how, q.agent_answered))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, UnansweredHow::NotAnswered, true),
                (10, UnansweredHow::ClarifiedThenHandedOver, false),
                (50, UnansweredHow::NotAnswered, false),
                (52, UnansweredHow::NotAnswered, false),
            ]
        );
        assert_eq!(found[0].text, "do you ship to mars");
        assert_eq!(found[0].asked_at, 3000);
    }

    #[test]
    fn report_groups_similar_questions_biggest_first_with_counts() {
        let questions = vec![
            question(1, 1, "do you ship to canada", 100, true),
            question(2, 2, "can you deliver to canada?", 300, false),
            question(3, 2, "shipping to Canada possible?", 200, true),
            question(4, 3, "is there vegan tea", 400, false),
            question(5, 4, "do you sell vegan tea?", 150, false),
            question(6, 5, "what are your opening hours on sunday", 500, false),
        ];
        let mut learned = questions.clone();
        learned[3].linked.push(LinkedArticle {
            suggestion_id: 1,
            article_id: "allergens-organic".into(),
            state: SuggestionState::Approved,
        });
        let groups = group_questions(learned, Language::English, 10);
        assert_eq!(groups.len(), 3, "{groups:#?}");
        let canada = &groups[0];
        assert_eq!(canada.count, 3);
        assert_eq!(
            canada.conversations, 2,
            "two questions share conversation 2"
        );
        assert_eq!(canada.last_seen, 300);
        assert_eq!(canada.agent_answered, 2);
        assert_eq!(canada.learned, 0);
        let mut ids: Vec<i64> = canada.examples.iter().map(|q| q.message_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(canada.question.to_lowercase().contains("canada"));
        // Two groups of one and two: the vegan pair first (bigger), with its approved link.
        let vegan = &groups[1];
        assert_eq!((vegan.count, vegan.last_seen, vegan.learned), (2, 400, 1));
        assert_eq!(groups[2].count, 1);
        assert_eq!(groups[2].examples[0].message_id, 6);

        // The limit keeps the biggest groups; examples are capped but the count is not.
        let many: Vec<UnansweredQuestion> = (0..8)
            .map(|i| question(i, i, "do you ship to canada", i, false))
            .chain([question(100, 100, "vegan tea?", 1, false)])
            .collect();
        let top = group_questions(many, Language::English, 1);
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].count, top[0].examples.len()), (8, MAX_EXAMPLES));
        assert!(group_questions(Vec::new(), Language::English, 5).is_empty());
    }

    #[test]
    fn equal_groups_order_by_most_recent() {
        let questions = vec![
            question(1, 1, "do you ship to canada", 100, false),
            question(2, 2, "opening hours on sunday", 900, false),
        ];
        let groups = group_questions(questions, Language::English, 10);
        assert_eq!(groups[0].examples[0].message_id, 2);
        assert_eq!(groups[1].examples[0].message_id, 1);
    }

    fn message(id: i64, author: Author, body: &str, at: i64) -> Message {
        Message {
            id,
            conversation_id: 1,
            author,
            body: body.to_owned(),
            client_id: None,
            article_id: None,
            sentiment: None,
            meta: Default::default(),
            created_at: at,
        }
    }

    #[test]
    fn linkable_messages_are_unanswered_customer_questions_an_agent_answered_after() {
        let messages = vec![
            message(1, Author::Customer, "how long does delivery take?", 10),
            message(2, Author::Bot, "2-4 days", 10),
            message(3, Author::Customer, "do you ship to mars?", 20),
            message(4, Author::Bot, "I'm sorry, I don't know", 20),
            message(5, Author::Customer, "Talk to a person", 30),
            message(6, Author::System, "Getting a person", 30),
            message(7, Author::Customer, "and to the moon?", 40),
            message(8, Author::Agent, "Not yet, sorry!", 50),
            message(9, Author::Customer, "what about venus?", 60),
        ];
        let events = vec![
            (EventKind::MessageReceived, 10),
            (EventKind::Answered, 10),
            (EventKind::MessageReceived, 20),
            (EventKind::NotAnswered, 20),
            (EventKind::MessageReceived, 30),
            (EventKind::HandoffRequested, 30),
            (EventKind::MessageReceived, 40),
            (EventKind::MessageReceived, 60),
        ];
        // 1: the bot answered; 5: asks for a person; 9: no agent reply after it yet.
        assert_eq!(linkable_messages(&messages, &events), vec![3, 7]);
    }
}
