//! One incoming update: commands, text, button presses, and everything Telegram can send that
//! the engine cannot use (stickers, photos, edits), which gets a polite reply.

use teloxide::payloads::{AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters};
use teloxide::prelude::Requester;
use teloxide::requests::Request;
use teloxide::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, UpdateKind,
};

use super::{Telegram, TelegramError};
use crate::engine::{ClientId, CustomerInput, EngineError, MessageText};
use crate::linking;
use crate::store::{Channel, LinkOutcome};

/// The bot's fixed lines on Telegram.
pub mod lines {
    pub const GREETING: &str = "Hello! I'm the shop's assistant, a bot. Ask me anything about \
        orders, delivery, returns or payment, and I'll answer from our help articles; send \
        /human at any time to talk to a person from our team.\n\nWhat you write here is stored \
        to answer you and to improve our service. We may ask you to rate our help; send /stop \
        and we won't send you surveys or any message you didn't ask for.";
    pub const HELP: &str = "Just write your question. Commands:\n\
        /human – talk to a person from our team\n\
        /stop – no surveys or messages you didn't ask for (/start turns them back on)\n\
        /link CODE – join this chat to your conversation on our website\n\
        /help – this message";
    pub const STOPPED: &str = "Done: we won't send you surveys or messages you didn't ask for. \
        You can still write to us here any time; /start turns them back on.";
    pub const UNSUPPORTED: &str = "Sorry, I can only read text messages. Please write your \
        question in words.";
    pub const EDITED: &str = "I only see new messages, not edits. Please send your correction \
        as a new message.";
    pub const TOO_LONG: &str = "That message is too long for me. Please keep it under 4,000 \
        characters.";
    pub const UNKNOWN_COMMAND: &str = "I don't know that command. Send /help to see what I can do.";
    pub const TRY_AGAIN: &str = "Sorry, something went wrong on our side. Please send that again.";
    pub const LINKED: &str = "Linked: this chat now continues your conversation from our website.";
    pub const ALREADY_LINKED: &str = "This chat is already linked to your website conversation.";
    pub const LINK_INVALID: &str = "That code is not valid (codes work once, for 10 minutes). \
        Please get a new one from the chat on our website.";
    pub const LINK_ELSEWHERE: &str = "Your website conversation is already linked to another \
        Telegram chat.";
    pub const LINK_USAGE: &str = "Send /link followed by the code from the chat on our website.";
    pub const BUTTON_GONE: &str = "This button no longer applies.";
    pub const TALK_TO_PERSON: &str = "Talk to a person";
}

/// What a button press asks for, parsed from its callback data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Press {
    /// One of the articles suggested in message `message_id`.
    Suggestion { message_id: i64, index: usize },
    /// "Talk to a person" under message `message_id`.
    Handoff { message_id: i64 },
    /// A CSAT score for a conversation.
    Csat { conversation_id: i64, score: i64 },
    /// "Skip" under the question for the CSAT rating's comment.
    CsatSkip { conversation_id: i64 },
    /// An NPS score (0-10) for the question `ask_id`.
    Nps { ask_id: i64, score: i64 },
    /// "No thanks" under the NPS question.
    NpsDismiss { ask_id: i64 },
    /// "Skip" under the NPS follow-up question.
    NpsSkip { ask_id: i64 },
}

impl Press {
    pub(super) fn data(&self) -> String {
        match self {
            Press::Suggestion { message_id, index } => format!("s:{message_id}:{index}"),
            Press::Handoff { message_id } => format!("h:{message_id}"),
            Press::Csat {
                conversation_id,
                score,
            } => format!("csat:{conversation_id}:{score}"),
            Press::CsatSkip { conversation_id } => format!("csats:{conversation_id}"),
            Press::Nps { ask_id, score } => format!("nps:{ask_id}:{score}"),
            Press::NpsDismiss { ask_id } => format!("npsx:{ask_id}"),
            Press::NpsSkip { ask_id } => format!("npss:{ask_id}"),
        }
    }

