//! Survey statistics for the owners' reports: NPS with its confidence interval, CSAT with the
//! Wilson score interval, value-weighted NPS and revenue at risk. Pure functions over counts
//! and answers, no storage, so every figure on the dashboard can be checked by hand.
//!
//! Conventions: NPS and its interval are in points (−100 to +100); shares (CSAT satisfied) and
//! their intervals are fractions (0 to 1). A figure that has no data is `None`, never 0.
//!
//! # Which intervals, and why
//! - **NPS**: the *adjusted Wald* interval of Rocks (2016, "Interval estimation for the Net
//!   Promoter Score", *The American Statistician* 70(4)): add 3/4 to the promoters, 3/4 to the
//!   detractors and 3 to the sample size, then take the Wald interval of the difference of two
//!   proportions from one multinomial sample,
//!   `Var(p̂ − d̂) = (p̂ + d̂ − (p̂ − d̂)²) / n`, i.e. `p̂(1−p̂) + d̂(1−d̂) + 2p̂d̂` over `n` (the
//!   covariance of two multinomial shares is `−p d / n`). Rocks found it among the best in
//!   coverage; the plain Wald interval (kept in [`nps_wald_interval`]) collapses to a single
//!   point when every answer falls in one category (1 promoter out of 1 gives "100 ± 0"), which
//!   is exactly when few answered. Intervals are clipped to [−100, 100].
//! - **CSAT** share satisfied (4 or 5 out of 5): the Wilson score interval without continuity
//!   correction (Newcombe 1998, method 3), which stays inside [0, 1] and is sensible at 0/n and
//!   n/n, unlike the Wald interval.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

/// The standard normal quantile for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The name of the NPS interval method, for reports that say how they were computed.
pub const NPS_INTERVAL_METHOD: &str =
    "adjusted Wald (Rocks 2016): +3/4 promoters, +3/4 detractors, +3 answers";
/// The name of the share interval method.
pub const SHARE_INTERVAL_METHOD: &str = "Wilson score (Newcombe 1998, method 3)";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("an NPS score is a whole number from 0 to 10, not {0}")]
    NpsScore(i64),
    #[error("a CSAT score is a whole number from 1 to 5, not {0}")]
    CsatScore(i64),
    #[error("a weight must be a finite number of at least 0, not {0}")]
    Weight(f64),
}

/// Where an NPS answer falls: 9–10 promoter, 7–8 passive, 0–6 detractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    Promoter,
    Passive,
    Detractor,
}

impl NpsCategory {
    pub fn of(score: i64) -> Result<Self, StatsError> {
        match score {
            9..=10 => Ok(NpsCategory::Promoter),
            7..=8 => Ok(NpsCategory::Passive),
            0..=6 => Ok(NpsCategory::Detractor),
            other => Err(StatsError::NpsScore(other)),
        }
    }

    /// +1 for a promoter, 0 for a passive, −1 for a detractor: NPS is the mean of this × 100.
    pub fn sign(self) -> f64 {
        match self {
            NpsCategory::Promoter => 1.0,
            NpsCategory::Passive => 0.0,
            NpsCategory::Detractor => -1.0,
        }
    }
}

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// How many promoters, passives and detractors answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NpsCounts {
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

impl NpsCounts {
    pub fn from_scores(scores: impl IntoIterator<Item = i64>) -> Result<Self, StatsError> {
        let mut counts = NpsCounts::default();
        for score in scores {
            counts.add(score)?;
        }
        Ok(counts)
    }

    pub fn add(&mut self, score: i64) -> Result<NpsCategory, StatsError> {
        let category = NpsCategory::of(score)?;
        match category {
            NpsCategory::Promoter => self.promoters += 1,
            NpsCategory::Passive => self.passives += 1,
            NpsCategory::Detractor => self.detractors += 1,
        }
        Ok(category)
    }

    pub fn total(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }
}

