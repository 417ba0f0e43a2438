//! CSAT on Telegram after the rating: the optional comment. A recorded press is followed by
//! "Anything you'd like to add?" with a Skip button; the chat's next plain message within
//! [`COMMENT_WINDOW`] is the comment (stored with its sentiment, never sent to the bot), and
//! Skip or `/skip` ends the wait. Then, one question at a time, NPS if the customer is due.
//!
//! The widget's CSAT card takes its comment in the same card; both go through
//! `surveys::Surveys`, so the reports see one kind of answer.

use std::time::Duration;

use super::updates::{Press, lines as common};
use super::{Telegram, TelegramError};
use crate::store::{Channel, SurveyKind, now_ms};
use crate::surveys::nps::{Occasion, ms};
use crate::surveys::{Answer, Comment, Score, SurveyError};

pub mod lines {
    pub const QUESTION: &str =
        "How happy are you with the help you got? (1 = not at all, 5 = very)";
    pub const THANKS_FOR_RATING: &str = "Thank you for your rating!";
    pub const ALREADY_RATED: &str = "You already rated this conversation. Thank you!";
    pub const ASK_COMMENT: &str = "Thank you! Is there anything you'd like to add about the \
        help you got? Just write it here, or press Skip (or send /skip).";
    pub const SKIP: &str = "Skip";
    pub const SKIPPED: &str = "No problem.";
    pub const COMMENT_THANKS: &str = "Thank you for your comment!";
    pub const COMMENT_TOO_LONG: &str = "That's a bit long for us to keep: please write your \
        comment in under 1,000 characters, or send /skip.";
}

/// How long after a rating the chat's next plain message is taken as its comment.
pub const COMMENT_WINDOW: Duration = Duration::from_secs(3600);

