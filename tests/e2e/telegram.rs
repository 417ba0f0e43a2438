//! The Telegram channel: hark's real teloxide client against a fake Bot API server on loopback
//! (`hark_tests::telegram::FakeTelegram`), the real server and a fresh database per test.

use std::time::Duration;

use hark_bot::store::{Author, Channel, SurveyKind, SurveyResponse};
use hark_tests::telegram::{FakeTelegram, Scripted, buttons, texts};
use hark_tests::{AppOptions, Engine, TestApp, spawn_app_with};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DELIVERY_ANSWER: &str = "Orders placed before 2 pm (Lisbon time)";
const SHIPPING_ANSWER: &str = "Standard delivery costs €4.90";

async fn telegram_app(engine: Engine, fake: &FakeTelegram) -> anyhow::Result<Option<TestApp>> {
    let options = AppOptions {
        engine,
        telegram: Some(fake.settings()),
        ..AppOptions::default()
    };
    spawn_app_with(options).await
}

/// The messages stored in the chat's current conversation.
async fn stored(app: &TestApp, chat: i64) -> anyhow::Result<Vec<hark_bot::store::Message>> {
    let store = app.state.engine.store();
    let customer = store
        .customer_by_identity(Channel::Telegram, &chat.to_string())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no customer for chat {chat}"))?;
    let conversation = store
        .latest_conversation(customer, Channel::Telegram)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conversation for chat {chat}"))?;
    Ok(store.messages_after(conversation.id, 0).await?)
}