/// NPS in points: % promoters − % detractors. `None` without answers.
pub fn nps(counts: NpsCounts) -> Option<f64> {
    let n = counts.total();
    (n > 0).then(|| 100.0 * (counts.promoters as f64 - counts.detractors as f64) / n as f64)
}

/// The Wald interval of `p − d` for promoter and detractor counts (possibly adjusted) out of `n`.
fn difference_interval(promoters: f64, detractors: f64, n: f64, z: f64) -> Interval {
    let p = promoters / n;
    let d = detractors / n;
    let diff = p - d;
    let variance = ((p + d - diff * diff) / n).max(0.0);
    let half = z * variance.sqrt();
    Interval {
        low: (100.0 * (diff - half)).max(-100.0),
        high: (100.0 * (diff + half)).min(100.0),
    }
}

/// The plain Wald interval of NPS (points): `NPS ± z·sqrt((p + d − (p − d)²)/n)`. Degenerate
/// (zero width) when all answers fall in one category; reports use
/// [`nps_adjusted_wald_interval`].
pub fn nps_wald_interval(counts: NpsCounts, z: f64) -> Option<Interval> {
    let n = counts.total();
    (n > 0).then(|| {
        difference_interval(
            counts.promoters as f64,
            counts.detractors as f64,
            n as f64,
            z,
        )
    })
}

/// The adjusted Wald interval of NPS (points) of Rocks (2016): the Wald interval after adding
/// 3/4 to promoters and detractors and 3 to `n`. Its centre is pulled slightly towards 0, so
/// it need not be centred on [`nps`]. `None` without answers.
pub fn nps_adjusted_wald_interval(counts: NpsCounts, z: f64) -> Option<Interval> {
    let n = counts.total();
    (n > 0).then(|| {
        difference_interval(
            counts.promoters as f64 + 0.75,
            counts.detractors as f64 + 0.75,
            n as f64 + 3.0,
            z,
        )
    })
}

/// NPS with its counts and 95% interval, as reports show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NpsSummary {
    pub responses: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    pub nps: Option<f64>,
    pub ci95: Option<Interval>,
}

impl NpsSummary {
    pub fn of(counts: NpsCounts) -> Self {
        NpsSummary {
            responses: counts.total(),
            promoters: counts.promoters,
            passives: counts.passives,
            detractors: counts.detractors,
            nps: nps(counts),
            ci95: nps_adjusted_wald_interval(counts, Z95),
        }
    }
}

/// The Wilson score interval of a proportion `successes / trials` (no continuity correction).
/// `None` when there are no trials or more successes than trials.
pub fn wilson_interval(successes: u64, trials: u64, z: f64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// CSAT: the share of answers that are 4 or 5 ("satisfied") with its Wilson interval, and the
/// mean score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CsatSummary {
    pub responses: u64,
    pub satisfied: u64,
    pub share_satisfied: Option<f64>,
    pub ci95: Option<Interval>,
    pub mean: Option<f64>,
}

pub fn csat_summary(scores: impl IntoIterator<Item = i64>) -> Result<CsatSummary, StatsError> {
    let mut responses = 0u64;
    let mut satisfied = 0u64;
    let mut sum = 0i64;
    for score in scores {
        if !(1..=5).contains(&score) {
            return Err(StatsError::CsatScore(score));
        }
        responses += 1;
        sum += score;
        satisfied += u64::from(score >= 4);
    }
    Ok(CsatSummary {
        responses,
        satisfied,
        share_satisfied: (responses > 0).then(|| satisfied as f64 / responses as f64),
        ci95: wilson_interval(satisfied, responses, Z95),
        mean: (responses > 0).then(|| sum as f64 / responses as f64),
    })
}