impl Telegram {
    /// A press on the CSAT keyboard: the toast to show, and the conversation whose comment
    /// to ask for when the rating was recorded.
    pub(super) async fn on_csat_press(
        &self,
        customer: i64,
        conversation_id: i64,
        score: i64,
    ) -> (&'static str, Option<i64>) {
        let recorded = match Score::parse(SurveyKind::Csat, score) {
            Ok(score) => {
                self.surveys
                    .record(Answer {
                        customer_id: customer,
                        conversation_id: Some(conversation_id),
                        channel: Channel::Telegram,
                        score,
                        comment: None,
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        match recorded {
            Ok(_) => (lines::THANKS_FOR_RATING, Some(conversation_id)),
            Err(SurveyError::AlreadyAnswered) => (lines::ALREADY_RATED, None),
            Err(
                SurveyError::Invalid(_)
                | SurveyError::NotYourConversation
                | SurveyError::ConversationNotFound
                | SurveyError::OptedOut,
            ) => (common::BUTTON_GONE, None),
            Err(e) => {
                tracing::error!(error = ?e, "recording a CSAT answer failed");
                (common::TRY_AGAIN, None)
            }
        }
    }

    /// Asks for the rating's optional comment, with a Skip button. The wait is stored before
    /// the question is sent, so the answer is taken even if it races the send's reply.
    pub(super) async fn ask_csat_comment(
        &self,
        chat: i64,
        conversation_id: i64,
    ) -> Result<(), TelegramError> {
        let until = now_ms().saturating_add(ms(COMMENT_WINDOW));
        self.engine
            .store()
            .await_csat_comment(conversation_id, until)
            .await?;
        let skip = Press::CsatSkip { conversation_id }.alone(lines::SKIP);
        self.sender
            .send_text(chat, lines::ASK_COMMENT, Some(skip))
            .await
            .map(|_| ())
    }

    /// Takes a plain message as the comment on the chat's latest rating when one is awaited.
    /// True when the message was the comment (and must not go to the engine).
    pub(super) async fn take_csat_comment(
        &self,
        chat: i64,
        customer: i64,
        text: &str,
    ) -> Result<bool, TelegramError> {
        let store = self.engine.store();
        let now = now_ms();
        let Some(conversation_id) = store.csat_comment_awaited(chat, now).await? else {
            return Ok(false);
        };
        let response = store
            .survey_response(SurveyKind::Csat, conversation_id)
            .await?;
        let Some(response) = response.filter(|r| r.customer_id == customer) else {
            // The rating is gone or belongs to someone else (a relinked chat): stop waiting.
            store
                .stop_awaiting_csat_comment(conversation_id, chat, now)
                .await?;
            return Ok(false);
        };
        let comment = match Comment::parse(text) {
            Ok(comment) => comment,
            Err(_) => {
                // Too long (Telegram never sends an empty text): the wait goes on.
                self.reply(chat, lines::COMMENT_TOO_LONG).await?;
                return Ok(true);
            }
        };
        if !store
            .stop_awaiting_csat_comment(conversation_id, chat, now)
            .await?
        {
            // Skipped in the meantime: the message is an ordinary one.
            return Ok(false);
        }
        match self.surveys.comment(response.id, comment).await {
            Ok(()) => {}
            // A comment is there already (the widget's card, for a linked customer).
            Err(SurveyError::Invalid(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.reply(chat, lines::COMMENT_THANKS).await?;
        self.after_csat(chat, customer, conversation_id).await;
        Ok(true)
    }

    /// "Skip" under the comment question: the toast to show, and the conversation whose NPS
    /// question comes next when the wait was ended.
    pub(super) async fn on_csat_skip(
        &self,
        chat: i64,
        customer: i64,
        conversation_id: i64,
    ) -> (&'static str, Option<i64>) {
        match self
            .skip_csat_comment(chat, customer, conversation_id)
            .await
        {
            Ok(true) => (lines::SKIPPED, Some(conversation_id)),
            Ok(false) => (common::BUTTON_GONE, None),
            Err(e) => {
                tracing::error!(error = %e, conversation_id, "skipping a CSAT comment failed");
                (common::TRY_AGAIN, None)
            }
        }
    }

    /// Ends the wait for the comment on the customer's own conversation in this chat. False
    /// when none was awaited (given, skipped, expired, another chat's, or not theirs).
    async fn skip_csat_comment(
        &self,
        chat: i64,
        customer: i64,
        conversation_id: i64,
    ) -> Result<bool, TelegramError> {
        let store = self.engine.store();
        let theirs = match store.conversation(conversation_id).await {
            Ok(conversation) => conversation.customer_id == customer,
            // A forged button naming no conversation.
            Err(crate::store::StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        if !theirs {
            return Ok(false);
        }
        Ok(store
            .stop_awaiting_csat_comment(conversation_id, chat, now_ms())
            .await?)
    }

    /// `/skip` while a comment is awaited: says so and goes on to NPS. True when it skipped one.
    pub(super) async fn skip_csat_comment_command(
        &self,
        chat: i64,
        customer: i64,
    ) -> Result<bool, TelegramError> {
        let store = self.engine.store();
        let Some(conversation_id) = store.csat_comment_awaited(chat, now_ms()).await? else {
            return Ok(false);
        };
        if !self
            .skip_csat_comment(chat, customer, conversation_id)
            .await?
        {
            return Ok(false);
        }
        self.reply(chat, lines::SKIPPED).await?;
        self.after_csat(chat, customer, conversation_id).await;
        Ok(true)
    }

    /// Stops waiting for a comment in the chat (the customer moved on or opted out).
    pub(super) async fn forget_csat_comment(&self, chat: i64) -> Result<(), TelegramError> {
        Ok(self
            .engine
            .store()
            .stop_awaiting_csat_comments_in(chat)
            .await?)
    }

    /// What follows a rating once its comment is given or skipped: NPS, if due.
    pub(super) async fn after_csat(&self, chat: i64, customer: i64, conversation_id: i64) {
        if let Err(e) = self
            .ask_nps(chat, customer, Occasion::Resolved { conversation_id })
            .await
        {
            tracing::warn!(error = %e, "asking the NPS question failed");
        }
    }
}