async fn answers_a_question(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let update = fake.push_text(42, "how long does delivery take?");
    let answer = fake.wait_text(42, DELIVERY_ANSWER).await?;
    assert!(
        answer.body.get("reply_markup").is_none(),
        "{:?}",
        answer.body
    );

    let messages = stored(&app, 42).await?;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].author, Author::Customer);
    assert_eq!(
        messages[0].client_id.as_deref(),
        Some(format!("tg-{update}").as_str())
    );
    assert_eq!(messages[1].article_id.as_deref(), Some("delivery-times"));
    // Polling mode: the webhook is removed first, and the bot checked its token.
    assert_eq!(fake.calls_of("deleteWebhook").len(), 1);
    assert_eq!(fake.calls_of("getMe").len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_question_gets_the_answer() -> anyhow::Result<()> {
    answers_a_question(Engine::Sqlite).await
}

#[tokio::test]
async fn a_question_gets_the_answer_on_postgres() -> anyhow::Result<()> {
    answers_a_question(Engine::Postgres).await
}

#[tokio::test]
async fn did_you_mean_shows_buttons_and_a_press_answers() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    fake.push_text(7, "shipping");
    let clarify = fake.wait_text(7, "Did you mean").await?;
    let keys = buttons(&clarify);
    assert_eq!(keys.len(), 4, "three articles and a person: {keys:?}");
    assert_eq!(keys[0].0, "Shipping costs and free delivery");
    assert_eq!(keys[3].0, "Talk to a person");

    // The press comes from the bot's message (id 77 in this chat, as the fake numbers it).
    let press = fake.push_press(7, 77, &keys[0].1);
    fake.wait_text(7, SHIPPING_ANSWER).await?;
    let answered = fake
        .wait_for(|f| {
            f.calls_of("answerCallbackQuery")
                .into_iter()
                .find(|c| c.body["callback_query_id"].as_str().is_some())
        })
        .await?;
    assert!(
        answered.body["callback_query_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("cb-77"))
    );
    let edited = fake
        .wait_for(|f| f.calls_of("editMessageReplyMarkup").into_iter().next())
        .await?;
    assert_eq!(edited.body["message_id"], json!(77));
    assert_eq!(edited.body["chat_id"], json!(7));

    let messages = stored(&app, 7).await?;
    let choice = messages
        .iter()
        .find(|m| m.client_id.as_deref() == Some(format!("tg-{press}").as_str()))
        .ok_or_else(|| anyhow::anyhow!("the press was not stored: {messages:?}"))?;
    assert_eq!(choice.body, "Shipping costs and free delivery");

    // A forged press naming another customer's message is refused politely.
    let foreign = messages[1].id;
    fake.push_press(8, 78, &format!("s:{foreign}:0"));
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == "This button no longer applies.")
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn stickers_photos_and_edits_get_a_polite_reply_and_the_bot_goes_on() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    fake.push_sticker(5);
    fake.wait_text(5, "I can only read text messages").await?;
    fake.push_edit(5, "how long does delivery take??");
    fake.wait_text(5, "not edits").await?;
    // An update kind the bot does not use (a poll) is recorded in the log and skipped.
    fake.push(json!({"poll": {"id": "p", "question": "?", "options": [], "total_voter_count": 0,
        "is_closed": true, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}}));
    fake.push_text(5, "how long does delivery take?");
    fake.wait_text(5, DELIVERY_ANSWER).await?;
    let messages = stored(&app, 5).await?;
    assert_eq!(
        messages.len(),
        2,
        "only the text question and its answer: {messages:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_restart_mid_stream_handles_every_update_exactly_once() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let chats: Vec<i64> = (100..112).collect();
    for &chat in &chats[..6] {
        fake.push_text(chat, "how long does delivery take?");
    }
    // Stop as soon as the first answers go out, with more of the stream still queued.
    fake.wait_text(chats[0], DELIVERY_ANSWER).await?;
    for &chat in &chats[6..9] {
        fake.push_text(chat, "how long does delivery take?");
    }
    let app = app.restart().await?;
    for &chat in &chats[9..] {
        fake.push_text(chat, "how long does delivery take?");
    }
    for &chat in &chats {
        fake.wait_text(chat, DELIVERY_ANSWER).await?;
    }
    fake.wait_confirmed().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for &chat in &chats {
        let sent = fake.sent_to(chat);
        assert_eq!(sent.len(), 1, "chat {chat} got {:?}", texts(&sent));
        let messages = stored(&app, chat).await?;
        assert_eq!(messages.len(), 2, "chat {chat}: {messages:?}");
    }
    // After the restart, polling resumed from the stored offset: no offset went backwards.
    let offsets: Vec<i64> = fake
        .calls_of("getUpdates")
        .iter()
        .filter_map(|c| c.body["offset"].as_i64())
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    Ok(())
}

#[tokio::test]
async fn too_many_requests_is_retried_after_the_time_telegram_asks() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let _app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    fake.script("sendMessage", Scripted::TooManyRequests { retry_after: 2 });
    fake.push_text(9, "how long does delivery take?");
    let calls = fake.wait_sent(9, 2).await?;
    let waited = calls[1].at.duration_since(calls[0].at);
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    assert_eq!(texts(&calls)[0], texts(&calls)[1]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.sent_to(9).len(),
        2,
        "one refused attempt and one delivery"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_updates_are_skipped_and_polling_goes_on() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    // The first poll gets a body that is not JSON, the second a list with one readable update
    // and one without a usable id.
    fake.script("getUpdates", Scripted::Raw("{not json".into()));
    fake.script(
        "getUpdates",
        Scripted::Raw(
            json!({"ok": true, "result": [
                {"update_id": 500, "message": {"message_id": 1, "date": 1_700_000_000,
                 "chat": {"id": 31, "type": "private", "first_name": "Ann"},
                 "from": {"id": 31, "is_bot": false, "first_name": "Ann"},
                 "text": "how long does delivery take?"}},
                {"update_id": "five hundred and one"}
            ]})
            .to_string(),
        ),
    );
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    fake.wait_text(31, DELIVERY_ANSWER).await?;
    fake.push_text(32, "how long does delivery take?");
    fake.wait_text(32, DELIVERY_ANSWER).await?;
    assert_eq!(stored(&app, 31).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_link_code_from_the_widget_joins_the_histories() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let store = app.state.engine.store().clone();

    // The chat talked to the bot before linking: its conversation must come along.
    fake.push_text(555, "how long does delivery take?");
    fake.wait_text(555, DELIVERY_ANSWER).await?;
    let telegram_customer = store.customer_by_identity(Channel::Telegram, "555").await?;

    let mut widget = app.widget().await?;
    let welcome = widget.hello(None, None).await?;
    widget.ask("w1", "shipping").await?;
    widget.send_json(json!({"type": "link_telegram"})).await?;
    let frames = widget.recv_until("link_code").await?;
    let code = frames
        .last()
        .and_then(|f| f["code"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(code.len(), 8, "{frames:?}");
    assert_eq!(
        frames.last().map(|f| f["expires_in"].clone()),
        Some(json!(600))
    );
    let web_conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
    let web_customer = store.conversation(web_conversation).await?.customer_id;
    assert_ne!(Some(web_customer), telegram_customer);

    fake.push_text(555, &format!("/link {}", code.to_lowercase()));
    fake.wait_text(555, "Linked").await?;
    assert_eq!(
        store.customer_by_identity(Channel::Telegram, "555").await?,
        Some(web_customer)
    );
    let telegram_conversation = store
        .latest_conversation(web_customer, Channel::Telegram)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the Telegram conversation did not move"))?;
    assert_eq!(
        store
            .messages_after(telegram_conversation.id, 0)
            .await?
            .len(),
        2
    );
    assert!(
        store
            .latest_conversation(web_customer, Channel::Web)
            .await?
            .is_some()
    );

    // Single use: the same code from another chat (as a /start deep link) is refused.
    fake.push_text(556, &format!("/start {code}"));
    fake.wait_text(556, "not valid").await?;
    assert_ne!(
        store.customer_by_identity(Channel::Telegram, "556").await?,
        Some(web_customer)
    );
    // The chat keeps talking in the joined history.
    fake.push_text(555, "shipping");
    fake.wait_text(555, "Did you mean").await?;
    Ok(())
}

/// A minimal HTTP/1.1 POST over a raw socket; returns the status code.
async fn post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<u16> {
    let mut socket = tokio::net::TcpStream::connect(app.addr).await?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        app.addr,
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    socket.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    socket.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status in {response:?}"))?;
    Ok(status)
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_handles_each_update_once() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let settings = hark_bot::telegram::TelegramSettings {
        webhook_url: Some("https://shop.example/telegram/webhook".into()),
        webhook_secret: Some("s3cret-Token_1".into()),
        ..fake.settings()
    };
    let options = AppOptions {
        telegram: Some(settings),
        ..AppOptions::default()
    };
    let app = spawn_app_with(options)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let set = fake.calls_of("setWebhook");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].body["url"], "https://shop.example/telegram/webhook");
    assert_eq!(set[0].body["secret_token"], "s3cret-Token_1");

    let update = json!({"update_id": 9001, "message": {"message_id": 3, "date": 1_700_000_000,
        "chat": {"id": 61, "type": "private", "first_name": "Ann"},
        "from": {"id": 61, "is_bot": false, "first_name": "Ann"},
        "text": "how long does delivery take?"}})
    .to_string();
    let header = "X-Telegram-Bot-Api-Secret-Token";
    assert_eq!(post(&app, "/telegram/webhook", &[], &update).await?, 401);
    assert_eq!(
        post(&app, "/telegram/webhook", &[(header, "wrong")], &update).await?,
        401
    );
    assert_eq!(
        post(
            &app,
            "/telegram/webhook",
            &[(header, "s3cret-Token_1")],
            "{not json"
        )
        .await?,
        400
    );
    assert!(
        app.state
            .engine
            .store()
            .customer_by_identity(Channel::Telegram, "61")
            .await?
            .is_none()
    );

    assert_eq!(
        post(
            &app,
            "/telegram/webhook",
            &[(header, "s3cret-Token_1")],
            &update
        )
        .await?,
        200
    );
    fake.wait_text(61, DELIVERY_ANSWER).await?;
    // Telegram re-sends an update it thinks failed: handled once only.
    assert_eq!(
        post(
            &app,
            "/telegram/webhook",
            &[(header, "s3cret-Token_1")],
            &update
        )
        .await?,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent_to(61).len(), 1);
    assert_eq!(stored(&app, 61).await?.len(), 2);
    assert!(
        fake.calls_of("getUpdates").is_empty(),
        "no polling in webhook mode"
    );
    Ok(())
}

// ---- with a person: handoff, agent replies, resolve, CSAT, /stop ------------------------------

const HANDOFF_LINE: &str = "I'm getting a person for you";

async fn agent(app: &TestApp) -> anyhow::Result<hark_bot::engine::Agent> {
    let staff = app
        .state
        .engine
        .store()
        .create_staff(&hark_bot::store::NewStaff {
            email: "ana@shop.example".into(),
            display_name: "Ana".into(),
            role: hark_bot::store::Role::Agent,
            capacity: 5,
            password_hash: None,
        })
        .await?;
    Ok(hark_bot::engine::Agent::from(&staff))
}

/// The chat asks for a person; returns its conversation id.
async fn ask_for_person(app: &TestApp, fake: &FakeTelegram, chat: i64) -> anyhow::Result<i64> {
    fake.push_text(chat, "/human");
    fake.wait_text(chat, HANDOFF_LINE).await?;
    let messages = stored(app, chat).await?;
    Ok(messages[0].conversation_id)
}

async fn agent_replies(
    app: &TestApp,
    agent: &hark_bot::engine::Agent,
    conversation: i64,
    client_id: &str,
    text: &str,
) -> anyhow::Result<()> {
    use hark_bot::engine::{ClientId, MessageText};
    app.state
        .engine
        .agent_reply(
            conversation,
            agent,
            &ClientId::parse(client_id)?,
            MessageText::parse(text)?,
        )
        .await?;
    Ok(())
}

async fn an_agents_reply_arrives(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let ana = agent(&app).await?;
    let conversation = ask_for_person(&app, &fake, 11).await?;
    // While a person owns the conversation the bot stays silent.
    app.state.engine.claim(conversation, &ana).await?;
    fake.push_text(11, "my parcel is late, order 1234");
    agent_replies(
        &app,
        &ana,
        conversation,
        "r1",
        "Hi, I'm looking at order 1234 now.",
    )
    .await?;
    fake.wait_text(11, "Ana: Hi, I'm looking at order 1234 now.")
        .await?;
    agent_replies(
        &app,
        &ana,
        conversation,
        "r1",
        "Hi, I'm looking at order 1234 now.",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = texts(&fake.sent_to(11));
    assert_eq!(
        sent.iter().filter(|t| t.contains("order 1234")).count(),
        1,
        "a resent agent reply is stored and delivered once: {sent:?}"
    );
    assert!(
        !sent
            .iter()
            .any(|t| t.contains("Did you mean") || t.contains("I'm sorry")),
        "the bot answered in an agent's conversation: {sent:?}"
    );
    Ok(())
}

#[tokio::test]
async fn asks_for_a_human_and_the_agents_reply_arrives() -> anyhow::Result<()> {
    an_agents_reply_arrives(Engine::Sqlite).await
}

#[tokio::test]
async fn asks_for_a_human_and_the_agents_reply_arrives_on_postgres() -> anyhow::Result<()> {
    an_agents_reply_arrives(Engine::Postgres).await
}

async fn csat_press_is_recorded(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let store = app.state.engine.store().clone();
    let ana = agent(&app).await?;
    let conversation = ask_for_person(&app, &fake, 12).await?;
    agent_replies(
        &app,
        &ana,
        conversation,
        "r1",
        "Your refund went out today.",
    )
    .await?;
    app.state.engine.resolve(conversation, &ana).await?;
    let question = fake.wait_text(12, "How happy are you").await?;
    let keys = buttons(&question);
    assert_eq!(
        keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
    // The question comes after the agent's reply and the "resolved" line.
    let sent = texts(&fake.sent_to(12));
    let position = |needle: &str| sent.iter().position(|t| t.contains(needle));
    assert!(
        position("refund went out") < position("marked as resolved"),
        "{sent:?}"
    );
    assert!(
        position("marked as resolved") < position("How happy"),
        "{sent:?}"
    );

    let question_id = question.message_id.unwrap_or_default();
    fake.push_press(12, question_id, &keys[3].1);
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == "Thank you for your rating!")
    })
    .await?;
    let answer = store
        .survey_response(SurveyKind::Csat, conversation)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the CSAT answer was not stored"))?;
    assert_eq!(answer.score, 4);
    assert_eq!(answer.channel, Channel::Telegram);
    let edited = fake
        .wait_for(|f| f.calls_of("editMessageReplyMarkup").into_iter().last())
        .await?;
    assert_eq!(edited.body["message_id"], json!(question_id));

    // A second press (an old keyboard, a double tap) changes nothing.
    fake.push_press(12, question_id, &keys[0].1);
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == "You already rated this conversation. Thank you!")
    })
    .await?;
    assert_eq!(
        store
            .survey_response(SurveyKind::Csat, conversation)
            .await?
            .map(|a| a.score),
        Some(4)
    );
    // A forged score outside 1-5 is refused.
    fake.push_press(12, question_id, &format!("csat:{conversation}:9"));
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == "This button no longer applies.")
    })
    .await?;
    // Resolving again (or a restart) does not ask twice.
    let app = app.restart().await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        texts(&fake.sent_to(12))
            .iter()
            .filter(|t| t.contains("How happy"))
            .count(),
        1
    );
    drop(app);
    Ok(())
}

