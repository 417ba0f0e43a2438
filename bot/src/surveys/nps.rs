//! NPS: "How likely are you to recommend us to a friend?" (0 to 10), then "What is the main
//! reason for your score?", whatever the channel.
//!
//! The rule of when a customer is asked lives here ([`due`]), not in the channels:
//!
//! - never a customer who opted out (widget "Don't ask me again", Telegram `/stop`);
//! - at most once per period (`nps_period_days`, default 90) counted from the last time the
//!   customer was *asked*, answered or not: an ignored or dismissed question uses up the
//!   period just like an answer (and an answer recorded any other way counts too);
//! - on one of two occasions: right after a resolved conversation (once its CSAT is answered,
//!   dismissed or not due: one question at a time), or on the schedule, which needs the
//!   customer's consent to be contacted. The periodic job asks on Telegram; a widget customer
//!   with consent gets the scheduled question at their next visit.
//!
//! Each ask is recorded (`nps_asks`) before it is shown, claimed with a compare-and-set on the
//! customer's last ask time so two channels or nodes never ask twice. An ask can be answered for
//! [`ANSWER_WINDOW`]; the reason for [`REASON_WINDOW`] after the score. Detractors (0 to 6)
//! raise a task for the agents ([`DETRACTOR_TASK`]), updated with the reason when it comes.
//!
//! *Architecture invariant*: no transport here; the widget and Telegram are adapters.

use std::sync::Arc;
use std::time::Duration;

use feedback::sentiment::Analyzer;
use serde_json::json;

use super::{Comment, Score, SurveyError, Surveys};
use crate::store::{
    Channel, Conversation, ConversationState, NewNpsAsk, NewSurveyResponse, NewTask, NpsAsk,
    NpsHistory, NpsOccasion, Store, StoreError, SurveyKind, SurveyResponse, now_ms,
};

