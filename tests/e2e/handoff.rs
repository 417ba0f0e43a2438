//! Handoff to a person: the engine's agent side, seen by a customer on a real websocket.

use hark_bot::engine::{ClientId, EngineError, MessageText};
use hark_bot::store::{ConversationState, EventKind, Role};
use hark_tests::{AppOptions, Engine, spawn_app, spawn_app_with};
use serde_json::Value;

fn text(s: &str) -> anyhow::Result<MessageText> {
    Ok(MessageText::parse(s)?)
}

fn id(s: &str) -> anyhow::Result<ClientId> {
    Ok(ClientId::parse(s)?)
}

/// Frames until a message by `author` arrives; returns that message.
async fn next_message(
    client: &mut hark_tests::WidgetClient,
    author: &str,
) -> anyhow::Result<(Value, Vec<Value>)> {
    let mut seen = Vec::new();
    loop {
        let frame = client.recv().await?;
        seen.push(frame.clone());
        if frame["type"] == "message" && frame["author"] == author {
            return Ok((frame, seen));
        }
    }
}

async fn customer_meets_agent(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let (_, alex) = app
        .add_staff(Role::Agent, "Alex Kim", "a long password")
        .await?;
    let (_, sam) = app
        .add_staff(Role::Agent, "Sam Lee", "a long password")
        .await?;
    let engine = app.state.engine.clone();

    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let asked = customer.ask("h1", "can I talk to a human please").await?;
    assert_eq!(asked.reply["author"], "system");
    customer.recv_until("state").await?;

    // Alex claims; the customer is told who joined.
    let claimed = engine.claim(conversation_id, &alex).await?;
    assert_eq!(claimed.state, ConversationState::Agent);
    assert_eq!(claimed.assigned_to, Some(alex.id));
    // (Queue-position frames for the waiting conversation may come first.)
    let state = loop {
        let frame = customer.recv().await?;
        if frame["type"] == "state" && frame["state"] != "waiting" {
            break frame;
        }
    };
    assert_eq!(state["state"], "agent");
    assert_eq!(state["agent_name"], "Alex Kim");

    // Another agent can neither claim nor write in Alex's conversation.
    assert!(matches!(
        engine.claim(conversation_id, &sam).await,
        Err(EngineError::AlreadyAssigned)
    ));
    assert!(matches!(
        engine
            .agent_reply(conversation_id, &sam, &id("s1")?, text("hi")?)
            .await,
        Err(EngineError::AlreadyAssigned)
    ));

    // Alex replies; the reply reaches the customer with the agent's name; resending the same
    // client id stores nothing new.
    let receipt = engine
        .agent_reply(
            conversation_id,
            &alex,
            &id("r1")?,
            text("Hi, I'm Alex. How can I help?")?,
        )
        .await?;
    assert!(!receipt.duplicate);
    let (reply, _) = next_message(&mut customer, "agent").await?;
    assert_eq!(reply["text"], "Hi, I'm Alex. How can I help?");
    assert_eq!(reply["author_name"], "Alex Kim");
    assert_eq!(reply["id"].as_i64(), Some(receipt.message_id));
    let again = engine
        .agent_reply(
            conversation_id,
            &alex,
            &id("r1")?,
            text("Hi, I'm Alex. How can I help?")?,
        )
        .await?;
    assert!(again.duplicate);
    assert_eq!(again.message_id, receipt.message_id);

    // While Alex owns the conversation the bot is silent, even on a question it knows.
    customer
        .send_json(serde_json::json!({"type": "message", "client_id": "h2", "text": "how long does delivery take?"}))
        .await?;
    let frames = customer.recv_until("ack").await?;
    let stored = app
        .state
        .engine
        .store()
        .messages_after(conversation_id, receipt.message_id)
        .await?;
    assert_eq!(
        stored.len(),
        1,
        "only the customer's message: {stored:?} {frames:?}"
    );

    // Alex resolves; the customer sees the state and the closing line.
    engine.resolve(conversation_id, &alex).await?;
    let (closing, frames) = next_message(&mut customer, "system").await?;
    assert!(
        closing["text"]
            .as_str()
            .unwrap_or_default()
            .contains("resolved")
    );
    let is_resolved = |f: &Value| f["type"] == "state" && f["state"] == "resolved";
    if !frames.iter().any(is_resolved) {
        loop {
            if is_resolved(&customer.recv().await?) {
                break;
            }
        }
    }

    let store = app.state.engine.store();
    let first = store.events(Some(EventKind::FirstAgentResponse)).await?;
    assert_eq!(first.len(), 1, "one first response");
    assert_eq!(store.events(Some(EventKind::Resolved)).await?.len(), 1);
    assert_eq!(store.events(Some(EventKind::Assigned)).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_customer_asks_for_a_person_and_an_agent_answers() -> anyhow::Result<()> {
    customer_meets_agent(Engine::Sqlite).await
}

#[tokio::test]
async fn a_customer_asks_for_a_person_and_an_agent_answers_on_postgres() -> anyhow::Result<()> {
    customer_meets_agent(Engine::Postgres).await
}

#[tokio::test]
async fn agents_take_over_transfer_and_hand_back_to_the_bot() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, alex) = app
        .add_staff(Role::Agent, "Alex Kim", "a long password")
        .await?;
    let (_, sam) = app
        .add_staff(Role::Agent, "Sam Lee", "a long password")
        .await?;
    let engine = app.state.engine.clone();
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    customer.ask("q1", "how long does delivery take?").await?;

    // An agent takes over a conversation the bot is handling, on their own initiative.
    let taken = engine.claim(conversation_id, &alex).await?;
    assert_eq!(taken.state, ConversationState::Agent);
    assert_eq!(taken.handoff_reason.as_deref(), Some("agent_initiative"));
    let handoffs = engine
        .store()
        .events(Some(EventKind::HandoffRequested))
        .await?;
    assert!(handoffs[0].data.contains("agent_initiative"));

    // Transfer to Sam: only the owner may; the customer is told who helps now.
    assert!(matches!(
        engine.transfer(conversation_id, &sam, &sam).await,
        Err(EngineError::AlreadyAssigned)
    ));
    let moved = engine.transfer(conversation_id, &alex, &sam).await?;
    assert_eq!(moved.assigned_to, Some(sam.id));
    let (line, _) = next_message(&mut customer, "system").await?;
    assert_eq!(line["text"], "Sam Lee is now helping you.");

    // Back to the bot: it answers again.
    let back = engine.hand_back(conversation_id, &sam).await?;
    assert_eq!(back.state, ConversationState::Bot);
    assert_eq!(back.assigned_to, None);
    let (line, _) = next_message(&mut customer, "system").await?;
    assert!(
        line["text"]
            .as_str()
            .unwrap_or_default()
            .contains("back with the assistant")
    );
    let answer = customer.ask("q2", "how long does delivery take?").await?;
    assert_eq!(answer.reply["author"], "bot");
    assert_eq!(
        engine
            .store()
            .events(Some(EventKind::ReturnedToBot))
            .await?
            .len(),
        1
    );

    // An agent going offline puts their conversations back in the queue.
    engine.claim(conversation_id, &alex).await?;
    let moved = engine.unassign_all(alex.id, "agent_offline").await?;
    assert_eq!(moved, vec![conversation_id]);
    let c = engine.store().conversation(conversation_id).await?;
    assert_eq!((c.state, c.assigned_to), (ConversationState::Waiting, None));
    Ok(())
}