    pub(super) fn parse(data: &str) -> Option<Press> {
        let mut parts = data.split(':');
        let press = match (parts.next()?, parts.next(), parts.next()) {
            ("s", Some(m), Some(i)) => Press::Suggestion {
                message_id: m.parse().ok()?,
                index: i.parse().ok()?,
            },
            ("h", Some(m), None) => Press::Handoff {
                message_id: m.parse().ok()?,
            },
            ("csat", Some(c), Some(s)) => Press::Csat {
                conversation_id: c.parse().ok()?,
                score: s.parse().ok()?,
            },
            ("csats", Some(c), None) => Press::CsatSkip {
                conversation_id: c.parse().ok()?,
            },
            ("nps", Some(a), Some(s)) => Press::Nps {
                ask_id: a.parse().ok()?,
                score: s.parse().ok()?,
            },
            ("npsx", Some(a), None) => Press::NpsDismiss {
                ask_id: a.parse().ok()?,
            },
            ("npss", Some(a), None) => Press::NpsSkip {
                ask_id: a.parse().ok()?,
            },
            _ => return None,
        };
        parts.next().is_none().then_some(press)
    }
}

impl Press {
    /// A keyboard of this one button ("Skip" under a follow-up question).
    pub(super) fn alone(self, label: &str) -> InlineKeyboardMarkup {
        InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback(
            label,
            self.data(),
        )]])
    }
}

/// The survey question that follows a press.
enum NextQuestion {
    /// The CSAT rating's optional comment (NPS follows it).
    CsatComment { conversation_id: i64 },
    /// NPS, if due, after a resolved conversation's survey.
    Nps { conversation_id: i64 },
    /// The reason for an NPS score.
    NpsReason { ask_id: i64 },
}

