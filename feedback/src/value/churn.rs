//! Churn risk: one score in [0, 1] per customer, from the purchase model and the
//! support signals the platform sees, with the reasons in plain words.
//!
//! The base is the model's probability of **no purchase in the coming horizon**,
//! P(no purchase in (T, T + h]) = 1 − P(alive) + P(alive)·((α+T)/(α+T+h))^(r+x). It ranks
//! customers better than 1 − P(alive) because under BG/NBD every customer without a
//! repeat purchase has P(alive) = 1, however long ago they bought (see the CDNOW AUCs in
//! the module doc of [`super`]). Support signals then raise the score by a noisy-OR:
//! risk = 1 − (1 − base)·Π(1 − sᵢ), each sᵢ a capped contribution from [`ChurnWeights`].
//! The weights are judgement, not fitted: CDNOW has no support data to fit them on.
//! No protected attribute is, or may be added as, an input.

use serde::{Deserialize, Serialize};

/// What support saw of a customer recently; every field is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SupportSignals {
    /// Change in mean conversation sentiment per month, in [−2, 2] (negative = souring).
    pub sentiment_trend: Option<f64>,
    /// Negative conversations in the last 30 days.
    pub negative_conversations_30d: Option<u32>,
    /// The customer's latest NPS answer was 0–6.
    pub nps_detractor: Option<bool>,
    /// Conversations closed without a resolution.
    pub unresolved_contacts: Option<u32>,
    /// Contacts about the same issue within a week of each other.
    pub repeated_contacts: Option<u32>,
    /// Handoffs escalated beyond first-line agents.
    pub escalations: Option<u32>,
}

/// How much each support signal adds; each is a probability-like contribution in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChurnWeights {
    /// Per negative conversation in 30 days …
    pub per_negative_conversation: f64,
    /// … capped at.
    pub max_negative_conversations: f64,
    /// An NPS detractor.
    pub nps_detractor: f64,
    /// Per unresolved contact …
    pub per_unresolved_contact: f64,
    /// … capped at.
    pub max_unresolved_contacts: f64,
    /// Per repeated contact …
    pub per_repeated_contact: f64,
    /// … capped at.
    pub max_repeated_contacts: f64,
    /// Per escalation …
    pub per_escalation: f64,
    /// … capped at.
    pub max_escalations: f64,
    /// At a sentiment fall of 0.5 a month or more (linear below).
    pub sentiment_falling: f64,
}

impl Default for ChurnWeights {
    fn default() -> Self {
        Self {
            per_negative_conversation: 0.08,
            max_negative_conversations: 0.30,
            nps_detractor: 0.15,
            per_unresolved_contact: 0.07,
            max_unresolved_contacts: 0.25,
            per_repeated_contact: 0.04,
            max_repeated_contacts: 0.15,
            per_escalation: 0.10,
            max_escalations: 0.30,
            sentiment_falling: 0.20,
        }
    }
}

/// What the purchase model says about one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseOutlook {
    /// P(alive) from BG/NBD.
    pub p_alive: f64,
    /// P(no purchase in the coming horizon) from BG/NBD.
    pub p_no_purchase: f64,
    /// Time since the last purchase, in weeks.
    pub weeks_since_last_purchase: f64,
    /// Repeat purchases so far (x).
    pub repeat_purchases: u32,
}

/// A churn-risk score and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChurnRisk {
    /// In [0, 1]; higher is more likely to lapse.
    pub score: f64,
    /// The reasons, most telling first, e.g. `no purchase for 14 weeks`.
    pub reasons: Vec<String>,
}

/// Small counts as words, as people write them in a sentence.
pub(crate) fn count_words(n: u32) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n as usize)
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{} {}", count_words(n), if n == 1 { one } else { many })
}