async fn handoff_reason(app: &hark_tests::TestApp) -> anyhow::Result<Option<String>> {
    let events = app
        .state
        .engine
        .store()
        .events(Some(EventKind::HandoffRequested))
        .await?;
    Ok(events.last().and_then(|e| {
        serde_json::from_str::<Value>(&e.data)
            .ok()
            .and_then(|d| d["reason"].as_str().map(str::to_owned))
    }))
}

#[tokio::test]
async fn a_strongly_upset_customer_goes_to_a_person() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut customer = app.widget().await?;
    customer.hello(None, None).await?;
    // Mildly negative: the bot still answers.
    let calm = customer
        .ask("q1", "delivery is a bit slow, how long does delivery take?")
        .await?;
    assert_eq!(calm.reply["author"], "bot");
    let upset = customer
        .ask(
            "q2",
            "This is terrible, the worst service ever. I am furious and disgusted!",
        )
        .await?;
    assert_eq!(upset.reply["author"], "system", "{}", upset.reply);
    assert_eq!(
        handoff_reason(&app).await?.as_deref(),
        Some("negative_sentiment")
    );
    Ok(())
}

#[tokio::test]
async fn a_valuable_customer_on_a_sensitive_topic_goes_to_a_person() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let store = app.state.engine.store().clone();
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let customer_id = store.conversation(conversation_id).await?.customer_id;

    // Not scored yet (or low value): the bot answers a billing question itself.
    let plain = customer.ask("q1", "how do I get a refund?").await?;
    assert_eq!(plain.reply["author"], "bot", "{}", plain.reply);

    store
        .upsert_customer_scores(&[hark_bot::store::CustomerScore {
            customer_id,
            model_version: "test".into(),
            fitted_at: 1,
            scored_at: 1,
            p_alive: Some(0.9),
            expected_purchases: Some(3.0),
            clv: Some(900.0),
            segment: hark_bot::store::Segment::High,
            churn_risk: 0.1,
            at_risk: false,
            reasons: vec![],
        }])
        .await?;
    let valued = customer.ask("q2", "how do I get a refund?").await?;
    assert_eq!(valued.reply["author"], "system", "{}", valued.reply);
    assert_eq!(
        handoff_reason(&app).await?.as_deref(),
        Some("valued_customer_sensitive_topic")
    );
    Ok(())
}

