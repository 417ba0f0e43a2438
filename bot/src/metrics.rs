//! Service metrics from the stored metrics events: handoff rate, bot resolution rate, first
//! response time and resolution time (median and 90th percentile). Pure functions over event
//! rows, so reports and tests compute them the same way.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

/// One stored event as the metrics read it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceMetrics {
    /// Conversations in which customers wrote during the period.
    pub conversations: usize,
    /// Share of those handed to a person.
    pub handoff_rate: Option<f64>,
    /// Share of those the bot answered without any handoff.
    pub bot_resolution_rate: Option<f64>,
    pub first_response_seconds: Spread,
    pub resolution_seconds: Spread,
    /// Events per kind, and handoffs per reason (`handoff:<reason>`).
    pub counts: BTreeMap<String, usize>,
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn spread(mut values: Vec<f64>) -> Spread {
    values.sort_by(f64::total_cmp);
    Spread {
        median: percentile(&values, 50.0),
        p90: percentile(&values, 90.0),
        count: values.len(),
    }
}

pub fn compute(events: &[EventRow]) -> ServiceMetrics {
    let mut talked = HashSet::new();
    let mut handed = HashSet::new();
    let mut answered = HashSet::new();
    let mut first = Vec::new();
    let mut resolution = Vec::new();
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.kind.clone()).or_insert(0) += 1;
        let Some(id) = e.conversation_id else {
            continue;
        };
        match e.kind.as_str() {
            "message_received" => {
                talked.insert(id);
            }
            "handoff_requested" => {
                handed.insert(id);
                let reason = e.data["reason"].as_str().unwrap_or("unknown");
                *counts.entry(format!("handoff:{reason}")).or_insert(0) += 1;
            }
            "answered" | "clarify_chosen" => {
                answered.insert(id);
            }
            "first_agent_response" => first.extend(e.data["seconds"].as_f64()),
            "resolved" => resolution.extend(e.data["seconds"].as_f64()),
            _ => {}
        }
    }
    let n = talked.len();
    let rate = |count: usize| (n > 0).then(|| count as f64 / n as f64);
    let handed_talked = talked.iter().filter(|id| handed.contains(id)).count();
    let bot_only = talked
        .iter()
        .filter(|id| answered.contains(id) && !handed.contains(id))
        .count();
    ServiceMetrics {
        conversations: n,
        handoff_rate: rate(handed_talked),
        bot_resolution_rate: rate(bot_only),
        first_response_seconds: spread(first),
        resolution_seconds: spread(resolution),
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, id: i64, data: serde_json::Value) -> EventRow {
        EventRow {
            kind: kind.into(),
            conversation_id: Some(id),
            data,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&v, 100.0), Some(10.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
    }

    #[test]
    fn rates_and_times_from_events() {
        let events = vec![
            // 1: the bot answered, done.
            ev("message_received", 1, json!({})),
            ev("answered", 1, json!({})),
            // 2: answered once, then the customer asked for a person; an agent replied after
            // 30 s and resolved after 300 s.
            ev("message_received", 2, json!({})),
            ev("answered", 2, json!({})),
            ev("handoff_requested", 2, json!({"reason": "customer_asked"})),
            ev("first_agent_response", 2, json!({"seconds": 30.0})),
            ev("resolved", 2, json!({"seconds": 300.0})),
            // 3: never answered; handed over; reply after 90 s.
            ev("message_received", 3, json!({})),
            ev("not_answered", 3, json!({})),
            ev(
                "handoff_requested",
                3,
                json!({"reason": "bot_could_not_answer"}),
            ),
            ev("first_agent_response", 3, json!({"seconds": 90.0})),
            // 4: wrote, nothing else yet.
            ev("message_received", 4, json!({})),
        ];
        let m = compute(&events);
        assert_eq!(m.conversations, 4);
        assert_eq!(m.handoff_rate, Some(0.5));
        assert_eq!(m.bot_resolution_rate, Some(0.25));
        assert_eq!(m.first_response_seconds.median, Some(30.0));
        assert_eq!(m.first_response_seconds.p90, Some(90.0));
        assert_eq!(m.resolution_seconds.median, Some(300.0));
        assert_eq!(m.counts.get("handoff:customer_asked"), Some(&1));
        assert_eq!(m.counts.get("handoff_requested"), Some(&2));
    }

    #[test]
    fn no_conversations_no_rates() {
        let m = compute(&[]);
        assert_eq!((m.handoff_rate, m.bot_resolution_rate), (None, None));
        assert_eq!(m.first_response_seconds.count, 0);
    }
}
