//! The weekly summary for owners: NPS, CSAT, customers at risk and the questions the bot could
//! not answer, over the last seven days, delivered as a signed webhook (the same machinery and
//! the same `webhook_deliveries` record as the at-risk webhook) on a schedule and on demand.

use std::sync::Arc;
use std::time::Duration;

use feedback::stats::{CsatSummary, NpsSummary, RevenueAtRisk};
use serde::Serialize;

use super::{CustomerQuery, CustomerSort, Period, Reports, ValueWeightedNps};
use crate::store::{Store, StoreError, now_ms};
use crate::value::webhook::{self, DeliveryOutcome, WebhookSettings};

/// The webhook event of the weekly summary.
pub const SUMMARY_EVENT: &str = "reports.weekly_summary";
/// Days the summary covers, today included.
pub const SUMMARY_DAYS: i64 = 7;
/// At-risk customers listed (highest CLV first; the count covers them all).
pub const AT_RISK_LISTED: usize = 10;
/// Unanswered question groups listed.
pub const UNANSWERED_LISTED: usize = 5;

/// When and where the summary goes.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySettings {
    /// How often it is sent; `None` turns the schedule off (sending on demand still works).
    pub every: Option<Duration>,
    pub webhook: Option<WebhookSettings>,
}

impl Default for SummarySettings {
    fn default() -> Self {
        SummarySettings {
            every: Some(Duration::from_secs(7 * 24 * 3600)),
            webhook: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("no summary webhook is configured (summary_webhook_url)")]
    NotConfigured,
    #[error("invalid summary settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Report(#[from] super::ReportError),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("the unanswered-questions report failed: {0}")]
    Unanswered(String),
}

/// A customer at risk, as the summary lists them.
#[derive(Debug, Clone, Serialize)]
pub struct AtRiskCustomer {
    pub customer_id: i64,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub clv: Option<f64>,
    pub segment: String,
    pub churn_risk: f64,
    pub reasons: Vec<String>,
}

/// A group of similar questions the bot could not answer.
#[derive(Debug, Clone, Serialize)]
pub struct UnansweredTopic {
    pub question: String,
    pub count: usize,
    pub conversations: usize,
    pub last_seen: i64,
}

/// The summary's body (the webhook's JSON also carries `event`, `delivery_id`, `created_at`).
#[derive(Debug, Clone, Serialize)]
pub struct WeeklySummary {
    pub from: String,
    pub to: String,
    pub nps: NpsSummary,
    pub value_weighted_nps: ValueWeightedNps,
    pub csat: CsatSummary,
    pub revenue_at_risk: RevenueAtRisk,
    /// Every customer flagged at risk now.
    pub at_risk_total: usize,
    /// The most valuable of them.
    pub at_risk_customers: Vec<AtRiskCustomer>,
    pub top_unanswered: Vec<UnansweredTopic>,
}

/// Builds and sends the weekly summary; cheap to clone.
#[derive(Clone)]
pub struct SummaryService {
    settings: Arc<SummarySettings>,
    http: Option<reqwest::Client>,
}

impl Default for SummaryService {
    fn default() -> Self {
        SummaryService {
            settings: Arc::new(SummarySettings::default()),
            http: None,
        }
    }
}

impl SummaryService {
    pub fn new(settings: SummarySettings) -> Result<Self, SummaryError> {
        let http = settings
            .webhook
            .as_ref()
            .map(|hook| hook.client("summary_webhook"))
            .transpose()
            .map_err(SummaryError::Settings)?;
        Ok(SummaryService {
            settings: Arc::new(settings),
            http,
        })
    }

    pub fn settings(&self) -> &SummarySettings {
        &self.settings
    }

