//! Learning from operations end to end, over real sockets and HTTP on both backends: a question
//! the bot could not answer shows in the owners' report; the agent who answered it links an
//! article; an owner approves; the next customer asking it gets the article's answer. Every bad
//! input gets a clear error and changes nothing.

use hark_bot::store::{EventKind, Role};
use hark_tests::console::ConsoleClient;
use hark_tests::{AppOptions, Engine, TestApp, WidgetClient, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// Not in the demo knowledge base: the bot cannot answer it before it learns it.
const QUESTION: &str = "can my parcel be left with the porter downstairs?";
const ARTICLE: &str = "change-address";
/// Asked while the agent owns the conversation; linked, then rejected.
const OTHER_QUESTION: &str = "do you sell matcha whisks made of bamboo";
const OTHER_ARTICLE: &str = "teaware-care";

async fn logged_in(app: &TestApp, role: Role, name: &str) -> anyhow::Result<ConsoleClient> {
    let (staff, _) = app.add_staff(role, name, PASSWORD).await?;
    let mut console = ConsoleClient::new(app);
    let (status, body) = console.login(&staff.email, PASSWORD).await?;
    anyhow::ensure!(status == StatusCode::OK, "login failed: {status} {body}");
    Ok(console)
}

async fn next_agent_message(customer: &mut WidgetClient) -> anyhow::Result<Value> {
    loop {
        let frame = customer.recv().await?;
        if frame["type"] == "message" && frame["author"] == "agent" {
            return Ok(frame);
        }
    }
}

async fn article_questions(app: &TestApp, id: &str) -> anyhow::Result<Vec<String>> {
    let articles = app.state.engine.store().articles().await?;
    let article = articles
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| anyhow::anyhow!("article {id} missing"))?;
    Ok(article.questions)
}

fn error_of(response: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (response.0, response.1["error"].as_str())
}