/// Combine the purchase outlook and support signals into one score with reasons.
pub fn churn_risk(
    outlook: PurchaseOutlook,
    signals: &SupportSignals,
    weights: &ChurnWeights,
) -> ChurnRisk {
    let base = outlook.p_no_purchase.clamp(0.0, 1.0);
    let mut keep = 1.0 - base;
    let mut reasons: Vec<(f64, String)> = Vec::new();

    let weeks = outlook.weeks_since_last_purchase.max(0.0).round() as u32;
    if weeks >= 1 {
        reasons.push((
            base,
            format!("no purchase for {}", plural(weeks, "week", "weeks")),
        ));
    } else {
        reasons.push((0.0, "bought within the last week".to_owned()));
    }
    if outlook.repeat_purchases == 0 {
        // P(alive) is 1 by construction here and would explain nothing.
        reasons.push((base, "no repeat purchase yet".to_owned()));
    } else if outlook.p_alive < 0.95 {
        reasons.push((
            1.0 - outlook.p_alive,
            format!("P(alive) {:.2}", outlook.p_alive),
        ));
    }

    let mut add = |share: f64, reason: String| {
        let share = share.clamp(0.0, 1.0);
        if share > 0.0 {
            keep *= 1.0 - share;
            reasons.push((share, reason));
        }
    };
    if let Some(n) = signals.negative_conversations_30d.filter(|n| *n > 0) {
        add(
            (f64::from(n) * weights.per_negative_conversation)
                .min(weights.max_negative_conversations),
            format!(
                "{} this month",
                plural(n, "negative conversation", "negative conversations")
            ),
        );
    }
    if signals.nps_detractor == Some(true) {
        add(weights.nps_detractor, "NPS detractor".into());
    }
    if let Some(n) = signals.unresolved_contacts.filter(|n| *n > 0) {
        add(
            (f64::from(n) * weights.per_unresolved_contact).min(weights.max_unresolved_contacts),
            plural(n, "unresolved contact", "unresolved contacts"),
        );
    }
    if let Some(n) = signals.repeated_contacts.filter(|n| *n > 0) {
        add(
            (f64::from(n) * weights.per_repeated_contact).min(weights.max_repeated_contacts),
            plural(
                n,
                "repeated contact about the same issue",
                "repeated contacts about the same issue",
            ),
        );
    }
    if let Some(n) = signals.escalations.filter(|n| *n > 0) {
        add(
            (f64::from(n) * weights.per_escalation).min(weights.max_escalations),
            plural(n, "escalation", "escalations"),
        );
    }
    if let Some(trend) = signals
        .sentiment_trend
        .filter(|t| t.is_finite() && *t < 0.0)
    {
        add(
            (-trend / 0.5).min(1.0) * weights.sentiment_falling,
            "sentiment falling".into(),
        );
    }
    // Most telling first; the model's two reasons lead on ties so the sentence reads naturally.
    reasons.sort_by(|a, b| b.0.total_cmp(&a.0));
    ChurnRisk {
        score: (1.0 - keep).clamp(0.0, 1.0),
        reasons: reasons.into_iter().map(|(_, r)| r).collect(),
    }
}

/// Area under the ROC curve of `scores` for the `positive` labels (Mann–Whitney U, ties
/// counted half). `None` when either class is empty or the lengths differ.
pub fn auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() {
        return None;
    }
    let positives = positive.iter().filter(|p| **p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    // Sum of the positives' ranks, with tied scores given their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * order[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_reversed_tied_and_mixed_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &labels), Some(0.5));
        // Pairs (pos, neg): (0.35>0.1) (0.35>0.4? no) (0.8>0.1) (0.8>0.4) → 3/4.
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &labels), Some(0.75));
        // A tie between a positive and a negative counts half: (0.4=0.4) ½ + 1 + 1 + 1 → 3.5/4.
        assert_eq!(auc(&[0.1, 0.4, 0.4, 0.8], &labels), Some(0.875));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(auc(&[0.1], &[true, false]), None);
    }

    #[test]
    fn reasons_read_like_the_issue_example() {
        let outlook = PurchaseOutlook {
            p_alive: 0.31,
            p_no_purchase: 0.8,
            weeks_since_last_purchase: 14.2,
            repeat_purchases: 3,
        };
        let signals = SupportSignals {
            negative_conversations_30d: Some(2),
            ..SupportSignals::default()
        };
        let risk = churn_risk(outlook, &signals, &ChurnWeights::default());
        assert_eq!(
            risk.reasons,
            [
                "no purchase for 14 weeks",
                "P(alive) 0.31",
                "two negative conversations this month"
            ]
        );
        assert!(risk.score > 0.8 && risk.score <= 1.0);
    }

    #[test]
    fn one_time_buyers_get_a_reason_that_explains() {
        let outlook = PurchaseOutlook {
            p_alive: 1.0,
            p_no_purchase: 0.93,
            weeks_since_last_purchase: 30.0,
            repeat_purchases: 0,
        };
        let risk = churn_risk(
            outlook,
            &SupportSignals::default(),
            &ChurnWeights::default(),
        );
        assert_eq!(
            risk.reasons,
            ["no purchase for 30 weeks", "no repeat purchase yet"]
        );
    }

    #[test]
    fn signals_only_raise_the_score_and_it_stays_in_range() {
        let outlook = PurchaseOutlook {
            p_alive: 0.9,
            p_no_purchase: 0.3,
            weeks_since_last_purchase: 2.0,
            repeat_purchases: 5,
        };
        let w = ChurnWeights::default();
        let quiet = churn_risk(outlook, &SupportSignals::default(), &w);
        assert!((quiet.score - 0.3).abs() < 1e-12);
        let loud = SupportSignals {
            sentiment_trend: Some(-3.0),
            negative_conversations_30d: Some(50),
            nps_detractor: Some(true),
            unresolved_contacts: Some(9),
            repeated_contacts: Some(9),
            escalations: Some(9),
        };
        let risk = churn_risk(outlook, &loud, &w);
        assert!(risk.score > quiet.score && risk.score <= 1.0);
        assert!(risk.reasons.contains(&"NPS detractor".to_owned()));
        assert!(
            risk.reasons
                .contains(&"50 negative conversations this month".to_owned())
        );
    }
}
