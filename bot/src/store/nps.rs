//! NPS asks: who was asked when, on which channel, and what became of it. The rule of when a
//! customer is due lives in `crate::surveys::nps`; this file only reads and writes rows.

use super::{
    Channel, NewSurveyResponse, Pool, Result, Store, StoreError, SurveyResponse, Task, now_ms,
};

/// Why a customer was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsOccasion {
    /// Right after a resolved conversation (its CSAT answered, dismissed or not due).
    Resolved,
    /// The periodic job (Telegram), or a widget visit of a customer who may be contacted.
    Schedule,
}

impl NpsOccasion {
    pub fn as_str(self) -> &'static str {
        match self {
            NpsOccasion::Resolved => "resolved",
            NpsOccasion::Schedule => "schedule",
        }
    }
}

impl TryFrom<String> for NpsOccasion {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self> {
        match s.as_str() {
            "resolved" => Ok(NpsOccasion::Resolved),
            "schedule" => Ok(NpsOccasion::Schedule),
            other => Err(StoreError::Corrupt(format!(
                "unknown NPS occasion {other:?}"
            ))),
        }
    }
}

/// One NPS question put to a customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct NpsAsk {
    pub id: i64,
    pub customer_id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub occasion: NpsOccasion,
    /// The resolved conversation that prompted the question, if any.
    pub conversation_id: Option<i64>,
    pub asked_at: i64,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    pub response_id: Option<i64>,
    pub answered_at: Option<i64>,
    pub dismissed_at: Option<i64>,
    pub reason_until: Option<i64>,
}

/// What the due rule needs to know about a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct NpsHistory {
    pub opted_out_at: Option<i64>,
    pub contact_consent_at: Option<i64>,
    /// The last time the customer was asked (answered or not).
    pub nps_asked_at: Option<i64>,
    /// The customer's latest NPS answer, however it was recorded.
    pub last_answer_at: Option<i64>,
}

/// An ask about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNpsAsk {
    pub customer_id: i64,
    pub channel: Channel,
    pub occasion: NpsOccasion,
    pub conversation_id: Option<i64>,
}

const ASK_COLUMNS: &str = "id, customer_id, channel, occasion, conversation_id, asked_at, \
    chat_id, message_id, response_id, answered_at, dismissed_at, reason_until";

const RESPONSE_COLUMNS: &str = "id, kind, customer_id, conversation_id, channel, score, comment, \
    comment_sentiment, created_at";

