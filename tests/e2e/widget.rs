//! The widget channel over real websockets: answers, clarifications, handoff, resume.

use hark_bot::store::{ConversationState, EventKind};
use hark_tests::{AppOptions, Engine, WidgetClient, spawn_app, spawn_app_with};
use serde_json::json;

#[tokio::test]
async fn answers_a_delivery_question_from_the_knowledge_base() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    let welcome = client.hello(None, None).await?;
    assert_eq!(welcome["state"], "bot");
    assert_eq!(welcome["visitor_token"].as_str().map(str::len), Some(64));

    let exchange = client.ask("c1", "how long does delivery take?").await?;
    assert!(exchange.message_id > 0);
    assert_eq!(exchange.reply["author"], "bot");
    assert_eq!(
        exchange.reply["article_id"], "delivery-times",
        "{}",
        exchange.reply
    );
    let article = app.state.engine.kb().article("delivery-times");
    assert_eq!(
        exchange.reply["text"].as_str(),
        article.as_ref().map(|a| a.answer.as_str())
    );

    // The customer's own message is echoed with its stored id before the answer.
    let echo = exchange
        .frames
        .iter()
        .find(|f| f["type"] == "message" && f["author"] == "customer");
    assert_eq!(
        echo.map(|f| f["id"].clone()),
        Some(json!(exchange.message_id))
    );

    let events = app
        .state
        .engine
        .store()
        .events(Some(EventKind::Answered))
        .await?;
    assert_eq!(events.len(), 1);
    Ok(())
}

#[tokio::test]
async fn same_conversation_on_postgres() -> anyhow::Result<()> {
    let options = AppOptions {
        engine: Engine::Postgres,
        ..AppOptions::default()
    };
    let Some(app) = spawn_app_with(options).await? else {
        return Ok(());
    };
    let mut client = app.widget().await?;
    client.hello(None, None).await?;
    let exchange = client.ask("c1", "how long does delivery take?").await?;
    assert_eq!(exchange.reply["article_id"], "delivery-times");
    Ok(())
}

#[tokio::test]
async fn unknown_questions_offer_articles_and_a_person_then_hand_over() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    let welcome = client.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();

    let first = client
        .ask("q1", "what is the airspeed velocity of an unladen swallow")
        .await?;
    assert_eq!(first.reply["author"], "bot");
    assert_eq!(first.reply["article_id"], json!(null));
    assert_eq!(first.reply["offer_handoff"], true);

    // Twice in a row without an answer: the bot hands over to a person on its own.
    let second = client.ask("q2", "zxqv blorf wibble").await?;
    assert_eq!(second.reply["author"], "system", "{}", second.reply);
    let state = client.recv_until("state").await?;
    assert_eq!(
        state.last().map(|s| s["state"].clone()),
        Some(json!("waiting"))
    );

    let conversation = app
        .state
        .engine
        .store()
        .conversation(conversation_id)
        .await?;
    assert_eq!(conversation.state, ConversationState::Waiting);
    let handoffs = app
        .state
        .engine
        .store()
        .events(Some(EventKind::HandoffRequested))
        .await?;
    assert_eq!(handoffs.len(), 1);
    assert!(
        handoffs[0].data.contains("bot_could_not_answer"),
        "{}",
        handoffs[0].data
    );

    // While waiting for a person the bot stays silent.
    client
        .send_json(
            json!({"type": "message", "client_id": "q3", "text": "how long does delivery take?"}),
        )
        .await?;
    let frames = client.recv_until("ack").await?;
    assert!(frames.iter().all(|f| f["author"] != "bot"), "{frames:?}");
    let stored = app.state.engine.history_after(conversation_id, 0).await?;
    assert_eq!(
        stored.last().map(|m| m.body.as_str()),
        Some("how long does delivery take?")
    );
    Ok(())
}

#[tokio::test]
async fn the_handoff_button_and_asking_in_words_both_reach_a_person() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for (client_id, frame) in [
        ("h1", json!({"type": "handoff", "client_id": "h1"})),
        (
            "h2",
            json!({"type": "message", "client_id": "h2", "text": "can I talk to a human please"}),
        ),
    ] {
        let mut client = app.widget().await?;
        client.hello(None, None).await?;
        client.send_json(frame).await?;
        let exchange = client.exchange(client_id).await?;
        assert_eq!(exchange.reply["author"], "system");
        let state = client.recv_until("state").await?;
        assert_eq!(
            state.last().map(|s| s["state"].clone()),
            Some(json!("waiting"))
        );
    }
    let reasons: Vec<String> = app
        .state
        .engine
        .store()
        .events(Some(EventKind::HandoffRequested))
        .await?
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert!(
        reasons[0].contains("customer_button") && reasons[1].contains("customer_asked"),
        "{reasons:?}"
    );
    Ok(())
}

