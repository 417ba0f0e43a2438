//! The handoff queue: conversation ownership changes, agents' messages, notes, and the reads the
//! console's queue and customer panel need.

use super::{
    Applied, Conversation, ConversationChange, ConversationSummary, Message, Note, Pool, QueueRow,
    Result, Store, StoreError, SurveyAnswer, now_ms,
};

/// The queue row query; `{filter}` is a fixed SQL condition chosen by the caller.
fn queue_sql(filter: &str) -> String {
    format!(
        "SELECT c.id, c.customer_id, c.channel, c.state, c.unanswered_streak, c.assigned_to, \
         c.waiting_since, c.handoff_reason, c.first_response_at, c.created_at, c.updated_at, \
         cu.display_name AS customer_name, cu.email AS customer_email, \
         cu.external_id AS customer_external_id, st.display_name AS assigned_name, \
         sc.segment, sc.churn_risk, sc.at_risk, \
         (SELECT m.body FROM messages m WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1) AS last_message, \
         (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id) AS last_message_at, \
         (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'customer' \
            AND m.id > COALESCE((SELECT MAX(a.id) FROM messages a WHERE a.conversation_id = c.id \
            AND a.author = 'agent'), 0)) AS unread, \
         (SELECT MIN(t.sentiment) FROM (SELECT m.sentiment FROM messages m \
            WHERE m.conversation_id = c.id AND m.author = 'customer' AND m.sentiment IS NOT NULL \
            ORDER BY m.id DESC LIMIT 3) t) AS recent_sentiment \
         FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
         LEFT JOIN staff st ON st.id = c.assigned_to \
         LEFT JOIN customer_scores sc ON sc.customer_id = c.customer_id \
         WHERE {filter}"
    )
}

