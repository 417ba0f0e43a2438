//! The functions `hark value …` calls; each returns a serde-serialisable report.
//!
//! - `hark value fit --transactions CSV --calibration-end DATE [--holdout-end DATE]`
//!   → [`fit_transactions`]; `hark value fit --summary CSV` → [`fit_summary`].
//!   Print the [`FitReport`] as JSON.
//! - `hark value score …` → [`score_transactions`] or [`score_summary`]; print each
//!   [`CustomerScore`] as one JSON line. With data already in memory (the server),
//!   call [`fit`] and [`score`] directly.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::Date;

use super::MODEL_VERSION;
use super::bgnbd::{BgNbdFit, BgNbdParams, fit_bgnbd};
use super::churn::{ChurnWeights, PurchaseOutlook, SupportSignals, auc, churn_risk};
use super::error::ValueError;
use super::gamma_gamma::{
    GammaGammaFit, GammaGammaParams, Spend, customer_lifetime_value, fit_gamma_gamma,
};
use super::input::{CustomerId, read_transactions_csv};
use super::segment::{SegmentPolicy, ValueTier, at_risk_flags, suggested_action, value_tiers};
use super::simple::{DiscountRate, Margin};
use super::summary::{
    CustomerSummary, Periods, Rfm, TimeUnit, read_summary_csv, read_summary_for_fit, summarise,
};

/// Predicted against actual repeat purchases over the holdout, and how well the churn
/// score ranks the customers who bought nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HoldoutCheck {
    /// Holdout length in weeks.
    pub weeks: f64,
    /// Σ E[Y(holdout) | x, t_x, T] over customers.
    pub predicted_repeat_purchases: f64,
    /// Distinct purchase days in the holdout, summed over customers.
    pub actual_repeat_purchases: u64,
    /// (predicted − actual) / actual.
    pub relative_error: f64,
    /// Customers who bought nothing in the holdout.
    pub customers_without_purchase: usize,
    /// AUC of the churn-risk score for "no purchase in the holdout" (no support signals).
    pub auc_churn_risk: Option<f64>,
    /// AUC of 1 − P(alive) alone for the same event.
    pub auc_p_alive: Option<f64>,
}

/// What `hark value fit` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Version of the models and scoring rules; stored with scores.
    pub model_version: &'static str,
    /// Customers in the calibration summary.
    pub customers: usize,
    /// Time unit of the parameters (α is per this unit).
    pub time_unit: TimeUnit,
    /// BG/NBD `{r, alpha, a, b, log_likelihood, …}`.
    pub bgnbd: BgNbdFit,
    /// Gamma-Gamma `{p, q, v, …}` when spend was given and someone bought twice.
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Present when a holdout end was given.
    pub holdout: Option<HoldoutCheck>,
}

/// Fit both models to summaries in weeks; with `holdout_weeks`, also check the forecast
/// against each summary's `holdout_frequency`.
pub fn fit(
    summaries: &[CustomerSummary],
    holdout_weeks: Option<f64>,
) -> Result<FitReport, ValueError> {
    let rfm: Vec<Rfm> = summaries.iter().map(CustomerSummary::rfm).collect();
    let spend: Vec<Option<f64>> = summaries.iter().map(|s| s.monetary_value).collect();
    let holdout: Option<Vec<u32>> = holdout_weeks.map(|_| {
        summaries
            .iter()
            .map(|s| s.holdout_frequency.unwrap_or(0))
            .collect()
    });
    fit_parts(&rfm, &spend, holdout_weeks.zip(holdout.as_deref()))
}

