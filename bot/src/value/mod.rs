//! Customer value in the platform: scores every customer with purchases from what is stored
//! (purchases and the support signals of their conversations), stores the scores with the
//! model version and fit time, and reaches out when a customer becomes at risk: a task for
//! agents, a signed webhook, and a message on their channel only with their consent.
//!
//! Runs on a schedule (`value_refresh_hours`, [`spawn_refresh`]) and on demand (`hark value
//! refresh`, `POST /api/value/refresh`). Knows no HTTP server types; the models are
//! `feedback::value`. With too few customers to fit BG/NBD (or a fit that fails) it falls back
//! to a simple model and records why (`value_runs.fallback_reason`); it never panics on data.

pub mod signals;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use feedback::value::churn::{ChurnWeights, PurchaseOutlook, SupportSignals, churn_risk};
use feedback::value::cli::{self, ScoreOptions};
use feedback::value::segment::{
    AtRisk, SegmentPolicy, ValueTier, at_risk_flags, suggested_action, value_tiers,
};
use feedback::value::{
    Amount, CustomerId, CustomerSummary, MODEL_VERSION, Periods, TimeUnit, Transaction, parse_date,
    summarise,
};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::hub::{Hub, HubEvent, Topic};
use crate::store::{
    Author, ConversationState, CustomerScore, MessageMeta, NewMessage, NewTask, NewValueRun,
    Segment, Store, StoreError, now_ms,
};
pub use webhook::WebhookSettings;

/// Version stored with scores from the simple fallback model.
pub const SIMPLE_MODEL_VERSION: &str = "value-simple-1";
/// Fewer customers with purchases than this are scored with the simple model: four BG/NBD
/// parameters need more people than that to mean anything.
pub const MIN_CUSTOMERS_TO_FIT: usize = 20;
/// The kind of task raised for an at-risk customer.
pub const OUTREACH_TASK: &str = "at_risk_outreach";
/// The webhook event sent when customers become at risk.
pub const AT_RISK_EVENT: &str = "customers.at_risk";
/// At most this many customers per webhook delivery.
const WEBHOOK_BATCH: usize = 100;

/// What the value refresh does, from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSettings {
    /// How often scores are recomputed; `None` turns the schedule off.
    pub refresh_every: Option<Duration>,
    /// Share of scored customers flagged at risk (highest churn risk first).
    pub at_risk_share: f64,
    /// Where to announce customers who become at risk.
    pub webhook: Option<WebhookSettings>,
    /// The proactive message sent to consenting customers who become at risk.
    pub outreach_message: String,
}