impl Store {
    /// Applies `change` if the conversation is still as the caller saw it; `Conflict` otherwise.
    pub async fn apply_change(&self, change: &ConversationChange) -> Result<Applied> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut stored = None;
            if let Some((message, staff_id)) = &change.message {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO messages (conversation_id, author, body, client_id, article_id, sentiment, meta, staff_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (conversation_id, client_id) DO NOTHING RETURNING id",
                )
                .bind(change.conversation_id)
                .bind(message.author.as_str())
                .bind(&message.body)
                .bind(&message.client_id)
                .bind(&message.article_id)
                .bind(message.sentiment)
                .bind(message.meta.to_string())
                .bind(staff_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else {
                    let existing: i64 = sqlx::query_scalar(
                        "SELECT id FROM messages WHERE conversation_id = $1 AND client_id = $2",
                    )
                    .bind(change.conversation_id)
                    .bind(&message.client_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    return Ok(Applied::Duplicate { message_id: existing });
                };
                stored = Some(Message::from_new(id, change.conversation_id, message, now));
            }
            let conversation: Option<Conversation> = sqlx::query_as(concat!(
                "UPDATE conversations SET state = $1, assigned_to = $2, waiting_since = $3, \
                 handoff_reason = $4, first_response_at = $5, updated_at = $6 \
                 WHERE id = $7 AND state = $8 AND assigned_to IS NOT DISTINCT FROM $9 \
                 RETURNING ", conversation_columns!()))
            .bind(change.state.as_str())
            .bind(change.assigned_to)
            .bind(change.waiting_since)
            .bind(&change.handoff_reason)
            .bind(change.first_response_at)
            .bind(now)
            .bind(change.conversation_id)
            .bind(change.expect_state.as_str())
            .bind(change.expect_assigned)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(conversation) = conversation else {
                return Err(StoreError::Conflict);
            };
            for event in &change.events {
                insert_event!(&mut *tx, event, now)?;
            }
            tx.commit().await?;
            Ok(Applied::Done { conversation, message: stored })
        })
    }

    /// Conversations waiting for or owned by a person.
    pub async fn queue(&self) -> Result<Vec<QueueRow>> {
        let sql = queue_sql("c.state IN ('waiting', 'agent')");
        let rows = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// One conversation as a queue row, whatever its state.
    pub async fn queue_row(&self, conversation_id: i64) -> Result<QueueRow> {
        let sql = queue_sql("c.id = $1");
        let row: Option<QueueRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(conversation_id).fetch_optional(pool).await?
        });
        row.ok_or(StoreError::NotFound)
    }

    /// Open (waiting or agent) conversations per assigned staff member.
    pub async fn open_assignments(&self) -> Result<Vec<(i64, i64)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT assigned_to, COUNT(*) FROM conversations \
                 WHERE state IN ('waiting', 'agent') AND assigned_to IS NOT NULL GROUP BY assigned_to",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Ids of the open conversations assigned to one staff member.
    pub async fn assigned_conversations(&self, staff_id: i64) -> Result<Vec<i64>> {
        let ids = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM conversations WHERE assigned_to = $1 AND state IN ('waiting', 'agent') ORDER BY id",
            )
            .bind(staff_id)
            .fetch_all(pool)
            .await?
        });
        Ok(ids)
    }

    // ---- notes ------------------------------------------------------------------------------

    pub async fn add_note(&self, conversation_id: i64, staff_id: i64, body: &str) -> Result<Note> {
        let now = now_ms();
        let id: i64 = on_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO notes (conversation_id, staff_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(conversation_id)
            .bind(staff_id)
            .bind(body)
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        let author_name = self.staff(staff_id).await?.display_name;
        Ok(Note {
            id,
            conversation_id,
            staff_id,
            author_name,
            body: body.to_owned(),
            created_at: now,
        })
    }

    pub async fn notes(&self, conversation_id: i64) -> Result<Vec<Note>> {
        let notes = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT n.id, n.conversation_id, n.staff_id, s.display_name AS author_name, n.body, n.created_at \
                 FROM notes n JOIN staff s ON s.id = n.staff_id WHERE n.conversation_id = $1 ORDER BY n.id",
            )
            .bind(conversation_id)
            .fetch_all(pool)
            .await?
        });
        Ok(notes)
    }

    // ---- the customer panel -----------------------------------------------------------------

    /// The customer's conversations on every channel, newest first.
    pub async fn customer_conversations(
        &self,
        customer_id: i64,
    ) -> Result<Vec<ConversationSummary>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT c.id, c.channel, c.state, c.created_at, c.updated_at, \
                 (SELECT m.body FROM messages m WHERE m.conversation_id = c.id AND m.author = 'customer' \
                  ORDER BY m.id LIMIT 1) AS first_message \
                 FROM conversations c WHERE c.customer_id = $1 ORDER BY c.id DESC LIMIT 50",
            )
            .bind(customer_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The customer's channel identities: (channel, since).
    pub async fn customer_identities(&self, customer_id: i64) -> Result<Vec<(String, i64)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as("SELECT channel, created_at FROM identities WHERE customer_id = $1 ORDER BY id")
                .bind(customer_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Sentiment of the customer's scored messages since `since` (Unix ms): (time, compound).
    pub async fn customer_sentiment(
        &self,
        customer_id: i64,
        since: i64,
    ) -> Result<Vec<(i64, f64)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT m.created_at, m.sentiment FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE c.customer_id = $1 AND m.author = 'customer' AND m.sentiment IS NOT NULL \
                 AND m.created_at >= $2 ORDER BY m.id",
            )
            .bind(customer_id)
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The customer's CSAT and NPS answers, newest first.
    pub async fn customer_surveys(&self, customer_id: i64) -> Result<Vec<SurveyAnswer>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT kind, score, comment, conversation_id, created_at FROM survey_responses \
                 WHERE customer_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(customer_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Metrics events since `since` (Unix ms), oldest first: (kind, conversation, data, time).
    pub async fn events_since(
        &self,
        since: i64,
    ) -> Result<Vec<(String, Option<i64>, String, i64)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT kind, conversation_id, data, created_at FROM events WHERE created_at >= $1 ORDER BY id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The data and time of the events of one kind since `since` (Unix ms), oldest first.
    pub async fn events_since_of(
        &self,
        kind: super::EventKind,
        since: i64,
    ) -> Result<Vec<(String, i64)>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT data, created_at FROM events WHERE kind = $1 AND created_at >= $2 ORDER BY id",
            )
            .bind(kind.as_str())
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Keeps `email` as the customer's contact address unless they have one; true if stored.
    pub async fn set_customer_email_if_missing(
        &self,
        customer_id: i64,
        email: &str,
    ) -> Result<bool> {
        let done = on_writer!(self, pool => {
            sqlx::query("UPDATE customers SET email = $1 WHERE id = $2 AND email IS NULL")
                .bind(email)
                .bind(customer_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }
}
