//! Rows of customer value in the platform: API keys, the signals churn risk reads, scoring
//! runs, webhook deliveries, external ids and proactive messages.

use std::collections::HashSet;

use serde::Serialize;

use super::{
    Author, Channel, Conversation, Message, NewMessage, Pool, Result, Store, StoreError, now_ms,
};

/// A customer message with its sentiment, for the sentiment trend.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SentimentRow {
    pub customer_id: i64,
    pub conversation_id: i64,
    pub sentiment: f64,
    pub created_at: i64,
}

/// A conversation, as churn signals see it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ContactRow {
    pub customer_id: i64,
    pub conversation_id: i64,
    pub state: String,
    pub created_at: i64,
    /// Times the bot could not answer in it.
    pub not_answered: i64,
    /// Times the customer asked for (or was handed to) a person.
    pub handoffs: i64,
}

/// A stored purchase keyed by hark's customer id.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PurchaseRow {
    pub customer_id: i64,
    pub occurred_on: String,
    pub amount: f64,
}

/// A finished scoring run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewValueRun {
    pub started_by: String,
    pub model_version: String,
    pub customers: i64,
    pub newly_at_risk: i64,
    pub fallback_reason: Option<String>,
    pub params: serde_json::Value,
    pub started_at: i64,
}

/// One attempt to deliver a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct WebhookAttempt {
    pub delivery_id: String,
    pub event: String,
    pub url: String,
    pub attempt: i64,
    /// `delivered`, `retrying` (another attempt follows) or `failed` (the last one).
    pub status: String,
    pub response_code: Option<i64>,
    pub error: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// What setting a customer's external id did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalIdLink {
    /// The id was free (or already this customer's).
    Set,
    /// The id belonged to a purchase-only record (imported purchases, never chatted): its
    /// purchases now belong to this customer.
    Merged { purchases_moved: u64 },
}

impl Store {
    // ---- API keys -------------------------------------------------------------------------