#[tokio::test]
async fn a_csat_press_is_recorded() -> anyhow::Result<()> {
    csat_press_is_recorded(Engine::Sqlite).await
}

#[tokio::test]
async fn a_csat_press_is_recorded_on_postgres() -> anyhow::Result<()> {
    csat_press_is_recorded(Engine::Postgres).await
}

/// The chat asks for a person, the agent answers and resolves, and the customer presses the
/// CSAT button for `score`; returns the conversation and the comment question that follows.
async fn rated(
    app: &TestApp,
    fake: &FakeTelegram,
    agent: &hark_bot::engine::Agent,
    chat: i64,
    score: usize,
) -> anyhow::Result<(i64, hark_tests::telegram::Call)> {
    let conversation = ask_for_person(app, fake, chat).await?;
    agent_replies(app, agent, conversation, &format!("r{chat}"), "Done.").await?;
    app.state.engine.resolve(conversation, agent).await?;
    let question = fake.wait_text(chat, "How happy are you").await?;
    fake.push_press(
        chat,
        question.message_id.unwrap_or_default(),
        &buttons(&question)[score - 1].1,
    );
    let prompt = fake.wait_text(chat, "anything you'd like to add").await?;
    Ok((conversation, prompt))
}

/// The CSAT answer about a conversation (it must exist).
async fn csat_of(app: &TestApp, conversation: i64) -> anyhow::Result<SurveyResponse> {
    app.state
        .engine
        .store()
        .survey_response(SurveyKind::Csat, conversation)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no CSAT answer for {conversation}"))
}