    /// The summary of the last [`SUMMARY_DAYS`] days up to `today` (UTC).
    pub async fn build(
        &self,
        store: &Store,
        language: kb::Language,
        today: time::Date,
    ) -> Result<WeeklySummary, SummaryError> {
        let period = Period {
            from: today - time::Duration::days(SUMMARY_DAYS - 1),
            to: today,
        };
        let reports = Reports::new(store.clone());
        let dashboard = reports.dashboard(&period, super::Bucket::Week).await?;
        let at_risk = reports
            .all_customers(&CustomerQuery {
                sort: CustomerSort::Clv,
                descending: true,
                at_risk: Some(true),
                ..CustomerQuery::default()
            })
            .await?;
        let unanswered = crate::learning::unanswered_report(
            store,
            language,
            period.start_ms(),
            period.end_ms(),
            UNANSWERED_LISTED,
        )
        .await
        .map_err(|e| SummaryError::Unanswered(e.to_string()))?;
        Ok(WeeklySummary {
            from: dashboard.period.from.clone(),
            to: dashboard.period.to.clone(),
            nps: dashboard.nps,
            value_weighted_nps: dashboard.value_weighted_nps,
            csat: dashboard.csat,
            revenue_at_risk: dashboard.revenue_at_risk,
            at_risk_total: at_risk.len(),
            at_risk_customers: at_risk
                .into_iter()
                .take(AT_RISK_LISTED)
                .map(|c| AtRiskCustomer {
                    customer_id: c.customer_id,
                    name: c.name,
                    external_id: c.external_id,
                    clv: c.clv,
                    segment: c.segment,
                    churn_risk: c.churn_risk,
                    reasons: c.reasons,
                })
                .collect(),
            top_unanswered: unanswered
                .into_iter()
                .map(|g| UnansweredTopic {
                    question: g.question,
                    count: g.count,
                    conversations: g.conversations,
                    last_seen: g.last_seen,
                })
                .collect(),
        })
    }

    /// Builds the summary and delivers it (retried and recorded like every webhook).
    pub async fn send(
        &self,
        store: &Store,
        language: kb::Language,
    ) -> Result<(DeliveryOutcome, WeeklySummary), SummaryError> {
        let (Some(hook), Some(http)) = (&self.settings.webhook, &self.http) else {
            return Err(SummaryError::NotConfigured);
        };
        let summary = self
            .build(store, language, time::OffsetDateTime::now_utc().date())
            .await?;
        let delivery_id = hex::encode(rand::random::<[u8; 16]>());
        let mut body = serde_json::to_value(&summary)
            .map_err(|e| SummaryError::Settings(format!("summary not serialisable: {e}")))?;
        body["event"] = SUMMARY_EVENT.into();
        body["delivery_id"] = delivery_id.clone().into();
        body["created_at"] = now_ms().into();
        let outcome = webhook::deliver(
            http,
            store,
            hook,
            SUMMARY_EVENT,
            &delivery_id,
            &body.to_string(),
        )
        .await?;
        tracing::info!(
            delivery_id,
            delivered = outcome.delivered,
            attempts = outcome.attempts,
            "weekly summary sent"
        );
        Ok((outcome, summary))
    }
}

/// Sends the summary every `every`, counted from the last attempt recorded (so a restart or a
/// summary sent by hand does not cause an extra one), until shutdown.
pub fn spawn_schedule(state: &crate::server::AppState) {
    let service = state.summary.clone();
    let (Some(every), Some(_)) = (service.settings().every, &service.settings().webhook) else {
        return;
    };
    let store = state.engine.store().clone();
    let language = state.engine.kb().language();
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        loop {
            let wait = match store.last_webhook_attempt_at(SUMMARY_EVENT).await {
                Ok(Some(last)) => last
                    .saturating_add(every_ms)
                    .saturating_sub(now_ms())
                    .max(0),
                Ok(None) => every_ms,
                Err(e) => {
                    tracing::warn!(error = ?e, "reading the last summary delivery failed");
                    every_ms
                }
            };
            let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            if let Ok(Some(last)) = store.last_webhook_attempt_at(SUMMARY_EVENT).await
                && now_ms() < last.saturating_add(every_ms)
            {
                continue;
            }
            if let Err(e) = service.send(&store, language).await {
                tracing::error!(error = ?e, "the scheduled weekly summary failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(every.min(Duration::from_secs(3600))) => {}
                }
            }
        }
    });
}