#[tokio::test]
async fn outside_business_hours_the_customer_can_leave_a_message_and_an_address()
-> anyhow::Result<()> {
    // Open every day but today: closed now, whatever the time of the test.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let today = usize::from(
        time::OffsetDateTime::now_utc()
            .weekday()
            .number_days_from_monday(),
    );
    let open = format!(
        "{}-{} 09:00-17:00 UTC",
        DAYS[(today + 1) % 7],
        DAYS[(today + 6) % 7]
    );
    let mut options = AppOptions::default();
    options.handoff.policy.business_hours = Some(open.parse().map_err(anyhow::Error::msg)?);
    let Some(app) = spawn_app_with(options).await? else {
        return Ok(());
    };
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let asked = customer.ask("q1", "I want to talk to a person").await?;
    let line = asked.reply["text"].as_str().unwrap_or_default().to_owned();
    assert!(line.contains("away right now and back"), "{line}");
    assert!(line.contains("09:00 (UTC+00:00)"), "{line}");

    let store = app.state.engine.store();
    let tasks = store.open_tasks().await?;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, "left_message");
    assert_eq!(tasks[0].conversation_id, Some(conversation_id));

    let left = customer
        .ask(
            "q2",
            "My parcel is damaged. Please write to ann@example.com",
        )
        .await?;
    assert_eq!(
        left.reply["text"],
        "Thank you. We'll reply to ann@example.com as soon as we're back."
    );
    let customer_id = store.conversation(conversation_id).await?.customer_id;
    assert_eq!(
        store.customer(customer_id).await?.email.as_deref(),
        Some("ann@example.com")
    );
    // The conversation waits in the queue for the morning; one task, not one per message.
    assert_eq!(
        store.conversation(conversation_id).await?.state,
        ConversationState::Waiting
    );
    assert_eq!(store.open_tasks().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_resolved_conversation_asks_the_customer_for_csat_once() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, alex) = app
        .add_staff(Role::Agent, "Alex Kim", "a long password")
        .await?;
    let engine = app.state.engine.clone();
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let token = welcome["visitor_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    customer.ask("h1", "I want to talk to a person").await?;

    // Rating before the conversation is resolved is refused.
    customer
        .send_json(serde_json::json!({"type": "csat", "score": 5}))
        .await?;
    let refused = customer.recv_until("error").await?;
    assert_eq!(
        refused.last().map(|f| f["code"].clone()),
        Some("bad_request".into())
    );

    engine.claim(conversation_id, &alex).await?;
    engine.resolve(conversation_id, &alex).await?;
    let survey = customer.recv_until("survey").await?;
    let survey = survey.last().cloned().unwrap_or_default();
    assert_eq!(
        (survey["kind"].as_str(), survey["max"].as_u64()),
        (Some("csat"), Some(5))
    );

    for bad in [
        serde_json::json!({"type": "csat", "score": 6}),
        serde_json::json!({"type": "csat", "score": 0}),
        serde_json::json!({"type": "csat"}),
        serde_json::json!({"type": "csat", "score": 4, "comment": "x".repeat(5000)}),
    ] {
        customer.send_json(bad.clone()).await?;
        let error = customer.recv_until("error").await?;
        assert_eq!(
            error.last().map(|f| f["code"].clone()),
            Some("bad_request".into()),
            "{bad}"
        );
    }
    customer
        .send_json(serde_json::json!({"type": "csat", "score": 4, "comment": "quick and friendly"}))
        .await?;
    customer.recv_until("survey_thanks").await?;
    customer
        .send_json(serde_json::json!({"type": "csat", "score": 1}))
        .await?;
    let again = customer.recv_until("error").await?;
    assert!(again.last().is_some_and(|f| {
        f["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already")
    }));

    let store = engine.store();
    let customer_id = store.conversation(conversation_id).await?.customer_id;
    let answers = store.customer_surveys(customer_id).await?;
    assert_eq!(answers.len(), 1);
    assert_eq!((answers[0].kind.as_str(), answers[0].score), ("csat", 4));
    assert_eq!(answers[0].comment.as_deref(), Some("quick and friendly"));

    // Coming back later: the rated conversation does not ask again. (The NPS question that
    // followed the rating may be shown again: tests/e2e/nps.rs.)
    drop(customer);
    let mut back = app.widget().await?;
    back.hello(Some(&token), None).await?;
    let frames = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        loop {
            let frames = back.recv_until("survey").await?;
            if frames.last().is_some_and(|f| f["kind"] == "csat") {
                return Ok::<_, anyhow::Error>(frames);
            }
        }
    })
    .await;
    assert!(
        !matches!(frames, Ok(Ok(_))),
        "no second CSAT survey: {frames:?}"
    );
    Ok(())
}
