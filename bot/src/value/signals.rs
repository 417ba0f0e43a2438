//! The support signals churn risk reads, computed from what the platform stored: the sentiment
//! of customer messages, NPS answers, conversations the bot could not close, repeat contacts
//! and requests for a person. Pure functions over rows, so every rule is unit-tested.

use std::collections::HashMap;

use feedback::value::churn::SupportSignals;

use crate::store::{ContactRow, SentimentRow};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Recent contacts (negative, unresolved, repeated, escalated) are counted over 30 days.
pub const RECENT_DAYS: i64 = 30;
/// The sentiment trend is fitted over 90 days.
pub const TREND_DAYS: i64 = 90;
/// VADER's line for a negative text, applied to a conversation's mean compound score.
pub const NEGATIVE_BELOW: f64 = -0.05;
/// A conversation started within a week of the customer's previous one is a repeat contact.
pub const REPEAT_WITHIN_DAYS: i64 = 7;
/// NPS answers of 0 to 6 are detractors.
pub const DETRACTOR_MAX: i64 = 6;

/// Everything the signals are computed from.
#[derive(Debug, Clone, Default)]
pub struct SignalRows {
    /// Customer messages with sentiment over the trend window.
    pub sentiments: Vec<SentimentRow>,
    /// Conversations started over the trend window.
    pub contacts: Vec<ContactRow>,
    /// Each customer's latest NPS score.
    pub latest_nps: Vec<(i64, i64)>,
}

/// The support signals of every customer the rows mention, keyed by hark customer id.
pub fn support_signals(rows: &SignalRows, now_ms: i64) -> HashMap<i64, SupportSignals> {
    let recent = now_ms - RECENT_DAYS * DAY_MS;
    let mut out: HashMap<i64, SupportSignals> = HashMap::new();

    // Mean sentiment per conversation, and when the conversation's first scored message was.
    let mut per_conversation: HashMap<i64, (i64, i64, f64, usize)> = HashMap::new();
    for m in &rows.sentiments {
        let entry = per_conversation.entry(m.conversation_id).or_insert((
            m.customer_id,
            m.created_at,
            0.0,
            0,
        ));
        entry.1 = entry.1.min(m.created_at);
        entry.2 += m.sentiment;
        entry.3 += 1;
    }
    let mut points: HashMap<i64, Vec<(f64, f64)>> = HashMap::new();
    for (customer, started, sum, n) in per_conversation.values() {
        let mean = sum / *n as f64;
        if *started >= recent && mean < NEGATIVE_BELOW {
            let s = out.entry(*customer).or_default();
            *s.negative_conversations_30d.get_or_insert(0) += 1;
        }
        let months = *started as f64 / (30.0 * DAY_MS as f64);
        points.entry(*customer).or_default().push((months, mean));
    }
    for (customer, pts) in points {
        if let Some(slope) = trend_per_month(&pts) {
            out.entry(customer).or_default().sentiment_trend = Some(slope.clamp(-2.0, 2.0));
        }
    }

    let mut by_customer: HashMap<i64, Vec<&ContactRow>> = HashMap::new();
    for c in &rows.contacts {
        by_customer.entry(c.customer_id).or_default().push(c);
    }
    for (customer, mut contacts) in by_customer {
        contacts.sort_by_key(|c| c.created_at);
        let mut unresolved = 0;
        let mut repeated = 0;
        let mut escalations = 0;
        for (i, c) in contacts.iter().enumerate() {
            if c.created_at < recent {
                continue;
            }
            let open = c.state == "waiting" || (c.state != "resolved" && c.not_answered > 0);
            if open {
                unresolved += 1;
            }
            if i > 0 && c.created_at - contacts[i - 1].created_at <= REPEAT_WITHIN_DAYS * DAY_MS {
                repeated += 1;
            }
            escalations += u32::try_from(c.handoffs.max(0)).unwrap_or(u32::MAX);
        }
        let s = out.entry(customer).or_default();
        s.unresolved_contacts = Some(unresolved);
        s.repeated_contacts = Some(repeated);
        s.escalations = Some(escalations);
    }

    for (customer, score) in &rows.latest_nps {
        out.entry(*customer).or_default().nps_detractor = Some(*score <= DETRACTOR_MAX);
    }
    out
}