/// A command and its argument (`/start CODE`, `/link@shop_bot CODE`).
fn parse_command(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('/')?;
    let (head, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
    Some((name, arg.trim()))
}

impl Telegram {
    pub(super) async fn handle(&self, update: Update) -> Result<(), TelegramError> {
        let client_id = ClientId::parse(&format!("tg-{}", update.id.0))?;
        match update.kind {
            UpdateKind::Message(message) => self.on_message(&client_id, &message).await,
            UpdateKind::EditedMessage(message) => {
                self.reply(message.chat.id.0, lines::EDITED).await
            }
            UpdateKind::CallbackQuery(query) => self.on_press(&client_id, &query).await,
            UpdateKind::Error(_) => {
                tracing::warn!(update_id = update.id.0, "skipping an unreadable update");
                Ok(())
            }
            other => {
                tracing::debug!(update_id = update.id.0, kind = ?std::mem::discriminant(&other), "ignoring an update kind the bot does not use");
                Ok(())
            }
        }
    }

    async fn on_message(
        &self,
        client_id: &ClientId,
        message: &Message,
    ) -> Result<(), TelegramError> {
        let chat = message.chat.id.0;
        let Some(text) = message.text() else {
            // Stickers, photos, voice notes, locations…: nothing the engine can answer.
            return self.reply(chat, lines::UNSUPPORTED).await;
        };
        if let Some((command, arg)) = parse_command(text) {
            return self.on_command(client_id, chat, &command, arg).await;
        }
        // Right after a CSAT rating the next plain message is its comment; right after an NPS
        // score, the reason for it.
        let customer = self.customer(chat).await?;
        if self.take_csat_comment(chat, customer, text).await?
            || self.take_nps_reason(chat, customer, text).await?
        {
            return Ok(());
        }
        let text = match MessageText::parse(text) {
            Ok(text) => text,
            Err(_) => return self.reply(chat, lines::TOO_LONG).await,
        };
        self.turn(chat, client_id, CustomerInput::Text(text)).await
    }

    async fn on_command(
        &self,
        client_id: &ClientId,
        chat: i64,
        command: &str,
        arg: &str,
    ) -> Result<(), TelegramError> {
        let store = self.engine.store();
        match command {
            "start" => {
                let customer = self.customer(chat).await?;
                // Writing /start is asking to hear from us again.
                store.set_opted_out(customer, false).await?;
                self.reply(chat, lines::GREETING).await?;
                if !arg.is_empty() {
                    self.link(chat, arg).await?;
                }
                Ok(())
            }
            "help" => self.reply(chat, lines::HELP).await,
            "human" => {
                let customer = self.customer(chat).await?;
                self.forget_csat_comment(chat).await?;
                self.forget_nps_reason(customer).await?;
                self.turn(chat, client_id, CustomerInput::AskForPerson)
                    .await
            }
            "stop" => {
                let customer = self.customer(chat).await?;
                // Stores the opt-out and closes any open survey question.
                self.nps
                    .opt_out(customer)
                    .await
                    .map_err(TelegramError::Nps)?;
                self.forget_csat_comment(chat).await?;
                self.reply(chat, lines::STOPPED).await
            }
            "skip" => {
                let customer = self.customer(chat).await?;
                if self.skip_csat_comment_command(chat, customer).await? {
                    return Ok(());
                }
                self.skip_command(chat, customer).await
            }
            "link" if arg.is_empty() => self.reply(chat, lines::LINK_USAGE).await,
            "link" => self.link(chat, arg).await,
            _ => self.reply(chat, lines::UNKNOWN_COMMAND).await,
        }
    }

    async fn link(&self, chat: i64, code: &str) -> Result<(), TelegramError> {
        let outcome = linking::redeem(
            self.engine.store(),
            code,
            Channel::Telegram,
            &chat.to_string(),
        )
        .await?;
        let line = match outcome {
            LinkOutcome::Linked { customer_id, .. } => {
                tracing::info!(customer_id, "Telegram chat linked to a customer");
                lines::LINKED
            }
            LinkOutcome::AlreadyLinked { .. } => lines::ALREADY_LINKED,
            LinkOutcome::InvalidCode => lines::LINK_INVALID,
            LinkOutcome::LinkedElsewhere => lines::LINK_ELSEWHERE,
        };
        self.reply(chat, line).await
    }

    /// One customer turn in the chat's current conversation. The engine's replies reach the
    /// chat through the outbox, like every other message for customers.
    async fn turn(
        &self,
        chat: i64,
        client_id: &ClientId,
        input: CustomerInput,
    ) -> Result<(), TelegramError> {
        let customer = self.customer(chat).await?;
        let conversation = self
            .engine
            .current_conversation(customer, Channel::Telegram)
            .await?;
        match self
            .engine
            .customer_turn(conversation.id, client_id, input)
            .await
        {
            Ok(receipt) if receipt.duplicate => {
                tracing::debug!(
                    chat,
                    client_id = client_id.as_str(),
                    "update already stored"
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(EngineError::ArticleNotFound) => self.reply(chat, lines::BUTTON_GONE).await,
            Err(e) => {
                self.reply(chat, lines::TRY_AGAIN).await?;
                Err(e.into())
            }
        }
    }

    async fn on_press(
        &self,
        client_id: &ClientId,
        query: &CallbackQuery,
    ) -> Result<(), TelegramError> {
        let bot = &self.sender.bot;
        let Some(message) = &query.message else {
            bot.answer_callback_query(query.id.clone()).await?;
            return Ok(());
        };
        let chat = message.chat().id.0;
        let press = query.data.as_deref().and_then(Press::parse);
        let customer = self.customer(chat).await?;
        let store = self.engine.store();
        let mut toast = None;
        // What to ask once the press is answered: the comment after a CSAT rating, the reason
        // after an NPS score.
        let mut next: Option<NextQuestion> = None;
        let result = match press {
            None => {
                toast = Some(lines::BUTTON_GONE);
                Ok(())
            }
            Some(Press::Csat {
                conversation_id,
                score,
            }) => {
                let (text, recorded) = self.on_csat_press(customer, conversation_id, score).await;
                toast = Some(text);
                next =
                    recorded.map(|conversation_id| NextQuestion::CsatComment { conversation_id });
                Ok(())
            }
            Some(Press::CsatSkip { conversation_id }) => {
                let (text, skipped) = self.on_csat_skip(chat, customer, conversation_id).await;
                toast = Some(text);
                next = skipped.map(|conversation_id| NextQuestion::Nps { conversation_id });
                Ok(())
            }
            Some(Press::Suggestion { message_id, index }) => {
                let article = match store.message(message_id).await {
                    Ok(m) if self.owns(customer, m.conversation_id).await? => {
                        m.meta.suggestions.get(index).map(|s| s.article_id.clone())
                    }
                    Ok(_) | Err(crate::store::StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                };
                match article {
                    Some(article_id) => {
                        self.turn(chat, client_id, CustomerInput::Choose { article_id })
                            .await
                    }
                    None => {
                        toast = Some(lines::BUTTON_GONE);
                        Ok(())
                    }
                }
            }
            Some(Press::Handoff { .. }) => {
                self.turn(chat, client_id, CustomerInput::AskForPerson)
                    .await
            }
            Some(Press::Nps { ask_id, score }) => {
                let (text, reason) = self.on_nps_press(customer, ask_id, score).await;
                toast = Some(text);
                if reason {
                    next = Some(NextQuestion::NpsReason { ask_id });
                }
                Ok(())
            }
            Some(Press::NpsDismiss { ask_id }) => {
                toast = Some(self.on_nps_dismiss(customer, ask_id).await);
                Ok(())
            }
            Some(Press::NpsSkip { ask_id }) => {
                toast = Some(self.on_nps_skip(chat, customer, ask_id).await);
                Ok(())
            }
        };
        // Always answer the press (it stops the button's spinner) and take the keyboard away:
        // each keyboard is good for one press.
        let mut answer = bot.answer_callback_query(query.id.clone());
        if let Some(text) = toast {
            answer = answer.text(text);
        }
        if let Err(e) = answer.await {
            tracing::warn!(error = %e, "answerCallbackQuery failed");
        }
        if press.is_some() {
            let edit = self
                .sender
                .with_retry(chat, || {
                    bot.edit_message_reply_markup(ChatId(chat), message.id())
                        .reply_markup(InlineKeyboardMarkup::new(
                            Vec::<Vec<InlineKeyboardButton>>::new(),
                        ))
                        .send()
                })
                .await;
            if let Err(e) = edit {
                tracing::warn!(error = %e, "removing a keyboard failed");
            }
        }
        let asked = match next {
            Some(NextQuestion::CsatComment { conversation_id }) => {
                self.ask_csat_comment(chat, conversation_id).await
            }
            Some(NextQuestion::Nps { conversation_id }) => {
                self.after_csat(chat, customer, conversation_id).await;
                Ok(())
            }
            Some(NextQuestion::NpsReason { ask_id }) => self.ask_nps_reason(chat, ask_id).await,
            None => Ok(()),
        };
        if let Err(e) = asked {
            tracing::warn!(error = %e, "asking the next survey question failed");
        }
        result
    }

    /// Whether the conversation belongs to the customer (a press can only act in one's own).
    async fn owns(&self, customer: i64, conversation_id: i64) -> Result<bool, TelegramError> {
        let conversation = self.engine.store().conversation(conversation_id).await?;
        Ok(conversation.customer_id == customer)
    }

    async fn customer(&self, chat: i64) -> Result<i64, TelegramError> {
        Ok(self
            .engine
            .customer_for(Channel::Telegram, &chat.to_string())
            .await?)
    }

    /// A direct reply that is not part of the conversation's history (greeting, help, errors).
    pub(super) async fn reply(&self, chat: i64, text: &str) -> Result<(), TelegramError> {
        self.sender.send_text(chat, text, None).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_data_round_trips_and_rejects_garbage() {
        for press in [
            Press::Suggestion {
                message_id: 12,
                index: 2,
            },
            Press::Handoff { message_id: 9 },
            Press::Csat {
                conversation_id: 3,
                score: 5,
            },
            Press::Nps {
                ask_id: 1_000_000_000_000,
                score: 10,
            },
            Press::CsatSkip { conversation_id: 3 },
            Press::NpsDismiss { ask_id: 8 },
            Press::NpsSkip { ask_id: 8 },
        ] {
            assert_eq!(Press::parse(&press.data()), Some(press.clone()));
            assert!(
                press.data().len() <= 64,
                "Telegram limits callback data to 64 bytes"
            );
        }
        for bad in [
            "",
            "s:1",
            "s:x:1",
            "csat:1:2:3",
            "csats",
            "csats:x",
            "csats:1:2",
            "h",
            "h:1:2",
            "zz:1:1",
            "nps:1",
            "nps:x:1",
            "nps:1:2:3",
            "npsx",
            "npss:1:2",
        ] {
            assert_eq!(Press::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn commands_take_an_argument_and_ignore_the_bot_name() {
        assert_eq!(parse_command("/start"), Some(("start".into(), "")));
        assert_eq!(
            parse_command("/link@shop_bot  ABCD2345 "),
            Some(("link".into(), "ABCD2345"))
        );
        assert_eq!(parse_command("/HELP"), Some(("help".into(), "")));
        assert_eq!(parse_command("hello"), None);
    }
}
