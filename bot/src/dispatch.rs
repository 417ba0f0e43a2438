//! The handoff queue at work: who is online, which waiting conversation matters most (and why),
//! auto-assignment to online agents (round robin within each agent's capacity), each waiting
//! customer's place in the queue, and the live feed the agents' consoles subscribe to.
//!
//! Transport-free: consoles call [`Dispatcher::connect`] per socket and subscribe to
//! [`Topic::Agents`]; this module turns the engine's stored facts ([`Topic::Queue`]) into
//! [`AgentFeed`] items once, for every console at the same time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::engine::{Agent, AssignedBy, Engine};
use crate::hub::{HubEvent, Topic};
use crate::store::{ConversationState, EventKind, Message, Note, QueueRow, Staff, now_ms};

/// An agent's availability.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    #[default]
    Offline,
}

/// How the queue is worked.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Assign waiting conversations to online agents automatically (else agents claim them).
    pub auto_assign: bool,
    /// How long an agent whose last console closed stays online (a reload or a short network
    /// drop must not take their conversations away).
    pub offline_grace: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            auto_assign: true,
            offline_grace: Duration::from_secs(30),
        }
    }
}

/// A conversation as the console's queue shows it, with its priority and the reasons for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    pub conversation_id: i64,
    pub customer: CustomerBrief,
    pub channel: String,
    pub state: ConversationState,
    pub assigned_to: Option<i64>,
    pub assigned_name: Option<String>,
    pub waiting_since: Option<i64>,
    pub handoff_reason: Option<String>,
    pub priority: f64,
    pub priority_reasons: Vec<String>,
    pub last_message: Option<String>,
    pub last_message_at: i64,
    pub unread: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerBrief {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub segment: Option<String>,
    pub churn_risk: Option<f64>,
    pub at_risk: bool,
    pub sentiment: Option<f64>,
}

/// What consoles receive on [`Topic::Agents`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentFeed {
    /// A conversation entered or changed in the queue.
    Queue {
        item: Box<QueueItem>,
    },
    /// It left the queue (resolved, back with the bot).
    QueueRemoved {
        conversation_id: i64,
    },
    /// A message in a queued conversation (for unread counts and notifications).
    Message {
        message: Arc<Message>,
    },
    Note {
        note: Arc<Note>,
    },
    Presence {
        staff_id: i64,
        presence: Presence,
    },
    /// The feed fell behind and skipped items: consoles reload the queue over HTTP.
    Resync,
}

/// The priority of a waiting conversation: higher first. Each part has a plain-words reason.
pub fn priority(row: &QueueRow, now: i64) -> (f64, Vec<String>) {
    let mut score = 0.0;
    let mut reasons = Vec::new();
    if let Some(since) = row.conversation.waiting_since {
        let minutes = ((now - since).max(0) as f64 / 60_000.0).min(120.0);
        score += minutes;
        reasons.push(format!("waiting {} min", minutes.floor() as i64));
    }
    match row.segment.as_deref() {
        Some("high") => {
            score += 20.0;
            reasons.push("high-value customer".into());
        }
        Some("mid") => {
            score += 8.0;
            reasons.push("mid-value customer".into());
        }
        _ => {}
    }
    if let Some(risk) = row.churn_risk {
        if row.at_risk == Some(1) {
            score += 15.0;
            reasons.push(format!("at risk of churning ({risk:.2})"));
        } else if risk >= 0.5 {
            score += risk * 10.0;
            reasons.push(format!("churn risk {risk:.2}"));
        }
    }
    if let Some(s) = row.recent_sentiment {
        if s <= -0.5 {
            score += 15.0;
            reasons.push(format!("very negative sentiment ({s:.2})"));
        } else if s <= -0.05 {
            score += 5.0;
            reasons.push(format!("negative sentiment ({s:.2})"));
        }
    }
    (score, reasons)
}