/// Least-squares slope of mean sentiment against time in months; `None` with fewer than two
/// conversations or when they span less than a week (a slope over minutes means nothing).
fn trend_per_month(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (min, max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |acc, p| {
            (acc.0.min(p.0), acc.1.max(p.0))
        });
    if max - min < 7.0 / 30.0 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 400 * DAY_MS;

    fn message(customer: i64, conversation: i64, sentiment: f64, days_ago: i64) -> SentimentRow {
        SentimentRow {
            customer_id: customer,
            conversation_id: conversation,
            sentiment,
            created_at: NOW - days_ago * DAY_MS,
        }
    }

    fn contact(customer: i64, id: i64, state: &str, days_ago: i64) -> ContactRow {
        ContactRow {
            customer_id: customer,
            conversation_id: id,
            state: state.into(),
            created_at: NOW - days_ago * DAY_MS,
            not_answered: 0,
            handoffs: 0,
        }
    }

    #[test]
    fn negative_conversations_count_by_their_mean_and_only_this_month() {
        let rows = SignalRows {
            sentiments: vec![
                message(1, 10, -0.6, 3),
                message(1, 10, 0.2, 3), // mean −0.2: negative
                message(1, 11, -0.5, 10),
                message(1, 12, 0.5, 12),  // positive
                message(1, 13, -0.9, 45), // too old for "this month"
                message(2, 20, -0.01, 1), // neutral
            ],
            ..SignalRows::default()
        };
        let s = support_signals(&rows, NOW);
        assert_eq!(s[&1].negative_conversations_30d, Some(2));
        assert_eq!(s.get(&2).and_then(|x| x.negative_conversations_30d), None);
    }

    #[test]
    fn the_trend_is_a_slope_per_month_and_needs_a_week_of_history() {
        let rows = SignalRows {
            sentiments: vec![
                message(1, 10, 0.6, 60),
                message(1, 11, 0.0, 30),
                message(1, 12, -0.6, 0),
                message(2, 20, 0.5, 2),
                message(2, 21, -0.5, 1),
            ],
            ..SignalRows::default()
        };
        let s = support_signals(&rows, NOW);
        let trend = s[&1].sentiment_trend.unwrap_or_default();
        assert!((trend + 0.6).abs() < 1e-9, "{trend}");
        assert_eq!(s[&2].sentiment_trend, None);
    }

    #[test]
    fn unresolved_repeated_escalated_and_detractors() {
        let mut waiting = contact(1, 1, "waiting", 2);
        waiting.handoffs = 1;
        let mut failed = contact(1, 2, "bot", 5);
        failed.not_answered = 2;
        let resolved = contact(1, 3, "resolved", 20);
        let old = contact(1, 4, "waiting", 50);
        let rows = SignalRows {
            contacts: vec![waiting, failed, resolved, old, contact(2, 5, "bot", 1)],
            latest_nps: vec![(1, 6), (2, 7)],
            ..SignalRows::default()
        };
        let s = support_signals(&rows, NOW);
        assert_eq!(s[&1].unresolved_contacts, Some(2));
        // Day −5 follows −20 by 15 days (no), −2 follows −5 by 3 days (yes).
        assert_eq!(s[&1].repeated_contacts, Some(1));
        assert_eq!(s[&1].escalations, Some(1));
        assert_eq!(s[&1].nps_detractor, Some(true));
        assert_eq!(s[&2].nps_detractor, Some(false));
        assert_eq!(s[&2].unresolved_contacts, Some(0));
    }
}
