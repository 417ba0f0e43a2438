//! The agents' side of a conversation: claim (or take over from the bot), reply, transfer, hand
//! back to the bot, resolve, and go back to the queue when an agent leaves. Each change is
//! checked against the conversation as stored (another agent may have acted first), stored in one
//! transaction with its message and metrics events, and then published.

use std::sync::Arc;

use serde_json::json;

use super::{ClientId, Engine, EngineError, MessageText, Receipt, Result, lines};
use crate::hub::{HubEvent, Topic};
use crate::store::{
    Applied, Author, Conversation, ConversationChange, ConversationState, EventKind, Message,
    NewEvent, NewMessage, Note, Staff, StoreError, now_ms,
};

/// The staff member acting on a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: i64,
    pub name: String,
}

impl From<&Staff> for Agent {
    fn from(staff: &Staff) -> Self {
        Agent {
            id: staff.id,
            name: staff.display_name.clone(),
        }
    }
}

/// How a conversation came to an agent (recorded with the `assigned` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedBy {
    /// The agent claimed it (or took it over from the bot).
    Claim,
    /// The auto-assigner picked the agent.
    Auto,
    /// Another agent transferred it.
    Transfer,
}

impl AssignedBy {
    fn as_str(self) -> &'static str {
        match self {
            AssignedBy::Claim => "claim",
            AssignedBy::Auto => "auto",
            AssignedBy::Transfer => "transfer",
        }
    }
}

/// The conversation as a change left it.
fn changed(applied: Applied) -> Result<Conversation> {
    match applied {
        Applied::Done { conversation, .. } => Ok(conversation),
        // Only changes that store a message with a client id can be duplicates.
        Applied::Duplicate { .. } => Err(EngineError::Busy),
    }
}

/// How often a change is retried when the conversation changed under it.
const RETRIES: usize = 4;

fn event(conversation: &Conversation, kind: EventKind) -> NewEvent {
    NewEvent::new(kind)
        .conversation(conversation.id)
        .customer(conversation.customer_id)
}

fn seconds_since(since: Option<i64>, now: i64) -> Option<f64> {
    since.map(|t| (now - t).max(0) as f64 / 1000.0)
}

/// The change that gives `conversation` to `agent` (state `agent`), with its events.
fn claim_change(conversation: &Conversation, agent: &Agent, by: AssignedBy) -> ConversationChange {
    let now = now_ms();
    let mut change = ConversationChange::keep(conversation);
    let mut events = Vec::new();
    if conversation.state == ConversationState::Bot {
        change.waiting_since = Some(now);
        change.handoff_reason = Some("agent_initiative".into());
        change.first_response_at = None;
        events.push(
            event(conversation, EventKind::HandoffRequested)
                .data(json!({"reason": "agent_initiative", "staff_id": agent.id})),
        );
    }
    if conversation.assigned_to != Some(agent.id) {
        events.push(event(conversation, EventKind::Assigned).data(json!({
            "staff_id": agent.id,
            "by": by.as_str(),
            "from": conversation.assigned_to,
        })));
    }
    change.state = ConversationState::Agent;
    change.assigned_to = Some(agent.id);
    change.events = events;
    change
}

impl ConversationChange {
    /// A change that keeps everything as it is (callers then set what changes).
    pub fn keep(c: &Conversation) -> Self {
        ConversationChange {
            conversation_id: c.id,
            expect_state: c.state,
            expect_assigned: c.assigned_to,
            state: c.state,
            assigned_to: c.assigned_to,
            waiting_since: c.waiting_since,
            handoff_reason: c.handoff_reason.clone(),
            first_response_at: c.first_response_at,
            message: None,
            events: Vec::new(),
        }
    }
}