async fn csat_takes_a_comment(engine: Engine) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let Some(app) = telegram_app(engine, &fake).await? else {
        return Ok(());
    };
    let ana = agent(&app).await?;
    let (conversation, prompt) = rated(&app, &fake, &ana, 14, 2).await?;
    assert_eq!(
        buttons(&prompt),
        [("Skip".to_owned(), format!("csats:{conversation}"))]
    );
    let sent = texts(&fake.sent_to(14));
    assert!(
        !sent.iter().any(|t| t.contains("recommend")),
        "NPS before the comment: {sent:?}"
    );

    // Another chat pressing this Skip button changes nothing.
    fake.push_press(
        15,
        prompt.message_id.unwrap_or_default(),
        &buttons(&prompt)[0].1,
    );
    fake.wait_for(|f| {
        f.calls_of("answerCallbackQuery")
            .into_iter()
            .find(|c| c.body["text"] == "This button no longer applies.")
    })
    .await?;
    // Too long a comment is refused and the wait goes on; nothing is stored.
    fake.push_text(14, &"slow ".repeat(201));
    fake.wait_text(14, "a bit long for us to keep").await?;
    assert_eq!(csat_of(&app, conversation).await?.comment, None);

    fake.push_text(14, "Kind agent, but it took two days to hear back");
    fake.wait_text(14, "Thank you for your comment!").await?;
    let answer = csat_of(&app, conversation).await?;
    assert_eq!(answer.score, 2);
    assert_eq!(
        answer.comment.as_deref(),
        Some("Kind agent, but it took two days to hear back")
    );
    assert!(answer.comment_sentiment.is_some());
    let transcript = stored(&app, 14).await?;
    assert!(
        !transcript.iter().any(|m| m.body.contains("two days")),
        "the comment went to the bot: {transcript:?}"
    );
    // NPS follows the comment; the old Skip button no longer applies.
    fake.wait_text(14, "How likely are you to recommend us")
        .await?;
    fake.push_press(
        14,
        prompt.message_id.unwrap_or_default(),
        &buttons(&prompt)[0].1,
    );
    fake.wait_for(|f| {
        (f.calls_of("answerCallbackQuery")
            .iter()
            .filter(|c| c.body["text"] == "This button no longer applies.")
            .count()
            == 2)
            .then_some(())
    })
    .await?;
    // The chat's next message is a question for the bot again.
    fake.push_text(14, "how long does delivery take?");
    fake.wait_text(14, DELIVERY_ANSWER).await?;
    Ok(())
}

