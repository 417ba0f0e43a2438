//! NPS on Telegram: the 0–10 keyboard (two rows and "No thanks"), the press, the reason taken
//! from the chat's next plain message (or skipped with a button or `/skip`), and the periodic
//! job that asks customers who may be contacted. When and whom to ask is `surveys::nps`'s call.

use std::sync::Arc;
use std::time::Duration;

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tokio_util::sync::CancellationToken;

use super::updates::Press;
use super::{Telegram, TelegramError};
use crate::store::Channel;
use crate::surveys::nps::{NpsError, Occasion};

pub mod lines {
    pub const QUESTION: &str = "How likely are you to recommend us to a friend? \
        (0 = not at all likely, 10 = extremely likely)";
    pub const NO_THANKS: &str = "No thanks";
    pub const THANKS: &str = "Thank you!";
    pub const REASON: &str = "Thank you! What is the main reason for your score? Just write it \
        here, or press Skip (or send /skip).";
    pub const SKIP: &str = "Skip";
    pub const REASON_THANKS: &str = "Thank you for telling us!";
    pub const SKIPPED: &str = "No problem. Thank you for your score!";
    pub const DISMISSED: &str = "OK, we won't ask this time.";
    pub const ALREADY_ANSWERED: &str = "You already answered this survey. Thank you!";
    pub const REASON_TOO_LONG: &str = "That's a bit long for us to keep: please give your reason \
        in under 1,000 characters, or send /skip.";
    pub const NOTHING_TO_SKIP: &str = "There is nothing to skip right now.";
}

/// The question's keyboard: 0–5 and 6–10 (two rows, so each button stays wide enough to hit),
/// then "No thanks".
pub(super) fn keyboard(ask_id: i64) -> InlineKeyboardMarkup {
    let button = |score: i64| {
        InlineKeyboardButton::callback(score.to_string(), Press::Nps { ask_id, score }.data())
    };
    InlineKeyboardMarkup::new(vec![
        (0..=5).map(button).collect::<Vec<_>>(),
        (6..=10).map(button).collect(),
        vec![InlineKeyboardButton::callback(
            lines::NO_THANKS,
            Press::NpsDismiss { ask_id }.data(),
        )],
    ])
}

impl Telegram {
    /// Asks the NPS question in `chat` if the customer is due on this occasion. True when asked.
    pub async fn ask_nps(
        &self,
        chat: i64,
        customer: i64,
        occasion: Occasion,
    ) -> Result<bool, TelegramError> {
        let Some(ask) = self
            .nps
            .ask(customer, Channel::Telegram, occasion)
            .await
            .map_err(nps_error)?
        else {
            return Ok(false);
        };
        // The ask is recorded before sending: a failed send still uses up the period, rather
        // than a retry loop asking a chat that blocked the bot.
        let sent = self
            .sender
            .send_text(chat, lines::QUESTION, Some(keyboard(ask.id)))
            .await?;
        self.engine
            .store()
            .set_nps_ask_message(ask.id, chat, i64::from(sent.0))
            .await?;
        Ok(true)
    }

    /// A press on the NPS keyboard: the toast to show, and whether to ask for the reason next.
    pub(super) async fn on_nps_press(
        &self,
        customer: i64,
        ask_id: i64,
        score: i64,
    ) -> (&'static str, bool) {
        match self
            .nps
            .answer(ask_id, customer, Channel::Telegram, score)
            .await
        {
            Ok(_) => (lines::THANKS, true),
            Err(NpsError::AlreadyAnswered) => (lines::ALREADY_ANSWERED, false),
            Err(NpsError::Store(e)) => {
                tracing::error!(error = ?e, ask_id, "recording an NPS answer failed");
                (super::updates::lines::TRY_AGAIN, false)
            }
            // Out of range, another customer's, closed, opted out: a forged or stale button.
            Err(e) => {
                tracing::info!(error = %e, ask_id, "NPS press refused");
                (super::updates::lines::BUTTON_GONE, false)
            }
        }
    }