async fn learning_loop(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let owner = logged_in(&app, Role::Owner, "Olive Owner").await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let before = article_questions(&app, ARTICLE).await?;
    let other_before = article_questions(&app, OTHER_ARTICLE).await?;

    // A customer: one answered question, one the bot cannot answer, then asks for a person.
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let answered = customer.ask("q1", "how long does delivery take?").await?;
    assert_eq!(answered.reply["article_id"], "delivery-times");
    let unanswered = customer.ask("q2", QUESTION).await?;
    assert!(
        unanswered.reply["article_id"].is_null(),
        "the bot must not know this yet: {}",
        unanswered.reply
    );
    let person = customer.ask("q3", "I want to talk to a person").await?;

    // Before an agent answered, the question cannot be linked yet.
    let early = agent
        .post(
            "/api/kb/suggestions",
            json!({"conversation_id": conversation_id, "message_id": unanswered.message_id, "article_id": ARTICLE}),
        )
        .await?;
    assert_eq!(
        error_of(&early),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    assert!(
        early.1["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no agent has answered"),
        "{}",
        early.1
    );

    // The agent takes it and answers; the customer asks more while the agent owns it.
    let (status, body) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/claim"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply = format!("/api/conversations/{conversation_id}/reply");
    let (status, _) = agent
        .post(
            &reply,
            json!({"client_id": "a1", "text": "Yes, with our worldwide delivery (7-14 days)."}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    next_agent_message(&mut customer).await?;
    customer
        .send_json(json!({"type": "message", "client_id": "q4", "text": OTHER_QUESTION}))
        .await?;
    let other_id = loop {
        let frame = customer.recv().await?;
        if frame["type"] == "ack" && frame["client_id"] == "q4" {
            break frame["message_id"].as_i64().unwrap_or_default();
        }
    };
    let (status, _) = agent
        .post(
            &reply,
            json!({"client_id": "a2", "text": "Yes, just add a note at checkout."}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);

    // The owners' report has the question, answered by an agent; agents may not read it.
    let (status, report) = owner.get("/api/kb/unanswered").await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    let groups = report["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 1, "{report}");
    assert_eq!(groups[0]["question"], QUESTION);
    assert_eq!(groups[0]["count"], 1);
    assert_eq!(groups[0]["agent_answered"], 1);
    assert_eq!(groups[0]["learned"], 0);
    assert_eq!(
        groups[0]["examples"][0]["message_id"],
        unanswered.message_id
    );
    assert_eq!(groups[0]["examples"][0]["how"], "not_answered");
    assert_eq!(
        error_of(&agent.get("/api/kb/unanswered").await?),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // The console learns which messages it can offer "Link article" on.
    let (status, view) = agent
        .get(&format!("/api/conversations/{conversation_id}/learning"))
        .await?;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["linkable"],
        json!([unanswered.message_id, other_id]),
        "not the answered question, not the request for a person"
    );

    // Bad input: each refused with a clear error, nothing stored.
    let suggest = |message_id: i64, article_id: &str| json!({"conversation_id": conversation_id, "message_id": message_id, "article_id": article_id});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            suggest(unanswered.message_id, "no-such-article"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown article",
        ),
        (
            suggest(unanswered.message_id, "  "),
            StatusCode::BAD_REQUEST,
            "article_id is empty",
        ),
        (
            suggest(answered.message_id, ARTICLE),
            StatusCode::UNPROCESSABLE_ENTITY,
            "the bot answered",
        ),
        (
            suggest(person.message_id, ARTICLE),
            StatusCode::UNPROCESSABLE_ENTITY,
            "asks for a person",
        ),
        (
            suggest(unanswered.reply["id"].as_i64().unwrap_or(-1), ARTICLE),
            StatusCode::UNPROCESSABLE_ENTITY,
            "only a customer's message",
        ),
        (
            suggest(999_999, ARTICLE),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no such message",
        ),
        (
            json!({"conversation_id": 999_999, "message_id": unanswered.message_id, "article_id": ARTICLE}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "conversation not found",
        ),
        (
            json!({"conversation_id": conversation_id, "message_id": unanswered.message_id}),
            StatusCode::BAD_REQUEST,
            "article_id",
        ),
        (
            json!({"conversation_id": "one", "message_id": unanswered.message_id, "article_id": ARTICLE}),
            StatusCode::BAD_REQUEST,
            "conversation_id",
        ),
        (
            json!({"conversation_id": conversation_id, "message_id": unanswered.message_id, "article_id": ARTICLE, "state": "approved"}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
    ];
    for (body, status, says) in cases {
        let response = agent.post("/api/kb/suggestions", body.clone()).await?;
        assert_eq!(response.0, status, "{body} -> {}", response.1);
        assert!(
            response.1["message"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{body} -> {}",
            response.1
        );
    }
    // A message from another conversation is not this conversation's message.
    let mut stranger = app.widget().await?;
    let stranger_conversation = stranger.hello(None, None).await?["conversation_id"]
        .as_i64()
        .unwrap_or_default();
    let foreign = agent
        .post(
            "/api/kb/suggestions",
            json!({"conversation_id": stranger_conversation, "message_id": unanswered.message_id, "article_id": ARTICLE}),
        )
        .await?;
    assert_eq!(foreign.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", foreign.1);
    assert_eq!(foreign.1["details"]["field"], "message_id");
    // Without the CSRF token nothing is stored either.
    let mut no_csrf = ConsoleClient::new(&app);
    no_csrf.cookie = agent.cookie.clone();
    assert_eq!(
        error_of(
            &no_csrf
                .post(
                    "/api/kb/suggestions",
                    suggest(unanswered.message_id, ARTICLE)
                )
                .await?
        ),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );
    let (_, pending) = owner.get("/api/kb/suggestions").await?;
    assert_eq!(
        pending["suggestions"],
        json!([]),
        "bad input stored nothing"
    );

    // The agent links the article: pending, once.
    let (status, body) = agent
        .post(
            "/api/kb/suggestions",
            suggest(unanswered.message_id, ARTICLE),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let suggestion = body["suggestion"].clone();
    assert_eq!(suggestion["state"], "pending");
    assert_eq!(suggestion["question"], QUESTION);
    assert_eq!(suggestion["suggested_by_name"], "Alex Kim");
    let id = suggestion["id"].as_i64().unwrap_or_default();
    assert_eq!(
        error_of(
            &agent
                .post(
                    "/api/kb/suggestions",
                    suggest(unanswered.message_id, ARTICLE)
                )
                .await?
        ),
        (StatusCode::CONFLICT, Some("already_suggested"))
    );
    let (status, body) = agent
        .post("/api/kb/suggestions", suggest(other_id, OTHER_ARTICLE))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = body["suggestion"]["id"].as_i64().unwrap_or_default();

    // Agents can neither list nor decide.
    assert_eq!(
        error_of(&agent.get("/api/kb/suggestions").await?),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    for action in ["approve", "reject"] {
        assert_eq!(
            error_of(
                &agent
                    .post(&format!("/api/kb/suggestions/{id}/{action}"), json!({}))
                    .await?
            ),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
    }
    let (_, pending) = owner.get("/api/kb/suggestions?state=pending").await?;
    let pending_ids: Vec<i64> = pending["suggestions"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(pending_ids, vec![id, other], "oldest first");
    assert_eq!(
        owner.get("/api/kb/suggestions?state=maybe").await?.0,
        StatusCode::BAD_REQUEST
    );
    let (_, view) = agent
        .get(&format!("/api/conversations/{conversation_id}/learning"))
        .await?;
    assert_eq!(view["suggestions"].as_array().map(Vec::len), Some(2));

    // Rejection changes nothing in the knowledge base; a decided suggestion stays decided.
    let (status, body) = owner
        .post(&format!("/api/kb/suggestions/{other}/reject"), json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["suggestion"]["state"], "rejected");
    assert_eq!(body["suggestion"]["decided_by_name"], "Olive Owner");
    assert_eq!(article_questions(&app, OTHER_ARTICLE).await?, other_before);
    for action in ["approve", "reject"] {
        assert_eq!(
            error_of(
                &owner
                    .post(&format!("/api/kb/suggestions/{other}/{action}"), json!({}))
                    .await?
            ),
            (StatusCode::CONFLICT, Some("already_decided"))
        );
    }
    assert_eq!(article_questions(&app, OTHER_ARTICLE).await?, other_before);
    for missing in ["999999", "0", "abc"] {
        assert_eq!(
            error_of(
                &owner
                    .post(&format!("/api/kb/suggestions/{missing}/approve"), json!({}))
                    .await?
            ),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }

    // Approval: the question becomes an example of the article and the live bot answers it.
    let (status, body) = owner
        .post(&format!("/api/kb/suggestions/{id}/approve"), json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["suggestion"]["state"], "approved");
    assert_eq!(body["kb_rebuilt"], true);
    let mut after = before.clone();
    after.push(QUESTION.to_owned());
    assert_eq!(article_questions(&app, ARTICLE).await?, after);
    assert_eq!(
        error_of(
            &owner
                .post(&format!("/api/kb/suggestions/{id}/approve"), json!({}))
                .await?
        ),
        (StatusCode::CONFLICT, Some("already_decided"))
    );
    assert_eq!(
        article_questions(&app, ARTICLE).await?,
        after,
        "approving twice adds nothing"
    );

    let mut next = app.widget().await?;
    next.hello(None, None).await?;
    let learned = next.ask("n1", QUESTION).await?;
    assert_eq!(learned.reply["article_id"], ARTICLE, "{}", learned.reply);
    let answer = app
        .state
        .engine
        .kb()
        .article(ARTICLE)
        .map(|a| a.answer)
        .unwrap_or_default();
    assert_eq!(learned.reply["text"], answer);

    // The report marks the question learned.
    let (_, report) = owner.get("/api/kb/unanswered").await?;
    assert_eq!(report["groups"][0]["learned"], 1, "{report}");
    let (status, approved) = owner.get("/api/kb/suggestions?state=approved").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(approved["suggestions"][0]["id"], id);
    Ok(())
}

#[tokio::test]
async fn an_approved_link_teaches_the_bot_the_question() -> anyhow::Result<()> {
    learning_loop(Engine::Sqlite).await
}

#[tokio::test]
async fn an_approved_link_teaches_the_bot_the_question_on_postgres() -> anyhow::Result<()> {
    learning_loop(Engine::Postgres).await
}

/// The report's period, limit and formats, and its answers to bad parameters.
async fn report_parameters(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let owner = logged_in(&app, Role::Owner, "Olive Owner").await?;
    // Two customers ask about the porter in other words, one about swallows: none answered.
    for (i, text) in [
        "can my parcel be left with the porter downstairs please?",
        "can the parcel be left with my porter downstairs?",
        "=1+1 what is the airspeed of a swallow",
    ]
    .iter()
    .enumerate()
    {
        let mut customer = app.widget().await?;
        customer.hello(None, None).await?;
        let exchange = customer.ask(&format!("c{i}"), text).await?;
        assert!(
            exchange.reply["article_id"].is_null(),
            "{text}: {}",
            exchange.reply
        );
    }
    // A clarified question the customer answered by asking for a person counts too; a
    // clarified one followed by a pick does not.
    let mut clarified = app.widget().await?;
    clarified.hello(None, None).await?;
    let offered = clarified
        .ask("k1", "my parcel: can it be left with the porter downstairs")
        .await?;
    let store = app.state.engine.store();
    assert_eq!(
        store.events(Some(EventKind::Clarified)).await?.len(),
        1,
        "expected a clarification: {}",
        offered.reply
    );
    clarified.ask("k2", "I want to talk to a person").await?;
    let mut picked = app.widget().await?;
    picked.hello(None, None).await?;
    let offered = picked
        .ask("p1", "my parcel: can it be left with the porter downstairs")
        .await?;
    let first = offered.reply["suggestions"][0]["article_id"].clone();
    assert!(
        first.is_string(),
        "expected a clarification: {}",
        offered.reply
    );
    picked
        .send_json(json!({"type": "choose", "client_id": "p2", "article_id": first}))
        .await?;
    picked.exchange("p2").await?;
    assert_eq!(store.events(Some(EventKind::Clarified)).await?.len(), 2);
    assert_eq!(store.events(Some(EventKind::ClarifyChosen)).await?.len(), 1);

    let (status, report) = owner.get("/api/kb/unanswered?limit=10").await?;
    assert_eq!(status, StatusCode::OK, "{report}");
    let groups = report["groups"].as_array().cloned().unwrap_or_default();
    let porter = groups
        .iter()
        .find(|g| {
            g["question"]
                .as_str()
                .unwrap_or_default()
                .contains("porter")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(porter["count"], 3, "paraphrases group together: {report}");
    assert_eq!(porter["conversations"], 3);
    let total: i64 = groups.iter().filter_map(|g| g["count"].as_i64()).sum();
    assert_eq!(total, 4, "three porter questions and a swallow: {report}");
    let clarified_count = groups
        .iter()
        .flat_map(|g| g["examples"].as_array().cloned().unwrap_or_default())
        .filter(|q| q["how"] == "clarified_then_handed_over")
        .count();
    assert_eq!(clarified_count, 1, "{report}");

    let (status, top) = owner.get("/api/kb/unanswered?limit=1").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(top["groups"].as_array().map(Vec::len), Some(1));
    // A period before anything happened is empty.
    let (status, empty) = owner.get("/api/kb/unanswered?since=0&until=1000").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["groups"], json!([]));

    // CSV: one row per group, cells that would be formulas are neutralised.
    let response = reqwest::Client::new()
        .get(app.http_url("/api/kb/unanswered?format=csv"))
        .header("cookie", owner.cookie.clone().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let csv = response.text().await?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + groups.len(), "{csv}");
    assert!(
        lines[0].starts_with("question,count,conversations"),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("porter") && l.contains(",3,3,0,0,")),
        "{csv}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with('=') || l.contains(",=") || l.contains(",\"=")),
        "no cell starts a formula: {csv}"
    );

    for bad in [
        "?since=2000&until=1000",
        "?since=abc",
        "?limit=0",
        "?limit=501",
        "?format=xml",
        "?since=-5",
        "?nonsense=1",
    ] {
        let (status, body) = owner.get(&format!("/api/kb/unanswered{bad}")).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "bad_request", "{bad}");
    }
    assert_eq!(
        ConsoleClient::new(&app).get("/api/kb/unanswered").await?.0,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn the_unanswered_report_groups_filters_and_exports() -> anyhow::Result<()> {
    report_parameters(Engine::Sqlite).await
}

#[tokio::test]
async fn the_unanswered_report_groups_filters_and_exports_on_postgres() -> anyhow::Result<()> {
    report_parameters(Engine::Postgres).await
}

/// An article deleted after it was linked: approval is refused and changes nothing; the owner
/// can still reject the link.
async fn approving_a_link_to_a_deleted_article(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let owner = logged_in(&app, Role::Owner, "Olive Owner").await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let mut customer = app.widget().await?;
    let conversation_id = customer.hello(None, None).await?["conversation_id"]
        .as_i64()
        .unwrap_or_default();
    let asked = customer.ask("q1", QUESTION).await?;
    customer.ask("q2", "I want to talk to a person").await?;
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/reply"),
            json!({"client_id": "a1", "text": "Yes, leave a note at checkout."}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = agent
        .post(
            "/api/kb/suggestions",
            json!({"conversation_id": conversation_id, "message_id": asked.message_id, "article_id": ARTICLE}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["suggestion"]["id"].as_i64().unwrap_or_default();

    let store = app.state.engine.store();
    store.delete_article(ARTICLE).await?;
    let (status, body) = owner
        .post(&format!("/api/kb/suggestions/{id}/approve"), json!({}))
        .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"]["field"], "article_id");
    assert!(store.articles().await?.iter().all(|a| a.id != ARTICLE));
    let (_, pending) = owner.get("/api/kb/suggestions").await?;
    assert_eq!(
        pending["suggestions"][0]["id"], id,
        "still pending: {pending}"
    );
    assert!(pending["suggestions"][0]["article_title"].is_null());
    let (status, body) = owner
        .post(&format!("/api/kb/suggestions/{id}/reject"), json!({}))
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["suggestion"]["state"], "rejected");
    Ok(())
}

#[tokio::test]
async fn approving_a_link_to_a_deleted_article_changes_nothing() -> anyhow::Result<()> {
    approving_a_link_to_a_deleted_article(Engine::Sqlite).await
}

#[tokio::test]
async fn approving_a_link_to_a_deleted_article_changes_nothing_on_postgres() -> anyhow::Result<()> {
    approving_a_link_to_a_deleted_article(Engine::Postgres).await
}
