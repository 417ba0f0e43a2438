//! NPS end to end: the widget over real websockets and Telegram through the fake Bot API, on
//! SQLite and PostgreSQL; the detractor task read over the console API.

use std::time::Duration;

use hark_bot::engine::{Agent, ClientId, MessageText};
use hark_bot::store::{Channel, NpsOccasion, Role, SurveyKind};
use hark_bot::surveys::nps::{Due, NotDue, Occasion};
use hark_tests::console::ConsoleClient;
use hark_tests::telegram::{FakeTelegram, buttons, texts};
use hark_tests::{AppOptions, Engine, TestApp, WidgetClient, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "a long password";

async fn app_on(engine: Engine) -> anyhow::Result<Option<TestApp>> {
    spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await
}

/// The last frame of `kind` among frames received until it arrived.
async fn until(client: &mut WidgetClient, kind: &str) -> anyhow::Result<Value> {
    let frames = client.recv_until(kind).await?;
    frames
        .last()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no {kind} frame"))
}

/// Sends a frame that must be refused; returns the error's message.
async fn refused(client: &mut WidgetClient, frame: Value) -> anyhow::Result<String> {
    client.send_json(frame.clone()).await?;
    let error = until(client, "error").await?;
    anyhow::ensure!(error["code"] == "bad_request", "{frame} got {error}");
    Ok(error["message"].as_str().unwrap_or_default().to_owned())
}

/// Asserts that no frame of `kind` arrives within half a second.
async fn none_of(client: &mut WidgetClient, kind: &str) -> anyhow::Result<()> {
    let got = tokio::time::timeout(Duration::from_millis(500), client.recv_until(kind)).await;
    anyhow::ensure!(!matches!(got, Ok(Ok(_))), "unexpected {kind}: {got:?}");
    Ok(())
}

/// A widget customer whose conversation a person resolved: returns the client (at the CSAT
/// question), the visitor token and the conversation id.
async fn resolved_customer(
    app: &TestApp,
    agent: &Agent,
    tag: &str,
) -> anyhow::Result<(WidgetClient, String, i64)> {
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let token = welcome["visitor_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
    customer
        .ask(&format!("{tag}-h"), "I want to talk to a person")
        .await?;
    let engine = &app.state.engine;
    engine.claim(conversation, agent).await?;
    engine
        .agent_reply(
            conversation,
            agent,
            &ClientId::parse(&format!("{tag}-r"))?,
            MessageText::parse("Your parcel is on its way.")?,
        )
        .await?;
    engine.resolve(conversation, agent).await?;
    let csat = until(&mut customer, "survey").await?;
    anyhow::ensure!(csat["kind"] == "csat", "{csat}");
    Ok((customer, token, conversation))
}

async fn widget_nps_after_csat(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = app_on(engine).await? else {
        return Ok(());
    };
    let (staff, alex) = app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let (mut customer, token, conversation) = resolved_customer(&app, &alex, "a").await?;
    let store = app.state.engine.store().clone();
    let customer_id = store.conversation(conversation).await?.customer_id;

    // One question at a time: NPS only once the CSAT card is answered.
    customer
        .send_json(json!({"type": "csat", "score": 4}))
        .await?;
    until(&mut customer, "survey_thanks").await?;
    let nps = until(&mut customer, "survey").await?;
    assert_eq!(nps["kind"], "nps");
    assert_eq!(
        nps["question"],
        "How likely are you to recommend us to a friend?"
    );
    assert_eq!(
        (nps["min"].as_u64(), nps["max"].as_u64()),
        (Some(0), Some(10))
    );
    assert_eq!(nps["min_label"], "Not at all likely");
    assert_eq!(nps["max_label"], "Extremely likely");
    let ask = nps["ask_id"].as_i64().unwrap_or_default();
    assert!(ask > 0, "{nps}");

    // Bad input: clear errors, nothing stored.
    for (frame, says) in [
        (
            json!({"type": "nps", "ask_id": ask, "score": 11}),
            "from 0 to 10",
        ),
        (
            json!({"type": "nps", "ask_id": ask, "score": -1}),
            "from 0 to 10",
        ),
        (
            json!({"type": "nps", "ask_id": ask + 1000, "score": 5}),
            "no such survey",
        ),
        (
            json!({"type": "nps_reason", "ask_id": ask, "reason": "why not"}),
            "score first",
        ),
        (json!({"type": "survey_dismiss", "kind": "nps"}), "ask_id"),
    ] {
        let message = refused(&mut customer, frame.clone()).await?;
        assert!(message.contains(says), "{frame}: {message}");
    }
    customer
        .send_json(json!({"type": "nps", "ask_id": ask, "score": "7"}))
        .await?;
    assert_eq!(until(&mut customer, "error").await?["code"], "bad_request");
    assert!(
        store
            .latest_survey_response(SurveyKind::Nps, customer_id)
            .await?
            .is_none()
    );

    // Another customer cannot answer this customer's question.
    let mut stranger = app.widget().await?;
    stranger.hello(None, None).await?;
    let message = refused(
        &mut stranger,
        json!({"type": "nps", "ask_id": ask, "score": 10}),
    )
    .await?;
    assert!(message.contains("another customer"), "{message}");

    // The score, then the reason.
    customer
        .send_json(json!({"type": "nps", "ask_id": ask, "score": 3}))
        .await?;
    let follow_up = until(&mut customer, "survey_reason").await?;
    assert_eq!(
        follow_up["question"],
        "What is the main reason for your score?"
    );
    assert_eq!(follow_up["ask_id"], ask);
    let again = refused(
        &mut customer,
        json!({"type": "nps", "ask_id": ask, "score": 9}),
    )
    .await?;
    assert!(again.contains("already answered"), "{again}");
    let too_long = refused(
        &mut customer,
        json!({"type": "nps_reason", "ask_id": ask, "reason": "x".repeat(1001)}),
    )
    .await?;
    assert!(too_long.contains("1000"), "{too_long}");
    customer
        .send_json(json!({"type": "nps_reason", "ask_id": ask,
            "reason": "The parcel was late and nobody told me, which was frustrating."}))
        .await?;
    let thanks = until(&mut customer, "survey_thanks").await?;
    assert_eq!(thanks["kind"], "nps");
    let twice = refused(
        &mut customer,
        json!({"type": "nps_reason", "ask_id": ask, "reason": "late"}),
    )
    .await?;
    assert!(twice.contains("already given"), "{twice}");

    let answer = store
        .latest_survey_response(SurveyKind::Nps, customer_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no NPS answer stored"))?;
    assert_eq!(answer.score, 3, "the first score counts");
    assert_eq!(answer.channel, Channel::Web);
    assert_eq!(answer.conversation_id, Some(conversation));
    assert!(
        answer
            .comment
            .as_deref()
            .is_some_and(|c| c.starts_with("The parcel was late"))
    );
    assert!(
        answer.comment_sentiment.is_some_and(|s| s < 0.0),
        "{:?}",
        answer.comment_sentiment
    );

    // The detractor's follow-up task, as the console lists it.
    let mut console = ConsoleClient::new(&app);
    let (status, _) = console.login(&staff.email, PASSWORD).await?;
    assert_eq!(status, StatusCode::OK);
    let (status, tasks) = console.get("/api/tasks").await?;
    assert_eq!(status, StatusCode::OK);
    let task = tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["kind"] == "nps_detractor")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no detractor task: {tasks}"))?;
    assert_eq!(task["customer_id"], customer_id);
    assert_eq!(task["conversation_id"], conversation);
    assert!(
        task["title"]
            .as_str()
            .is_some_and(|t| t.contains("NPS 3") && t.contains("nobody told me")),
        "{task}"
    );
    let detail: Value = serde_json::from_str(task["detail"].as_str().unwrap_or("{}"))?;
    assert_eq!(detail["score"], 3);
    assert_eq!(detail["channel"], "web");
    assert!(
        detail["reason"]
            .as_str()
            .is_some_and(|r| r.contains("nobody told me")),
        "{detail}"
    );

    // Coming back: the answered question is not asked again.
    drop(customer);
    let mut back = app.widget().await?;
    back.hello(Some(&token), None).await?;
    none_of(&mut back, "survey").await?;
    assert!(matches!(
        app.state
            .nps
            .due(customer_id, NpsOccasion::Resolved)
            .await?,
        Due::No(NotDue::AskedRecently { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn the_widget_asks_nps_after_csat_and_a_detractor_raises_a_task() -> anyhow::Result<()> {
    widget_nps_after_csat(Engine::Sqlite).await
}

#[tokio::test]
async fn the_widget_asks_nps_after_csat_and_a_detractor_raises_a_task_on_postgres()
-> anyhow::Result<()> {
    widget_nps_after_csat(Engine::Postgres).await
}

async fn ignored_and_dismissed(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = app_on(engine).await? else {
        return Ok(());
    };
    let (_, alex) = app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let store = app.state.engine.store().clone();

    // Ignored: the question is shown again on the next visit, and the period counts anyway.
    let (mut first, token, conversation) = resolved_customer(&app, &alex, "i").await?;
    first
        .send_json(json!({"type": "survey_dismiss", "kind": "csat"}))
        .await?;
    assert_eq!(until(&mut first, "survey_closed").await?["kind"], "csat");
    let nps = until(&mut first, "survey").await?;
    assert_eq!(nps["kind"], "nps");
    let ask = nps["ask_id"].as_i64().unwrap_or_default();
    drop(first);
    let mut back = app.widget().await?;
    back.hello(Some(&token), None).await?;
    // The CSAT question (unrated) comes first again; dismissed, the open NPS question follows.
    assert_eq!(until(&mut back, "survey").await?["kind"], "csat");
    back.send_json(json!({"type": "survey_dismiss", "kind": "csat"}))
        .await?;
    let shown = until(&mut back, "survey").await?;
    assert_eq!(
        (shown["kind"].as_str(), shown["ask_id"].as_i64()),
        (Some("nps"), Some(ask))
    );
    let customer_id = store.conversation(conversation).await?.customer_id;
    assert!(matches!(
        app.state
            .nps
            .due(customer_id, NpsOccasion::Resolved)
            .await?,
        Due::No(NotDue::AskedRecently { .. })
    ));

    // Dismissed ("No thanks"): closed for good, and a later resolution does not ask again.
    back.send_json(json!({"type": "survey_dismiss", "kind": "nps", "ask_id": ask}))
        .await?;
    assert_eq!(until(&mut back, "survey_closed").await?["kind"], "nps");
    let closed = refused(&mut back, json!({"type": "nps", "ask_id": ask, "score": 8})).await?;
    assert!(closed.contains("closed"), "{closed}");
    back.ask("i-again", "I want to talk to a person").await?;
    let engine = &app.state.engine;
    engine.claim(conversation, &alex).await?;
    engine.resolve(conversation, &alex).await?;
    assert_eq!(until(&mut back, "survey").await?["kind"], "csat");
    back.send_json(json!({"type": "csat", "score": 5})).await?;
    until(&mut back, "survey_thanks").await?;
    none_of(&mut back, "survey").await?;
    assert!(
        store
            .latest_survey_response(SurveyKind::Nps, customer_id)
            .await?
            .is_none()
    );

    // Two channels racing to ask the same due customer: one ask only.
    let (racer, _, racing) = resolved_customer(&app, &alex, "r").await?;
    drop(racer);
    let racer_id = store.conversation(racing).await?.customer_id;
    let occasion = Occasion::Resolved {
        conversation_id: racing,
    };
    let nps = &app.state.nps;
    let (a, b) = tokio::join!(
        nps.ask(racer_id, Channel::Web, occasion),
        nps.ask(racer_id, Channel::Telegram, occasion)
    );
    assert_eq!(
        usize::from(a?.is_some()) + usize::from(b?.is_some()),
        1,
        "exactly one ask wins"
    );
    Ok(())
}

#[tokio::test]
async fn an_ignored_or_dismissed_question_uses_up_the_period() -> anyhow::Result<()> {
    ignored_and_dismissed(Engine::Sqlite).await
}

#[tokio::test]
async fn an_ignored_or_dismissed_question_uses_up_the_period_on_postgres() -> anyhow::Result<()> {
    ignored_and_dismissed(Engine::Postgres).await
}

#[tokio::test]
async fn dont_ask_me_again_stores_the_opt_out_and_closes_the_question() -> anyhow::Result<()> {
    let Some(app) = app_on(Engine::Sqlite).await? else {
        return Ok(());
    };
    let (_, alex) = app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let store = app.state.engine.store().clone();
    let (mut customer, _, conversation) = resolved_customer(&app, &alex, "o").await?;
    customer
        .send_json(json!({"type": "csat", "score": 2}))
        .await?;
    until(&mut customer, "survey_thanks").await?;
    let ask = until(&mut customer, "survey").await?["ask_id"]
        .as_i64()
        .unwrap_or_default();
    customer
        .send_json(json!({"type": "survey_opt_out"}))
        .await?;
    until(&mut customer, "survey_opted_out").await?;
    let customer_id = store.conversation(conversation).await?.customer_id;
    assert!(store.opted_out(customer_id).await?);
    assert!(!store.may_contact(customer_id).await?);
    let message = refused(
        &mut customer,
        json!({"type": "nps", "ask_id": ask, "score": 10}),
    )
    .await?;
    assert!(message.contains("closed"), "{message}");
    // The CSAT answer given before the opt-out stays.
    assert_eq!(
        store
            .survey_response(SurveyKind::Csat, conversation)
            .await?
            .map(|r| r.score),
        Some(2)
    );
    // Resolved again: neither survey is asked.
    customer
        .ask("o-again", "I want to talk to a person")
        .await?;
    let engine = &app.state.engine;
    engine.claim(conversation, &alex).await?;
    engine.resolve(conversation, &alex).await?;
    loop {
        let state = until(&mut customer, "state").await?;
        if state["state"] == "resolved" {
            break;
        }
    }
    none_of(&mut customer, "survey").await?;
    Ok(())
}

// ---- Telegram ------------------------------------------------------------------------------

async fn telegram_app(engine: Engine, fake: &FakeTelegram) -> anyhow::Result<Option<TestApp>> {
    spawn_app_with(AppOptions {
        engine,
        telegram: Some(fake.settings()),
        ..AppOptions::default()
    })
    .await
}

/// Waits for an answerCallbackQuery with this toast text.
async fn toast(fake: &FakeTelegram, text: &str) -> anyhow::Result<()> {
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == text)
    })
    .await
    .map(|_| ())
}

/// The chat asks for a person and an agent resolves the conversation; returns the CSAT
/// question's call and the conversation id.
async fn resolved_chat(
    app: &TestApp,
    fake: &FakeTelegram,
    agent: &Agent,
    chat: i64,
) -> anyhow::Result<(hark_tests::telegram::Call, i64)> {
    fake.push_text(chat, "/human");
    fake.wait_text(chat, "I'm getting a person for you").await?;
    let store = app.state.engine.store();
    let customer = store
        .customer_by_identity(Channel::Telegram, &chat.to_string())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no customer"))?;
    let conversation = store
        .latest_conversation(customer, Channel::Telegram)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conversation"))?
        .id;
    app.state.engine.claim(conversation, agent).await?;
    app.state.engine.resolve(conversation, agent).await?;
    let csat = fake.wait_text(chat, "How happy are you").await?;
    Ok((csat, conversation))
}

async fn telegram_nps(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let (_, ana) = app.add_staff(Role::Agent, "Ana", PASSWORD).await?;
    let store = app.state.engine.store().clone();
    let (csat, conversation) = resolved_chat(&app, &fake, &ana, 21).await?;
    let customer = store.conversation(conversation).await?.customer_id;

    // NPS follows the CSAT answer, never both at once.
    assert!(
        !texts(&fake.sent_to(21))
            .iter()
            .any(|t| t.contains("recommend")),
        "NPS before the CSAT answer"
    );
    fake.push_press(
        21,
        csat.message_id.unwrap_or_default(),
        &buttons(&csat)[4].1,
    );
    // The rating's optional comment comes first, one question at a time.
    fake.wait_text(21, "anything you'd like to add").await?;
    fake.push_text(21, "Ana sorted it in minutes");
    fake.wait_text(21, "Thank you for your comment!").await?;
    let question = fake
        .wait_text(21, "How likely are you to recommend us")
        .await?;
    let rows: Vec<Vec<String>> = question.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec!["0", "1", "2", "3", "4", "5"],
            vec!["6", "7", "8", "9", "10"],
            vec!["No thanks"]
        ]
    );
    let keys = buttons(&question);
    let question_id = question.message_id.unwrap_or_default();

    // The press: recorded once, the keyboard taken away, the reason asked for.
    fake.push_press(21, question_id, &keys[2].1);
    toast(&fake, "Thank you!").await?;
    fake.wait_for(|f| {
        f.calls_of("editMessageReplyMarkup")
            .into_iter()
            .find(|c| c.body["message_id"] == json!(question_id))
    })
    .await?;
    let reason_prompt = fake.wait_text(21, "main reason for your score").await?;
    assert_eq!(buttons(&reason_prompt)[0].0, "Skip");

    // A second press (a double tap, an old keyboard) and forged ones change nothing: a score
    // out of range, the question pressed from another customer's chat.
    fake.push_press(21, question_id, &keys[9].1);
    toast(&fake, "You already answered this survey. Thank you!").await?;
    let ask_id: i64 = keys[2]
        .1
        .split(':')
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_default();
    fake.push_press(21, question_id, &format!("nps:{ask_id}:11"));
    toast(&fake, "This button no longer applies.").await?;
    fake.push_press(22, 5, &format!("nps:{ask_id}:10"));
    fake.wait_for(|f| {
        (f.calls_of("answerCallbackQuery")
            .iter()
            .filter(|c| c.body["text"] == "This button no longer applies.")
            .count()
            >= 2)
            .then_some(())
    })
    .await?;

    // The next plain message is the reason, not a question for the bot.
    fake.push_text(21, "It took three days to get an answer");
    fake.wait_text(21, "Thank you for telling us!").await?;
    let answer = store
        .latest_survey_response(SurveyKind::Nps, customer)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no NPS answer"))?;
    assert_eq!(answer.score, 2);
    assert_eq!(answer.channel, Channel::Telegram);
    assert_eq!(
        answer.comment.as_deref(),
        Some("It took three days to get an answer")
    );
    assert!(answer.comment_sentiment.is_some());
    let messages = store.messages_after(conversation, 0).await?;
    assert!(
        !messages.iter().any(|m| m.body.contains("three days")),
        "the reason went to the engine: {messages:?}"
    );
    let task = store
        .open_task_of("nps_detractor", customer)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no detractor task"))?;
    let detail: Value = serde_json::from_str(&task.detail)?;
    assert_eq!(
        (detail["score"].as_i64(), detail["reason"].as_str()),
        (Some(2), Some("It took three days to get an answer"))
    );

    // After the reason, messages go to the bot again.
    fake.push_text(21, "how long does delivery take?");
    fake.wait_text(21, "Orders placed before 2 pm").await?;
    Ok(())
}

#[tokio::test]
async fn telegram_asks_nps_after_csat_takes_one_press_and_the_reason() -> anyhow::Result<()> {
    telegram_nps(Engine::Sqlite).await
}

#[tokio::test]
async fn telegram_asks_nps_after_csat_takes_one_press_and_the_reason_on_postgres()
-> anyhow::Result<()> {
    telegram_nps(Engine::Postgres).await
}

async fn telegram_schedule(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let store = app.state.engine.store().clone();
    // Three chats talked to the bot: one consented, one consented then sent /stop, one never
    // consented.
    for chat in [31, 32, 33] {
        fake.push_text(chat, "how long does delivery take?");
        fake.wait_text(chat, "Orders placed before 2 pm").await?;
    }
    let id = |chat: i64| {
        let store = store.clone();
        async move {
            store
                .customer_by_identity(Channel::Telegram, &chat.to_string())
                .await?
                .ok_or_else(|| anyhow::anyhow!("no customer for {chat}"))
        }
    };
    store.set_contact_consent(id(31).await?, true).await?;
    store.set_contact_consent(id(32).await?, true).await?;
    fake.push_text(32, "/stop");
    fake.wait_text(32, "we won't send you surveys").await?;

    let telegram = app
        .state
        .telegram
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no Telegram channel"))?;
    assert_eq!(telegram.ask_scheduled_nps().await?, 1);
    let question = fake
        .wait_text(31, "How likely are you to recommend us")
        .await?;
    assert_eq!(buttons(&question).len(), 12);
    // The next run asks nobody: the ignored question uses up the period.
    assert_eq!(telegram.ask_scheduled_nps().await?, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for chat in [32, 33] {
        assert!(
            !texts(&fake.sent_to(chat))
                .iter()
                .any(|t| t.contains("recommend")),
            "chat {chat} was asked"
        );
    }

    // "No thanks" closes it; /skip with nothing awaited says so.
    let keys = buttons(&question);
    fake.push_press(31, question.message_id.unwrap_or_default(), &keys[11].1);
    toast(&fake, "OK, we won't ask this time.").await?;
    fake.push_text(31, "/skip");
    fake.wait_text(31, "nothing to skip").await?;
    assert!(
        store
            .latest_survey_response(SurveyKind::Nps, id(31).await?)
            .await?
            .is_none()
    );

    // The period at its boundary, with the last ask moved back in time: a minute short of 90
    // days is not due; 90 days exactly is.
    let period = 90 * 24 * 3600 * 1000;
    let now = hark_bot::store::now_ms;
    set_asked_at(&app, id(31).await?, now() - period + 60_000).await?;
    assert_eq!(telegram.ask_scheduled_nps().await?, 0);
    set_asked_at(&app, id(31).await?, now() - period).await?;
    assert_eq!(telegram.ask_scheduled_nps().await?, 1);
    fake.wait_for(|f| {
        (texts(&f.sent_to(31))
            .iter()
            .filter(|t| t.contains("recommend"))
            .count()
            == 2)
            .then_some(())
    })
    .await?;
    Ok(())
}

/// Moves a customer's last NPS ask in time, straight in the database (as if it had happened
/// then).
async fn set_asked_at(app: &TestApp, customer: i64, at: i64) -> anyhow::Result<()> {
    app.execute(
        "UPDATE customers SET nps_asked_at = $1 WHERE id = $2",
        at,
        customer,
    )
    .await
}

#[tokio::test]
async fn the_schedule_asks_consenting_telegram_customers_once_per_period() -> anyhow::Result<()> {
    telegram_schedule(Engine::Sqlite).await
}

#[tokio::test]
async fn the_schedule_asks_consenting_telegram_customers_once_per_period_on_postgres()
-> anyhow::Result<()> {
    telegram_schedule(Engine::Postgres).await
}

async fn scheduled_question_on_a_visit(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = app_on(engine).await? else {
        return Ok(());
    };
    let store = app.state.engine.store().clone();
    // Two returning widget customers, quiet for 31 minutes; only one consented to be contacted.
    let mut visitors = Vec::new();
    for tag in ["c", "n"] {
        let mut widget = app.widget().await?;
        let welcome = widget.hello(None, None).await?;
        widget
            .ask(&format!("{tag}1"), "how long does delivery take?")
            .await?;
        let conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
        let token = welcome["visitor_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let customer = store.conversation(conversation).await?.customer_id;
        if tag == "c" {
            store.set_contact_consent(customer, true).await?;
        }
        // Still chatting: the scheduled question waits for a quiet moment.
        drop(widget);
        let mut again = app.widget().await?;
        again.hello(Some(&token), None).await?;
        none_of(&mut again, "survey").await?;
        app.execute(
            "UPDATE conversations SET updated_at = $1 WHERE id = $2",
            hark_bot::store::now_ms() - 31 * 60 * 1000,
            conversation,
        )
        .await?;
        visitors.push((token, customer));
    }
    let mut consented = app.widget().await?;
    consented.hello(Some(&visitors[0].0), None).await?;
    let survey = until(&mut consented, "survey").await?;
    assert_eq!(survey["kind"], "nps");
    let mut silent = app.widget().await?;
    silent.hello(Some(&visitors[1].0), None).await?;
    none_of(&mut silent, "survey").await?;
    assert!(matches!(
        app.state
            .nps
            .due(visitors[1].1, NpsOccasion::Schedule)
            .await?,
        Due::No(NotDue::NoConsent)
    ));
    Ok(())
}

#[tokio::test]
async fn a_consenting_widget_customer_gets_the_scheduled_question_on_a_quiet_visit()
-> anyhow::Result<()> {
    scheduled_question_on_a_visit(Engine::Sqlite).await
}

#[tokio::test]
async fn a_consenting_widget_customer_gets_the_scheduled_question_on_a_quiet_visit_on_postgres()
-> anyhow::Result<()> {
    scheduled_question_on_a_visit(Engine::Postgres).await
}

#[tokio::test]
async fn skip_ends_the_wait_for_a_reason_and_the_next_message_goes_to_the_bot() -> anyhow::Result<()>
{
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(Engine::Sqlite, &fake).await? else {
        return Ok(());
    };
    let (_, ana) = app.add_staff(Role::Agent, "Ana", PASSWORD).await?;
    let (csat, conversation) = resolved_chat(&app, &fake, &ana, 41).await?;
    fake.push_press(
        41,
        csat.message_id.unwrap_or_default(),
        &buttons(&csat)[3].1,
    );
    let comment_prompt = fake.wait_text(41, "anything you'd like to add").await?;
    fake.push_press(
        41,
        comment_prompt.message_id.unwrap_or_default(),
        &buttons(&comment_prompt)[0].1,
    );
    toast(&fake, "No problem.").await?;
    let question = fake
        .wait_text(41, "How likely are you to recommend us")
        .await?;
    fake.push_press(
        41,
        question.message_id.unwrap_or_default(),
        &buttons(&question)[10].1,
    );
    fake.wait_text(41, "main reason for your score").await?;
    fake.push_text(41, "/skip");
    fake.wait_text(41, "No problem").await?;
    fake.push_text(41, "how long does delivery take?");
    fake.wait_text(41, "Orders placed before 2 pm").await?;
    let store = app.state.engine.store();
    let customer = store.conversation(conversation).await?.customer_id;
    let answer = store
        .latest_survey_response(SurveyKind::Nps, customer)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no NPS answer"))?;
    assert_eq!((answer.score, answer.comment), (10, None));
    assert!(
        store
            .open_task_of("nps_detractor", customer)
            .await?
            .is_none(),
        "a promoter raises no task"
    );
    Ok(())
}

// ---- the widget's NPS card in a real browser --------------------------------------------------

#[tokio::test]
async fn the_nps_card_works_from_the_keyboard_in_a_browser() -> anyhow::Result<()> {
    use hark_tests::browser::{TestBrowser, eval, wait_for};
    const WAIT: Duration = Duration::from_secs(20);
    const ROOT: &str = "document.querySelector('#hark-widget').shadowRoot";
    let Some(browser) = TestBrowser::launch(1280, 900).await? else {
        return Ok(());
    };
    let Some(app) = app_on(Engine::Sqlite).await? else {
        return Ok(());
    };
    let (_, alex) = app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let page = browser.open(&app.http_url("/")).await?;
    wait_for(&page, "window.harkWidget", WAIT).await?;
    eval(&page, "window.harkWidget.open()").await?;
    wait_for(&page, "window.harkWidget.state().connected", WAIT).await?;
    eval(
        &page,
        "window.harkWidget.send('I want to talk to a person')",
    )
    .await?;
    wait_for(
        &page,
        "window.harkWidget.state().conversationState === 'waiting'",
        WAIT,
    )
    .await?;
    let conversation = eval(&page, "window.harkWidget.state().conversationId")
        .await?
        .as_i64()
        .unwrap_or_default();
    app.state.engine.claim(conversation, &alex).await?;
    app.state.engine.resolve(conversation, &alex).await?;

    // "No thanks" on the CSAT card makes room for the NPS card.
    wait_for(
        &page,
        &format!("!!{ROOT}.querySelector('[data-hark=csat]')"),
        WAIT,
    )
    .await?;
    eval(
        &page,
        &format!("{ROOT}.querySelector('[data-hark=csat] .csat-l').click()"),
    )
    .await?;
    wait_for(
        &page,
        &format!("!!{ROOT}.querySelector('[data-hark=nps]')"),
        WAIT,
    )
    .await?;
    assert_eq!(
        eval(
            &page,
            &format!("!!{ROOT}.querySelector('[data-hark=csat]')")
        )
        .await?,
        false
    );
    let labels = eval(
        &page,
        &format!("[...{ROOT}.querySelectorAll('[data-hark=nps] [data-score]')].map(b => b.getAttribute('aria-label'))"),
    )
    .await?;
    let labels: Vec<String> = serde_json::from_value(labels)?;
    assert_eq!(labels.len(), 11);
    assert_eq!(labels[0], "0 out of 10, Not at all likely");
    assert_eq!(labels[7], "7 out of 10");
    assert_eq!(labels[10], "10 out of 10, Extremely likely");
    let ends = eval(
        &page,
        &format!("{ROOT}.querySelector('[data-hark=nps] .nps-ends').textContent"),
    )
    .await?;
    assert_eq!(ends, "0 = Not at all likely10 = Extremely likely");

    // Keyboard: one tab stop on the scale; arrows move along it; End and Home jump.
    let key = |k: &str| {
        format!(
            "{ROOT}.activeElement.dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}', bubbles: true, composed: true}}))"
        )
    };
    eval(
        &page,
        &format!("{ROOT}.querySelector('[data-hark=nps] [data-score=\"0\"]').focus()"),
    )
    .await?;
    for _ in 0..7 {
        eval(&page, &key("ArrowRight")).await?;
    }
    let focused = format!("{ROOT}.activeElement?.dataset.score");
    assert_eq!(eval(&page, &focused).await?, "7");
    eval(&page, &key("End")).await?;
    assert_eq!(eval(&page, &focused).await?, "10");
    eval(&page, &key("Home")).await?;
    eval(&page, &key("ArrowLeft")).await?;
    assert_eq!(eval(&page, &focused).await?, "0");
    for _ in 0..7 {
        eval(&page, &key("ArrowRight")).await?;
    }
    let stops = eval(
        &page,
        &format!("[...{ROOT}.querySelectorAll('[data-hark=nps] [data-score]')].filter(b => b.tabIndex === 0).map(b => b.dataset.score)"),
    )
    .await?;
    assert_eq!(stops, json!(["7"]));
    // Enter on a focused button activates it, as click() does.
    eval(&page, &format!("{ROOT}.activeElement.click()")).await?;

    // The reason, labelled by the follow-up question, then thanks.
    wait_for(
        &page,
        &format!("!!{ROOT}.querySelector('#hark-nps-r')"),
        WAIT,
    )
    .await?;
    let label = eval(
        &page,
        &format!("{ROOT}.querySelector('label[for=hark-nps-r]').textContent"),
    )
    .await?;
    assert_eq!(label, "What is the main reason for your score?");
    assert_eq!(
        eval(&page, &format!("{ROOT}.activeElement?.id")).await?,
        "hark-nps-r"
    );
    eval(
        &page,
        &format!("(() => {{ const r = {ROOT}; r.querySelector('#hark-nps-r').value = 'Quick, but I had to ask twice'; r.querySelector('[data-hark=nps] .csat-s').click(); return true; }})()"),
    )
    .await?;
    wait_for(
        &page,
        &format!("!{ROOT}.querySelector('[data-hark=nps]')"),
        WAIT,
    )
    .await?;
    let thanked = eval(
        &page,
        &format!("[...{ROOT}.querySelectorAll('[data-hark=event]')].some(e => e.textContent === 'Thank you for your feedback!')"),
    )
    .await?;
    assert_eq!(thanked, true);
    let store = app.state.engine.store();
    let customer = store.conversation(conversation).await?.customer_id;
    let answer = store
        .latest_survey_response(SurveyKind::Nps, customer)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no NPS answer"))?;
    assert_eq!(
        (answer.score, answer.comment.as_deref()),
        (7, Some("Quick, but I had to ask twice"))
    );
    assert!(
        store
            .survey_response(SurveyKind::Csat, conversation)
            .await?
            .is_none(),
        "a dismissed CSAT card stores no rating"
    );
    browser.close().await
}
