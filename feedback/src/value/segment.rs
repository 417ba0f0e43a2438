//! Segments: high, mid and low value by CLV rank, plus an at-risk flag from churn risk,
//! each with the action we suggest to the owner.
//!
//! Inputs are value and risk scores only; no protected attribute is ever an input.

use serde::{Deserialize, Serialize};

use super::error::ValueError;

/// Value tier by CLV rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueTier {
    /// The top share (20% by default).
    High,
    /// The next share (30% by default).
    Mid,
    /// Everyone else.
    Low,
}

/// Which customers are flagged at risk.
///
/// Purchase-based churn risk runs high for every infrequent buyer (on CDNOW the median
/// is 0.92 for a 13-week horizon), so a fixed line flags most of such a customer base;
/// the default flags the share most likely to lapse instead, a list agents can work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtRisk {
    /// Churn risk at or above this value, in [0, 1].
    Above(f64),
    /// This share of customers with the highest churn risk, in [0, 1].
    TopShare(f64),
}

/// Where the tier boundaries and the at-risk line are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentPolicy {
    /// Share of customers in the high tier.
    pub high_share: f64,
    /// Share of customers in the mid tier.
    pub mid_share: f64,
    /// Who is at risk (default: the 25% most likely to lapse).
    pub at_risk: AtRisk,
}

impl Default for SegmentPolicy {
    fn default() -> Self {
        Self {
            high_share: 0.2,
            mid_share: 0.3,
            at_risk: AtRisk::TopShare(0.25),
        }
    }
}

impl SegmentPolicy {
    /// Validate: shares in [0, 1] adding up to at most 1, the at-risk value in [0, 1].
    pub fn new(high_share: f64, mid_share: f64, at_risk: AtRisk) -> Result<Self, ValueError> {
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        if !(unit(high_share) && unit(mid_share) && high_share + mid_share <= 1.0) {
            return Err(ValueError::invalid(
                "segment shares must be in [0, 1] and add up to at most 1",
            ));
        }
        let (AtRisk::Above(v) | AtRisk::TopShare(v)) = at_risk;
        if !unit(v) {
            return Err(ValueError::invalid("at-risk value must be in [0, 1]"));
        }
        Ok(Self {
            high_share,
            mid_share,
            at_risk,
        })
    }
}

/// Tier of each customer by `values` (usually CLV): the top `high_share` by rank are
/// high, the next `mid_share` mid. Customers with equal value get the same tier, so a
/// tie at a boundary can make a tier slightly larger than its share.
pub fn value_tiers(values: &[f64], policy: &SegmentPolicy) -> Vec<ValueTier> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<f64> = values
        .iter()
        .map(|v| if v.is_nan() { f64::NEG_INFINITY } else { *v })
        .collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let cutoff = |share: f64| -> Option<f64> {
        let count = (share * n as f64).round() as usize;
        (count > 0).then(|| sorted[count.min(n) - 1])
    };
    let high = cutoff(policy.high_share);
    let mid = cutoff(policy.high_share + policy.mid_share);
    values
        .iter()
        .map(|&v| {
            if high.is_some_and(|h| v >= h) {
                ValueTier::High
            } else if mid.is_some_and(|m| v >= m) {
                ValueTier::Mid
            } else {
                ValueTier::Low
            }
        })
        .collect()
}

/// The at-risk flag of each customer from their churn risks. With
/// [`AtRisk::TopShare`], equal risks at the boundary are flagged alike.
pub fn at_risk_flags(risks: &[f64], rule: AtRisk) -> Vec<bool> {
    let line = match rule {
        AtRisk::Above(v) => v,
        AtRisk::TopShare(share) => {
            let mut sorted: Vec<f64> = risks.iter().copied().filter(|r| !r.is_nan()).collect();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let count = (share * sorted.len() as f64).round() as usize;
            if count == 0 {
                f64::INFINITY
            } else {
                sorted[count.min(sorted.len()) - 1]
            }
        }
    };
    risks.iter().map(|r| *r >= line).collect()
}

/// What we suggest the owner does for a segment.
pub fn suggested_action(tier: ValueTier, at_risk: bool) -> &'static str {
    match (tier, at_risk) {
        (ValueTier::High, true) => {
            "personal outreach from an agent this week: ask what went wrong and fix it"
        }
        (ValueTier::High, false) => {
            "thank them and offer early access or a loyalty perk; protect their service level"
        }
        (ValueTier::Mid, true) => {
            "send a win-back message with a relevant offer and follow up on open issues"
        }
        (ValueTier::Mid, false) => {
            "suggest related products and invite them to a loyalty programme"
        }
        (ValueTier::Low, true) => "automated re-engagement message; no discount beyond the usual",
        (ValueTier::Low, false) => "keep in the regular newsletter and self-service help",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shares_split_ten_customers_2_3_5() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let tiers = value_tiers(&values, &SegmentPolicy::default());
        let count = |t| tiers.iter().filter(|x| **x == t).count();
        assert_eq!(
            (
                count(ValueTier::High),
                count(ValueTier::Mid),
                count(ValueTier::Low)
            ),
            (2, 3, 5)
        );
        assert_eq!(tiers[9], ValueTier::High);
        assert_eq!(tiers[0], ValueTier::Low);
    }

    #[test]
    fn ties_share_a_tier_and_shares_are_configurable() {
        let tiers = value_tiers(
            &[5.0, 5.0, 5.0, 1.0],
            &SegmentPolicy::new(0.25, 0.25, AtRisk::Above(0.5)).expect("valid"),
        );
        assert_eq!(
            tiers,
            [
                ValueTier::High,
                ValueTier::High,
                ValueTier::High,
                ValueTier::Low
            ]
        );
        assert!(SegmentPolicy::new(0.8, 0.3, AtRisk::Above(0.5)).is_err());
        assert!(SegmentPolicy::new(0.2, 0.3, AtRisk::TopShare(1.5)).is_err());
    }

    #[test]
    fn at_risk_by_line_or_by_top_share() {
        let risks = [0.1, 0.95, 0.5, 0.93, 0.93, 0.2, 0.3, 0.4];
        let above = at_risk_flags(&risks, AtRisk::Above(0.9));
        assert_eq!(above.iter().filter(|f| **f).count(), 3);
        // Top 25% of 8 is 2, but 0.93 is tied at the boundary: both are flagged.
        let top = at_risk_flags(&risks, AtRisk::TopShare(0.25));
        assert_eq!(top, [false, true, false, true, true, false, false, false]);
        assert!(
            at_risk_flags(&risks, AtRisk::TopShare(0.0))
                .iter()
                .all(|f| !f)
        );
    }

    #[test]
    fn every_segment_has_an_action() {
        for tier in [ValueTier::High, ValueTier::Mid, ValueTier::Low] {
            assert_ne!(suggested_action(tier, true), suggested_action(tier, false));
        }
    }
}
