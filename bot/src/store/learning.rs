//! Rows of learning from operations: the customer turns the bot did not answer (for the
//! unanswered-questions report) and the agents' suggestions that link a question to an article.

use serde::{Deserialize, Serialize};

use super::{EventKind, Pool, Result, Store, StoreError, now_ms};

/// Where a suggestion stands: waiting for an owner, or decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionState {
    Pending,
    Approved,
    Rejected,
}

impl SuggestionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionState::Pending => "pending",
            SuggestionState::Approved => "approved",
            SuggestionState::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for SuggestionState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(SuggestionState::Pending),
            "approved" => Ok(SuggestionState::Approved),
            "rejected" => Ok(SuggestionState::Rejected),
            other => Err(StoreError::Corrupt(format!(
                "unknown SuggestionState {other:?}"
            ))),
        }
    }
}

impl TryFrom<String> for SuggestionState {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// One metrics event of a customer turn, with the customer's message of that turn (the
/// message and the turn's events are stored in one transaction with the same timestamp).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TurnEvent {
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    pub conversation_id: i64,
    pub message_id: i64,
    pub body: String,
    pub asked_at: i64,
    /// 1 when an agent wrote in the conversation after this message (computed only for
    /// `not_answered` and `clarified` rows; 0 otherwise).
    pub agent_answered: i64,
}

/// A stored suggestion, with the article's title and the names of the people involved.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize)]
pub struct Suggestion {
    pub id: i64,
    pub question: String,
    #[serde(skip)]
    pub question_key: String,
    pub article_id: String,
    /// `None` when the article was deleted since.
    pub article_title: Option<String>,
    pub conversation_id: i64,
    pub message_id: i64,
    pub suggested_by: i64,
    pub suggested_by_name: String,
    #[sqlx(try_from = "String")]
    pub state: SuggestionState,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

/// A suggestion about to be stored (validated by `crate::learning`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSuggestion {
    pub question: String,
    pub question_key: String,
    pub article_id: String,
    pub conversation_id: i64,
    pub message_id: i64,
    pub suggested_by: i64,
}

/// What [`Store::approve_suggestion`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum ApproveOutcome {
    /// Approved; `added` is false when the article already had this example question.
    Approved { added: bool },
    /// The suggestion was decided before (by someone else, or earlier).
    AlreadyDecided(SuggestionState),
    /// The article no longer exists; the suggestion stays pending.
    ArticleGone,
}

