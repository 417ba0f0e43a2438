//! What the Telegram channel keeps across restarts: the update offset and the delivery cursor,
//! the survey prompts it sent, and the one-time codes that link a widget customer to a chat.

use super::{Channel, Message, Pool, Result, Store, StoreError, SurveyKind, now_ms};

/// A message for a Telegram chat, with the chat's identity key (the chat id).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxMessage {
    #[sqlx(flatten)]
    pub message: Message,
    pub chat_key: Option<String>,
}

/// What redeeming a link code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The identity now belongs to `customer_id`; `moved_conversations` came over from the
    /// customer the identity belonged to before.
    Linked {
        customer_id: i64,
        moved_conversations: u64,
    },
    /// The identity already belonged to that customer.
    AlreadyLinked { customer_id: i64 },
    /// Unknown, expired or already used.
    InvalidCode,
    /// That customer is linked to another identity of the same channel already.
    LinkedElsewhere,
}

impl Store {
    // ---- cursors --------------------------------------------------------------------------

    pub async fn telegram_cursor(&self, name: &str) -> Result<Option<i64>> {
        let value: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM telegram_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(value)
    }

    /// Moves a cursor forward to `value`; never backward (a late writer cannot undo progress).
    pub async fn advance_telegram_cursor(&self, name: &str, value: i64) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO telegram_cursors (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET \
                 value = CASE WHEN excluded.value > telegram_cursors.value \
                         THEN excluded.value ELSE telegram_cursors.value END, \
                 updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    // ---- delivery -------------------------------------------------------------------------

    /// Messages for customers in Telegram conversations with an id above `after`, oldest
    /// first, each with its chat: what a restarted or lagging adapter must still deliver.
    pub async fn telegram_outbox_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, OutboxMessage>(
                "SELECT m.id, m.conversation_id, m.author, m.body, m.client_id, m.article_id, \
                 m.sentiment, m.meta, m.created_at, \
                 (SELECT i.external_key FROM identities i WHERE i.customer_id = c.customer_id \
                  AND i.channel = 'telegram' ORDER BY i.id LIMIT 1) AS chat_key \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE c.channel = 'telegram' AND m.author <> 'customer' AND m.id > $1 \
                 ORDER BY m.id LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The identity key of a customer on `channel` (the Telegram chat id), if linked.
    pub async fn identity_key(&self, customer_id: i64, channel: Channel) -> Result<Option<String>> {
        let key: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT external_key FROM identities WHERE customer_id = $1 AND channel = $2 \
                 ORDER BY id LIMIT 1",
            )
            .bind(customer_id)
            .bind(channel.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(key)
    }

    /// One message by id.
    pub async fn message(&self, id: i64) -> Result<Message> {
        on_pool!(self, pool => {
            sqlx::query_as::<_, Message>(
                concat!("SELECT ", message_columns!(), " FROM messages WHERE id = $1"),
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    // ---- survey prompts -------------------------------------------------------------------

    /// Claims the right to ask `kind` about a conversation: true the first time only.
    pub async fn claim_survey_prompt(
        &self,
        kind: SurveyKind,
        conversation_id: i64,
        chat_id: i64,
    ) -> Result<bool> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO telegram_survey_prompts (kind, conversation_id, chat_id, asked_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (kind, conversation_id) DO NOTHING",
            )
            .bind(kind.as_str())
            .bind(conversation_id)
            .bind(chat_id)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Remembers which chat message carries the survey's keyboard (to remove it once answered).
    pub async fn set_survey_prompt_message(
        &self,
        kind: SurveyKind,
        conversation_id: i64,
        message_id: i64,
    ) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "UPDATE telegram_survey_prompts SET message_id = $1 \
                 WHERE kind = $2 AND conversation_id = $3",
            )
            .bind(message_id)
            .bind(kind.as_str())
            .bind(conversation_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Takes the chat's next plain messages until `until` (Unix ms) as the comment on a
    /// conversation's CSAT rating.
    pub async fn await_csat_comment(&self, conversation_id: i64, until: i64) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "UPDATE telegram_survey_prompts SET comment_until = $1 \
                 WHERE kind = 'csat' AND conversation_id = $2",
            )
            .bind(until)
            .bind(conversation_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The conversation whose CSAT comment the chat is asked for at `now`, if any (the latest).
    pub async fn csat_comment_awaited(&self, chat_id: i64, now: i64) -> Result<Option<i64>> {
        let id: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT conversation_id FROM telegram_survey_prompts \
                 WHERE chat_id = $1 AND kind = 'csat' AND comment_until > $2 \
                 ORDER BY asked_at DESC, conversation_id DESC LIMIT 1",
            )
            .bind(chat_id)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Stops waiting for a conversation's CSAT comment in `chat_id`. True for the one caller
    /// that stopped a wait still open at `now` (so a comment and a Skip press racing go on to
    /// one NPS question, not two); false when there was none.
    pub async fn stop_awaiting_csat_comment(
        &self,
        conversation_id: i64,
        chat_id: i64,
        now: i64,
    ) -> Result<bool> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE telegram_survey_prompts SET comment_until = NULL \
                 WHERE kind = 'csat' AND conversation_id = $1 AND chat_id = $2 \
                 AND comment_until > $3",
            )
            .bind(conversation_id)
            .bind(chat_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Stops every CSAT comment wait in a chat (the customer sent `/stop`).
    pub async fn stop_awaiting_csat_comments_in(&self, chat_id: i64) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "UPDATE telegram_survey_prompts SET comment_until = NULL \
                 WHERE chat_id = $1 AND comment_until IS NOT NULL",
            )
            .bind(chat_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Resolved Telegram conversations updated since `since` whose CSAT was never asked: what a
    /// restarted adapter still owes.
    pub async fn telegram_resolved_unsurveyed(&self, since: i64) -> Result<Vec<i64>> {
        let ids: Vec<i64> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT c.id FROM conversations c WHERE c.channel = 'telegram' \
                 AND c.state = 'resolved' AND c.updated_at >= $1 \
                 AND NOT EXISTS (SELECT 1 FROM telegram_survey_prompts p \
                   WHERE p.kind = 'csat' AND p.conversation_id = c.id) \
                 ORDER BY c.id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(ids)
    }

    // ---- link codes -----------------------------------------------------------------------

    /// Stores a one-time code (its SHA-256) for `customer_id`, valid until `expires_at`.
    pub async fn create_link_code(
        &self,
        code_hash: &str,
        customer_id: i64,
        expires_at: i64,
    ) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO link_codes (code_hash, customer_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(code_hash)
            .bind(customer_id)
            .bind(now_ms())
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Redeems a code for the identity (`channel`, `key`), in one transaction: the code is
    /// used up, and the identity, with the conversations, survey answers and events of the
    /// customer it belonged to, moves to the customer who asked for the code.
    pub async fn redeem_link_code(
        &self,
        code_hash: &str,
        channel: Channel,
        key: &str,
    ) -> Result<LinkOutcome> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let target: Option<i64> = sqlx::query_scalar(
                "UPDATE link_codes SET used_at = $1 \
                 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING customer_id",
            )
            .bind(now)
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(target) = target else {
                return Ok(LinkOutcome::InvalidCode);
            };
            let current: Option<i64> = sqlx::query_scalar(
                "SELECT customer_id FROM identities WHERE channel = $1 AND external_key = $2",
            )
            .bind(channel.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if current == Some(target) {
                tx.commit().await?;
                return Ok(LinkOutcome::AlreadyLinked { customer_id: target });
            }
            let other: Option<String> = sqlx::query_scalar(
                "SELECT external_key FROM identities WHERE customer_id = $1 AND channel = $2 LIMIT 1",
            )
            .bind(target)
            .bind(channel.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if other.is_some() {
                // Leave the code unused: nothing happened.
                return Ok(LinkOutcome::LinkedElsewhere);
            }
            let mut moved = 0;
            match current {
                Some(old) => {
                    for sql in [
                        "UPDATE identities SET customer_id = $1 WHERE customer_id = $2",
                        "UPDATE survey_responses SET customer_id = $1 WHERE customer_id = $2",
                        "UPDATE events SET customer_id = $1 WHERE customer_id = $2",
                        "UPDATE nps_asks SET customer_id = $1 WHERE customer_id = $2",
                    ] {
                        sqlx::query(sql).bind(target).bind(old).execute(&mut *tx).await?;
                    }
                    moved = sqlx::query("UPDATE conversations SET customer_id = $1 WHERE customer_id = $2")
                        .bind(target)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    // An opt-out given in either channel stands; so does an NPS question
                    // asked in either (the later one counts for the period).
                    sqlx::query(
                        "UPDATE customers SET opted_out_at = COALESCE(opted_out_at, \
                         (SELECT o.opted_out_at FROM customers o WHERE o.id = $2)), \
                         nps_asked_at = (SELECT MAX(t) FROM (SELECT nps_asked_at AS t FROM \
                         customers WHERE id IN ($1, $2)) AS asked) WHERE id = $1",
                    )
                    .bind(target)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO identities (customer_id, channel, external_key, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(target)
                    .bind(channel.as_str())
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(LinkOutcome::Linked { customer_id: target, moved_conversations: moved })
        })
    }
}