#[tokio::test]
async fn choosing_a_suggested_article_answers_with_it_and_is_recorded() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    client.hello(None, None).await?;
    client
        .send_json(json!({"type": "choose", "client_id": "p1", "article_id": "delivery-times"}))
        .await?;
    let exchange = client.exchange("p1").await?;
    assert_eq!(exchange.reply["article_id"], "delivery-times");
    let chosen = app
        .state
        .engine
        .store()
        .events(Some(EventKind::ClarifyChosen))
        .await?;
    assert_eq!(chosen.len(), 1);

    client
        .send_json(json!({"type": "choose", "client_id": "p2", "article_id": "no-such-article"}))
        .await?;
    let error = client.recv().await?;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "bad_request");
    Ok(())
}

#[tokio::test]
async fn resume_replays_what_was_missed_and_resends_are_not_duplicated() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut first = app.widget().await?;
    let welcome = first.hello(None, None).await?;
    let token = welcome["visitor_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let conversation_id = welcome["conversation_id"].as_i64();
    let seen = first.ask("m1", "how long does delivery take?").await?;
    let last_seen = seen.reply["id"].as_i64();

    // The connection drops right after sending m2, before the client saw the ack.
    first
        .send_json(json!({"type": "message", "client_id": "m2", "text": "can I return an item?"}))
        .await?;
    drop(first);

    // Let the server process m2 before the client comes back.
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = app
            .state
            .engine
            .history_after(conversation_id.unwrap_or_default(), 0)
            .await?;
        if stored.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored.len(), 4, "m1, its answer, m2, its answer");

    let mut second = app.widget().await?;
    let welcome = second.hello(Some(&token), last_seen).await?;
    assert_eq!(
        welcome["conversation_id"].as_i64(),
        conversation_id,
        "same visitor, same conversation"
    );
    assert_eq!(welcome["visitor_token"], token.as_str());
    let replay_customer = second.recv().await?;
    let replay_bot = second.recv().await?;
    assert_eq!(replay_customer["client_id"], "m2");
    assert_eq!(replay_bot["author"], "bot");

    // The client re-sends its unacked message with the same client id: same id, no new answer.
    second
        .send_json(json!({"type": "message", "client_id": "m2", "text": "can I return an item?"}))
        .await?;
    let ack = second.recv().await?;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["message_id"], replay_customer["id"]);
    let after = app
        .state
        .engine
        .history_after(conversation_id.unwrap_or_default(), 0)
        .await?;
    assert_eq!(after.len(), 4, "nothing duplicated");
    Ok(())
}

#[tokio::test]
async fn a_restarted_server_resumes_the_conversation() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    let welcome = client.hello(None, None).await?;
    let token = welcome["visitor_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    client.ask("r1", "how long does delivery take?").await?;

    let app = app.restart().await?;
    // The old socket was told the server is going away.
    let closed = client.recv_frame().await;
    assert!(
        matches!(closed, Ok(tokio_tungstenite::tungstenite::Message::Close(Some(ref f))) if u16::from(f.code) == 1001),
        "{closed:?}"
    );

    let mut client = WidgetClient::connect(&app.ws_url()).await?;
    let welcome = client.hello(Some(&token), None).await?;
    assert_eq!(welcome["state"], "bot");
    let replay = client.recv().await?;
    assert_eq!(replay["client_id"], "r1");
    let exchange = client.ask("r2", "do you ship abroad?").await?;
    assert_eq!(exchange.reply["author"], "bot");
    Ok(())
}

#[tokio::test]
async fn a_visitor_cannot_read_another_visitors_conversation() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut alice = app.widget().await?;
    let alice_welcome = alice.hello(None, None).await?;
    alice.ask("a1", "my secret order number is 4242").await?;

    // A guessed or forged token never opens Alice's conversation.
    for forged in ["0".repeat(64), "not-a-token".to_owned()] {
        let mut mallory = app.widget().await?;
        let welcome = mallory.hello(Some(&forged), None).await?;
        assert_ne!(welcome["conversation_id"], alice_welcome["conversation_id"]);
        assert_ne!(welcome["visitor_token"], forged.as_str());
        mallory
            .send_json(json!({"type": "message", "client_id": "z", "text": "hi"}))
            .await?;
        let frames = mallory.recv_until("ack").await?;
        assert!(frames.iter().all(|f| !f.to_string().contains("4242")));
    }
    Ok(())
}

#[tokio::test]
async fn articles_changed_while_running_are_answered_without_a_restart() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    // Another process (`hark kb import`, another node) writes to the same database.
    let other = hark_bot::store::Store::connect(&app.db.url).await?;
    other
        .upsert_articles(&[kb::Article {
            id: "gift-wrapping-ribbons".into(),
            title: "Ribbon colours for gift wrapping".into(),
            answer: "Gift wrapping comes with a red, green or gold ribbon of your choice.".into(),
            questions: vec!["which ribbon colours do you have for gift wrapping".into()],
            tags: vec![],
        }])
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // A new visitor each time, so misses never add up to a handoff.
        let mut client = app.widget().await?;
        client.hello(None, None).await?;
        let exchange = client
            .ask("g1", "which ribbon colours do you have for gift wrapping")
            .await?;
        if exchange.reply["article_id"] == "gift-wrapping-ribbons" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new article was never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Ok(())
}
