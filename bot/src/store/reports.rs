//! What the owners' reports read: survey answers with the customer's value and the agent of the
//! rated conversation, the articles the bot answered with, and the customers table. Read-only;
//! the figures are computed in `crate::reports`.

use super::{Pool, Result, Store};

/// A survey answer with what the breakdowns group it by.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReportAnswer {
    pub id: i64,
    pub kind: String,
    pub customer_id: i64,
    pub conversation_id: Option<i64>,
    pub channel: String,
    pub score: i64,
    pub comment: Option<String>,
    pub comment_sentiment: Option<f64>,
    pub created_at: i64,
    /// The customer's value segment, when the value model scored them.
    pub segment: Option<String>,
    pub clv: Option<f64>,
    /// The agent who owned the rated conversation (or last wrote in it), if a person did.
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
}

/// An article the bot answered with in a rated conversation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AnsweredArticle {
    pub conversation_id: i64,
    pub article_id: String,
    pub title: Option<String>,
}

/// A scored customer, as the customers table shows them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CustomerReportRow {
    pub customer_id: i64,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub clv: Option<f64>,
    pub segment: String,
    pub churn_risk: f64,
    /// 0 or 1, as stored.
    pub at_risk: i64,
    /// JSON array of plain-words reasons, as stored.
    pub reasons: String,
    pub scored_at: i64,
    pub latest_nps: Option<i64>,
    pub latest_nps_at: Option<i64>,
}

const ANSWER_SQL: &str = "SELECT s.id, s.kind, s.customer_id, s.conversation_id, s.channel, \
    s.score, s.comment, s.comment_sentiment, s.created_at, cs.segment, cs.clv, \
    st.id AS agent_id, st.display_name AS agent_name \
    FROM survey_responses s \
    LEFT JOIN customer_scores cs ON cs.customer_id = s.customer_id \
    LEFT JOIN conversations c ON c.id = s.conversation_id \
    LEFT JOIN staff st ON st.id = COALESCE(c.assigned_to, (SELECT m.staff_id FROM messages m \
        WHERE m.conversation_id = c.id AND m.staff_id IS NOT NULL ORDER BY m.id DESC LIMIT 1)) \
    WHERE s.created_at >= $1 AND s.created_at < $2 \
    ORDER BY s.created_at, s.id";

impl Store {
    /// Every survey answer (CSAT and NPS) given in `[from, to)` (Unix ms), oldest first, with
    /// the customer's segment and CLV and the rated conversation's agent.
    pub async fn report_answers(&self, from: i64, to: i64) -> Result<Vec<ReportAnswer>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, ReportAnswer>(ANSWER_SQL)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// The articles the bot answered with in conversations rated in `[from, to)`: each
    /// (conversation, article) once.
    pub async fn report_answered_articles(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<AnsweredArticle>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, AnsweredArticle>(
                "SELECT DISTINCT m.conversation_id, m.article_id, a.title FROM messages m \
                 LEFT JOIN articles a ON a.id = m.article_id \
                 WHERE m.author = 'bot' AND m.article_id IS NOT NULL AND m.conversation_id IN \
                 (SELECT s.conversation_id FROM survey_responses s WHERE s.created_at >= $1 \
                  AND s.created_at < $2 AND s.conversation_id IS NOT NULL) \
                 ORDER BY m.conversation_id, m.article_id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Every customer the value model scored, with their latest NPS answer (any time).
    pub async fn report_customers(&self) -> Result<Vec<CustomerReportRow>> {
        let rows = on_pool!(self, pool => {
            sqlx::query_as::<_, CustomerReportRow>(
                "SELECT cs.customer_id, c.display_name AS name, c.external_id, c.email, cs.clv, \
                 cs.segment, cs.churn_risk, cs.at_risk, cs.reasons, cs.scored_at, \
                 n.score AS latest_nps, n.created_at AS latest_nps_at \
                 FROM customer_scores cs JOIN customers c ON c.id = cs.customer_id \
                 LEFT JOIN survey_responses n ON n.id = (SELECT MAX(t.id) FROM survey_responses t \
                     WHERE t.kind = 'nps' AND t.customer_id = cs.customer_id) \
                 ORDER BY cs.customer_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

impl Store {
    /// When a webhook of this event was last attempted (Unix ms), delivered or not.
    pub async fn last_webhook_attempt_at(&self, event: &str) -> Result<Option<i64>> {
        let at: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(created_at) FROM webhook_deliveries WHERE event = $1")
                .bind(event)
                .fetch_one(pool)
                .await?
        });
        Ok(at)
    }
}