fn fit_parts(
    rfm: &[Rfm],
    monetary_value: &[Option<f64>],
    holdout: Option<(f64, &[u32])>,
) -> Result<FitReport, ValueError> {
    let bgnbd = fit_bgnbd(rfm)?;
    let spend: Vec<Spend> = rfm
        .iter()
        .zip(monetary_value)
        .filter_map(|(c, m)| {
            m.map(|m| Spend {
                frequency: c.frequency,
                monetary_value: m,
            })
        })
        .collect();
    let gamma_gamma = match fit_gamma_gamma(&spend) {
        Ok(fit) => Some(fit),
        Err(ValueError::NoCustomers) => None,
        Err(e) => return Err(e),
    };
    let holdout = holdout.map(|(weeks, counts)| {
        let model = bgnbd.params;
        let predicted = rfm
            .iter()
            .map(|c| model.conditional_expected_purchases(weeks, *c))
            .sum::<f64>();
        let actual: u64 = counts.iter().map(|n| u64::from(*n)).sum();
        let lapsed: Vec<bool> = counts.iter().map(|n| *n == 0).collect();
        let risk: Vec<f64> = rfm.iter().map(|c| model.p_no_purchase(weeks, *c)).collect();
        let not_alive: Vec<f64> = rfm.iter().map(|c| 1.0 - model.p_alive(*c)).collect();
        HoldoutCheck {
            weeks,
            predicted_repeat_purchases: predicted,
            actual_repeat_purchases: actual,
            relative_error: (predicted - actual as f64) / actual as f64,
            customers_without_purchase: lapsed.iter().filter(|l| **l).count(),
            auc_churn_risk: auc(&risk, &lapsed),
            auc_p_alive: auc(&not_alive, &lapsed),
        }
    });
    Ok(FitReport {
        model_version: MODEL_VERSION,
        customers: rfm.len(),
        time_unit: TimeUnit::Week,
        bgnbd,
        gamma_gamma,
        holdout,
    })
}

/// Read a transactions CSV and summarise it in weeks (see [`summarise`]).
pub fn summarise_transactions(
    path: &Path,
    calibration_end: Date,
    holdout_end: Option<Date>,
) -> Result<(Vec<CustomerSummary>, Periods), ValueError> {
    let periods = Periods::new(calibration_end, holdout_end, TimeUnit::Week)?;
    let transactions = read_transactions_csv(path)?;
    let summaries = summarise(&transactions, &periods);
    if summaries.is_empty() {
        return Err(ValueError::NoCustomers);
    }
    Ok((summaries, periods))
}

/// `hark value fit --transactions CSV --calibration-end DATE [--holdout-end DATE]`.
pub fn fit_transactions(
    path: &Path,
    calibration_end: Date,
    holdout_end: Option<Date>,
) -> Result<FitReport, ValueError> {
    let (summaries, periods) = summarise_transactions(path, calibration_end, holdout_end)?;
    fit(&summaries, holdout_end.map(|_| periods.holdout_length()))
}

/// `hark value fit --summary CSV` (columns `customer_id,frequency,recency,T[,monetary_value]`, weeks).
pub fn fit_summary(path: &Path) -> Result<FitReport, ValueError> {
    let (rfm, spend) = read_summary_for_fit(path)?;
    fit_parts(&rfm, &spend, None)
}

/// Options of `hark value score`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreOptions {
    /// Horizon of `expected_purchases` and of the churn base, in weeks (default 13).
    pub horizon_weeks: f64,
    /// CLV horizon in months (default 12).
    pub clv_months: u32,
    /// Monthly discount rate of CLV (default 0.01).
    pub monthly_discount_rate: DiscountRate,
    /// Margin applied to CLV (default 1: CLV in revenue terms, as `lifetimes`).
    pub margin: Margin,
    /// Tier shares and the at-risk line.
    pub segments: SegmentPolicy,
    /// Weights of the support signals in churn risk.
    pub churn_weights: ChurnWeights,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            horizon_weeks: 13.0,
            clv_months: 12,
            monthly_discount_rate: DiscountRate::ONE_PERCENT,
            margin: Margin::FULL,
            segments: SegmentPolicy::default(),
            churn_weights: ChurnWeights::default(),
        }
    }
}

/// One line of `hark value score`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerScore {
    /// The customer.
    pub customer_id: CustomerId,
    /// P(alive) from BG/NBD.
    pub p_alive: f64,
    /// Expected repeat purchases in the next `horizon_weeks`.
    pub expected_purchases: f64,
    /// Expected spend per future purchase (Gamma-Gamma), when spend is known.
    pub expected_spend: Option<f64>,
    /// Discounted expected margin over `clv_months`, when spend is known.
    pub clv: Option<f64>,
    /// Value tier by CLV (by expected purchases when spend is unknown).
    pub segment: ValueTier,
    /// Flagged at risk by the policy's [`super::segment::AtRisk`] rule.
    pub at_risk: bool,
    /// Churn risk in [0, 1].
    pub churn_risk: f64,
    /// Why, in plain words.
    pub reasons: Vec<String>,
    /// The suggested action for the segment.
    pub action: &'static str,
    /// [`MODEL_VERSION`], stored with the score.
    pub model_version: &'static str,
}

