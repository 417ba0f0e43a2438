//! The widget's side of NPS: show the question when one is due or still open, take the score,
//! the reason, "No thanks" and "Don't ask me again". Every decision is `surveys::nps`'s.

use super::{Connection, Refusal, ServerFrame};
use crate::store::{Channel, Conversation, NpsAsk, SurveyKind, now_ms};
use crate::surveys::nps::{self, NpsError};

/// What the widget says for each refusal; the connection stays open.
fn refusal(e: NpsError) -> Refusal {
    match e {
        NpsError::Store(inner) => {
            tracing::error!(error = ?inner, "an NPS answer could not be stored");
            Refusal::new("internal", "the answer could not be stored; send it again")
        }
        other => Refusal::new("bad_request", other.to_string()),
    }
}

fn closed() -> Refusal {
    Refusal::new("internal", "socket closed")
}

impl Connection {
    /// Shows the NPS question when there is one for this customer: the question still open
    /// (shown before, neither answered nor dismissed), or a new one if the conversation offers
    /// an occasion and the customer is due. Failures are logged; the chat goes on without it.
    pub(super) async fn offer_nps(&mut self, conversation: &Conversation) -> Result<(), ()> {
        let nps = self.state.nps.clone();
        let customer = conversation.customer_id;
        // Not while the customer is chatting or waiting for a person.
        let Some(occasion) = nps::visit_occasion(conversation, now_ms()) else {
            return Ok(());
        };
        let ask = match nps.open_ask(customer, Channel::Web).await {
            Ok(Some(ask)) => Ok(Some(ask)),
            Ok(None) => nps.ask(customer, Channel::Web, occasion).await,
            Err(e) => Err(e),
        };
        match ask {
            Ok(Some(ask)) => self.send_nps_question(&ask).await,
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::warn!(error = ?e, customer, "could not check the NPS survey");
                Ok(())
            }
        }
    }

    async fn send_nps_question(&mut self, ask: &NpsAsk) -> Result<(), ()> {
        self.send(&ServerFrame::Survey {
            kind: "nps",
            question: nps::QUESTION,
            min: 0,
            max: 10,
            ask_id: Some(ask.id),
            min_label: Some(nps::LOW_LABEL),
            max_label: Some(nps::HIGH_LABEL),
        })
        .await
    }

    pub(super) async fn nps_score(
        &mut self,
        customer_id: i64,
        ask_id: i64,
        score: i64,
    ) -> Result<(), Refusal> {
        self.state
            .nps
            .answer(ask_id, customer_id, Channel::Web, score)
            .await
            .map_err(refusal)?;
        self.send(&ServerFrame::SurveyReason {
            kind: "nps",
            ask_id,
            question: nps::FOLLOW_UP,
        })
        .await
        .map_err(|()| closed())
    }

    pub(super) async fn nps_reason(
        &mut self,
        customer_id: i64,
        ask_id: i64,
        reason: Option<String>,
    ) -> Result<(), Refusal> {
        let nps = self.state.nps.clone();
        match reason.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => nps.reason(ask_id, customer_id, text).await,
            _ => nps.skip_reason(ask_id, customer_id).await,
        }
        .map_err(refusal)?;
        self.send(&ServerFrame::SurveyThanks { kind: "nps" })
            .await
            .map_err(|()| closed())
    }

    /// "No thanks". A dismissed CSAT card makes room for the NPS question.
    pub(super) async fn survey_dismiss(
        &mut self,
        conversation_id: i64,
        customer_id: i64,
        kind: SurveyKind,
        ask_id: Option<i64>,
    ) -> Result<(), Refusal> {
        match kind {
            SurveyKind::Nps => {
                let ask_id = ask_id.ok_or_else(|| {
                    Refusal::new("bad_request", "dismissing NPS needs its ask_id")
                })?;
                self.state
                    .nps
                    .dismiss(ask_id, customer_id)
                    .await
                    .map_err(refusal)?;
                self.send(&ServerFrame::SurveyClosed { kind: "nps" })
                    .await
                    .map_err(|()| closed())
            }
            SurveyKind::Csat => {
                self.send(&ServerFrame::SurveyClosed { kind: "csat" })
                    .await
                    .map_err(|()| closed())?;
                let conversation = self
                    .state
                    .engine
                    .store()
                    .conversation(conversation_id)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = ?e, "reading the conversation failed");
                        Refusal::new("internal", "try again")
                    })?;
                self.offer_nps(&conversation).await.map_err(|()| closed())
            }
        }
    }

    /// "Don't ask me again".
    pub(super) async fn survey_opt_out(&mut self, customer_id: i64) -> Result<(), Refusal> {
        self.state.nps.opt_out(customer_id).await.map_err(refusal)?;
        self.send(&ServerFrame::SurveyOptedOut)
            .await
            .map_err(|()| closed())
    }
}