/// A question's identity for "the same question": lowercase, words separated by single spaces.
pub fn question_key(question: &str) -> String {
    question
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

const SUGGESTION_SELECT: &str = "SELECT s.id, s.question, s.question_key, s.article_id, \
    a.title AS article_title, s.conversation_id, s.message_id, s.suggested_by, \
    sb.display_name AS suggested_by_name, s.state, s.decided_by, db.display_name AS decided_by_name, \
    s.created_at, s.decided_at \
    FROM kb_suggestions s \
    JOIN staff sb ON sb.id = s.suggested_by \
    LEFT JOIN staff db ON db.id = s.decided_by \
    LEFT JOIN articles a ON a.id = s.article_id";

impl Store {
    /// The answering events (answered, clarified, clarify chosen, not answered, handoff) of
    /// customer turns in `[since, until)`, each with its customer message, by conversation and
    /// in order; at most `max_rows`.
    pub async fn turn_events(
        &self,
        since: i64,
        until: i64,
        max_rows: i64,
    ) -> Result<Vec<TurnEvent>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, TurnEvent>(
                "SELECT e.kind, e.conversation_id, m.id AS message_id, m.body, m.created_at AS asked_at, \
                 CAST(CASE WHEN e.kind IN ('not_answered', 'clarified') AND EXISTS ( \
                     SELECT 1 FROM messages a WHERE a.conversation_id = m.conversation_id \
                     AND a.id > m.id AND a.author = 'agent') THEN 1 ELSE 0 END AS BIGINT) AS agent_answered \
                 FROM events e \
                 JOIN messages m ON m.conversation_id = e.conversation_id \
                     AND m.created_at = e.created_at AND m.author = 'customer' \
                 WHERE e.kind IN ('answered', 'clarified', 'clarify_chosen', 'not_answered', 'handoff_requested') \
                 AND e.created_at >= $1 AND e.created_at < $2 \
                 ORDER BY e.conversation_id, e.id LIMIT $3",
            )
            .bind(since)
            .bind(until)
            .bind(max_rows)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The kinds of the events of one conversation with their times (to tell which customer
    /// turns the bot answered).
    pub async fn conversation_event_kinds(
        &self,
        conversation_id: i64,
    ) -> Result<Vec<(EventKind, i64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT kind, created_at FROM events WHERE conversation_id = $1 ORDER BY id")
                .bind(conversation_id)
                .fetch_all(pool)
                .await?
        });
        // Kinds this build does not know (written by a newer one) say nothing about answering.
        Ok(rows
            .into_iter()
            .filter_map(|(kind, at)| kind.parse().ok().map(|k| (k, at)))
            .collect())
    }

    /// Whether an article with this id is stored.
    pub async fn article_exists(&self, id: &str) -> Result<bool> {
        let found: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM articles WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// Stores a pending suggestion. [`StoreError::Duplicate`] when the same question was
    /// suggested for the same article before (whatever its state).
    pub async fn create_suggestion(&self, new: &NewSuggestion) -> Result<Suggestion> {
        let now = now_ms();
        let id: Option<i64> = on_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO kb_suggestions (question, question_key, article_id, conversation_id, \
                 message_id, suggested_by, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) \
                 ON CONFLICT (question_key, article_id) DO NOTHING RETURNING id",
            )
            .bind(&new.question)
            .bind(&new.question_key)
            .bind(&new.article_id)
            .bind(new.conversation_id)
            .bind(new.message_id)
            .bind(new.suggested_by)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        let id = id.ok_or(StoreError::Duplicate)?;
        self.suggestion(id).await
    }

    pub async fn suggestion(&self, id: i64) -> Result<Suggestion> {
        let sql = format!("{SUGGESTION_SELECT} WHERE s.id = $1");
        on_pool!(self, pool => {
            sqlx::query_as::<_, Suggestion>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)
        })
    }

    /// Suggestions in `state` (all when `None`), oldest first for pending ones (the owner's
    /// to-do list), newest first otherwise; at most `limit`.
    pub async fn suggestions(
        &self,
        state: Option<SuggestionState>,
        limit: i64,
    ) -> Result<Vec<Suggestion>> {
        let order = if state == Some(SuggestionState::Pending) {
            "s.id"
        } else {
            "s.id DESC"
        };
        let sql = format!(
            "{SUGGESTION_SELECT} WHERE ($1 IS NULL OR s.state = $1) ORDER BY {order} LIMIT $2"
        );
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Suggestion>(sqlx::AssertSqlSafe(sql))
                .bind(state.map(SuggestionState::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Suggestions made since `since` (the report marks questions already linked).
    pub async fn suggestions_since(&self, since: i64) -> Result<Vec<Suggestion>> {
        let sql = format!("{SUGGESTION_SELECT} WHERE s.created_at >= $1 ORDER BY s.id");
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Suggestion>(sqlx::AssertSqlSafe(sql))
                .bind(since)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Suggestions about the messages of one conversation.
    pub async fn conversation_suggestions(&self, conversation_id: i64) -> Result<Vec<Suggestion>> {
        let sql = format!("{SUGGESTION_SELECT} WHERE s.conversation_id = $1 ORDER BY s.id");
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, Suggestion>(sqlx::AssertSqlSafe(sql))
                .bind(conversation_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Approves a pending suggestion and appends its question to the article's example
    /// questions, in one transaction: both happen or neither.
    /// [`StoreError::NotFound`] when there is no such suggestion.
    pub async fn approve_suggestion(&self, id: i64, owner_id: i64) -> Result<ApproveOutcome> {
        let now = now_ms();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT question, article_id, state FROM kb_suggestions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let (question, article_id, state) = row.ok_or(StoreError::NotFound)?;
            let state: SuggestionState = state.parse()?;
            if state != SuggestionState::Pending {
                return Ok(ApproveOutcome::AlreadyDecided(state));
            }
            let questions: Option<String> =
                sqlx::query_scalar("SELECT questions FROM articles WHERE id = $1")
                    .bind(&article_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(questions) = questions else {
                return Ok(ApproveOutcome::ArticleGone);
            };
            let mut list: Vec<String> = serde_json::from_str(&questions).map_err(|e| {
                StoreError::Corrupt(format!("article {article_id} questions: {e}"))
            })?;
            let key = question_key(&question);
            let added = !list.iter().any(|q| question_key(q) == key);
            if added {
                list.push(question);
                let json = serde_json::to_string(&list)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("UPDATE articles SET questions = $1, updated_at = $2 WHERE id = $3")
                    .bind(json)
                    .bind(now)
                    .bind(&article_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let done = sqlx::query(
                "UPDATE kb_suggestions SET state = 'approved', decided_by = $1, decided_at = $2 \
                 WHERE id = $3 AND state = 'pending'",
            )
            .bind(owner_id)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                // Decided between our read and this write (PostgreSQL, another node).
                return Err(StoreError::Conflict);
            }
            tx.commit().await?;
            Ok(ApproveOutcome::Approved { added })
        })
    }

    /// Rejects a pending suggestion; `Some(state)` when it was decided before, `NotFound` when
    /// there is no such suggestion.
    pub async fn reject_suggestion(
        &self,
        id: i64,
        owner_id: i64,
    ) -> Result<Option<SuggestionState>> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE kb_suggestions SET state = 'rejected', decided_by = $1, decided_at = $2 \
                 WHERE id = $3 AND state = 'pending'",
            )
            .bind(owner_id)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 1 {
            return Ok(None);
        }
        Ok(Some(self.suggestion(id).await?.state))
    }
}