    /// Stores a new API key's hash under `name`; `None` when a live key has that name.
    pub async fn create_api_key(&self, name: &str, key_hash: &str) -> Result<Option<i64>> {
        let id: Option<i64> = on_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO api_keys (name, key_hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(name)
            .bind(key_hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Revokes the live key called `name`; `NotFound` when there is none.
    pub async fn revoke_api_key(&self, name: &str) -> Result<()> {
        let done = on_writer!(self, pool => {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The id of the live key with this hash, if any.
    pub async fn live_api_key(&self, key_hash: &str) -> Result<Option<i64>> {
        let id: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(key_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(id)
    }

    // ---- what the value models read -------------------------------------------------------

    /// Every stored purchase by hark customer id, oldest first.
    pub async fn purchases_by_customer(&self) -> Result<Vec<PurchaseRow>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, PurchaseRow>(
                "SELECT customer_id, occurred_on, amount FROM transactions ORDER BY occurred_on, id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Customer messages with a sentiment score since `since` (Unix ms).
    pub async fn customer_sentiments_since(&self, since: i64) -> Result<Vec<SentimentRow>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, SentimentRow>(
                "SELECT c.customer_id, m.conversation_id, m.sentiment, m.created_at \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.author = 'customer' AND m.sentiment IS NOT NULL AND m.created_at >= $1 \
                 ORDER BY m.id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Conversations started since `since`, with how often the bot could not answer and how
    /// often a person was asked for in each.
    pub async fn contacts_since(&self, since: i64) -> Result<Vec<ContactRow>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, ContactRow>(
                "SELECT c.customer_id, c.id AS conversation_id, c.state, c.created_at, \
                 CAST(COALESCE(SUM(CASE WHEN e.kind = 'not_answered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS not_answered, \
                 CAST(COALESCE(SUM(CASE WHEN e.kind = 'handoff_requested' THEN 1 ELSE 0 END), 0) AS BIGINT) AS handoffs \
                 FROM conversations c LEFT JOIN events e ON e.conversation_id = c.id \
                 AND e.kind IN ('not_answered', 'handoff_requested') \
                 WHERE c.created_at >= $1 \
                 GROUP BY c.customer_id, c.id, c.state, c.created_at ORDER BY c.id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Each customer's latest NPS answer (0 to 10).
    pub async fn latest_nps(&self) -> Result<Vec<(i64, i64)>> {
        let rows: Vec<(i64, i64)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT s.customer_id, s.score FROM survey_responses s \
                 WHERE s.kind = 'nps' AND s.id = (SELECT MAX(id) FROM survey_responses t \
                 WHERE t.kind = 'nps' AND t.customer_id = s.customer_id)",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Customers whose stored score flags them at risk.
    pub async fn at_risk_customers(&self) -> Result<HashSet<i64>> {
        let ids: Vec<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT customer_id FROM customer_scores WHERE at_risk = 1")
                .fetch_all(pool)
                .await?
        });
        Ok(ids.into_iter().collect())
    }

    /// The external ids of these customers (those that have one).
    pub async fn external_id(&self, customer_id: i64) -> Result<Option<String>> {
        let id: Option<Option<String>> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT external_id FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(pool)
                .await?
        });
        id.ok_or(StoreError::NotFound)
    }

    /// hark's id of the customer with this external id.
    pub async fn customer_by_external_id(&self, external_id: &str) -> Result<Option<i64>> {
        let id: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM customers WHERE external_id = $1")
                .bind(external_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(id)
    }

    // ---- runs and deliveries --------------------------------------------------------------

    pub async fn record_value_run(&self, run: &NewValueRun) -> Result<i64> {
        let id: i64 = on_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO value_runs (started_by, model_version, customers, newly_at_risk, \
                 fallback_reason, params, started_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&run.started_by)
            .bind(&run.model_version)
            .bind(run.customers)
            .bind(run.newly_at_risk)
            .bind(&run.fallback_reason)
            .bind(run.params.to_string())
            .bind(run.started_at)
            .bind(now_ms())
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    pub async fn record_webhook_attempt(&self, attempt: &WebhookAttempt) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO webhook_deliveries (delivery_id, event, url, attempt, status, \
                 response_code, error, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&attempt.delivery_id)
            .bind(&attempt.event)
            .bind(&attempt.url)
            .bind(attempt.attempt)
            .bind(&attempt.status)
            .bind(attempt.response_code)
            .bind(&attempt.error)
            .bind(&attempt.body)
            .bind(attempt.created_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every recorded webhook attempt, oldest first.
    pub async fn webhook_attempts(&self) -> Result<Vec<WebhookAttempt>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, WebhookAttempt>(
                "SELECT delivery_id, event, url, attempt, status, response_code, error, body, created_at \
                 FROM webhook_deliveries ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    // ---- linking and outreach -------------------------------------------------------------

    /// Gives a chat customer the shop's id. When a purchase-only record (imported purchases, no
    /// channel identity) holds that id, its purchases move to this customer and the record
    /// lets go of the id, in one transaction. `Ok(None)` when another *chat* customer holds it
    /// (nothing changes: two people are never merged automatically).
    pub async fn link_external_id(
        &self,
        customer_id: i64,
        external_id: &str,
    ) -> Result<Option<ExternalIdLink>> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            let holder: Option<i64> =
                sqlx::query_scalar("SELECT id FROM customers WHERE external_id = $1")
                    .bind(external_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let mut outcome = ExternalIdLink::Set;
            if let Some(other) = holder.filter(|other| *other != customer_id) {
                let chats: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM identities WHERE customer_id = $1) + \
                     (SELECT COUNT(*) FROM conversations WHERE customer_id = $1)",
                )
                .bind(other)
                .fetch_one(&mut *tx)
                .await?;
                if chats > 0 {
                    return Ok(None);
                }
                // Orders this customer already has are not moved twice.
                sqlx::query(
                    "DELETE FROM transactions WHERE customer_id = $1 AND order_id IN \
                     (SELECT order_id FROM transactions WHERE customer_id = $2 AND order_id IS NOT NULL)",
                )
                .bind(other)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
                let moved = sqlx::query("UPDATE transactions SET customer_id = $1 WHERE customer_id = $2")
                    .bind(customer_id)
                    .bind(other)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM customer_scores WHERE customer_id = $1")
                    .bind(other)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE customers SET external_id = NULL WHERE id = $1")
                    .bind(other)
                    .execute(&mut *tx)
                    .await?;
                outcome = ExternalIdLink::Merged { purchases_moved: moved };
            }
            sqlx::query("UPDATE customers SET external_id = $1 WHERE id = $2")
                .bind(external_id)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(outcome))
        })
    }

    /// The customer's latest conversation on any channel.
    pub async fn latest_conversation_any(&self, customer_id: i64) -> Result<Option<Conversation>> {
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, Conversation>(concat!(
                "SELECT ",
                conversation_columns!(),
                " FROM conversations WHERE customer_id = $1 ORDER BY id DESC LIMIT 1"
            ))
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// The channel of the customer's first identity, if they ever talked to us.
    pub async fn first_channel(&self, customer_id: i64) -> Result<Option<Channel>> {
        let channel: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT channel FROM identities WHERE customer_id = $1 ORDER BY id LIMIT 1",
            )
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
        });
        channel.map(|c| c.parse()).transpose()
    }

    /// Stores a message the platform sends on its own (no customer turn before it).
    pub async fn record_outgoing_message(
        &self,
        conversation_id: i64,
        message: &NewMessage,
    ) -> Result<Message> {
        debug_assert!(message.author != Author::Customer);
        let now = now_ms();
        let id: i64 = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (conversation_id, author, body, client_id, article_id, sentiment, meta, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(conversation_id)
            .bind(message.author.as_str())
            .bind(&message.body)
            .bind(&message.client_id)
            .bind(&message.article_id)
            .bind(message.sentiment)
            .bind(message.meta.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        });
        Ok(Message::from_new(id, conversation_id, message, now))
    }
}

impl Store {
    /// When the last scoring run finished (Unix ms).
    pub async fn last_value_run_at(&self) -> Result<Option<i64>> {
        let at: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(finished_at) FROM value_runs")
                .fetch_one(pool)
                .await?
        });
        Ok(at)
    }
}