/// Value-weighted NPS in points: each answer counts with its customer's weight (CLV), so
/// `100 · Σ wᵢ·signᵢ / Σ wᵢ`. `None` when the weights add up to 0 (no answer from a customer
/// with a known value).
pub fn value_weighted_nps(
    answers: impl IntoIterator<Item = (i64, f64)>,
) -> Result<Option<f64>, StatsError> {
    let mut weighted = 0.0;
    let mut total = 0.0;
    for (score, weight) in answers {
        let category = NpsCategory::of(score)?;
        if !weight.is_finite() || weight < 0.0 {
            return Err(StatsError::Weight(weight));
        }
        weighted += weight * category.sign();
        total += weight;
    }
    Ok((total > 0.0).then(|| 100.0 * weighted / total))
}

/// One customer's part in revenue at risk.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskEntry<K> {
    pub customer: K,
    /// Their CLV; `None` when the value model has not scored them.
    pub clv: Option<f64>,
    /// Their latest NPS answer in the period was a detractor's.
    pub detractor: bool,
    /// The churn model flags them at risk.
    pub at_risk: bool,
}

/// The CLV of customers who are detractors or at risk, each customer counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RevenueAtRisk {
    pub total_clv: f64,
    /// Customers who are detractors or at risk (or both).
    pub customers: u64,
    pub detractors: u64,
    pub at_risk: u64,
    /// Counted in both of the above, once in `customers` and `total_clv`.
    pub both: u64,
    /// Of `customers`, those without a CLV (they add nothing to the total).
    pub without_clv: u64,
}