impl Store {
    /// The customer's opt-out, consent, last ask and last answer. `NotFound` for an unknown id.
    pub async fn nps_history(&self, customer_id: i64) -> Result<NpsHistory> {
        on_pool!(self, pool => {
            sqlx::query_as::<_, NpsHistory>(
                "SELECT c.opted_out_at, c.contact_consent_at, c.nps_asked_at, \
                 (SELECT MAX(r.created_at) FROM survey_responses r \
                  WHERE r.kind = 'nps' AND r.customer_id = c.id) AS last_answer_at \
                 FROM customers c WHERE c.id = $1",
            )
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Records an ask if the customer's last ask is still the one `seen` (compare and set on
    /// `customers.nps_asked_at`) and they have not opted out meanwhile: `None` when another
    /// channel or node asked first. The caller decided from [`Store::nps_history`] that the
    /// customer is due.
    pub async fn claim_nps_ask(
        &self,
        ask: &NewNpsAsk,
        seen: Option<i64>,
        now: i64,
    ) -> Result<Option<NpsAsk>> {
        let sql = format!(
            "INSERT INTO nps_asks (customer_id, channel, occasion, conversation_id, asked_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {ASK_COLUMNS}"
        );
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE customers SET nps_asked_at = $1 WHERE id = $2 AND opted_out_at IS NULL \
                 AND COALESCE(nps_asked_at, -1) = $3",
            )
            .bind(now)
            .bind(ask.customer_id)
            .bind(seen.unwrap_or(-1))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                return Ok(None);
            }
            let row = sqlx::query_as::<_, NpsAsk>(sqlx::AssertSqlSafe(sql))
                .bind(ask.customer_id)
                .bind(ask.channel.as_str())
                .bind(ask.occasion.as_str())
                .bind(ask.conversation_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(row))
        })
    }

    /// One survey answer by id.
    pub async fn survey_response_by_id(&self, id: i64) -> Result<SurveyResponse> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM survey_responses WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
        })
    }

    pub async fn nps_ask(&self, id: i64) -> Result<NpsAsk> {
        let sql = format!("SELECT {ASK_COLUMNS} FROM nps_asks WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query_as::<_, NpsAsk>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
        })
    }

    /// The customer's latest ask on `channel` asked after `since` that is neither answered nor
    /// dismissed: a question still waiting for them.
    pub async fn open_nps_ask(
        &self,
        customer_id: i64,
        channel: Channel,
        since: i64,
    ) -> Result<Option<NpsAsk>> {
        let sql = format!(
            "SELECT {ASK_COLUMNS} FROM nps_asks WHERE customer_id = $1 AND channel = $2 \
             AND asked_at > $3 AND answered_at IS NULL AND dismissed_at IS NULL \
             ORDER BY id DESC LIMIT 1"
        );
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, NpsAsk>(sqlx::AssertSqlSafe(sql))
                .bind(customer_id)
                .bind(channel.as_str())
                .bind(since)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Stores the answer to an ask, in one transaction with marking the ask answered: `None`
    /// (and nothing written) when the ask was answered or dismissed already. `reason_until`
    /// is when a plain message stops counting as the reason (Telegram).
    pub async fn answer_nps_ask(
        &self,
        ask_id: i64,
        answer: &NewSurveyResponse,
        reason_until: Option<i64>,
    ) -> Result<Option<SurveyResponse>> {
        let now = now_ms();
        let insert = format!(
            "INSERT INTO survey_responses (kind, customer_id, conversation_id, channel, score, \
             comment, comment_sentiment, created_at) VALUES ('nps', $1, $2, $3, $4, $5, $6, $7) \
             RETURNING {RESPONSE_COLUMNS}"
        );
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE nps_asks SET answered_at = $1, reason_until = $2 \
                 WHERE id = $3 AND answered_at IS NULL AND dismissed_at IS NULL",
            )
            .bind(now)
            .bind(reason_until)
            .bind(ask_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                return Ok(None);
            }
            // One NPS answer per conversation (the table's unique key): a conversation that
            // prompted an answer in an earlier period is not named again.
            let conversation = match answer.conversation_id {
                Some(id) => {
                    let taken: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM survey_responses WHERE kind = 'nps' AND conversation_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    taken.is_none().then_some(id)
                }
                None => None,
            };
            let row = sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(insert))
                .bind(answer.customer_id)
                .bind(conversation)
                .bind(answer.channel.as_str())
                .bind(answer.score)
                .bind(&answer.comment)
                .bind(answer.comment_sentiment)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE nps_asks SET response_id = $1 WHERE id = $2")
                .bind(row.id)
                .bind(ask_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(row))
        })
    }

    /// Marks an unanswered ask dismissed ("No thanks"); false when it was answered or
    /// dismissed already.
    pub async fn dismiss_nps_ask(&self, ask_id: i64) -> Result<bool> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE nps_asks SET dismissed_at = $1 \
                 WHERE id = $2 AND answered_at IS NULL AND dismissed_at IS NULL",
            )
            .bind(now_ms())
            .bind(ask_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Closes every open ask of a customer (they opted out) and stops waiting for reasons.
    pub async fn close_nps_asks(&self, customer_id: i64) -> Result<()> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE nps_asks SET dismissed_at = $1 \
                 WHERE customer_id = $2 AND answered_at IS NULL AND dismissed_at IS NULL",
            )
            .bind(now)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE nps_asks SET reason_until = NULL \
                 WHERE customer_id = $1 AND reason_until IS NOT NULL",
            )
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Remembers the Telegram message that carries an ask's keyboard.
    pub async fn set_nps_ask_message(
        &self,
        ask_id: i64,
        chat_id: i64,
        message_id: i64,
    ) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query("UPDATE nps_asks SET chat_id = $1, message_id = $2 WHERE id = $3")
                .bind(chat_id)
                .bind(message_id)
                .bind(ask_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The customer's answered ask whose reason is still awaited at `now` on `channel`.
    pub async fn nps_awaiting_reason(
        &self,
        customer_id: i64,
        channel: Channel,
        now: i64,
    ) -> Result<Option<NpsAsk>> {
        let sql = format!(
            "SELECT {ASK_COLUMNS} FROM nps_asks WHERE customer_id = $1 AND channel = $2 \
             AND response_id IS NOT NULL AND reason_until > $3 ORDER BY id DESC LIMIT 1"
        );
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, NpsAsk>(sqlx::AssertSqlSafe(sql))
                .bind(customer_id)
                .bind(channel.as_str())
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Stops waiting for an ask's reason (given, or skipped).
    pub async fn stop_awaiting_nps_reason(&self, ask_id: i64) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query("UPDATE nps_asks SET reason_until = NULL WHERE id = $1")
                .bind(ask_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Customers the periodic job may ask on Telegram: consent given and no opt-out, a
    /// Telegram chat, not asked since `cutoff` nor answered since, and no conversation waiting
    /// for or with a person. (customer id, chat key), at most `limit`, longest-unasked first.
    pub async fn nps_schedule_candidates(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.id, (SELECT i.external_key FROM identities i WHERE i.customer_id = c.id \
                   AND i.channel = 'telegram' ORDER BY i.id LIMIT 1) AS chat \
                 FROM customers c \
                 WHERE c.contact_consent_at IS NOT NULL AND c.opted_out_at IS NULL \
                 AND (c.nps_asked_at IS NULL OR c.nps_asked_at <= $1) \
                 AND EXISTS (SELECT 1 FROM identities i WHERE i.customer_id = c.id \
                   AND i.channel = 'telegram') \
                 AND NOT EXISTS (SELECT 1 FROM survey_responses r WHERE r.kind = 'nps' \
                   AND r.customer_id = c.id AND r.created_at > $1) \
                 AND NOT EXISTS (SELECT 1 FROM conversations v WHERE v.customer_id = c.id \
                   AND v.state IN ('waiting', 'agent')) \
                 ORDER BY COALESCE(c.nps_asked_at, 0), c.id LIMIT $2",
            )
            .bind(cutoff)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The open task of `kind` about a customer, if any.
    pub async fn open_task_of(&self, kind: &str, customer_id: i64) -> Result<Option<Task>> {
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, Task>(
                "SELECT id, kind, customer_id, conversation_id, title, detail, state, \
                 assigned_to, created_at, done_at, done_by FROM tasks \
                 WHERE kind = $1 AND customer_id = $2 AND state = 'open'",
            )
            .bind(kind)
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Rewrites an open task's title and particulars (a newer answer, a reason given later).
    pub async fn update_open_task(
        &self,
        id: i64,
        title: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "UPDATE tasks SET title = $1, detail = $2 WHERE id = $3 AND state = 'open'",
            )
            .bind(title)
            .bind(detail.to_string())
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