pub fn queue_item(row: QueueRow, now: i64) -> QueueItem {
    let (priority, priority_reasons) = priority(&row, now);
    let c = row.conversation;
    QueueItem {
        conversation_id: c.id,
        customer: CustomerBrief {
            id: c.customer_id,
            name: row.customer_name,
            email: row.customer_email,
            external_id: row.customer_external_id,
            segment: row.segment,
            churn_risk: row.churn_risk,
            at_risk: row.at_risk == Some(1),
            sentiment: row.recent_sentiment,
        },
        channel: c.channel.as_str().to_owned(),
        state: c.state,
        assigned_to: c.assigned_to,
        assigned_name: row.assigned_name,
        waiting_since: c.waiting_since,
        handoff_reason: c.handoff_reason,
        priority: (priority * 100.0).round() / 100.0,
        priority_reasons,
        last_message: row.last_message,
        last_message_at: row.last_message_at.unwrap_or(c.updated_at),
        unread: row.unread,
    }
}

/// Sorts waiting items first by priority (highest first), then oldest first.
pub fn sort_queue(items: &mut [QueueItem]) {
    items.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then(a.waiting_since.cmp(&b.waiting_since))
            .then(a.conversation_id.cmp(&b.conversation_id))
    });
}

#[derive(Debug, Default)]
struct AgentState {
    name: String,
    capacity: i64,
    sockets: usize,
    /// What the agent chose; within the grace period after their last console closed they
    /// still count as that.
    chosen: Presence,
    /// Bumped on every connect, so a pending offline timer knows it is stale.
    generation: u64,
    /// Order of the last auto-assignment (round robin: the longest-unassigned goes next).
    last_assigned: u64,
}

struct Inner {
    engine: Engine,
    settings: DispatchSettings,
    agents: Mutex<HashMap<i64, AgentState>>,
    assign_seq: Mutex<u64>,
    wake: Notify,
    positions: Mutex<HashMap<i64, (u32, u64)>>,
    /// The typical first response time and when it was computed (it moves slowly; the queue
    /// is worked many times a second under load).
    first_response: Mutex<Option<(std::time::Instant, u64)>>,
}

/// The queue worker. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

/// Held by each open console socket; dropping it may take the agent offline after the grace.
pub struct PresenceGuard {
    dispatcher: Dispatcher,
    staff_id: i64,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.dispatcher.disconnected(self.staff_id);
    }
}

impl Dispatcher {
    pub fn new(engine: Engine, settings: DispatchSettings) -> Self {
        Dispatcher {
            inner: Arc::new(Inner {
                engine,
                settings,
                agents: Mutex::new(HashMap::new()),
                assign_seq: Mutex::new(0),
                wake: Notify::new(),
                positions: Mutex::new(HashMap::new()),
                first_response: Mutex::new(None),
            }),
        }
    }