#[tokio::test]
async fn a_csat_rating_takes_an_optional_comment() -> anyhow::Result<()> {
    csat_takes_a_comment(Engine::Sqlite).await
}

#[tokio::test]
async fn a_csat_rating_takes_an_optional_comment_on_postgres() -> anyhow::Result<()> {
    csat_takes_a_comment(Engine::Postgres).await
}

#[tokio::test]
async fn the_csat_comment_wait_ends_on_skip_stop_or_expiry() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let ana = agent(&app).await?;

    // /skip: no comment, and NPS follows.
    let (skipped, _) = rated(&app, &fake, &ana, 16, 4).await?;
    fake.push_text(16, "/skip");
    fake.wait_text(16, "No problem.").await?;
    fake.wait_text(16, "How likely are you to recommend us")
        .await?;
    assert_eq!(csat_of(&app, skipped).await?.comment, None);

    // /stop: the wait is closed with the other surveys; the next message goes to the bot.
    let (stopped, _) = rated(&app, &fake, &ana, 17, 3).await?;
    fake.push_text(17, "/stop");
    fake.wait_text(17, "we won't send you surveys").await?;
    fake.push_text(17, "how long does delivery take?");
    fake.wait_text(17, DELIVERY_ANSWER).await?;
    assert_eq!(csat_of(&app, stopped).await?.comment, None);
    let sent = texts(&fake.sent_to(17));
    assert!(!sent.iter().any(|t| t.contains("recommend")), "{sent:?}");

    // An hour later the wait is over: a plain message is a question for the bot.
    let (expired, _) = rated(&app, &fake, &ana, 18, 5).await?;
    app.execute(
        "UPDATE telegram_survey_prompts SET comment_until = $1 WHERE conversation_id = $2",
        hark_bot::store::now_ms() - 1,
        expired,
    )
    .await?;
    fake.push_text(18, "how long does delivery take?");
    fake.wait_text(18, DELIVERY_ANSWER).await?;
    assert_eq!(csat_of(&app, expired).await?.comment, None);
    Ok(())
}