impl Engine {
    /// Reloads the conversation and applies the change `plan` decides, retrying when another
    /// agent changed the conversation in between. `plan` returning `Ok(None)` means nothing to do.
    /// `owner` is the agent who owns the conversation if the change gives it to them (their name
    /// goes out with the new state).
    async fn change(
        &self,
        conversation_id: i64,
        owner: Option<&Agent>,
        plan: impl Fn(&Conversation) -> Result<Option<ConversationChange>>,
    ) -> Result<Applied> {
        for _ in 0..RETRIES {
            let conversation = self.store().conversation(conversation_id).await?;
            let Some(change) = plan(&conversation)? else {
                return Ok(Applied::Done {
                    conversation,
                    message: None,
                });
            };
            match self.store().apply_change(&change).await {
                Ok(applied) => {
                    self.publish_change(&conversation, &applied, owner);
                    return Ok(applied);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Busy)
    }

    /// Publishes what an applied change stored: the message and, if state or owner changed, the
    /// new state (to the conversation, the queue and the channel's outbox).
    fn publish_change(&self, before: &Conversation, applied: &Applied, owner: Option<&Agent>) {
        let Applied::Done {
            conversation,
            message,
        } = applied
        else {
            return;
        };
        if let Some(message) = message {
            self.publish_message(conversation, message.clone());
        }
        if before.state != conversation.state || before.assigned_to != conversation.assigned_to {
            self.publish_state(conversation, owner);
        }
    }

    pub(super) fn publish_message(&self, conversation: &Conversation, message: Message) {
        let to_customer = message.author != Author::Customer;
        let event = HubEvent::Message(Arc::new(message));
        if to_customer {
            self.hub
                .publish(Topic::Outbox(conversation.channel), event.clone());
        }
        if matches!(
            conversation.state,
            ConversationState::Waiting | ConversationState::Agent
        ) {
            self.hub.publish(Topic::Queue, event.clone());
        }
        self.hub
            .publish(Topic::Conversation(conversation.id), event);
    }

    fn publish_state(&self, conversation: &Conversation, owner: Option<&Agent>) {
        let agent_name = owner
            .filter(|a| {
                conversation.state == ConversationState::Agent
                    && conversation.assigned_to == Some(a.id)
            })
            .map(|a| a.name.clone());
        let event = HubEvent::State {
            conversation_id: conversation.id,
            state: conversation.state,
            reason: conversation.handoff_reason.clone(),
            agent_name,
        };
        self.hub
            .publish(Topic::Conversation(conversation.id), event.clone());
        self.hub
            .publish(Topic::Outbox(conversation.channel), event.clone());
        self.hub.publish(Topic::Queue, event);
    }

    /// The agent takes the conversation: from the queue, or over from the bot on their own
    /// initiative. Claiming one's own conversation again changes nothing.
    pub async fn claim(&self, conversation_id: i64, agent: &Agent) -> Result<Conversation> {
        self.assign(conversation_id, agent, AssignedBy::Claim).await
    }

    /// Gives a conversation to `agent`: by claim, auto-assignment or transfer. Auto-assignment
    /// only reserves a waiting conversation (it stays `waiting` until the agent replies);
    /// claims and transfers make the agent the owner.
    pub async fn assign(
        &self,
        conversation_id: i64,
        agent: &Agent,
        by: AssignedBy,
    ) -> Result<Conversation> {
        let applied = self
            .change(conversation_id, Some(agent), |c| {
                match (c.state, c.assigned_to, by) {
                    (ConversationState::Resolved, _, _) => {
                        return Err(EngineError::Invalid("the conversation is resolved".into()));
                    }
                    (ConversationState::Agent, Some(owner), _) if owner == agent.id => {
                        return Ok(None);
                    }
                    (_, Some(owner), AssignedBy::Claim | AssignedBy::Auto) if owner != agent.id => {
                        return Err(EngineError::AlreadyAssigned);
                    }
                    (ConversationState::Bot, _, AssignedBy::Auto | AssignedBy::Transfer) => {
                        return Err(EngineError::Invalid(
                            "the bot is handling this conversation".into(),
                        ));
                    }
                    _ => {}
                }
                let mut change = claim_change(c, agent, by);
                if by == AssignedBy::Auto {
                    change.state = ConversationState::Waiting;
                }
                if by == AssignedBy::Transfer && c.state == ConversationState::Agent {
                    let line = format!("{} is now helping you.", agent.name);
                    let mut message = NewMessage::new(Author::System, line);
                    message.meta.author_name = Some(agent.name.clone());
                    change.message = Some((message, None));
                }
                Ok(Some(change))
            })
            .await?;
        changed(applied)
    }

    /// Transfers the conversation from its owner to another staff member.
    pub async fn transfer(
        &self,
        conversation_id: i64,
        from: &Agent,
        to: &Agent,
    ) -> Result<Conversation> {
        let conversation = self.store().conversation(conversation_id).await?;
        if conversation
            .assigned_to
            .is_some_and(|owner| owner != from.id)
        {
            return Err(EngineError::AlreadyAssigned);
        }
        self.assign(conversation_id, to, AssignedBy::Transfer).await
    }

    /// An agent's reply. Claims the conversation when nobody owns it; refused when another agent
    /// does. Idempotent on `client_id` like the customer's messages.
    pub async fn agent_reply(
        &self,
        conversation_id: i64,
        agent: &Agent,
        client_id: &ClientId,
        text: MessageText,
    ) -> Result<Receipt> {
        let applied = self
            .change(conversation_id, Some(agent), |c| {
                if c.assigned_to.is_some_and(|owner| owner != agent.id) {
                    return Err(EngineError::AlreadyAssigned);
                }
                let now = now_ms();
                let mut change = claim_change(c, agent, AssignedBy::Claim);
                if c.state == ConversationState::Resolved {
                    change.waiting_since = None;
                    change.handoff_reason = Some("agent_initiative".into());
                }
                if change.first_response_at.is_none() {
                    change.first_response_at = Some(now);
                    change
                        .events
                        .push(event(c, EventKind::FirstAgentResponse).data(json!({
                            "staff_id": agent.id,
                            "seconds": seconds_since(change.waiting_since, now),
                        })));
                }
                let mut message = NewMessage::new(Author::Agent, text.as_str());
                // Agents' client ids live in their own namespace (':' is not allowed in a
                // customer's), so the two never collide in one conversation.
                message.client_id = Some(format!("a:{}:{}", agent.id, client_id.as_str()));
                message.meta.author_name = Some(agent.name.clone());
                change.message = Some((message, Some(agent.id)));
                Ok(Some(change))
            })
            .await?;
        match applied {
            Applied::Done { message, .. } => Ok(Receipt {
                message_id: message.map(|m| m.id).unwrap_or_default(),
                duplicate: false,
            }),
            Applied::Duplicate { message_id } => Ok(Receipt {
                message_id,
                duplicate: true,
            }),
        }
    }

    /// Resolves the conversation. The channels then ask the customer for CSAT.
    pub async fn resolve(&self, conversation_id: i64, agent: &Agent) -> Result<Conversation> {
        let applied = self
            .change(conversation_id, None, |c| {
                if c.state == ConversationState::Resolved {
                    return Ok(None);
                }
                if c.assigned_to.is_some_and(|owner| owner != agent.id) {
                    return Err(EngineError::AlreadyAssigned);
                }
                let now = now_ms();
                let mut change = ConversationChange::keep(c);
                change.state = ConversationState::Resolved;
                change.assigned_to = Some(agent.id);
                change
                    .events
                    .push(event(c, EventKind::Resolved).data(json!({
                        "staff_id": agent.id,
                        "seconds": seconds_since(c.waiting_since, now),
                        "from": c.state.as_str(),
                    })));
                change.message = Some((NewMessage::new(Author::System, lines::RESOLVED), None));
                Ok(Some(change))
            })
            .await?;
        changed(applied)
    }

    /// Gives the conversation back to the bot.
    pub async fn hand_back(&self, conversation_id: i64, agent: &Agent) -> Result<Conversation> {
        let applied = self
            .change(conversation_id, None, |c| {
                match c.state {
                    ConversationState::Bot => return Ok(None),
                    ConversationState::Resolved => {
                        return Err(EngineError::Invalid("the conversation is resolved".into()));
                    }
                    _ => {}
                }
                if c.assigned_to.is_some_and(|owner| owner != agent.id) {
                    return Err(EngineError::AlreadyAssigned);
                }
                let mut change = ConversationChange::keep(c);
                change.state = ConversationState::Bot;
                change.assigned_to = None;
                change.waiting_since = None;
                change.handoff_reason = None;
                change.first_response_at = None;
                change
                    .events
                    .push(event(c, EventKind::ReturnedToBot).data(json!({"staff_id": agent.id})));
                change.message = Some((NewMessage::new(Author::System, lines::BACK_TO_BOT), None));
                Ok(Some(change))
            })
            .await?;
        changed(applied)
    }

    /// Puts an agent's open conversations back in the queue (the agent went offline).
    pub async fn unassign_all(&self, staff_id: i64, reason: &str) -> Result<Vec<i64>> {
        let ids = self.store().assigned_conversations(staff_id).await?;
        let mut moved = Vec::new();
        for id in ids {
            let result = self
                .change(id, None, |c| {
                    if c.assigned_to != Some(staff_id)
                        || !matches!(
                            c.state,
                            ConversationState::Waiting | ConversationState::Agent
                        )
                    {
                        return Ok(None);
                    }
                    let mut change = ConversationChange::keep(c);
                    change.state = ConversationState::Waiting;
                    change.assigned_to = None;
                    change.waiting_since = c.waiting_since.or(Some(now_ms()));
                    change.events.push(
                        event(c, EventKind::Unassigned)
                            .data(json!({"staff_id": staff_id, "reason": reason})),
                    );
                    Ok(Some(change))
                })
                .await;
            match result {
                Ok(_) => moved.push(id),
                Err(e) => tracing::warn!(conversation = id, error = ?e, "could not unassign"),
            }
        }
        Ok(moved)
    }

    /// A private note for agents; never sent to the customer.
    pub async fn note(
        &self,
        conversation_id: i64,
        agent: &Agent,
        text: MessageText,
    ) -> Result<Note> {
        self.store().conversation(conversation_id).await?;
        let note = self
            .store()
            .add_note(conversation_id, agent.id, text.as_str())
            .await?;
        self.hub
            .publish(Topic::Queue, HubEvent::Note(Arc::new(note.clone())));
        Ok(note)
    }
}
