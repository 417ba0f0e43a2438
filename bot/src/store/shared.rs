//! Rows several features share: agents' tasks, customer consent and the stored value scores.

use super::{CustomerScore, CustomerScoreRow, NewTask, Pool, Result, Store, Task, now_ms};

const TASK_COLUMNS: &str = "id, kind, customer_id, conversation_id, title, detail, state, \
    assigned_to, created_at, done_at, done_by";

impl Store {
    // ---- tasks ----------------------------------------------------------------------------

    /// Raises a task; `None` when an open task of the same kind for the same customer exists
    /// (raising it again is not an error: the condition is simply still true).
    pub async fn create_task(&self, task: &NewTask) -> Result<Option<i64>> {
        let now = now_ms();
        let id: Option<i64> = on_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO tasks (kind, customer_id, conversation_id, title, detail, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (kind, customer_id) WHERE state = 'open' DO NOTHING RETURNING id",
            )
            .bind(&task.kind)
            .bind(task.customer_id)
            .bind(task.conversation_id)
            .bind(&task.title)
            .bind(task.detail.to_string())
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Open tasks, oldest first.
    pub async fn open_tasks(&self) -> Result<Vec<Task>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE state = 'open' ORDER BY created_at, id"
        );
        let tasks = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        Ok(tasks)
    }

    /// Tasks about one customer, newest first.
    pub async fn customer_tasks(&self, customer_id: i64) -> Result<Vec<Task>> {
        let sql =
            format!("SELECT {TASK_COLUMNS} FROM tasks WHERE customer_id = $1 ORDER BY id DESC");
        let tasks = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(customer_id).fetch_all(pool).await?
        });
        Ok(tasks)
    }

    /// Marks an open task done. `NotFound` when there is no open task with that id.
    pub async fn complete_task(&self, id: i64, staff_id: i64) -> Result<()> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE tasks SET state = 'done', done_at = $1, done_by = $2 \
                 WHERE id = $3 AND state = 'open'",
            )
            .bind(now_ms())
            .bind(staff_id)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(super::StoreError::NotFound);
        }
        Ok(())
    }

    // ---- consent --------------------------------------------------------------------------

    /// Records that the customer opted out of (or back into) proactive messages and surveys.
    pub async fn set_opted_out(&self, customer_id: i64, opted_out: bool) -> Result<()> {
        let at = opted_out.then(now_ms);
        on_writer!(self, pool => {
            sqlx::query("UPDATE customers SET opted_out_at = $1 WHERE id = $2")
                .bind(at)
                .bind(customer_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records the customer's consent to proactive messages (or its withdrawal).
    pub async fn set_contact_consent(&self, customer_id: i64, consent: bool) -> Result<()> {
        let at = consent.then(now_ms);
        on_writer!(self, pool => {
            sqlx::query("UPDATE customers SET contact_consent_at = $1 WHERE id = $2")
                .bind(at)
                .bind(customer_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Whether proactive messages may be sent: consent given and no opt-out since.
    pub async fn may_contact(&self, customer_id: i64) -> Result<bool> {
        let row: Option<(Option<i64>, Option<i64>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT contact_consent_at, opted_out_at FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(matches!(row, Some((Some(_), None))))
    }

    /// Whether the customer opted out of proactive messages and surveys.
    pub async fn opted_out(&self, customer_id: i64) -> Result<bool> {
        let at: Option<Option<i64>> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT opted_out_at FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(matches!(at, Some(Some(_))))
    }

    // ---- value scores ---------------------------------------------------------------------

    /// Replaces the stored scores of these customers, in one transaction.
    pub async fn upsert_customer_scores(&self, scores: &[CustomerScore]) -> Result<()> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            for s in scores {
                let reasons = serde_json::to_string(&s.reasons)
                    .map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO customer_scores (customer_id, model_version, fitted_at, scored_at, \
                     p_alive, expected_purchases, clv, segment, churn_risk, at_risk, reasons) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (customer_id) DO UPDATE SET model_version = excluded.model_version, \
                     fitted_at = excluded.fitted_at, scored_at = excluded.scored_at, \
                     p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases, \
                     clv = excluded.clv, segment = excluded.segment, churn_risk = excluded.churn_risk, \
                     at_risk = excluded.at_risk, reasons = excluded.reasons",
                )
                .bind(s.customer_id)
                .bind(&s.model_version)
                .bind(s.fitted_at)
                .bind(s.scored_at)
                .bind(s.p_alive)
                .bind(s.expected_purchases)
                .bind(s.clv)
                .bind(s.segment.as_str())
                .bind(s.churn_risk)
                .bind(i64::from(s.at_risk))
                .bind(reasons)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The stored scores of one customer, if the value model has scored them.
    pub async fn customer_score(&self, customer_id: i64) -> Result<Option<CustomerScore>> {
        let row: Option<CustomerScoreRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT customer_id, model_version, fitted_at, scored_at, p_alive, \
                 expected_purchases, clv, segment, churn_risk, at_risk, reasons \
                 FROM customer_scores WHERE customer_id = $1",
            )
            .bind(customer_id)
            .fetch_optional(pool)
            .await?
        });
        row.map(CustomerScoreRow::into_score).transpose()
    }
}