    /// "No thanks" under the question.
    pub(super) async fn on_nps_dismiss(&self, customer: i64, ask_id: i64) -> &'static str {
        match self.nps.dismiss(ask_id, customer).await {
            Ok(()) => lines::DISMISSED,
            Err(NpsError::AlreadyAnswered) => lines::ALREADY_ANSWERED,
            Err(NpsError::Store(e)) => {
                tracing::error!(error = ?e, ask_id, "dismissing an NPS question failed");
                super::updates::lines::TRY_AGAIN
            }
            Err(_) => super::updates::lines::BUTTON_GONE,
        }
    }

    /// "Skip" under the follow-up question.
    pub(super) async fn on_nps_skip(&self, chat: i64, customer: i64, ask_id: i64) -> &'static str {
        match self.nps.skip_reason(ask_id, customer).await {
            Ok(()) => {
                if let Err(e) = self.reply(chat, lines::SKIPPED).await {
                    tracing::warn!(error = %e, "sending the skip line failed");
                }
                lines::THANKS
            }
            Err(NpsError::Store(e)) => {
                tracing::error!(error = ?e, ask_id, "skipping an NPS reason failed");
                super::updates::lines::TRY_AGAIN
            }
            Err(_) => super::updates::lines::BUTTON_GONE,
        }
    }

    /// The follow-up question, with a Skip button.
    pub(super) async fn ask_nps_reason(&self, chat: i64, ask_id: i64) -> Result<(), TelegramError> {
        let skip = Press::NpsSkip { ask_id }.alone(lines::SKIP);
        self.sender
            .send_text(chat, lines::REASON, Some(skip))
            .await
            .map(|_| ())
    }

    /// Takes a plain message as the reason for the customer's score when one is awaited.
    /// True when the message was the reason (and must not go to the engine).
    pub(super) async fn take_nps_reason(
        &self,
        chat: i64,
        customer: i64,
        text: &str,
    ) -> Result<bool, TelegramError> {
        let Some(ask) = self
            .nps
            .awaiting_reason(customer, Channel::Telegram)
            .await
            .map_err(nps_error)?
        else {
            return Ok(false);
        };
        match self.nps.reason(ask.id, customer, text).await {
            Ok(()) => {
                self.reply(chat, lines::REASON_THANKS).await?;
                Ok(true)
            }
            Err(NpsError::Invalid(_)) => {
                self.reply(chat, lines::REASON_TOO_LONG).await?;
                Ok(true)
            }
            // Given or closed in the meantime: the message is an ordinary one.
            Err(NpsError::ReasonAlreadyGiven | NpsError::ReasonClosed) => Ok(false),
            Err(e) => Err(nps_error(e)),
        }
    }

    /// `/skip`: no reason for the score.
    pub(super) async fn skip_command(&self, chat: i64, customer: i64) -> Result<(), TelegramError> {
        match self
            .nps
            .awaiting_reason(customer, Channel::Telegram)
            .await
            .map_err(nps_error)?
        {
            Some(ask) => {
                self.nps
                    .skip_reason(ask.id, customer)
                    .await
                    .map_err(nps_error)?;
                self.reply(chat, lines::SKIPPED).await
            }
            None => self.reply(chat, lines::NOTHING_TO_SKIP).await,
        }
    }

    /// Stops waiting for a reason (the customer moved on: asked for a person).
    pub(super) async fn forget_nps_reason(&self, customer: i64) -> Result<(), TelegramError> {
        if let Some(ask) = self
            .nps
            .awaiting_reason(customer, Channel::Telegram)
            .await
            .map_err(nps_error)?
        {
            self.nps
                .skip_reason(ask.id, customer)
                .await
                .map_err(nps_error)?;
        }
        Ok(())
    }

    /// One run of the schedule: asks every customer due whom Telegram can reach (consent
    /// given, no opt-out). Returns how many were asked.
    pub async fn ask_scheduled_nps(&self) -> Result<usize, TelegramError> {
        let candidates = self.nps.schedule_candidates().await.map_err(nps_error)?;
        let mut asked = 0;
        for (customer, chat) in candidates {
            let Ok(chat) = chat.parse::<i64>() else {
                continue;
            };
            match self.ask_nps(chat, customer, Occasion::Schedule).await {
                Ok(true) => asked += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, customer, "a scheduled NPS question failed"),
            }
        }
        if asked > 0 {
            tracing::info!(asked, "scheduled NPS questions sent");
        }
        Ok(asked)
    }
}

fn nps_error(e: NpsError) -> TelegramError {
    match e {
        NpsError::Store(e) => TelegramError::Store(e),
        other => TelegramError::Nps(other),
    }
}

/// How long after start the schedule first runs (not in the middle of start-up work).
const FIRST_RUN: Duration = Duration::from_secs(60);

/// Runs the schedule every `every` until shutdown. A run asks only customers who are due, so
/// a restart or a second node running it asks nobody twice.
pub(super) async fn run_schedule(
    telegram: Arc<Telegram>,
    shutdown: CancellationToken,
    every: Duration,
) {
    let mut wait = FIRST_RUN.min(every);
    loop {
        if super::pause(&shutdown, wait).await {
            return;
        }
        if let Err(e) = telegram.ask_scheduled_nps().await {
            tracing::error!(error = %e, "the NPS schedule failed");
        }
        wait = every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyboard_has_0_to_10_in_two_rows_and_no_thanks() {
        let markup = keyboard(42);
        let rows: Vec<Vec<String>> = markup
            .inline_keyboard
            .iter()
            .map(|row| row.iter().map(|b| b.text.clone()).collect())
            .collect();
        assert_eq!(rows[0], ["0", "1", "2", "3", "4", "5"]);
        assert_eq!(rows[1], ["6", "7", "8", "9", "10"]);
        assert_eq!(rows[2], [lines::NO_THANKS]);
    }
}