/// Sums the CLV of detractors and at-risk customers, each customer once: entries for the same
/// customer are merged (detractor or at risk in any of them; the largest CLV known).
pub fn revenue_at_risk<K: Eq + Hash>(
    entries: impl IntoIterator<Item = RiskEntry<K>>,
) -> Result<RevenueAtRisk, StatsError> {
    let mut merged: HashMap<K, (Option<f64>, bool, bool)> = HashMap::new();
    for e in entries {
        if let Some(clv) = e.clv
            && (!clv.is_finite() || clv < 0.0)
        {
            return Err(StatsError::Weight(clv));
        }
        let slot = merged.entry(e.customer).or_insert((None, false, false));
        slot.0 = match (slot.0, e.clv) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        slot.1 |= e.detractor;
        slot.2 |= e.at_risk;
    }
    let mut out = RevenueAtRisk::default();
    for (clv, detractor, at_risk) in merged.into_values() {
        if !(detractor || at_risk) {
            continue;
        }
        out.customers += 1;
        out.detractors += u64::from(detractor);
        out.at_risk += u64::from(at_risk);
        out.both += u64::from(detractor && at_risk);
        match clv {
            Some(v) => out.total_clv += v,
            None => out.without_clv += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    fn assert_interval(got: Option<Interval>, low: f64, high: f64, tolerance: f64) {
        let got = got.unwrap_or(Interval {
            low: f64::NAN,
            high: f64::NAN,
        });
        assert!(
            close(got.low, low, tolerance) && close(got.high, high, tolerance),
            "got [{}, {}], expected [{low}, {high}]",
            got.low,
            got.high
        );
    }

    fn counts(promoters: u64, passives: u64, detractors: u64) -> NpsCounts {
        NpsCounts {
            promoters,
            passives,
            detractors,
        }
    }

    #[test]
    fn categories_follow_the_nps_bands() {
        let c = NpsCounts::from_scores(0..=10).unwrap_or_default();
        assert_eq!(c, counts(2, 2, 7));
        assert_eq!(NpsCategory::of(11), Err(StatsError::NpsScore(11)));
        assert_eq!(NpsCategory::of(-1), Err(StatsError::NpsScore(-1)));
        assert!(NpsCounts::from_scores([10, 12]).is_err());
    }

    #[test]
    fn five_promoters_three_passives_two_detractors_make_plus_30() {
        let c = NpsCounts::from_scores([9, 10, 9, 10, 10, 7, 8, 8, 3, 6]).unwrap_or_default();
        assert_eq!(c, counts(5, 3, 2));
        assert_eq!(nps(c), Some(30.0));
        // Plain Wald by hand: p = .5, d = .2, var = (.7 − .09)/10 = .061,
        // half = 1.959964·sqrt(.061) = .484075 → [−18.4075, 78.4075].
        assert_interval(nps_wald_interval(c, Z95), -18.4075, 78.4075, 1e-3);
        // Reports show the adjusted Wald interval (p = 5.75/13, d = 2.75/13; see
        // `adjusted_wald_matches_the_reference_script`).
        let summary = NpsSummary::of(c);
        assert_eq!((summary.responses, summary.nps), (10, Some(30.0)));
        assert_interval(summary.ci95, -19.050615, 65.204462, 1e-5);
    }

    #[test]
    fn adjusted_wald_matches_the_reference_script() {
        // Reference values: Python 3.11 with scipy 1.17.1, Rocks' formula written out
        // independently of this code (clipped to ±100 as here):
        //   z = scipy.stats.norm.ppf(0.975)
        //   def aw(P, A, D):
        //       n = P + A + D + 3; p = (P + .75)/n; d = (D + .75)/n
        //       h = z*((p + d - (p - d)**2)/n)**.5
        //       return max(-100, 100*(p-d-h)), min(100, 100*(p-d+h))
        let cases = [
            ((5, 3, 2), (-19.050615, 65.204462)),
            ((1, 0, 0), (-48.498649, 98.498649)),
            ((0, 0, 3), (-100.0, 6.579287)),
            ((40, 35, 25), (-0.697395, 29.823608)),
            ((0, 4, 0), (-34.292226, 34.292226)),
        ];
        for ((p, a, d), (low, high)) in cases {
            assert_interval(
                nps_adjusted_wald_interval(counts(p, a, d), Z95),
                low,
                high,
                1e-5,
            );
        }
    }

    #[test]
    fn small_samples_get_wide_intervals_never_a_point() {
        // One promoter: plain Wald claims certainty; the adjusted interval does not.
        let one = counts(1, 0, 0);
        assert_interval(nps_wald_interval(one, Z95), 100.0, 100.0, 1e-9);
        let adjusted = nps_adjusted_wald_interval(one, Z95).map(|i| i.high - i.low);
        assert!(adjusted.is_some_and(|w| w > 100.0), "{adjusted:?}");
        // No answers: no figure at all.
        assert_eq!(nps(NpsCounts::default()), None);
        assert_eq!(nps_adjusted_wald_interval(NpsCounts::default(), Z95), None);
        let empty = NpsSummary::of(NpsCounts::default());
        assert_eq!((empty.responses, empty.nps, empty.ci95), (0, None, None));
        // More answers, narrower interval.
        let width = |c| nps_adjusted_wald_interval(c, Z95).map_or(0.0, |i| i.high - i.low);
        assert!(width(counts(50, 30, 20)) < width(counts(5, 3, 2)));
    }

    #[test]
    fn wilson_matches_newcombe_1998() {
        // Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        // Statistics in Medicine 17:857–872, Table I, method 3 (score, no continuity
        // correction), to four places.
        assert_interval(wilson_interval(81, 263, Z95), 0.2553, 0.3662, 1e-4);
        assert_interval(wilson_interval(15, 148, Z95), 0.0624, 0.1605, 1e-4);
        assert_interval(wilson_interval(0, 20, Z95), 0.0, 0.1611, 1e-4);
        assert_interval(wilson_interval(1, 29, Z95), 0.0061, 0.1718, 1e-4);
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(count, nobs, alpha=0.05,
        // method="wilson"), statsmodels 0.15.0 on Python 3.11.
        let cases = [
            ((7, 10), (0.3967781, 0.8922087)),
            ((10, 10), (0.7224672, 1.0)),
            ((1, 1), (0.2065493, 1.0)),
            ((120, 150), (0.7288587, 0.8561592)),
            ((81, 263), (0.2552885, 0.3662096)),
        ];
        for ((s, n), (low, high)) in cases {
            assert_interval(wilson_interval(s, n, Z95), low, high, 1e-6);
        }
        assert_eq!(wilson_interval(0, 0, Z95), None);
        assert_eq!(wilson_interval(3, 2, Z95), None);
    }

    #[test]
    fn csat_counts_fours_and_fives_as_satisfied() {
        let c = csat_summary([5, 4, 4, 3, 1, 5, 2, 4, 5, 5]).unwrap_or(CsatSummary {
            responses: 0,
            satisfied: 0,
            share_satisfied: None,
            ci95: None,
            mean: None,
        });
        assert_eq!((c.responses, c.satisfied), (10, 7));
        assert_eq!(c.share_satisfied, Some(0.7));
        assert_eq!(c.mean, Some(3.8));
        assert_interval(c.ci95, 0.3967781, 0.8922087, 1e-6);
        assert_eq!(csat_summary([4, 0]), Err(StatsError::CsatScore(0)));
        assert_eq!(csat_summary([6]), Err(StatsError::CsatScore(6)));
        let empty = csat_summary([]).ok();
        assert_eq!(
            empty.map(|c| (c.responses, c.share_satisfied, c.ci95)),
            Some((0, None, None))
        );
    }

    #[test]
    fn value_weighting_lets_big_customers_count_more() {
        // A promoter worth 900 and two detractors worth 50 each: plain NPS −33.3, weighted
        // 100·(900 − 100)/1000 = +80.
        let answers = [(10, 900.0), (2, 50.0), (5, 50.0)];
        assert_eq!(value_weighted_nps(answers), Ok(Some(80.0)));
        // Equal weights give plain NPS: 5/3/2 → +30.
        let equal = [9, 10, 9, 10, 10, 7, 8, 8, 3, 6].map(|s| (s, 1.0));
        let got = value_weighted_nps(equal).ok().flatten().unwrap_or(f64::NAN);
        assert!(close(got, 30.0, 1e-9), "{got}");
        // A passive worth 100 only dilutes: (100 − 0)/(100 + 100) → +50.
        assert_eq!(value_weighted_nps([(9, 100.0), (7, 100.0)]), Ok(Some(50.0)));
        assert_eq!(value_weighted_nps([(9, 0.0)]), Ok(None));
        assert_eq!(value_weighted_nps(Vec::new()), Ok(None));
        assert_eq!(
            value_weighted_nps([(9, -1.0)]),
            Err(StatsError::Weight(-1.0))
        );
        assert!(value_weighted_nps([(9, f64::NAN)]).is_err());
        assert_eq!(
            value_weighted_nps([(11, 1.0)]),
            Err(StatsError::NpsScore(11))
        );
    }

    #[test]
    fn revenue_at_risk_counts_each_customer_once() {
        let e = |customer: i64, clv: Option<f64>, detractor: bool, at_risk: bool| RiskEntry {
            customer,
            clv,
            detractor,
            at_risk,
        };
        let r = revenue_at_risk([
            e(1, Some(500.0), true, true),   // both: once
            e(2, Some(300.0), true, false),  // detractor
            e(2, Some(300.0), true, false),  // answered twice: still once
            e(3, Some(200.0), false, true),  // at risk
            e(4, Some(999.0), false, false), // neither: not counted
            e(5, None, true, false),         // detractor without a score
        ])
        .unwrap_or_default();
        assert_eq!(r.total_clv, 1000.0);
        assert_eq!((r.customers, r.detractors, r.at_risk, r.both), (4, 3, 2, 1));
        assert_eq!(r.without_clv, 1);
        let none = revenue_at_risk(Vec::<RiskEntry<i64>>::new()).unwrap_or_default();
        assert_eq!((none.total_clv, none.customers), (0.0, 0));
        assert!(revenue_at_risk([e(1, Some(f64::INFINITY), true, false)]).is_err());
    }
}