/// The fitted parameters scores are computed from; store them (JSON) with the fit date
/// and [`MODEL_VERSION`] to rescore on a schedule without refitting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Models {
    /// Purchase and dropout model, in weeks.
    pub bgnbd: BgNbdParams,
    /// Spend model, when spend was known.
    pub gamma_gamma: Option<GammaGammaParams>,
}

impl FitReport {
    /// The parameters to score with.
    pub fn models(&self) -> Models {
        Models {
            bgnbd: self.bgnbd.params,
            gamma_gamma: self.gamma_gamma.map(|g| g.params),
        }
    }
}

/// Score every customer with fitted models. `signals` are keyed by customer id;
/// customers without an entry have no support signals.
pub fn score(
    summaries: &[CustomerSummary],
    models: &Models,
    signals: &HashMap<CustomerId, SupportSignals>,
    options: &ScoreOptions,
) -> Result<Vec<CustomerScore>, ValueError> {
    if !(options.horizon_weeks.is_finite() && options.horizon_weeks > 0.0) {
        return Err(ValueError::invalid(
            "horizon must be a positive number of weeks",
        ));
    }
    let model = models.bgnbd;
    let spend_model = models.gamma_gamma;
    let none = SupportSignals::default();
    let mut out: Vec<CustomerScore> = summaries
        .iter()
        .map(|s| {
            let c = s.rfm();
            let p_alive = model.p_alive(c);
            let expected_spend = spend_model
                .zip(s.monetary_value)
                .map(|(gg, m)| gg.conditional_expected_spend(s.frequency, m));
            let clv = expected_spend.map(|spend| {
                options.margin.get()
                    * customer_lifetime_value(
                        &model,
                        c,
                        spend,
                        options.clv_months,
                        options.monthly_discount_rate.get(),
                        TimeUnit::Week.per_month(),
                    )
            });
            let outlook = PurchaseOutlook {
                p_alive,
                p_no_purchase: model.p_no_purchase(options.horizon_weeks, c),
                weeks_since_last_purchase: s.t - s.recency,
                repeat_purchases: s.frequency,
            };
            let risk = churn_risk(
                outlook,
                signals.get(&s.customer_id).unwrap_or(&none),
                &options.churn_weights,
            );
            CustomerScore {
                customer_id: s.customer_id.clone(),
                p_alive,
                expected_purchases: model.conditional_expected_purchases(options.horizon_weeks, c),
                expected_spend,
                clv,
                segment: ValueTier::Low,
                at_risk: false,
                churn_risk: risk.score,
                reasons: risk.reasons,
                action: "",
                model_version: MODEL_VERSION,
            }
        })
        .collect();
    let values: Vec<f64> = out
        .iter()
        .map(|s| s.clv.unwrap_or(s.expected_purchases))
        .collect();
    let risks: Vec<f64> = out.iter().map(|s| s.churn_risk).collect();
    let flags = at_risk_flags(&risks, options.segments.at_risk);
    for ((s, tier), at_risk) in out
        .iter_mut()
        .zip(value_tiers(&values, &options.segments))
        .zip(flags)
    {
        s.segment = tier;
        s.at_risk = at_risk;
        s.action = suggested_action(tier, s.at_risk);
    }
    Ok(out)
}

/// `hark value score --transactions CSV --calibration-end DATE`: fit, then score.
pub fn score_transactions(
    path: &Path,
    calibration_end: Date,
    signals: &HashMap<CustomerId, SupportSignals>,
    options: &ScoreOptions,
) -> Result<(FitReport, Vec<CustomerScore>), ValueError> {
    let (summaries, _) = summarise_transactions(path, calibration_end, None)?;
    let report = fit(&summaries, None)?;
    let scores = score(&summaries, &report.models(), signals, options)?;
    Ok((report, scores))
}

/// `hark value score --summary CSV`: fit, then score.
pub fn score_summary(
    path: &Path,
    signals: &HashMap<CustomerId, SupportSignals>,
    options: &ScoreOptions,
) -> Result<(FitReport, Vec<CustomerScore>), ValueError> {
    let summaries = read_summary_csv(path)?;
    let report = fit(&summaries, None)?;
    let scores = score(&summaries, &report.models(), signals, options)?;
    Ok((report, scores))
}
