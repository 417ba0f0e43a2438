//! The agents' console end to end: sessions and their protections over real HTTP, and a
//! customer and an agent over real websockets.

use hark_bot::store::{ConversationState, EventKind, Role};
use hark_tests::console::ConsoleClient;
use hark_tests::{AppOptions, Engine, TestApp, WidgetClient, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn logged_in(app: &TestApp, role: Role, name: &str) -> anyhow::Result<ConsoleClient> {
    let (staff, _) = app.add_staff(role, name, PASSWORD).await?;
    let mut console = ConsoleClient::new(app);
    let (status, body) = console.login(&staff.email, PASSWORD).await?;
    anyhow::ensure!(status == StatusCode::OK, "login failed: {status} {body}");
    Ok(console)
}

/// A customer who asked for a person; returns the socket and the conversation id.
async fn customer_asking_for_a_person(app: &TestApp) -> anyhow::Result<(WidgetClient, i64)> {
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    customer.ask("q1", "how long does delivery take?").await?;
    customer.ask("q2", "I want to talk to a person").await?;
    Ok((customer, conversation_id))
}

async fn next_agent_message(customer: &mut WidgetClient) -> anyhow::Result<Value> {
    loop {
        let frame = customer.recv().await?;
        if frame["type"] == "message" && frame["author"] == "agent" {
            return Ok(frame);
        }
    }
}

#[tokio::test]
async fn login_sessions_csrf_and_roles() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut owner = logged_in(&app, Role::Owner, "Olive Owner").await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;

    // Wrong password and unknown email get the same answer.
    let mut stranger = ConsoleClient::new(&app);
    let (status, body) = stranger
        .login("alex.kim@example.com", "not the password")
        .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let (status, body) = stranger
        .login("nobody@example.com", "not the password")
        .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );

    // No session: 401. A session without the CSRF token cannot change anything.
    assert_eq!(
        stranger.get("/api/queue").await?.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(agent.get("/api/queue").await?.0, StatusCode::OK);
    let mut no_csrf = ConsoleClient::new(&app);
    no_csrf.cookie = agent.cookie.clone();
    let (status, body) = no_csrf
        .post("/api/presence", json!({"presence": "away"}))
        .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );
    no_csrf.csrf = Some("0".repeat(64));
    assert_eq!(
        no_csrf
            .post("/api/presence", json!({"presence": "away"}))
            .await?
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        agent
            .post("/api/presence", json!({"presence": "away"}))
            .await?
            .0,
        StatusCode::NO_CONTENT
    );
    // A forged session cookie is no session.
    let mut forged = ConsoleClient::new(&app);
    forged.cookie = Some(format!("hark_session={}", "a".repeat(64)));
    assert_eq!(forged.get("/api/me").await?.0, StatusCode::UNAUTHORIZED);

    // Agents cannot manage users; owners can, and get an invitation link.
    let invite = json!({"email": "new@example.com", "display_name": "New Agent", "role": "agent"});
    let (status, body) = agent.post("/api/staff", invite.clone()).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = owner.post("/api/staff", invite.clone()).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["invite_url"].as_str().unwrap_or_default().to_owned();
    let token = url
        .split_once('#')
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default();
    assert_eq!(
        owner.post("/api/staff", invite).await?.0,
        StatusCode::CONFLICT,
        "email taken"
    );

    // The invitation sets a password once and logs the new user in.
    let mut newcomer = ConsoleClient::new(&app);
    let (status, _) = newcomer
        .post(
            "/api/invites/accept",
            json!({"token": token, "password": "short"}),
        )
        .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = newcomer
        .post(
            "/api/invites/accept",
            json!({"token": token, "password": "a new long password"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = newcomer
        .post(
            "/api/invites/accept",
            json!({"token": token, "password": "a new long password"}),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "an invitation works once");
    assert_eq!(
        newcomer
            .login("new@example.com", "a new long password")
            .await?
            .0,
        StatusCode::OK
    );

    // Disabling ends the user's sessions at once.
    let new_id = body["staff"]["id"].as_i64().unwrap_or_default();
    assert_eq!(
        owner
            .post(&format!("/api/staff/{new_id}/disable"), json!({}))
            .await?
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(newcomer.get("/api/me").await?.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        newcomer
            .login("new@example.com", "a new long password")
            .await?
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Log out everywhere: a second session of the owner ends too.
    let mut second = ConsoleClient::new(&app);
    assert_eq!(
        second.login("olive.owner@example.com", PASSWORD).await?.0,
        StatusCode::OK
    );
    assert_eq!(
        owner.post("/api/logout-everywhere", json!({})).await?.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(second.get("/api/me").await?.0, StatusCode::UNAUTHORIZED);
    owner.csrf = None;
    assert_eq!(owner.get("/api/me").await?.0, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn logins_are_rate_limited() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let mut console = ConsoleClient::new(&app);
    for _ in 0..5 {
        let (status, _) = console
            .login("alex.kim@example.com", "wrong password!")
            .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = console.login("alex.kim@example.com", PASSWORD).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["retry_after_seconds"].as_u64().is_some_and(|s| s > 0));
    Ok(())
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let (_customer, conversation_id) = customer_asking_for_a_person(&app).await?;
    let reply = format!("/api/conversations/{conversation_id}/reply");
    for (body, why) in [
        (json!({"client_id": "r1"}), "missing text"),
        (json!({"client_id": "r1", "text": "   "}), "empty text"),
        (
            json!({"client_id": "bad id!", "text": "hi"}),
            "bad client id",
        ),
        (
            json!({"client_id": "r1", "text": "x".repeat(4001)}),
            "too long",
        ),
        (
            json!({"client_id": "r1", "text": "hi", "extra": 1}),
            "unknown field",
        ),
    ] {
        let (status, _) = agent.post(&reply, body).await?;
        assert!(status.is_client_error(), "{why}: {status}");
    }
    assert_eq!(
        agent
            .post(
                "/api/conversations/999999/reply",
                json!({"client_id": "r1", "text": "hi"})
            )
            .await?
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        agent.get("/api/conversations/abc").await?.0,
        StatusCode::NOT_FOUND
    );
    let stored = app
        .state
        .engine
        .store()
        .messages_after(conversation_id, 0)
        .await?;
    assert!(
        stored.iter().all(|m| m.author.as_str() != "agent"),
        "nothing stored"
    );
    Ok(())
}

async fn customer_and_agent(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let mut live = agent.socket().await?;
    // The agent is online: the customer's handoff is assigned to them automatically.
    let (mut customer, conversation_id) = customer_asking_for_a_person(&app).await?;
    let assigned = live
        .recv_until(|f| f["type"] == "assigned" && f["item"]["conversation_id"] == conversation_id)
        .await?;
    assert_eq!(assigned["item"]["state"], "waiting");
    assert_eq!(assigned["item"]["handoff_reason"], "customer_asked");
    assert!(
        assigned["item"]["priority_reasons"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("waiting")
    );

    // The conversation view has the bot's part of the transcript.
    let (status, view) = agent
        .get(&format!("/api/conversations/{conversation_id}"))
        .await?;
    assert_eq!(status, StatusCode::OK);
    let authors: Vec<&str> = view["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["author"].as_str())
        .collect();
    assert!(
        authors.contains(&"bot") && authors.contains(&"customer") && authors.contains(&"system"),
        "{authors:?}"
    );
    live.follow(conversation_id).await?;

    // The agent replies; the customer sees it with the agent's name; a retry is not a second message.
    let reply = json!({"client_id": "r1", "text": "Hello! Alex here."});
    let (status, body) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/reply"),
            reply.clone(),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let message = next_agent_message(&mut customer).await?;
    assert_eq!(
        (message["text"].as_str(), message["author_name"].as_str()),
        (Some("Hello! Alex here."), Some("Alex Kim"))
    );
    let (_, again) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/reply"),
            reply,
        )
        .await?;
    assert_eq!(again["message_id"], body["message_id"]);
    assert_eq!(again["duplicate"], true);

    // The customer answers: the agent sees it live and the bot stays silent.
    customer
        .send_json(
            json!({"type": "message", "client_id": "q3", "text": "how long does delivery take?"}),
        )
        .await?;
    let seen = live
        .recv_until(|f| f["type"] == "message" && f["message"]["author"] == "customer")
        .await?;
    assert_eq!(seen["message"]["text"], "how long does delivery take?");
    let stored = app
        .state
        .engine
        .store()
        .messages_after(conversation_id, 0)
        .await?;
    assert_eq!(
        stored.last().map(|m| m.author.as_str()),
        Some("customer"),
        "the bot did not answer"
    );

    // Private notes never reach the customer.
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/notes"),
            json!({"text": "VIP, be quick"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);

    // Resolve: the customer is told, the queue loses it, metrics see it.
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/resolve"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    loop {
        let frame = customer.recv().await?;
        assert_ne!(frame["text"], "VIP, be quick");
        if frame["type"] == "state" && frame["state"] == "resolved" {
            break;
        }
    }
    live.recv_until(|f| f["type"] == "queue_removed" && f["conversation_id"] == conversation_id)
        .await?;
    // A task for the team, done from the console.
    let task = app
        .state
        .engine
        .store()
        .create_task(&hark_bot::store::NewTask {
            kind: "detractor_follow_up".into(),
            customer_id: None,
            conversation_id: Some(conversation_id),
            title: "Call back".into(),
            detail: json!({}),
        })
        .await?
        .unwrap_or_default();
    let (_, tasks) = agent.get("/api/tasks").await?;
    assert_eq!(tasks["tasks"][0]["id"], task);
    let done = format!("/api/tasks/{task}/done");
    assert_eq!(
        agent.post(&done, json!({})).await?.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(agent.post(&done, json!({})).await?.0, StatusCode::NOT_FOUND);
    let (_, metrics) = agent.get("/api/metrics?days=1").await?;
    assert_eq!(metrics["handoff_rate"], 1.0);
    assert_eq!(metrics["first_response_seconds"]["count"], 1);
    assert_eq!(metrics["resolution_seconds"]["count"], 1);
    let store = app.state.engine.store();
    assert_eq!(
        store.conversation(conversation_id).await?.state,
        ConversationState::Resolved
    );
    assert_eq!(store.events(Some(EventKind::Assigned)).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_customer_and_an_agent_talk_over_real_sockets() -> anyhow::Result<()> {
    customer_and_agent(Engine::Sqlite).await
}

#[tokio::test]
async fn a_customer_and_an_agent_talk_over_real_sockets_on_postgres() -> anyhow::Result<()> {
    customer_and_agent(Engine::Postgres).await
}

#[tokio::test]
async fn reconnects_on_either_side_lose_nothing() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let live = agent.socket().await?;
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let token = welcome["visitor_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let asked = customer.ask("q1", "I want to talk to a person").await?;

    // The agent's socket drops (a reload): within the grace period the assignment stays, and
    // the new socket follows the conversation again.
    drop(live);
    let mut live = agent.socket().await?;
    let (status, body) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/claim"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    live.follow(conversation_id).await?;
    customer
        .send_json(json!({"type": "typing", "active": true}))
        .await?;
    let typing = live.recv_until(|f| f["type"] == "typing").await?;
    assert_eq!(typing["author"], "customer");

    // And the other way: the agent's typing reaches the customer (raw frames: the test client's
    // `recv` skips typing indicators).
    live.send(json!({"type": "typing", "conversation_id": conversation_id, "active": true}))
        .await?;
    loop {
        if let tokio_tungstenite::tungstenite::Message::Text(text) = customer.recv_frame().await? {
            let frame: Value = serde_json::from_str(&text)?;
            if frame["type"] == "typing" {
                assert_eq!(
                    (frame["author"].as_str(), frame["active"].as_bool()),
                    (Some("agent"), Some(true))
                );
                break;
            }
        }
    }

    // The customer's socket drops; the agent replies meanwhile; on resume the reply is replayed.
    drop(customer);
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation_id}/reply"),
            json!({"client_id": "r1", "text": "Sorry for the wait"}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let mut back = app.widget().await?;
    let welcome = back.hello(Some(&token), Some(asked.message_id)).await?;
    assert_eq!(welcome["conversation_id"], conversation_id);
    assert_eq!(welcome["state"], "agent");
    assert_eq!(welcome["agent_name"], "Alex Kim");
    let replayed = next_agent_message(&mut back).await?;
    assert_eq!(replayed["text"], "Sorry for the wait");

    // The customer writes while the agent's socket is away; the reloaded console has it.
    drop(live);
    back.send_json(json!({"type": "message", "client_id": "q9", "text": "thanks!"}))
        .await?;
    back.recv_until("ack").await?;
    let (_, view) = agent
        .get(&format!("/api/conversations/{conversation_id}"))
        .await?;
    let last = view["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["text"], "thanks!");
    Ok(())
}

#[tokio::test]
async fn an_agent_who_goes_offline_hands_conversations_back_to_the_queue() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let alex = logged_in(&app, Role::Agent, "Alex Kim").await?;
    let sam = logged_in(&app, Role::Agent, "Sam Lee").await?;
    let _alex_live = alex.socket().await?;
    let (_customer, conversation_id) = customer_asking_for_a_person(&app).await?;
    let (status, _) = alex
        .post(
            &format!("/api/conversations/{conversation_id}/claim"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = sam
        .post(
            &format!("/api/conversations/{conversation_id}/claim"),
            json!({}),
        )
        .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_assigned"))
    );

    let (status, _) = alex
        .post("/api/presence", json!({"presence": "offline"}))
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let c = app
        .state
        .engine
        .store()
        .conversation(conversation_id)
        .await?;
    assert_eq!((c.state, c.assigned_to), (ConversationState::Waiting, None));
    let (_, queue) = sam.get("/api/queue").await?;
    assert_eq!(queue["waiting"][0]["conversation_id"], conversation_id);
    let (status, _) = sam
        .post(
            &format!("/api/conversations/{conversation_id}/claim"),
            json!({}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_console_socket_refuses_other_sites_and_strangers() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let agent = logged_in(&app, Role::Agent, "Alex Kim").await?;
    assert!(
        agent.socket_from("https://evil.example").await.is_err(),
        "cross-site socket"
    );
    let stranger = ConsoleClient::new(&app);
    assert!(stranger.socket().await.is_err(), "no session");
    assert!(agent.socket().await.is_ok());
    Ok(())
}

#[tokio::test]
async fn the_console_page_is_served_with_a_strict_policy() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = reqwest::get(app.http_url("/console")).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(response.text().await?.contains("/console/app.js"));
    let js = reqwest::get(app.http_url("/console/app.js")).await?;
    assert_eq!(js.status(), StatusCode::OK);
    Ok(())
}
