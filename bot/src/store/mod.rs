//! Storage: one interface, two backends (SQLite, the embedded default, and PostgreSQL).
//!
//! Every query is written once. Both backends accept `$1`-style parameters, times are Unix
//! milliseconds in `BIGINT` columns, and ids are `BIGINT`, so the same SQL text runs on both; the
//! [`on_pool!`] macro expands each body once per backend so the native drivers (with their own type
//! checking and connection handling) are used rather than sqlx's `Any` driver. Only the
//! migrations differ per backend (`migrations/sqlite`, `migrations/postgres`).
//!
//! *Invariant*: a customer message and the bot's reply to it are written in one transaction
//! ([`Store::record_exchange`]); a message is acknowledged only after that commits.

mod model;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use model::*;

/// Errors of the storage layer. Callers see *what* failed; the driver's detail stays in the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Duplicate,
    /// The row changed under us (another agent acted first); the caller may reload and retry.
    #[error("changed concurrently")]
    Conflict,
    #[error("unsupported database url (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
enum Pool {
    /// SQLite allows one writer at a time. Writers queue for the single `write` connection in
    /// the pool (fair, async) instead of colliding on the file lock, where SQLite's busy handler
    /// sleeps in steps of up to a second; reads run concurrently on `read` (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// A cheap handle to the database (clone it freely: the pool inside is reference counted).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

/// Runs `$body` with `$pool` bound to the backend's native pool for reads. The body is compiled
/// once per backend, which is what lets one SQL string serve both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { read: $pool, .. } => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_pool!`], for statements that write.
macro_rules! on_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { write: $pool, .. } => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// The columns of [`Conversation`], in a literal so queries can `concat!` it.
macro_rules! conversation_columns {
    () => {
        "id, customer_id, channel, state, unanswered_streak, assigned_to, waiting_since, \
         handoff_reason, first_response_at, created_at, updated_at"
    };
}

/// The columns of [`Message`], in a literal so queries can `concat!` it.
macro_rules! message_columns {
    () => {
        "id, conversation_id, author, body, client_id, article_id, sentiment, meta, created_at"
    };
}

/// Inserts one metrics event with the given executor (a transaction or a connection).
macro_rules! insert_event {
    ($executor:expr, $event:expr, $now:expr) => {{
        let event: &$crate::store::NewEvent = $event;
        sqlx::query(
            "INSERT INTO events (kind, conversation_id, customer_id, data, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.kind.as_str())
        .bind(event.conversation_id)
        .bind(event.customer_id)
        .bind(event.data.to_string())
        .bind($now)
        .execute($executor)
        .await
    }};
}

mod learning;
mod nps;
mod queue;
mod reports;
mod shared;
pub use nps::{NewNpsAsk, NpsAsk, NpsHistory, NpsOccasion};
pub use reports::{AnsweredArticle, CustomerReportRow, ReportAnswer};
mod staff;
mod value;

pub use value::{
    ContactRow, ExternalIdLink, NewValueRun, PurchaseRow, SentimentRow, WebhookAttempt,
};
mod surveys;
mod telegram;

pub use learning::{
    ApproveOutcome, NewSuggestion, Suggestion, SuggestionState, TurnEvent, question_key,
};

pub use telegram::{LinkOutcome, OutboxMessage};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Connects to `url` (`sqlite:PATH`, `sqlite://PATH` or `postgres://…`) and applies the
    /// embedded migrations. A SQLite file and its parent directory are created on first use.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                // In WAL mode NORMAL is safe from corruption and survives a crash of hark; only
                // a power loss may drop the last commits. FULL would fsync every message.
                .synchronous(SqliteSynchronous::Normal)
                // Checkpoints run in the background (below), not inside whichever commit
                // happens to cross the WAL size threshold: that commit would stall for it.
                .pragma("wal_autocheckpoint", "0")
                .busy_timeout(Duration::from_secs(5));
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            spawn_checkpoints(read.clone());
            Store {
                pool: Pool::Sqlite { read, write },
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Store {
                pool: Pool::Postgres(pool),
            }
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The SQLite URL for a database file inside `data_dir`.
    pub fn sqlite_url_in(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("hark.db").display())
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    // ---- customers and identities -------------------------------------------------------

    /// The customer behind a channel identity, if that identity is known.
    pub async fn customer_by_identity(&self, channel: Channel, key: &str) -> Result<Option<i64>> {
        let id: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT customer_id FROM identities WHERE channel = $1 AND external_key = $2",
            )
            .bind(channel.as_str())
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Creates a customer together with its first channel identity.
    pub async fn create_customer(&self, channel: Channel, key: &str) -> Result<i64> {
        let now = now_ms();
        let id = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO customers (created_at) VALUES ($1) RETURNING id",
            )
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO identities (customer_id, channel, external_key, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(channel.as_str())
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    pub async fn customer(&self, id: i64) -> Result<Customer> {
        on_pool!(self, pool => {
            sqlx::query_as::<_, Customer>(
                "SELECT id, external_id, display_name, email, created_at FROM customers WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    // ---- conversations -------------------------------------------------------------------

    /// The customer's latest conversation on `channel`, if any.
    pub async fn latest_conversation(
        &self,
        customer_id: i64,
        channel: Channel,
    ) -> Result<Option<Conversation>> {
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, Conversation>(
                concat!("SELECT ", conversation_columns!(), " FROM conversations \
                 WHERE customer_id = $1 AND channel = $2 ORDER BY id DESC LIMIT 1"),
            )
            .bind(customer_id)
            .bind(channel.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn create_conversation(
        &self,
        customer_id: i64,
        channel: Channel,
    ) -> Result<Conversation> {
        let now = now_ms();
        let row = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, Conversation>(
                concat!("INSERT INTO conversations (customer_id, channel, state, unanswered_streak, created_at, updated_at) \
                 VALUES ($1, $2, 'bot', 0, $3, $3) \
                 RETURNING ", conversation_columns!()),
            )
            .bind(customer_id)
            .bind(channel.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_event!(&mut *tx, &NewEvent::new(EventKind::ConversationStarted)
                .conversation(row.id).customer(customer_id), now)?;
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    pub async fn conversation(&self, id: i64) -> Result<Conversation> {
        on_pool!(self, pool => {
            sqlx::query_as::<_, Conversation>(
                concat!("SELECT ", conversation_columns!(), " FROM conversations WHERE id = $1"),
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Moves a conversation to `state`, recording `event` in the same transaction.
    pub async fn set_state(
        &self,
        conversation_id: i64,
        state: ConversationState,
        event: NewEvent,
    ) -> Result<()> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE conversations SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(state.as_str())
                .bind(now)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event!(&mut *tx, &event.conversation(conversation_id), now)?;
            tx.commit().await?;
        });
        Ok(())
    }

    // ---- messages ------------------------------------------------------------------------

    /// Messages of a conversation with an id greater than `after`, oldest first.
    pub async fn messages_after(&self, conversation_id: i64, after: i64) -> Result<Vec<Message>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Message>(
                concat!("SELECT ", message_columns!(),
                    " FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id"),
            )
            .bind(conversation_id)
            .bind(after)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Stores one customer turn and everything the engine decided about it, atomically.
    ///
    /// If the conversation already holds a message with the same `client_id`, nothing is written
    /// and [`Exchange::Duplicate`] carries the id stored the first time: this is what makes sends
    /// idempotent across reconnects.
    pub async fn record_exchange(&self, turn: &NewTurn) -> Result<Exchange> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO messages (conversation_id, author, body, client_id, article_id, sentiment, meta, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (conversation_id, client_id) DO NOTHING RETURNING id",
            )
            .bind(turn.conversation_id)
            .bind(turn.customer.author.as_str())
            .bind(&turn.customer.body)
            .bind(&turn.customer.client_id)
            .bind(&turn.customer.article_id)
            .bind(turn.customer.sentiment)
            .bind(turn.customer.meta.to_string())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(customer_message_id) = inserted else {
                let existing: i64 = sqlx::query_scalar(
                    "SELECT id FROM messages WHERE conversation_id = $1 AND client_id = $2",
                )
                .bind(turn.conversation_id)
                .bind(&turn.customer.client_id)
                .fetch_one(&mut *tx)
                .await?;
                return Ok(Exchange::Duplicate { message_id: existing });
            };
            let mut stored = Vec::with_capacity(1 + turn.replies.len());
            stored.push(Message::from_new(customer_message_id, turn.conversation_id, &turn.customer, now));
            for reply in &turn.replies {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO messages (conversation_id, author, body, client_id, article_id, sentiment, meta, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(turn.conversation_id)
                .bind(reply.author.as_str())
                .bind(&reply.body)
                .bind(&reply.client_id)
                .bind(&reply.article_id)
                .bind(reply.sentiment)
                .bind(reply.meta.to_string())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                stored.push(Message::from_new(id, turn.conversation_id, reply, now));
            }
            let streak_sql = match turn.streak {
                StreakChange::Keep => "unanswered_streak",
                StreakChange::Reset => "0",
                StreakChange::Increment => "unanswered_streak + 1",
            };
            // Entering the queue stamps when and why; going back to the bot clears the queue
            // fields (a reopened conversation starts over).
            let update = format!(
                "UPDATE conversations SET state = COALESCE($1, state), unanswered_streak = {streak_sql}, \
                 waiting_since = CASE WHEN $1 = 'waiting' THEN $2 WHEN $1 = 'bot' THEN NULL ELSE waiting_since END, \
                 handoff_reason = CASE WHEN $1 = 'waiting' THEN $4 WHEN $1 = 'bot' THEN NULL ELSE handoff_reason END, \
                 assigned_to = CASE WHEN $1 = 'bot' THEN NULL ELSE assigned_to END, \
                 first_response_at = CASE WHEN $1 IN ('bot', 'waiting') THEN NULL ELSE first_response_at END, \
                 updated_at = $2 WHERE id = $3"
            );
            sqlx::query(sqlx::AssertSqlSafe(update))
                .bind(turn.new_state.map(ConversationState::as_str))
                .bind(now)
                .bind(turn.conversation_id)
                .bind(&turn.handoff_reason)
                .execute(&mut *tx)
                .await?;
            for event in &turn.events {
                insert_event!(&mut *tx, event, now)?;
            }
            tx.commit().await?;
            Ok(Exchange::Stored { messages: stored })
        })
    }

    // ---- knowledge-base articles ---------------------------------------------------------

    /// Inserts or replaces `articles` in one transaction: all of them or none.
    pub async fn upsert_articles(&self, articles: &[kb::Article]) -> Result<()> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            for a in articles {
                sqlx::query(
                    "INSERT INTO articles (id, title, answer, questions, tags, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (id) DO UPDATE SET title = excluded.title, answer = excluded.answer, \
                     questions = excluded.questions, tags = excluded.tags, updated_at = excluded.updated_at",
                )
                .bind(&a.id)
                .bind(&a.title)
                .bind(&a.answer)
                .bind(json_list(&a.questions))
                .bind(json_list(&a.tags))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn articles(&self) -> Result<Vec<kb::Article>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, ArticleRow>(
                "SELECT id, title, answer, questions, tags FROM articles ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ArticleRow::into_article).collect()
    }

    /// A fingerprint of the articles table that changes whenever an article is added, changed
    /// or deleted: (count, latest `updated_at`, sum of `updated_at`).
    pub async fn articles_version(&self) -> Result<(i64, i64, i64)> {
        let row: (i64, Option<i64>, Option<i64>) = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), MAX(updated_at), CAST(SUM(updated_at % 1000003) AS BIGINT) FROM articles",
            )
            .fetch_one(pool)
            .await?
        });
        Ok((row.0, row.1.unwrap_or(0), row.2.unwrap_or(0)))
    }

    pub async fn delete_article(&self, id: &str) -> Result<()> {
        let done = on_writer!(self, pool => {
            sqlx::query("DELETE FROM articles WHERE id = $1").bind(id).execute(pool).await?.rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    // ---- purchases ------------------------------------------------------------------------

    /// Stores purchases in one transaction: all of them or none. Customers are matched by their
    /// external id and created when unknown; a purchase whose order id is already stored for
    /// that customer is skipped, so importing the same file twice adds nothing.
    pub async fn import_transactions(
        &self,
        rows: &[feedback::value::Transaction],
    ) -> Result<TransactionImport> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut customers = std::collections::HashMap::<&str, i64>::new();
            let mut summary = TransactionImport::default();
            for row in rows {
                let external = row.customer_id.as_str();
                let customer = match customers.get(external) {
                    Some(id) => *id,
                    None => {
                        let found: Option<i64> =
                            sqlx::query_scalar("SELECT id FROM customers WHERE external_id = $1")
                                .bind(external)
                                .fetch_optional(&mut *tx)
                                .await?;
                        let id = match found {
                            Some(id) => id,
                            None => {
                                summary.new_customers += 1;
                                sqlx::query_scalar(
                                    "INSERT INTO customers (external_id, created_at) VALUES ($1, $2) RETURNING id",
                                )
                                .bind(external)
                                .bind(now)
                                .fetch_one(&mut *tx)
                                .await?
                            }
                        };
                        customers.insert(external, id);
                        id
                    }
                };
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO transactions (customer_id, occurred_on, amount, order_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id, order_id) DO NOTHING RETURNING id",
                )
                .bind(customer)
                .bind(row.date.to_string())
                .bind(row.amount.get())
                .bind(&row.order_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                match inserted {
                    Some(_) => summary.inserted += 1,
                    None => summary.skipped += 1,
                }
            }
            tx.commit().await?;
            Ok(summary)
        })
    }

    /// Every stored purchase with the customer's external id (or `#<id>` for chat customers
    /// without one), oldest first: the input of the value models.
    pub async fn purchases(&self) -> Result<Vec<Purchase>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Purchase>(
                "SELECT COALESCE(c.external_id, '#' || CAST(c.id AS TEXT)) AS customer, \
                 t.occurred_on, t.amount, t.order_id \
                 FROM transactions t JOIN customers c ON c.id = t.customer_id \
                 ORDER BY t.occurred_on, t.id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    // ---- events --------------------------------------------------------------------------

    pub async fn record_event(&self, event: &NewEvent) -> Result<()> {
        on_writer!(self, pool => {
            let mut conn = pool.acquire().await?;
            insert_event!(&mut *conn, event, now_ms())?;
        });
        Ok(())
    }

    pub async fn events(&self, kind: Option<EventKind>) -> Result<Vec<Event>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Event>(
                "SELECT id, kind, conversation_id, customer_id, data, created_at FROM events \
                 WHERE ($1 IS NULL OR kind = $1) ORDER BY id",
            )
            .bind(kind.map(EventKind::as_str))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

/// Copies the SQLite WAL back into the database every second. PASSIVE never blocks the writer
/// or readers; it stops when the pool is closed.
fn spawn_checkpoints(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    });
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}