#[tokio::test]
async fn stop_is_stored_and_no_survey_follows() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let store = app.state.engine.store().clone();
    let ana = agent(&app).await?;
    let conversation = ask_for_person(&app, &fake, 13).await?;
    fake.push_text(13, "/stop");
    fake.wait_text(13, "we won't send you surveys").await?;
    let customer = store.conversation(conversation).await?.customer_id;
    assert!(store.opted_out(customer).await?);

    agent_replies(
        &app,
        &ana,
        conversation,
        "r1",
        "Sorted: your address is updated.",
    )
    .await?;
    app.state.engine.resolve(conversation, &ana).await?;
    fake.wait_text(13, "marked as resolved").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = texts(&fake.sent_to(13));
    assert!(!sent.iter().any(|t| t.contains("How happy")), "{sent:?}");
    assert!(
        store
            .survey_response(hark_bot::store::SurveyKind::Csat, conversation)
            .await?
            .is_none()
    );
    // The survey module refuses an answer from an opted-out customer whatever the channel.
    let surveys = hark_bot::surveys::Surveys::new(
        store.clone(),
        std::sync::Arc::clone(app.state.engine.sentiment()),
    );
    let refused = surveys
        .record(hark_bot::surveys::Answer {
            customer_id: customer,
            conversation_id: Some(conversation),
            channel: Channel::Web,
            score: hark_bot::surveys::Score::parse(hark_bot::store::SurveyKind::Csat, 5)?,
            comment: None,
        })
        .await;
    assert!(
        matches!(refused, Err(hark_bot::surveys::SurveyError::OptedOut)),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_reply_over_4096_characters_arrives_in_two_messages() -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let app = telegram_app(Engine::Sqlite, &fake)
        .await?
        .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    // Agent replies are limited to 4,000 characters by the engine; an article's answer is not.
    let paragraph = "Our teas come from small family gardens we visit every year. ".repeat(20);
    let answer = [paragraph.trim(); 4].join("\n\n"); // about 5,000 characters
    assert!(answer.chars().count() > 4096 && answer.chars().count() < 8192);
    let article = kb::Article {
        id: "sourcing-story".into(),
        title: "Where our tea comes from".into(),
        answer: answer.clone(),
        questions: vec!["where does your tea come from".into()],
        tags: vec![],
    };
    let store = app.state.engine.store();
    store.upsert_articles(&[article]).await?;
    hark_bot::app::rebuild_kb(store, app.state.engine.kb()).await?;

    fake.push_text(14, "where does your tea come from?");
    let parts = fake.wait_sent(14, 2).await?;
    let texts = texts(&parts);
    assert!(
        texts.iter().all(|t| t.encode_utf16().count() <= 4096),
        "{:?}",
        texts.iter().map(|t| t.len()).collect::<Vec<_>>()
    );
    assert_eq!(
        texts.join("\n\n"),
        answer,
        "split on a paragraph break, nothing lost"
    );
    // One message per second per chat.
    let gap = parts[1].at.duration_since(parts[0].at);
    assert!(
        gap >= Duration::from_millis(950),
        "second part after {gap:?}"
    );
    Ok(())
}
