//! The realtime event hub: every channel (widget, Telegram) and the agents' console subscribe to
//! topics here, and the engine publishes to it after each commit.
//!
//! *Architecture invariant*: the engine talks to an [`EventBus`] trait object, never to tokio's
//! channels directly, so a cross-node bus (PostgreSQL `LISTEN/NOTIFY`, Redis, NATS) can replace the
//! in-process one without touching the engine. Events are notifications of what is already stored:
//! a subscriber that misses one (lag, reconnect) catches up from the database by message id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::dispatch::AgentFeed;
use crate::store::{Author, Channel, ConversationState, Message, Note};

/// What subscribers listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Everything that happens in one conversation.
    Conversation(i64),
    /// Changes to the queue of conversations waiting for a person (the agents' console).
    Queue,
    /// Every message for customers on one channel (bot, system and agent messages, proactive
    /// messages), for channels that deliver to all their customers from one task (Telegram).
    /// Web sockets follow their own conversation instead.
    Outbox(Channel),
    /// The agents' consoles: queue items, presence, notes (see [`crate::dispatch`]).
    Agents,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HubEvent {
    /// A message was stored in a conversation.
    Message(Arc<Message>),
    /// A conversation changed state or owner.
    State {
        conversation_id: i64,
        state: ConversationState,
        reason: Option<String>,
        /// The person who owns it now, if any (shown to the customer by first name).
        agent_name: Option<String>,
    },
    /// Where a waiting conversation stands in the queue (published while it waits).
    QueuePosition {
        conversation_id: i64,
        position: u32,
        estimated_wait_seconds: u64,
    },
    /// A prepared item for the agents' consoles (published on [`Topic::Agents`]).
    Agents(Arc<AgentFeed>),
    /// A private note was added (published on [`Topic::Queue`] only: agents, never customers).
    Note(Arc<Note>),
    /// Someone is typing (not stored).
    Typing {
        conversation_id: i64,
        author: Author,
        active: bool,
    },
}

pub type Subscription = broadcast::Receiver<HubEvent>;

/// A publish/subscribe bus keyed by [`Topic`].
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, topic: Topic, event: HubEvent);
    fn subscribe(&self, topic: Topic) -> Subscription;
}

/// Shared handle to the bus in use.
pub type Hub = Arc<dyn EventBus>;

/// Per-topic capacity. A subscriber that falls further behind gets `Lagged` and must reload from
/// the store, which every subscriber can do by message id.
/// Kept small on purpose: every conversation with a live subscriber preallocates this many slots.
const TOPIC_CAPACITY: usize = 8;
/// Channel-wide topics carry every outgoing message of a channel, so they get more room.
const OUTBOX_CAPACITY: usize = 1024;

/// The single-process bus: one tokio broadcast channel per topic with live subscribers.
#[derive(Default)]
pub struct InProcessBus {
    // A std mutex: the critical sections are a hash-map lookup or insert, never held across an
    // await, so an async mutex would only add cost.
    topics: Mutex<HashMap<Topic, broadcast::Sender<HubEvent>>>,
}

impl InProcessBus {
    pub fn new_hub() -> Hub {
        Arc::new(InProcessBus::default())
    }

    /// Number of topics with a channel (for tests and metrics).
    pub fn topic_count(&self) -> usize {
        self.topics.lock().map(|t| t.len()).unwrap_or(0)
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, topic: Topic, event: HubEvent) {
        let Ok(mut topics) = self.topics.lock() else {
            return;
        };
        if let Some(sender) = topics.get(&topic)
            && sender.send(event).is_err()
        {
            // Nobody listens any more: drop the channel so idle topics cost nothing.
            topics.remove(&topic);
        }
    }

    fn subscribe(&self, topic: Topic) -> Subscription {
        let mut topics = match self.topics.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let sender = topics.entry(topic).or_insert_with(|| {
            let capacity = match topic {
                Topic::Outbox(_) => OUTBOX_CAPACITY,
                _ => TOPIC_CAPACITY,
            };
            broadcast::channel(capacity).0
        });
        sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typing(id: i64) -> HubEvent {
        HubEvent::Typing {
            conversation_id: id,
            author: Author::Bot,
            active: true,
        }
    }

    #[tokio::test]
    async fn delivers_only_to_the_topic_subscribed() {
        let bus = InProcessBus::default();
        let mut one = bus.subscribe(Topic::Conversation(1));
        let mut two = bus.subscribe(Topic::Conversation(2));
        bus.publish(Topic::Conversation(1), typing(1));
        assert_eq!(one.recv().await.ok(), Some(typing(1)));
        assert!(two.try_recv().is_err());
    }

    #[test]
    fn forgets_topics_without_subscribers() {
        let bus = InProcessBus::default();
        drop(bus.subscribe(Topic::Conversation(7)));
        assert_eq!(bus.topic_count(), 1);
        bus.publish(Topic::Conversation(7), typing(7));
        assert_eq!(bus.topic_count(), 0);
    }
}
