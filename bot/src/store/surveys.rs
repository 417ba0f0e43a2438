//! Survey answers (CSAT, NPS). Validation lives in `crate::surveys`; this file only stores rows.

use super::{
    NewSurveyResponse, Pool, Result, Store, StoreError, SurveyKind, SurveyResponse, now_ms,
};

const COLUMNS: &str = "id, kind, customer_id, conversation_id, channel, score, comment, \
    comment_sentiment, created_at";

impl Store {
    /// Stores an answer. `None` when this conversation already has an answer of this kind
    /// (the first answer counts; pressing a button twice changes nothing).
    pub async fn insert_survey_response(
        &self,
        answer: &NewSurveyResponse,
    ) -> Result<Option<SurveyResponse>> {
        let sql = format!(
            "INSERT INTO survey_responses (kind, customer_id, conversation_id, channel, score, \
             comment, comment_sentiment, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (kind, conversation_id) DO NOTHING RETURNING {COLUMNS}"
        );
        let row = on_writer!(self, pool => {
            sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(sql))
                .bind(answer.kind.as_str())
                .bind(answer.customer_id)
                .bind(answer.conversation_id)
                .bind(answer.channel.as_str())
                .bind(answer.score)
                .bind(&answer.comment)
                .bind(answer.comment_sentiment)
                .bind(now_ms())
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Adds the follow-up comment to an answer that has none yet. `NotFound` otherwise.
    pub async fn set_survey_comment(
        &self,
        response_id: i64,
        comment: &str,
        sentiment: Option<f64>,
    ) -> Result<()> {
        let done = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE survey_responses SET comment = $1, comment_sentiment = $2 \
                 WHERE id = $3 AND comment IS NULL",
            )
            .bind(comment)
            .bind(sentiment)
            .bind(response_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The answer of this kind about a conversation, if any.
    pub async fn survey_response(
        &self,
        kind: SurveyKind,
        conversation_id: i64,
    ) -> Result<Option<SurveyResponse>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM survey_responses WHERE kind = $1 AND conversation_id = $2"
        );
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(sql))
                .bind(kind.as_str())
                .bind(conversation_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Every answer of a kind given since `since` (Unix ms), oldest first: the reports' input.
    pub async fn survey_responses(
        &self,
        kind: SurveyKind,
        since: i64,
    ) -> Result<Vec<SurveyResponse>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM survey_responses WHERE kind = $1 AND created_at >= $2 \
             ORDER BY created_at, id"
        );
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(sql))
                .bind(kind.as_str())
                .bind(since)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// The customer's latest answer of a kind, if any (NPS is asked at most once per period).
    pub async fn latest_survey_response(
        &self,
        kind: SurveyKind,
        customer_id: i64,
    ) -> Result<Option<SurveyResponse>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM survey_responses WHERE kind = $1 AND customer_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, SurveyResponse>(sqlx::AssertSqlSafe(sql))
                .bind(kind.as_str())
                .bind(customer_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }
}
