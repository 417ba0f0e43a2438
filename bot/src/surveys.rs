//! Surveys: recording CSAT (1 to 5) and NPS (0 to 10) answers, whatever the channel.
//!
//! *Architecture invariant*: like the engine, this module knows no transport. The Telegram
//! channel, the widget and the owners' reports all go through it. Scores and comments are
//! parsed here (invalid values never reach the store), comments are scored with the engine's
//! sentiment analyzer, and a customer who opted out is never asked nor recorded.

pub mod nps;

use std::sync::Arc;

use feedback::sentiment::Analyzer;

use crate::store::{
    Channel, ConversationState, NewSurveyResponse, Store, StoreError, SurveyKind, SurveyResponse,
};

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("{0}")]
    Invalid(String),
    #[error("the customer opted out of surveys")]
    OptedOut,
    #[error("this conversation was already rated")]
    AlreadyAnswered,
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("the conversation belongs to another customer")]
    NotYourConversation,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SurveyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => SurveyError::ConversationNotFound,
            other => SurveyError::Store(other),
        }
    }
}

pub type Result<T, E = SurveyError> = std::result::Result<T, E>;

/// A valid score: 1–5 for CSAT, 0–10 for NPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    kind: SurveyKind,
    value: u8,
}

impl Score {
    pub fn parse(kind: SurveyKind, value: i64) -> Result<Self> {
        let range = Self::range(kind);
        match u8::try_from(value) {
            Ok(v) if range.contains(&v) => Ok(Score { kind, value: v }),
            _ => Err(SurveyError::Invalid(format!(
                "a {kind} score is a whole number from {} to {}",
                range.start(),
                range.end()
            ))),
        }
    }

    pub fn range(kind: SurveyKind) -> std::ops::RangeInclusive<u8> {
        match kind {
            SurveyKind::Csat => 1..=5,
            SurveyKind::Nps => 0..=10,
        }
    }

    pub fn kind(self) -> SurveyKind {
        self.kind
    }

    pub fn value(self) -> u8 {
        self.value
    }
}

/// The longest survey comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A survey comment: trimmed, non-empty, at most [`MAX_COMMENT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment(String);

impl Comment {
    pub fn parse(raw: &str) -> Result<Self> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(SurveyError::Invalid("the comment is empty".into()));
        }
        if text.chars().count() > MAX_COMMENT_CHARS {
            return Err(SurveyError::Invalid(format!(
                "comments are limited to {MAX_COMMENT_CHARS} characters"
            )));
        }
        Ok(Comment(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One answer as a channel received it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub customer_id: i64,
    /// The conversation rated (CSAT always has one; NPS may not).
    pub conversation_id: Option<i64>,
    pub channel: Channel,
    pub score: Score,
    pub comment: Option<Comment>,
}

/// Records survey answers. Cheap to clone.
#[derive(Clone)]
pub struct Surveys {
    store: Store,
    sentiment: Arc<Analyzer>,
}

impl Surveys {
    pub fn new(store: Store, sentiment: Arc<Analyzer>) -> Self {
        Surveys { store, sentiment }
    }

    /// Whether the customer may be asked anything at all (not opted out).
    pub async fn may_ask(&self, customer_id: i64) -> Result<bool> {
        Ok(!self.store.opted_out(customer_id).await?)
    }

    /// Whether a CSAT question about this conversation is due: it is resolved, not yet rated,
    /// and its customer did not opt out.
    pub async fn csat_due(&self, conversation_id: i64) -> Result<bool> {
        let conversation = self.store.conversation(conversation_id).await?;
        if conversation.state != ConversationState::Resolved {
            return Ok(false);
        }
        if !self.may_ask(conversation.customer_id).await? {
            return Ok(false);
        }
        Ok(self
            .store
            .survey_response(SurveyKind::Csat, conversation_id)
            .await?
            .is_none())
    }

    /// Records an answer. The first answer per conversation and kind counts: a second one is
    /// [`SurveyError::AlreadyAnswered`] and changes nothing.
    pub async fn record(&self, answer: Answer) -> Result<SurveyResponse> {
        let kind = answer.score.kind();
        if kind == SurveyKind::Csat && answer.conversation_id.is_none() {
            return Err(SurveyError::Invalid(
                "a CSAT answer rates a conversation".into(),
            ));
        }
        if let Some(id) = answer.conversation_id {
            let conversation = self.store.conversation(id).await?;
            if conversation.customer_id != answer.customer_id {
                return Err(SurveyError::NotYourConversation);
            }
        }
        if !self.may_ask(answer.customer_id).await? {
            return Err(SurveyError::OptedOut);
        }
        let comment_sentiment = answer
            .comment
            .as_ref()
            .map(|c| self.sentiment.score(c.as_str()).compound);
        let row = NewSurveyResponse {
            kind,
            customer_id: answer.customer_id,
            conversation_id: answer.conversation_id,
            channel: answer.channel,
            score: i64::from(answer.score.value()),
            comment: answer.comment.map(|c| c.0),
            comment_sentiment,
        };
        self.store
            .insert_survey_response(&row)
            .await?
            .ok_or(SurveyError::AlreadyAnswered)
    }

    /// Adds the follow-up comment ("What is the main reason for your score?") to an answer.
    pub async fn comment(&self, response_id: i64, comment: Comment) -> Result<()> {
        let sentiment = self.sentiment.score(comment.as_str()).compound;
        self.store
            .set_survey_comment(response_id, comment.as_str(), Some(sentiment))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    SurveyError::Invalid("no answer without a comment to add one to".into())
                }
                other => SurveyError::Store(other),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_checked_against_the_survey_kind() {
        assert!(Score::parse(SurveyKind::Csat, 1).is_ok());
        assert!(Score::parse(SurveyKind::Csat, 5).is_ok());
        assert!(Score::parse(SurveyKind::Csat, 0).is_err());
        assert!(Score::parse(SurveyKind::Csat, 6).is_err());
        assert!(Score::parse(SurveyKind::Nps, 0).is_ok());
        assert!(Score::parse(SurveyKind::Nps, 10).is_ok());
        assert!(Score::parse(SurveyKind::Nps, 11).is_err());
        assert!(Score::parse(SurveyKind::Nps, -1).is_err());
        assert!(Score::parse(SurveyKind::Nps, 256).is_err());
    }

    #[test]
    fn comments_are_trimmed_and_bounded() {
        assert_eq!(
            Comment::parse("  slow  ").ok().map(|c| c.0),
            Some("slow".into())
        );
        assert!(Comment::parse("   ").is_err());
        assert!(Comment::parse(&"é".repeat(MAX_COMMENT_CHARS)).is_ok());
        assert!(Comment::parse(&"é".repeat(MAX_COMMENT_CHARS + 1)).is_err());
    }
}