impl Default for ValueSettings {
    fn default() -> Self {
        ValueSettings {
            refresh_every: Some(Duration::from_secs(24 * 3600)),
            at_risk_share: 0.25,
            webhook: None,
            outreach_message: "Hello again! It has been a while since we heard from you. Is \
                there anything we can help you with? Just reply here."
                .to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ValueRefreshError {
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("stored purchase is invalid: {0}")]
    BadPurchase(String),
    #[error("invalid value settings: {0}")]
    Settings(String),
    #[error("scoring failed: {0}")]
    Model(#[from] feedback::value::ValueError),
    #[error("the scoring task failed")]
    Join(#[from] tokio::task::JoinError),
}

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshReport {
    pub run_id: i64,
    pub model_version: String,
    /// Why the simple model scored instead of BG/NBD + Gamma-Gamma, when it did.
    pub fallback_reason: Option<String>,
    pub fitted_at: i64,
    pub customers: usize,
    pub at_risk: usize,
    /// Customers flagged at risk now who were not before.
    pub newly_at_risk: Vec<i64>,
    pub tasks_created: usize,
    pub messages_sent: usize,
    pub webhook_deliveries: Vec<webhook::DeliveryOutcome>,
}

/// The value refresh with its settings; cheap to clone. Runs never overlap.
#[derive(Clone)]
pub struct ValueService {
    settings: Arc<ValueSettings>,
    http: Option<reqwest::Client>,
    running: Arc<Mutex<()>>,
}

impl Default for ValueService {
    /// Default settings, no webhook.
    fn default() -> Self {
        ValueService {
            settings: Arc::new(ValueSettings::default()),
            http: None,
            running: Arc::new(Mutex::new(())),
        }
    }
}

impl ValueService {
    pub fn new(settings: ValueSettings) -> Result<Self, ValueRefreshError> {
        if !(0.0..=1.0).contains(&settings.at_risk_share) {
            return Err(ValueRefreshError::Settings(
                "value_at_risk_share must be in [0, 1]".into(),
            ));
        }
        let http = settings
            .webhook
            .as_ref()
            .map(|hook| hook.client("value_webhook"))
            .transpose()
            .map_err(ValueRefreshError::Settings)?;
        Ok(ValueService {
            settings: Arc::new(settings),
            http,
            running: Arc::new(Mutex::new(())),
        })
    }

    pub fn settings(&self) -> &ValueSettings {
        &self.settings
    }

    /// Scores every customer with purchases, stores the scores and reaches out to those who
    /// became at risk. `started_by` is recorded with the run (`schedule`, `api`, `cli`).
    pub async fn refresh(
        &self,
        store: &Store,
        hub: &Hub,
        started_by: &str,
    ) -> Result<RefreshReport, ValueRefreshError> {
        let _one_at_a_time = self.running.lock().await;
        let started_at = now_ms();
        let today = time::OffsetDateTime::now_utc().date();

        let purchases = store.purchases_by_customer().await?;
        let mut transactions = Vec::with_capacity(purchases.len());
        for p in purchases {
            let bad = |what: String| {
                ValueRefreshError::BadPurchase(format!("customer {}: {what}", p.customer_id))
            };
            transactions.push(Transaction {
                customer_id: CustomerId::parse(&p.customer_id.to_string()).map_err(bad)?,
                date: parse_date(&p.occurred_on).map_err(bad)?,
                amount: Amount::new(p.amount).map_err(bad)?,
                order_id: None,
            });
        }
        let since = started_at - signals::TREND_DAYS * 24 * 3600 * 1000;
        let rows = signals::SignalRows {
            sentiments: store.customer_sentiments_since(since).await?,
            contacts: store.contacts_since(since).await?,
            latest_nps: store.latest_nps().await?,
        };
        let support: HashMap<CustomerId, SupportSignals> =
            signals::support_signals(&rows, started_at)
                .into_iter()
                .filter_map(|(id, s)| CustomerId::parse(&id.to_string()).ok().map(|c| (c, s)))
                .collect();

        let at_risk_share = self.settings.at_risk_share;
        let scored = tokio::task::spawn_blocking(move || {
            score_customers(&transactions, today, &support, at_risk_share)
        })
        .await??;

        let previously = store.at_risk_customers().await?;
        let mut rows = Vec::with_capacity(scored.scores.len());
        for s in &scored.scores {
            rows.push(CustomerScore {
                customer_id: s.customer_id,
                model_version: scored.model_version.to_owned(),
                fitted_at: started_at,
                scored_at: now_ms(),
                p_alive: s.p_alive,
                expected_purchases: s.expected_purchases,
                clv: s.clv,
                segment: s.segment,
                churn_risk: s.churn_risk,
                at_risk: s.at_risk,
                reasons: s.reasons.clone(),
            });
        }
        store.upsert_customer_scores(&rows).await?;

        let newly: Vec<&Scored> = scored
            .scores
            .iter()
            .filter(|s| s.at_risk && !previously.contains(&s.customer_id))
            .collect();
        let mut tasks_created = 0;
        let mut messages_sent = 0;
        let mut announced = Vec::with_capacity(newly.len());
        for s in &newly {
            let conversation = store.latest_conversation_any(s.customer_id).await?;
            let detail = json!({
                "churn_risk": s.churn_risk,
                "segment": s.segment,
                "clv": s.clv,
                "reasons": s.reasons,
                "suggested_action": s.action,
                "model_version": scored.model_version,
            });
            let task = store
                .create_task(&NewTask {
                    kind: OUTREACH_TASK.to_owned(),
                    customer_id: Some(s.customer_id),
                    conversation_id: conversation.as_ref().map(|c| c.id),
                    title: format!(
                        "Customer at risk of leaving: {}",
                        s.reasons.first().map_or("reach out", String::as_str)
                    ),
                    detail: detail.clone(),
                })
                .await?;
            tasks_created += usize::from(task.is_some());
            if self.send_proactive(store, hub, s.customer_id).await? {
                messages_sent += 1;
            }
            announced.push(json!({
                "customer_id": s.customer_id,
                "external_id": store.external_id(s.customer_id).await?,
                "task_id": task,
                "churn_risk": s.churn_risk,
                "segment": s.segment,
                "clv": s.clv,
                "reasons": s.reasons,
                "suggested_action": s.action,
            }));
        }

        let mut webhook_deliveries = Vec::new();
        if let (Some(hook), Some(http)) = (&self.settings.webhook, &self.http) {
            for batch in announced.chunks(WEBHOOK_BATCH) {
                let delivery_id = random_id();
                let body = json!({
                    "event": AT_RISK_EVENT,
                    "delivery_id": delivery_id,
                    "created_at": now_ms(),
                    "model_version": scored.model_version,
                    "customers": batch,
                })
                .to_string();
                webhook_deliveries.push(
                    webhook::deliver(http, store, hook, AT_RISK_EVENT, &delivery_id, &body).await?,
                );
            }
        }

        let newly_at_risk: Vec<i64> = newly.iter().map(|s| s.customer_id).collect();
        let run_id = store
            .record_value_run(&NewValueRun {
                started_by: started_by.to_owned(),
                model_version: scored.model_version.to_owned(),
                customers: i64::try_from(rows.len()).unwrap_or(i64::MAX),
                newly_at_risk: i64::try_from(newly_at_risk.len()).unwrap_or(i64::MAX),
                fallback_reason: scored.fallback_reason.clone(),
                params: scored.params.clone(),
                started_at,
            })
            .await?;
        tracing::info!(
            run_id,
            customers = rows.len(),
            newly_at_risk = newly_at_risk.len(),
            model = scored.model_version,
            "customer value scores refreshed"
        );
        Ok(RefreshReport {
            run_id,
            model_version: scored.model_version.to_owned(),
            fallback_reason: scored.fallback_reason,
            fitted_at: started_at,
            customers: rows.len(),
            at_risk: scored.scores.iter().filter(|s| s.at_risk).count(),
            newly_at_risk,
            tasks_created,
            messages_sent,
            webhook_deliveries,
        })
    }

    /// Sends the outreach message on the customer's channel when they consented (and did not
    /// opt out since): stored in their latest conversation, or a new one on the channel they
    /// used, then published so the widget shows it and Telegram delivers it. Not while that
    /// conversation waits for or belongs to a person.
    async fn send_proactive(
        &self,
        store: &Store,
        hub: &Hub,
        customer_id: i64,
    ) -> Result<bool, ValueRefreshError> {
        if !store.may_contact(customer_id).await? {
            return Ok(false);
        }
        let conversation = match store.latest_conversation_any(customer_id).await? {
            Some(c) => c,
            None => match store.first_channel(customer_id).await? {
                Some(channel) => store.create_conversation(customer_id, channel).await?,
                None => return Ok(false),
            },
        };
        // While a person owns the conversation or it waits for one, the bot stays silent in it;
        // the agents have the task.
        if matches!(
            conversation.state,
            ConversationState::Waiting | ConversationState::Agent
        ) {
            return Ok(false);
        }
        let mut message = NewMessage::new(Author::Bot, self.settings.outreach_message.clone());
        message.meta = MessageMeta {
            outcome: Some("proactive_outreach".to_owned()),
            ..MessageMeta::default()
        };
        let stored = store
            .record_outgoing_message(conversation.id, &message)
            .await?;
        let event = HubEvent::Message(Arc::new(stored));
        hub.publish(Topic::Outbox(conversation.channel), event.clone());
        hub.publish(Topic::Conversation(conversation.id), event);
        Ok(true)
    }
}

/// Recomputes scores every `refresh_every`, counted from the last stored run (so a restart
/// or a manual refresh does not cause an extra run), until `shutdown`.
pub fn spawn_refresh(state: &crate::server::AppState) {
    let Some(every) = state.value.settings().refresh_every else {
        return;
    };
    let service = state.value.clone();
    let store = state.engine.store().clone();
    let hub = state.engine.hub().clone();
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        loop {
            let wait = match store.last_value_run_at().await {
                Ok(Some(last)) => last
                    .saturating_add(every_ms)
                    .saturating_sub(now_ms())
                    .max(0),
                Ok(None) => every_ms,
                Err(e) => {
                    tracing::warn!(error = ?e, "reading the last value run failed");
                    every_ms
                }
            };
            let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            // Another process (or the API) may have refreshed meanwhile.
            if let Ok(Some(last)) = store.last_value_run_at().await
                && now_ms() < last.saturating_add(every_ms)
            {
                continue;
            }
            if let Err(e) = service.refresh(&store, &hub, "schedule").await {
                tracing::error!(error = ?e, "scheduled customer value refresh failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(every.min(Duration::from_secs(3600))) => {}
                }
            }
        }
    });
}

/// One customer's scores before storing.
#[derive(Debug, Clone, PartialEq)]
struct Scored {
    customer_id: i64,
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    clv: Option<f64>,
    segment: Segment,
    churn_risk: f64,
    at_risk: bool,
    reasons: Vec<String>,
    action: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct ScoredAll {
    scores: Vec<Scored>,
    model_version: &'static str,
    fallback_reason: Option<String>,
    params: serde_json::Value,
}

fn segment_of(tier: ValueTier) -> Segment {
    match tier {
        ValueTier::High => Segment::High,
        ValueTier::Mid => Segment::Mid,
        ValueTier::Low => Segment::Low,
    }
}

/// Fits BG/NBD + Gamma-Gamma and scores; falls back to [`simple_scores`] with a reason when
/// there are too few customers or the fit fails.
fn score_customers(
    transactions: &[Transaction],
    today: time::Date,
    support: &HashMap<CustomerId, SupportSignals>,
    at_risk_share: f64,
) -> Result<ScoredAll, feedback::value::ValueError> {
    let periods = Periods::new(today, None, TimeUnit::Week)?;
    let summaries = summarise(transactions, &periods);
    let segments = SegmentPolicy::new(0.2, 0.3, AtRisk::TopShare(at_risk_share))?;
    let options = ScoreOptions {
        segments,
        ..ScoreOptions::default()
    };
    let fallback = |reason: String| -> ScoredAll {
        ScoredAll {
            scores: simple_scores(&summaries, transactions, support, &options),
            model_version: SIMPLE_MODEL_VERSION,
            fallback_reason: Some(reason),
            params: json!({}),
        }
    };
    if summaries.len() < MIN_CUSTOMERS_TO_FIT {
        return Ok(fallback(format!(
            "{} customers with purchases; the purchase model needs at least {MIN_CUSTOMERS_TO_FIT}",
            summaries.len()
        )));
    }
    // When only the spend model fails (spend too alike across customers, say), BG/NBD still
    // scores: CLV is left out and segments go by expected purchases, with the reason recorded.
    let (report, scored_summaries, partial_reason) = match cli::fit(&summaries, None) {
        Ok(report) => (report, summaries.clone(), None),
        Err(spend_error) => {
            let without_spend: Vec<CustomerSummary> = summaries
                .iter()
                .cloned()
                .map(|mut s| {
                    s.monetary_value = None;
                    s
                })
                .collect();
            match cli::fit(&without_spend, None) {
                Ok(report) => (
                    report,
                    without_spend,
                    Some(format!(
                        "the spend model could not be fitted ({spend_error}); CLV left out, \
                         segments by expected purchases"
                    )),
                ),
                Err(e) => {
                    return Ok(fallback(format!(
                        "the purchase model could not be fitted: {e}"
                    )));
                }
            }
        }
    };
    let models = report.models();
    let scores = cli::score(&scored_summaries, &models, support, &options)?;
    let mut out = Vec::with_capacity(scores.len());
    for s in scores {
        let Ok(customer_id) = s.customer_id.as_str().parse::<i64>() else {
            continue;
        };
        out.push(Scored {
            customer_id,
            p_alive: Some(s.p_alive),
            expected_purchases: Some(s.expected_purchases),
            clv: s.clv,
            segment: segment_of(s.segment),
            churn_risk: s.churn_risk,
            at_risk: s.at_risk,
            reasons: s.reasons,
            action: s.action,
        });
    }
    Ok(ScoredAll {
        scores: out,
        model_version: MODEL_VERSION,
        fallback_reason: partial_reason,
        params: serde_json::to_value(models).unwrap_or_default(),
    })
}

/// The simple model, for shops with few customers: CLV as small businesses compute it
/// (average purchase value × purchases a year × one year × margin), and as churn base how
/// overdue the customer is: weeks since the last purchase / (that + their usual gap between
/// purchases), so one usual gap overdue is 0.5. The usual gap is the customer's own mean
/// gap, or the median over customers with repeat purchases, or 13 weeks.
fn simple_scores(
    summaries: &[CustomerSummary],
    transactions: &[Transaction],
    support: &HashMap<CustomerId, SupportSignals>,
    options: &ScoreOptions,
) -> Vec<Scored> {
    let mut spend: HashMap<&CustomerId, (f64, HashSet<time::Date>)> = HashMap::new();
    for t in transactions {
        let e = spend.entry(&t.customer_id).or_default();
        e.0 += t.amount.get();
        e.1.insert(t.date);
    }
    let mut gaps: Vec<f64> = summaries
        .iter()
        .filter(|s| s.frequency > 0 && s.recency > 0.0)
        .map(|s| s.recency / f64::from(s.frequency))
        .collect();
    gaps.sort_by(f64::total_cmp);
    let usual_gap = gaps.get(gaps.len() / 2).copied().unwrap_or(13.0).max(1.0);
    let none = SupportSignals::default();
    let mut partial: Vec<(Scored, f64)> = summaries
        .iter()
        .filter_map(|s| {
            let customer_id = s.customer_id.as_str().parse::<i64>().ok()?;
            let (total, days) = spend.get(&s.customer_id).cloned().unwrap_or_default();
            let purchases = days.len().max(1) as f64;
            let average = total / purchases;
            let weeks_known = s.t.max(1.0);
            let per_year = purchases / weeks_known * 52.0;
            let clv =
                average * per_year * options.margin.get() * f64::from(options.clv_months) / 12.0;
            let gap = if s.frequency > 0 && s.recency > 0.0 {
                (s.recency / f64::from(s.frequency)).max(1.0)
            } else {
                usual_gap
            };
            let since = (s.t - s.recency).max(0.0);
            let outlook = PurchaseOutlook {
                p_alive: 1.0,
                p_no_purchase: since / (since + gap),
                weeks_since_last_purchase: since,
                repeat_purchases: s.frequency,
            };
            let risk = churn_risk(
                outlook,
                support.get(&s.customer_id).unwrap_or(&none),
                &ChurnWeights::default(),
            );
            Some((
                Scored {
                    customer_id,
                    p_alive: None,
                    expected_purchases: None,
                    clv: Some(clv),
                    segment: Segment::Low,
                    churn_risk: risk.score,
                    at_risk: false,
                    reasons: risk.reasons,
                    action: "",
                },
                clv,
            ))
        })
        .collect();
    let values: Vec<f64> = partial.iter().map(|p| p.1).collect();
    let risks: Vec<f64> = partial.iter().map(|p| p.0.churn_risk).collect();
    let tiers = value_tiers(&values, &options.segments);
    let flags = at_risk_flags(&risks, options.segments.at_risk);
    for (((s, _), tier), flag) in partial.iter_mut().zip(tiers).zip(flags) {
        s.segment = segment_of(tier);
        s.at_risk = flag;
        s.action = suggested_action(tier, flag);
    }
    partial.into_iter().map(|p| p.0).collect()
}

/// A random id for a webhook delivery (128 bits, hex).
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use feedback::value::synth::SplitMix64;
    use serde_json::Value;

    fn tx(customer: i64, date: &str, amount: f64) -> Transaction {
        Transaction {
            customer_id: CustomerId::parse(&customer.to_string()).unwrap_or_else(|e| panic!("{e}")),
            date: parse_date(date).unwrap_or_else(|e| panic!("{e}")),
            amount: Amount::new(amount).unwrap_or_else(|e| panic!("{e}")),
            order_id: None,
        }
    }

    fn today() -> time::Date {
        parse_date("2026-06-30").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_handful_of_customers_gets_simple_scores_with_a_reason() -> anyhow::Result<()> {
        let txs = vec![
            tx(1, "2026-01-05", 40.0),
            tx(1, "2026-02-05", 40.0),
            tx(1, "2026-06-20", 40.0),
            tx(2, "2025-12-01", 500.0),
            tx(3, "2026-06-01", 10.0),
            tx(3, "2026-06-15", 10.0),
        ];
        let out = score_customers(&txs, today(), &HashMap::new(), 0.34)?;
        assert_eq!(out.model_version, SIMPLE_MODEL_VERSION);
        assert!(
            out.fallback_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("3 customers with purchases")),
            "{:?}",
            out.fallback_reason
        );
        assert_eq!(out.scores.len(), 3);
        let by_id = |id| out.scores.iter().find(|s| s.customer_id == id);
        // Customer 2 bought once, seven months ago: the most overdue.
        let lapsed = by_id(2).ok_or_else(|| anyhow::anyhow!("no score for 2"))?;
        assert!(lapsed.at_risk);
        assert_eq!(lapsed.reasons[0], "no purchase for 30 weeks");
        assert!(by_id(1).is_some_and(|s| !s.at_risk && s.p_alive.is_none()));
        Ok(())
    }

    #[test]
    fn no_purchases_scores_nobody_without_failing() -> anyhow::Result<()> {
        let out = score_customers(&[], today(), &HashMap::new(), 0.25)?;
        assert!(out.scores.is_empty());
        assert!(out.fallback_reason.is_some());
        Ok(())
    }

    /// Customers drawn from the CDNOW parameters (weeks), as purchase days; `spend` gives
    /// each purchase's amount.
    fn cdnow_like(
        customers: i64,
        mut spend: impl FnMut(&mut SplitMix64) -> f64,
    ) -> Vec<Transaction> {
        let mut rng = SplitMix64::new(7);
        let mut txs = Vec::new();
        for id in 0..customers {
            let rate = rng.gamma(0.243, 1.0 / 4.414);
            let dropout = rng.beta(0.793, 2.426);
            let age_weeks = 10.0 + 42.0 * rng.uniform();
            let first = today() - time::Duration::days((age_weeks * 7.0) as i64);
            let amount = spend(&mut rng);
            txs.push(tx(id, &first.to_string(), amount));
            let mut at = 0.0;
            loop {
                if rng.uniform() < dropout {
                    break;
                }
                at += -(1.0 - rng.uniform()).ln() / rate.max(1e-9);
                if at >= age_weeks {
                    break;
                }
                let day = first + time::Duration::days((at * 7.0) as i64);
                let amount = spend(&mut rng);
                txs.push(tx(id, &day.to_string(), amount));
            }
        }
        txs
    }

    #[test]
    fn enough_customers_are_fitted_with_bgnbd() -> anyhow::Result<()> {
        let txs = cdnow_like(600, |rng| 20.0 + 10.0 * rng.uniform());
        let out = score_customers(&txs, today(), &HashMap::new(), 0.25)?;
        assert_eq!(out.model_version, MODEL_VERSION);
        assert_eq!(out.fallback_reason, None);
        assert_eq!(out.scores.len(), 600);
        assert!(out.params["bgnbd"]["r"].as_f64().is_some_and(|r| r > 0.0));
        let flagged = out.scores.iter().filter(|s| s.at_risk).count();
        assert!((100..=250).contains(&flagged), "{flagged} at risk");
        assert!(out.scores.iter().all(|s| s.p_alive.is_some()));
        Ok(())
    }

    #[test]
    fn when_only_the_spend_model_fails_bgnbd_still_scores() -> anyhow::Result<()> {
        // Everyone spends the same: Gamma-Gamma has no spread to fit. (The same draws as
        // above otherwise.)
        let txs = cdnow_like(600, |rng| {
            rng.uniform();
            25.0
        });
        let out = score_customers(&txs, today(), &HashMap::new(), 0.25)?;
        assert_eq!(out.model_version, MODEL_VERSION);
        assert!(
            out.fallback_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("the spend model could not be fitted")),
            "{:?}",
            out.fallback_reason
        );
        assert!(
            out.scores
                .iter()
                .all(|s| s.p_alive.is_some() && s.clv.is_none())
        );
        assert_eq!(out.params["gamma_gamma"], Value::Null);
        Ok(())
    }
}