    fn agents(&self) -> std::sync::MutexGuard<'_, HashMap<i64, AgentState>> {
        self.inner.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, feed: AgentFeed) {
        self.inner
            .engine
            .hub()
            .publish(Topic::Agents, HubEvent::Agents(Arc::new(feed)));
    }

    /// A console socket of `staff` opened: the agent is online (unless they chose away).
    pub fn connect(&self, staff: &Staff) -> PresenceGuard {
        let changed = {
            let mut agents = self.agents();
            let agent = agents.entry(staff.id).or_default();
            agent.name = staff.display_name.clone();
            agent.capacity = staff.capacity;
            agent.sockets += 1;
            agent.generation += 1;
            let before = agent.chosen;
            if agent.chosen == Presence::Offline {
                agent.chosen = Presence::Online;
            }
            (before != agent.chosen).then_some(agent.chosen)
        };
        if let Some(presence) = changed {
            self.publish(AgentFeed::Presence {
                staff_id: staff.id,
                presence,
            });
            self.inner.wake.notify_one();
        }
        PresenceGuard {
            dispatcher: self.clone(),
            staff_id: staff.id,
        }
    }

    fn disconnected(&self, staff_id: i64) {
        let generation = {
            let mut agents = self.agents();
            let Some(agent) = agents.get_mut(&staff_id) else {
                return;
            };
            agent.sockets = agent.sockets.saturating_sub(1);
            if agent.sockets > 0 {
                return;
            }
            agent.generation
        };
        let this = self.clone();
        let grace = self.inner.settings.offline_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let still_gone = this
                .agents()
                .get(&staff_id)
                .is_some_and(|a| a.sockets == 0 && a.generation == generation);
            if still_gone {
                this.go_offline(staff_id, "agent_offline").await;
            }
        });
    }

    async fn go_offline(&self, staff_id: i64, reason: &str) {
        let changed = {
            let mut agents = self.agents();
            match agents.get_mut(&staff_id) {
                Some(agent) if agent.chosen != Presence::Offline => {
                    agent.chosen = Presence::Offline;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.publish(AgentFeed::Presence {
                staff_id,
                presence: Presence::Offline,
            });
        }
        match self.inner.engine.unassign_all(staff_id, reason).await {
            Ok(moved) if !moved.is_empty() => {
                tracing::info!(
                    staff_id,
                    conversations = moved.len(),
                    "agent offline; back to the queue"
                );
                self.inner.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, staff_id, "unassigning an offline agent failed"),
        }
    }

    /// The agent chose a presence. Offline hands their open conversations back to the queue;
    /// away keeps them but takes no new ones.
    pub async fn set_presence(&self, staff: &Staff, presence: Presence) {
        if presence == Presence::Offline {
            self.go_offline(staff.id, "agent_went_offline").await;
            return;
        }
        let changed = {
            let mut agents = self.agents();
            let agent = agents.entry(staff.id).or_default();
            agent.name = staff.display_name.clone();
            agent.capacity = staff.capacity;
            let changed = agent.chosen != presence;
            agent.chosen = presence;
            changed
        };
        if changed {
            self.publish(AgentFeed::Presence {
                staff_id: staff.id,
                presence,
            });
            self.inner.wake.notify_one();
        }
    }

    pub fn presence(&self, staff_id: i64) -> Presence {
        self.agents()
            .get(&staff_id)
            .map(|a| a.chosen)
            .unwrap_or(Presence::Offline)
    }

    pub fn online_count(&self) -> usize {
        self.agents()
            .values()
            .filter(|a| a.chosen == Presence::Online)
            .count()
    }

    /// The last published place in the queue of a waiting conversation.
    pub fn position(&self, conversation_id: i64) -> Option<(u32, u64)> {
        self.inner
            .positions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conversation_id)
            .copied()
    }

    /// The whole queue, waiting conversations by priority.
    pub async fn queue(&self) -> crate::store::Result<Vec<QueueItem>> {
        let now = now_ms();
        let mut items: Vec<QueueItem> = self
            .inner
            .engine
            .store()
            .queue()
            .await?
            .into_iter()
            .map(|row| queue_item(row, now))
            .collect();
        sort_queue(&mut items);
        Ok(items)
    }

    /// Runs until `shutdown`: turns queue facts into console feed items, assigns, and keeps
    /// waiting customers told of their place.
    pub fn spawn(&self, shutdown: CancellationToken, tracker: &tokio_util::task::TaskTracker) {
        let feed = self.clone();
        let mut queue = self.inner.engine.hub().subscribe(Topic::Queue);
        let stop = shutdown.clone();
        tracker.spawn(async move {
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => break,
                    event = queue.recv() => event,
                };
                match event {
                    Ok(event) => feed.relay(event).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "queue feed lagged; consoles reload");
                        feed.publish(AgentFeed::Resync);
                        feed.inner.wake.notify_one();
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        let worker = self.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = worker.inner.wake.notified() => {
                        // Let a burst of changes settle into one pass.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ = tick.tick() => {}
                }
                if let Err(e) = worker.work_queue().await {
                    tracing::error!(error = ?e, "working the queue failed");
                }
            }
        });
    }

    /// One stored fact from the engine, as consoles need it.
    async fn relay(&self, event: HubEvent) {
        let store = self.inner.engine.store();
        match event {
            HubEvent::Message(message) => {
                let conversation_id = message.conversation_id;
                self.publish(AgentFeed::Message { message });
                // Consoles count unread messages from the message itself; only a waiting
                // conversation's place in the queue (its priority) can change with it.
                let waiting = store
                    .conversation(conversation_id)
                    .await
                    .is_ok_and(|c| c.state == ConversationState::Waiting);
                if !waiting {
                    return;
                }
                if let Ok(row) = store.queue_row(conversation_id).await {
                    self.publish(AgentFeed::Queue {
                        item: Box::new(queue_item(row, now_ms())),
                    });
                }
            }
            HubEvent::State {
                conversation_id,
                state,
                ..
            } => {
                match state {
                    ConversationState::Waiting | ConversationState::Agent => {
                        if let Ok(row) = store.queue_row(conversation_id).await {
                            self.publish(AgentFeed::Queue {
                                item: Box::new(queue_item(row, now_ms())),
                            });
                        }
                    }
                    ConversationState::Bot | ConversationState::Resolved => {
                        self.publish(AgentFeed::QueueRemoved { conversation_id });
                        self.inner
                            .positions
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&conversation_id);
                    }
                }
                self.inner.wake.notify_one();
            }
            HubEvent::Note(note) => self.publish(AgentFeed::Note { note }),
            _ => {}
        }
    }

    /// Assigns what can be assigned and tells waiting customers their place.
    async fn work_queue(&self) -> crate::store::Result<()> {
        let engine = &self.inner.engine;
        let mut items = self.queue().await?;
        items.retain(|i| i.state == ConversationState::Waiting);
        if self.inner.settings.auto_assign {
            let mut load: HashMap<i64, i64> = engine
                .store()
                .open_assignments()
                .await?
                .into_iter()
                .collect();
            for item in items.iter_mut().filter(|i| i.assigned_to.is_none()) {
                let Some(agent) = self.next_agent(&load) else {
                    break;
                };
                match engine
                    .assign(item.conversation_id, &agent, AssignedBy::Auto)
                    .await
                {
                    Ok(_) => {
                        *load.entry(agent.id).or_default() += 1;
                        item.assigned_to = Some(agent.id);
                    }
                    Err(e) => tracing::debug!(error = ?e, "auto-assignment skipped"),
                }
            }
        }
        self.publish_positions(&items).await;
        Ok(())
    }

    /// The online agent with room who got an auto-assignment longest ago.
    fn next_agent(&self, load: &HashMap<i64, i64>) -> Option<Agent> {
        let mut agents = self.agents();
        let (id, agent) = agents
            .iter_mut()
            .filter(|(id, a)| {
                a.chosen == Presence::Online && load.get(id).copied().unwrap_or(0) < a.capacity
            })
            .min_by_key(|(id, a)| (a.last_assigned, **id))?;
        let mut seq = self
            .inner
            .assign_seq
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *seq += 1;
        agent.last_assigned = *seq;
        Some(Agent {
            id: *id,
            name: agent.name.clone(),
        })
    }

    /// Publishes each waiting (not yet answered) conversation's place and estimated wait when
    /// it changed.
    async fn publish_positions(&self, waiting: &[QueueItem]) {
        if waiting.is_empty() {
            self.inner
                .positions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            return;
        }
        let per_reply = self.typical_first_response().await;
        let agents = self.online_count().max(1) as u64;
        let mut positions = self
            .inner
            .positions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        for (index, item) in waiting.iter().enumerate() {
            let position = index as u32 + 1;
            let estimate = per_reply * (u64::from(position) - 1) / agents + per_reply;
            seen.insert(item.conversation_id);
            if positions.get(&item.conversation_id) == Some(&(position, estimate)) {
                continue;
            }
            positions.insert(item.conversation_id, (position, estimate));
            self.inner.engine.hub().publish(
                Topic::Conversation(item.conversation_id),
                HubEvent::QueuePosition {
                    conversation_id: item.conversation_id,
                    position,
                    estimated_wait_seconds: estimate,
                },
            );
        }
        positions.retain(|id, _| seen.contains(id));
    }

    /// Median first response time over the last day, in seconds (two minutes when unknown),
    /// recomputed at most once a minute.
    async fn typical_first_response(&self) -> u64 {
        const FRESH: Duration = Duration::from_secs(60);
        let cached = *self
            .inner
            .first_response
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((at, seconds)) = cached
            && at.elapsed() < FRESH
        {
            return seconds;
        }
        let seconds = self.median_first_response().await;
        *self
            .inner
            .first_response
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), seconds));
        seconds
    }

    async fn median_first_response(&self) -> u64 {
        const DEFAULT: u64 = 120;
        let since = now_ms() - 24 * 3600 * 1000;
        let Ok(events) = self
            .inner
            .engine
            .store()
            .events_since_of(EventKind::FirstAgentResponse, since)
            .await
        else {
            return DEFAULT;
        };
        let mut seconds: Vec<f64> = events
            .iter()
            .filter_map(|(data, _)| serde_json::from_str::<serde_json::Value>(data).ok())
            .filter_map(|d| d["seconds"].as_f64())
            .collect();
        if seconds.is_empty() {
            return DEFAULT;
        }
        seconds.sort_by(f64::total_cmp);
        (seconds[seconds.len() / 2].round() as u64).clamp(10, 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Channel, Conversation};

    fn row(waiting_minutes: i64, segment: Option<&str>, sentiment: Option<f64>) -> QueueRow {
        let now = 10_000_000;
        QueueRow {
            conversation: Conversation {
                id: 1,
                customer_id: 1,
                channel: Channel::Web,
                state: ConversationState::Waiting,
                unanswered_streak: 0,
                assigned_to: None,
                waiting_since: Some(now - waiting_minutes * 60_000),
                handoff_reason: Some("customer_asked".into()),
                first_response_at: None,
                created_at: 0,
                updated_at: 0,
            },
            customer_name: None,
            customer_email: None,
            customer_external_id: None,
            assigned_name: None,
            segment: segment.map(str::to_owned),
            churn_risk: None,
            at_risk: None,
            last_message: None,
            last_message_at: None,
            unread: 0,
            recent_sentiment: sentiment,
        }
    }

    #[test]
    fn priority_combines_waiting_value_risk_and_sentiment_with_reasons() {
        let now = 10_000_000;
        let (plain, reasons) = priority(&row(6, None, None), now);
        assert_eq!(plain, 6.0);
        assert_eq!(reasons, vec!["waiting 6 min"]);

        let (valued, reasons) = priority(&row(1, Some("high"), Some(-0.7)), now);
        assert!(
            valued > plain,
            "a high-value, upset customer waiting 1 min goes first"
        );
        assert!(reasons.contains(&"high-value customer".to_owned()));
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("very negative sentiment (-0.70)"))
        );

        let mut risky = row(1, None, None);
        risky.churn_risk = Some(0.71);
        risky.at_risk = Some(1);
        let (score, reasons) = priority(&risky, now);
        assert_eq!(score, 16.0);
        assert!(reasons.contains(&"at risk of churning (0.71)".to_owned()));
    }

    #[test]
    fn waiting_time_counts_up_to_two_hours() {
        let now = 10_000_000;
        assert_eq!(priority(&row(500, None, None), now).0, 120.0);
    }

    #[test]
    fn queue_sorts_by_priority_then_age() {
        let now = 10_000_000;
        let a = queue_item(row(5, None, None), now);
        let mut b = queue_item(row(5, Some("high"), None), now);
        b.conversation_id = 2;
        let mut c = queue_item(row(5, None, None), now);
        c.conversation_id = 3;
        c.waiting_since = a.waiting_since.map(|t| t - 1);
        let mut items = vec![a, b, c];
        sort_queue(&mut items);
        let order: Vec<i64> = items.iter().map(|i| i.conversation_id).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }
}