pub const QUESTION: &str = "How likely are you to recommend us to a friend?";
pub const FOLLOW_UP: &str = "What is the main reason for your score?";
/// What the ends of the 0–10 scale mean, shown next to them.
pub const LOW_LABEL: &str = "Not at all likely";
pub const HIGH_LABEL: &str = "Extremely likely";
/// The kind of the agents' task a detractor raises.
pub const DETRACTOR_TASK: &str = "nps_detractor";
/// The default for `nps_period_days`.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(90 * 24 * 3600);
/// How long an ask can be answered (a Telegram keyboard, a widget card shown again on return).
pub const ANSWER_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long after the score the reason is taken (on Telegram: the chat's next plain message).
pub const REASON_WINDOW: Duration = Duration::from_secs(3600);
/// Customers the periodic job asks per run at most (the rest wait for the next run).
pub const SCHEDULE_BATCH: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum NpsError {
    #[error("{0}")]
    Invalid(String),
    #[error("the customer opted out of surveys")]
    OptedOut,
    #[error("no such survey")]
    UnknownSurvey,
    #[error("this survey was sent to another customer")]
    NotYours,
    #[error("this survey was already answered")]
    AlreadyAnswered,
    #[error("this survey is closed")]
    Closed,
    #[error("answer the score first")]
    NotAnswered,
    #[error("the reason was already given")]
    ReasonAlreadyGiven,
    #[error("this survey no longer takes a reason")]
    ReasonClosed,
    #[error("only a resolved conversation of the customer's own prompts the survey")]
    NotResolved,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for NpsError {
    fn from(e: StoreError) -> Self {
        NpsError::Store(e)
    }
}

pub type Result<T, E = NpsError> = std::result::Result<T, E>;

/// How NPS is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpsSettings {
    /// At most one question per customer per this period.
    pub period: Duration,
    /// How often the periodic job looks for customers to ask; `None`: never.
    pub schedule_every: Option<Duration>,
}

impl Default for NpsSettings {
    fn default() -> Self {
        NpsSettings {
            period: DEFAULT_PERIOD,
            schedule_every: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

/// Whether a customer may be asked now, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Yes,
    No(NotDue),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDue {
    OptedOut,
    /// The schedule asks only customers who consented to be contacted.
    NoConsent,
    /// Asked (answered or not) less than a period ago.
    AskedRecently {
        at: i64,
    },
    /// Answered less than a period ago (however the answer was recorded).
    AnsweredRecently {
        at: i64,
    },
}

/// A duration in Unix milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The rule: see the module docs. `now` and the history's times are Unix ms. Exactly one
/// period after the last ask the customer is due again.
pub fn due(history: &NpsHistory, occasion: NpsOccasion, now: i64, period: Duration) -> Due {
    if history.opted_out_at.is_some() {
        return Due::No(NotDue::OptedOut);
    }
    if occasion == NpsOccasion::Schedule && history.contact_consent_at.is_none() {
        return Due::No(NotDue::NoConsent);
    }
    let recent = |at: i64| now.saturating_sub(at) < ms(period);
    if let Some(at) = history.nps_asked_at.filter(|&at| recent(at)) {
        return Due::No(NotDue::AskedRecently { at });
    }
    if let Some(at) = history.last_answer_at.filter(|&at| recent(at)) {
        return Due::No(NotDue::AnsweredRecently { at });
    }
    Due::Yes
}

/// Where a score falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 0 to 6
    Detractor,
    /// 7 or 8
    Passive,
    /// 9 or 10
    Promoter,
}

impl Category {
    pub fn of(score: u8) -> Category {
        match score {
            0..=6 => Category::Detractor,
            7 | 8 => Category::Passive,
            _ => Category::Promoter,
        }
    }
}

/// What prompts an ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// This conversation of the customer was just resolved (and its CSAT handled).
    Resolved { conversation_id: i64 },
    /// The schedule (needs consent).
    Schedule,
}

/// How long a conversation must have been quiet for a visit to count as coming back (the
/// scheduled question is not put to someone in the middle of a chat).
pub const VISIT_IDLE: Duration = Duration::from_secs(30 * 60);

/// The occasion a look at this conversation offers: its resolution, or (quiet with the bot for
/// [`VISIT_IDLE`]) the schedule. None while it waits for or is with a person, or is active.
pub fn visit_occasion(conversation: &Conversation, now: i64) -> Option<Occasion> {
    match conversation.state {
        ConversationState::Resolved => Some(Occasion::Resolved {
            conversation_id: conversation.id,
        }),
        ConversationState::Bot if now.saturating_sub(conversation.updated_at) >= ms(VISIT_IDLE) => {
            Some(Occasion::Schedule)
        }
        _ => None,
    }
}

/// A recorded score.
#[derive(Debug, Clone)]
pub struct Answered {
    pub ask: NpsAsk,
    pub response: SurveyResponse,
    pub category: Category,
}

/// NPS for every channel. Cheap to clone.
#[derive(Clone)]
pub struct Nps {
    store: Store,
    surveys: Surveys,
    settings: NpsSettings,
}

impl Nps {
    pub fn new(store: Store, sentiment: Arc<Analyzer>, settings: NpsSettings) -> Self {
        Nps {
            surveys: Surveys::new(store.clone(), sentiment),
            store,
            settings,
        }
    }

    pub fn settings(&self) -> NpsSettings {
        self.settings
    }

    /// Whether the customer is due for `occasion` now.
    pub async fn due(&self, customer_id: i64, occasion: NpsOccasion) -> Result<Due> {
        let history = self.store.nps_history(customer_id).await?;
        Ok(due(&history, occasion, now_ms(), self.settings.period))
    }

    /// Asks the customer on `channel` if they are due: records the ask and returns it for the
    /// channel to show. `None` when not due, or when another channel asked first.
    pub async fn ask(
        &self,
        customer_id: i64,
        channel: Channel,
        occasion: Occasion,
    ) -> Result<Option<NpsAsk>> {
        let (kind, conversation_id) = match occasion {
            Occasion::Resolved { conversation_id } => {
                let conversation = self.store.conversation(conversation_id).await?;
                if conversation.customer_id != customer_id
                    || conversation.state != ConversationState::Resolved
                {
                    return Err(NpsError::NotResolved);
                }
                (NpsOccasion::Resolved, Some(conversation_id))
            }
            Occasion::Schedule => (NpsOccasion::Schedule, None),
        };
        let history = self.store.nps_history(customer_id).await?;
        let now = now_ms();
        if due(&history, kind, now, self.settings.period) != Due::Yes {
            return Ok(None);
        }
        let ask = NewNpsAsk {
            customer_id,
            channel,
            occasion: kind,
            conversation_id,
        };
        Ok(self
            .store
            .claim_nps_ask(&ask, history.nps_asked_at, now)
            .await?)
    }

    /// The customer's question on `channel` still waiting for an answer, if any (to show it
    /// again when they come back).
    pub async fn open_ask(&self, customer_id: i64, channel: Channel) -> Result<Option<NpsAsk>> {
        if self.store.opted_out(customer_id).await? {
            return Ok(None);
        }
        let since = now_ms().saturating_sub(ms(ANSWER_WINDOW));
        Ok(self.store.open_nps_ask(customer_id, channel, since).await?)
    }

    /// Loads an ask and checks that it is the customer's.
    async fn own_ask(&self, ask_id: i64, customer_id: i64) -> Result<NpsAsk> {
        let ask = match self.store.nps_ask(ask_id).await {
            Ok(ask) => ask,
            Err(StoreError::NotFound) => return Err(NpsError::UnknownSurvey),
            Err(e) => return Err(e.into()),
        };
        if ask.customer_id != customer_id {
            return Err(NpsError::NotYours);
        }
        Ok(ask)
    }

    /// Records the score (0 to 10) for an ask. The first answer counts; a second one is
    /// [`NpsError::AlreadyAnswered`] and changes nothing. A detractor raises a task.
    pub async fn answer(
        &self,
        ask_id: i64,
        customer_id: i64,
        channel: Channel,
        score: i64,
    ) -> Result<Answered> {
        let score = Score::parse(SurveyKind::Nps, score).map_err(|e| match e {
            SurveyError::Invalid(message) => NpsError::Invalid(message),
            other => NpsError::Invalid(other.to_string()),
        })?;
        let ask = self.own_ask(ask_id, customer_id).await?;
        if ask.answered_at.is_some() {
            return Err(NpsError::AlreadyAnswered);
        }
        let now = now_ms();
        if ask.dismissed_at.is_some() || now.saturating_sub(ask.asked_at) >= ms(ANSWER_WINDOW) {
            return Err(NpsError::Closed);
        }
        if self.store.opted_out(customer_id).await? {
            return Err(NpsError::OptedOut);
        }
        let row = NewSurveyResponse {
            kind: SurveyKind::Nps,
            customer_id,
            conversation_id: ask.conversation_id,
            channel,
            score: i64::from(score.value()),
            comment: None,
            comment_sentiment: None,
        };
        let reason_until = now.saturating_add(ms(REASON_WINDOW));
        let response = self
            .store
            .answer_nps_ask(ask_id, &row, Some(reason_until))
            .await?
            .ok_or(NpsError::AlreadyAnswered)?;
        let category = Category::of(score.value());
        if category == Category::Detractor {
            self.raise_detractor_task(&ask, &response, None).await?;
        }
        let ask = self.store.nps_ask(ask_id).await?;
        Ok(Answered {
            ask,
            response,
            category,
        })
    }

    /// Adds the reason for the score ("What is the main reason for your score?").
    pub async fn reason(&self, ask_id: i64, customer_id: i64, text: &str) -> Result<()> {
        let comment = Comment::parse(text).map_err(|e| NpsError::Invalid(e.to_string()))?;
        let ask = self.own_ask(ask_id, customer_id).await?;
        let Some(response_id) = ask.response_id else {
            return Err(NpsError::NotAnswered);
        };
        let response = self.store.survey_response_by_id(response_id).await?;
        if response.comment.is_some() {
            return Err(NpsError::ReasonAlreadyGiven);
        }
        if ask.reason_until.is_none_or(|until| until <= now_ms()) {
            return Err(NpsError::ReasonClosed);
        }
        match self.surveys.comment(response_id, comment.clone()).await {
            Ok(()) => {}
            Err(SurveyError::Invalid(_)) => return Err(NpsError::ReasonAlreadyGiven),
            Err(SurveyError::Store(e)) => return Err(e.into()),
            Err(other) => return Err(NpsError::Invalid(other.to_string())),
        }
        self.store.stop_awaiting_nps_reason(ask_id).await?;
        if Category::of(u8::try_from(response.score).unwrap_or(0)) == Category::Detractor {
            self.raise_detractor_task(&ask, &response, Some(comment.as_str()))
                .await?;
        }
        Ok(())
    }

    /// The customer does not want to give a reason.
    pub async fn skip_reason(&self, ask_id: i64, customer_id: i64) -> Result<()> {
        let ask = self.own_ask(ask_id, customer_id).await?;
        if ask.response_id.is_none() {
            return Err(NpsError::NotAnswered);
        }
        self.store.stop_awaiting_nps_reason(ask_id).await?;
        Ok(())
    }

    /// The customer's answered ask whose reason is still awaited on `channel`.
    pub async fn awaiting_reason(
        &self,
        customer_id: i64,
        channel: Channel,
    ) -> Result<Option<NpsAsk>> {
        Ok(self
            .store
            .nps_awaiting_reason(customer_id, channel, now_ms())
            .await?)
    }

    /// "No thanks": the question is closed unanswered (the period still counts from the ask).
    pub async fn dismiss(&self, ask_id: i64, customer_id: i64) -> Result<()> {
        let ask = self.own_ask(ask_id, customer_id).await?;
        if ask.answered_at.is_some() {
            return Err(NpsError::AlreadyAnswered);
        }
        self.store.dismiss_nps_ask(ask_id).await?;
        Ok(())
    }

    /// "Don't ask me again": stores the opt-out (no surveys, no proactive messages) and closes
    /// the customer's open questions.
    pub async fn opt_out(&self, customer_id: i64) -> Result<()> {
        self.store.set_opted_out(customer_id, true).await?;
        self.store.close_nps_asks(customer_id).await?;
        Ok(())
    }

    /// Customers the periodic job should ask on Telegram now, with their chat key.
    pub async fn schedule_candidates(&self) -> Result<Vec<(i64, String)>> {
        let cutoff = now_ms().saturating_sub(ms(self.settings.period));
        Ok(self
            .store
            .nps_schedule_candidates(cutoff, SCHEDULE_BATCH)
            .await?)
    }

    /// Raises the detractor task, or brings the open one up to date with this answer.
    async fn raise_detractor_task(
        &self,
        ask: &NpsAsk,
        response: &SurveyResponse,
        reason: Option<&str>,
    ) -> Result<()> {
        // The reason goes in the title too: task lists show titles.
        let title = match reason {
            Some(reason) => format!(
                "Follow up with a detractor (NPS {} of 10): \u{201c}{}\u{201d}",
                response.score,
                shorten(reason, TITLE_REASON_CHARS)
            ),
            None => format!("Follow up with a detractor (NPS {} of 10)", response.score),
        };
        let detail = json!({
            "score": response.score,
            "reason": reason,
            "channel": response.channel,
            "ask_id": ask.id,
            "response_id": response.id,
            "conversation_id": ask.conversation_id,
        });
        if reason.is_none() {
            let task = NewTask {
                kind: DETRACTOR_TASK.to_owned(),
                customer_id: Some(ask.customer_id),
                conversation_id: ask.conversation_id,
                title: title.clone(),
                detail: detail.clone(),
            };
            if self.store.create_task(&task).await?.is_some() {
                return Ok(());
            }
        }
        // One open task per customer and kind: it shows the latest answer and its reason.
        if let Some(open) = self
            .store
            .open_task_of(DETRACTOR_TASK, ask.customer_id)
            .await?
        {
            self.store
                .update_open_task(open.id, &title, &detail)
                .await?;
        }
        Ok(())
    }
}

/// How much of the reason a detractor task's title quotes.
const TITLE_REASON_CHARS: usize = 80;

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;
    const PERIOD: Duration = Duration::from_secs(90 * 24 * 3600);
    const NOW: i64 = 1_800_000_000_000;

    fn consented() -> NpsHistory {
        NpsHistory {
            contact_consent_at: Some(NOW - 400 * DAY),
            ..NpsHistory::default()
        }
    }

    #[test]
    fn a_customer_never_asked_is_due_on_both_occasions() {
        let h = consented();
        assert_eq!(due(&h, NpsOccasion::Resolved, NOW, PERIOD), Due::Yes);
        assert_eq!(due(&h, NpsOccasion::Schedule, NOW, PERIOD), Due::Yes);
    }

    #[test]
    fn the_period_counts_from_the_last_ask_to_the_millisecond() {
        let period = 90 * DAY;
        let asked = |at| NpsHistory {
            nps_asked_at: Some(at),
            ..consented()
        };
        let almost = asked(NOW - period + 1);
        assert_eq!(
            due(&almost, NpsOccasion::Resolved, NOW, PERIOD),
            Due::No(NotDue::AskedRecently {
                at: NOW - period + 1
            })
        );
        assert_eq!(
            due(&asked(NOW - period), NpsOccasion::Resolved, NOW, PERIOD),
            Due::Yes
        );
        assert_eq!(
            due(&asked(NOW - period - 1), NpsOccasion::Schedule, NOW, PERIOD),
            Due::Yes
        );
        // A shorter configured period moves the boundary with it.
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(
            due(&asked(NOW - 7 * DAY), NpsOccasion::Resolved, NOW, week),
            Due::Yes
        );
        assert!(matches!(
            due(&asked(NOW - 6 * DAY), NpsOccasion::Resolved, NOW, week),
            Due::No(NotDue::AskedRecently { .. })
        ));
    }

    #[test]
    fn an_ignored_question_uses_up_the_period_like_an_answer() {
        // Asked 10 days ago, never answered (no answer on record): still not due.
        let ignored = NpsHistory {
            nps_asked_at: Some(NOW - 10 * DAY),
            last_answer_at: None,
            ..consented()
        };
        assert!(matches!(
            due(&ignored, NpsOccasion::Resolved, NOW, PERIOD),
            Due::No(NotDue::AskedRecently { .. })
        ));
        assert!(matches!(
            due(&ignored, NpsOccasion::Schedule, NOW, PERIOD),
            Due::No(NotDue::AskedRecently { .. })
        ));
    }

    #[test]
    fn an_answer_recorded_without_an_ask_counts_too() {
        let answered = NpsHistory {
            last_answer_at: Some(NOW - 30 * DAY),
            ..consented()
        };
        assert_eq!(
            due(&answered, NpsOccasion::Resolved, NOW, PERIOD),
            Due::No(NotDue::AnsweredRecently { at: NOW - 30 * DAY })
        );
        let long_ago = NpsHistory {
            last_answer_at: Some(NOW - 91 * DAY),
            nps_asked_at: Some(NOW - 91 * DAY),
            ..consented()
        };
        assert_eq!(due(&long_ago, NpsOccasion::Resolved, NOW, PERIOD), Due::Yes);
    }

    #[test]
    fn opted_out_customers_are_never_due() {
        let out = NpsHistory {
            opted_out_at: Some(NOW - 400 * DAY),
            ..consented()
        };
        for occasion in [NpsOccasion::Resolved, NpsOccasion::Schedule] {
            assert_eq!(due(&out, occasion, NOW, PERIOD), Due::No(NotDue::OptedOut));
        }
        // Opted out even with no consent and no history at all.
        let bare = NpsHistory {
            opted_out_at: Some(NOW),
            ..NpsHistory::default()
        };
        assert_eq!(
            due(&bare, NpsOccasion::Resolved, NOW, PERIOD),
            Due::No(NotDue::OptedOut)
        );
    }

    #[test]
    fn the_schedule_needs_consent_a_resolved_conversation_does_not() {
        let silent = NpsHistory::default();
        assert_eq!(
            due(&silent, NpsOccasion::Schedule, NOW, PERIOD),
            Due::No(NotDue::NoConsent)
        );
        assert_eq!(due(&silent, NpsOccasion::Resolved, NOW, PERIOD), Due::Yes);
    }

    #[test]
    fn long_reasons_are_shortened_for_task_titles() {
        assert_eq!(shorten("late", 80), "late");
        let long = "é".repeat(81);
        assert_eq!(shorten(&long, 80).chars().count(), 80);
        assert!(shorten(&long, 80).ends_with('…'));
    }

    #[test]
    fn scores_fall_into_the_three_groups() {
        let groups: Vec<Category> = (0..=10).map(Category::of).collect();
        assert_eq!(
            groups.iter().filter(|c| **c == Category::Detractor).count(),
            7
        );
        assert_eq!(groups[6], Category::Detractor);
        assert_eq!(groups[7], Category::Passive);
        assert_eq!(groups[8], Category::Passive);
        assert_eq!(groups[9], Category::Promoter);
        assert_eq!(groups[10], Category::Promoter);
    }
}
