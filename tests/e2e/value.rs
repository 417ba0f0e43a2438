//! Customer value in the platform: purchases through the HTTP API (with API keys), scores
//! stored on demand with their model version, churn fed by conversations, and outreach (one
//! task, a signed webhook retried until delivered, a proactive message only with consent).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use feedback::value::synth::SplitMix64;
use hark_bot::store::Store;
use hark_bot::value::{SIMPLE_MODEL_VERSION, ValueSettings, WebhookSettings};
use hark_tests::{AppOptions, Engine, TestApp, spawn_app, spawn_app_with};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

const SECRET: &str = "whsec_e2e_0123456789abcdef";

fn store(app: &TestApp) -> &Store {
    app.state.engine.store()
}

/// A live API key, created as `hark apikey add` does.
async fn api_key(app: &TestApp, name: &str) -> anyhow::Result<String> {
    let (key, hash) = hark_bot::apikey::generate();
    anyhow::ensure!(store(app).create_api_key(name, &hash).await?.is_some());
    Ok(key)
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = reqwest::Client::new().request(method, app.http_url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, json))
}

async fn post_purchases(app: &TestApp, key: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    call(
        app,
        reqwest::Method::POST,
        "/api/purchases",
        Some(key),
        Some(body.to_string()),
    )
    .await
}

fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() - time::Duration::days(days)).to_string()
}

#[tokio::test]
async fn purchases_are_stored_and_matched_by_external_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let key = api_key(&app, "shop").await?;
    let batch = json!([
        {"customer_id": "C1", "date": "2026-01-05", "amount": 40.5, "order_id": "o1"},
        {"customer_id": "C1", "date": "2026-02-05T10:00:00+01:00", "amount": 12, "order_id": "o2"},
        {"customer_id": 77, "date": "2026-03-01", "amount": 0}
    ]);
    let (status, body) = post_purchases(&app, &key, batch.clone()).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"inserted": 3, "skipped": 0, "new_customers": 2})
    );
    // The same orders again add nothing (a retried request is safe).
    let again = json!([batch[0], batch[1]]);
    let (status, body) = post_purchases(&app, &key, again).await?;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"inserted": 0, "skipped": 2, "new_customers": 0})
    );
    let stored = store(&app).purchases().await?;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().any(|p| p.customer == "77" && p.amount == 0.0));
    assert!(stored.iter().any(|p| p.occurred_on == "2026-02-05"));
    Ok(())
}

#[tokio::test]
async fn bad_purchases_and_bad_keys_are_refused_and_nothing_is_stored() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let key = api_key(&app, "shop").await?;
    let revoked = api_key(&app, "old").await?;
    store(&app).revoke_api_key("old").await?;
    let good = json!([{"customer_id": "C1", "date": "2026-01-05", "amount": 10}]).to_string();

    let post = reqwest::Method::POST;
    for credential in [None, Some("hark_wrong"), Some(revoked.as_str()), Some("")] {
        let (status, body) = call(
            &app,
            post.clone(),
            "/api/purchases",
            credential,
            Some(good.clone()),
        )
        .await?;
        assert_eq!(status, 401, "{credential:?}");
        assert_eq!(
            body,
            json!({"error": "unauthorized", "message": "unauthorized"})
        );
    }
    // A key in another scheme is not a bearer key.
    let response = reqwest::Client::new()
        .post(app.http_url("/api/purchases"))
        .header("authorization", format!("Basic {key}"))
        .body(good.clone())
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    for (body, expect) in [
        ("{not json", "invalid JSON body"),
        (r#"{"customer_id": "C1"}"#, "invalid JSON body"),
        ("[]", "no purchases"),
    ] {
        let (status, reply) = call(
            &app,
            post.clone(),
            "/api/purchases",
            Some(&key),
            Some(body.into()),
        )
        .await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(reply["error"], "bad_request");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{message}");
    }

    let batch = json!([
        {"customer_id": "C1", "date": "2026-01-05", "amount": 10},
        {"customer_id": "C2", "date": "2026-13-40", "amount": 10},
        {"customer_id": "C3", "date": "2026-01-05", "amount": -5},
        {"date": "2026-01-05", "amount": 1},
        {"customer_id": "C5", "date": "2026-01-05", "amount": "12"},
        {"customer_id": "C6", "date": "2026-01-05", "amount": 1, "coupon": "X"},
        "not an object"
    ]);
    let (status, reply) = post_purchases(&app, &key, batch).await?;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"], "invalid");
    let details = reply["details"].as_array().cloned().unwrap_or_default();
    let found: Vec<(i64, Option<String>)> = details
        .iter()
        .map(|d| {
            (
                d["index"].as_i64().unwrap_or(-1),
                d["field"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let field = |s: &str| Some(s.to_owned());
    assert_eq!(
        found,
        [
            (1, field("date")),
            (2, field("amount")),
            (3, field("customer_id")),
            (4, field("amount")),
            (5, field("coupon")),
            (6, None),
        ]
    );
    assert!(details[1]["problem"] == "amount is negative", "{details:?}");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was stored"))
    );
    // Nothing of any refused request was stored, not even the good row of the bad batch.
    assert!(store(&app).purchases().await?.is_empty());
    assert_eq!(
        store(&app).customer_by_external_id("C1").await?,
        None,
        "no customer was created"
    );
    Ok(())
}

/// Purchases of `customers` customers drawn from the CDNOW parameters (weeks), dated back from
/// today, as one API batch.
fn synthetic_purchases(customers: usize, seed: u64) -> Value {
    let mut rng = SplitMix64::new(seed);
    let mut rows = Vec::new();
    for id in 0..customers {
        let rate = rng.gamma(0.243, 1.0 / 4.414);
        let dropout = rng.beta(0.793, 2.426);
        let age_weeks = 10.0 + 42.0 * rng.uniform();
        let first = (age_weeks * 7.0) as i64;
        let mut row = |day: i64, rng: &mut SplitMix64| {
            rows.push(json!({
                "customer_id": format!("S{id}"),
                "date": days_ago(day),
                "amount": ((20.0 + 30.0 * rng.uniform()) * 100.0).round() / 100.0,
            }));
        };
        row(first, &mut rng);
        let mut at = 0.0;
        while rng.uniform() >= dropout {
            at += -(1.0 - rng.uniform()).ln() / rate.max(1e-9);
            if at >= age_weeks {
                break;
            }
            row(first - (at * 7.0) as i64, &mut rng);
        }
    }
    Value::Array(rows)
}

async fn scores_are_stored_with_the_model_version(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        demo_kb: false,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let key = api_key(&app, "shop").await?;
    let (status, body) = post_purchases(&app, &key, synthetic_purchases(300, 11)).await?;
    assert_eq!(status, 200, "{body}");

    let before = hark_bot::store::now_ms();
    let (status, report) = call(
        &app,
        reqwest::Method::POST,
        "/api/value/refresh",
        Some(&key),
        None,
    )
    .await?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["model_version"], feedback::value::MODEL_VERSION);
    assert_eq!(report["fallback_reason"], Value::Null);
    assert_eq!(report["customers"], 300);
    let at_risk = report["at_risk"].as_u64().unwrap_or_default();
    assert!((50..=120).contains(&at_risk), "{report}");

    let (status, score) = call(
        &app,
        reqwest::Method::GET,
        "/api/customers/by-external-id/S0/value",
        Some(&key),
        None,
    )
    .await?;
    assert_eq!(status, 200, "{score}");
    assert_eq!(score["model_version"], feedback::value::MODEL_VERSION);
    assert_eq!(score["external_id"], "S0");
    assert!(score["fitted_at"].as_i64().is_some_and(|t| t >= before));
    assert!(
        score["p_alive"]
            .as_f64()
            .is_some_and(|p| (0.0..=1.0).contains(&p))
    );
    assert!(
        score["churn_risk"]
            .as_f64()
            .is_some_and(|p| (0.0..=1.0).contains(&p))
    );
    assert!(score["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    let id = score["customer_id"].as_i64().unwrap_or_default();
    let (status, by_id) = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/customers/{id}/value"),
        Some(&key),
        None,
    )
    .await?;
    assert_eq!((status, &by_id), (200, &score));
    // The same read without a key is refused; an unknown customer is 404.
    let (status, _) = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/customers/{id}/value"),
        None,
        None,
    )
    .await?;
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        reqwest::Method::GET,
        "/api/customers/999999/value",
        Some(&key),
        None,
    )
    .await?;
    assert_eq!(status, 404);
    // The stored row, as the console will read it.
    let stored = store(&app)
        .customer_score(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no stored score"))?;
    assert_eq!(stored.model_version, feedback::value::MODEL_VERSION);
    Ok(())
}

#[tokio::test]
async fn refresh_stores_scores_with_the_model_version_on_sqlite() -> anyhow::Result<()> {
    scores_are_stored_with_the_model_version(Engine::Sqlite).await
}

#[tokio::test]
async fn refresh_stores_scores_with_the_model_version_on_postgres() -> anyhow::Result<()> {
    scores_are_stored_with_the_model_version(Engine::Postgres).await
}

/// A loopback webhook receiver that fails its first `fail_first` requests with 503 and then
/// verifies each signature as docs/api.md tells receivers to.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(u16, Value)>>>,
}

async fn receiver(fail_first: usize) -> anyhow::Result<Receiver> {
    use axum::http::{HeaderMap, StatusCode};
    let seen: Arc<Mutex<Vec<(u16, Value)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let log = Arc::clone(&log);
        async move {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            let status = if log.len() < fail_first {
                StatusCode::SERVICE_UNAVAILABLE
            } else if verify(&headers, &body) {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.push((status.as_u16(), json));
            status
        }
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Receiver { url, seen })
}

/// The receiver's side of the recipe: HMAC-SHA256 over "<timestamp>.<body>", constant-time
/// comparison, and a five-minute window against replays.
fn verify(headers: &axum::http::HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) =
        (header("x-hark-timestamp"), header("x-hark-signature"))
    else {
        return false;
    };
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (now - sent_at).abs() > 300 {
        return false;
    }
    let Some(hex_sig) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn outreach_settings(url: &str, at_risk_share: f64) -> ValueSettings {
    let mut hook = WebhookSettings::new(url.to_owned(), SECRET.to_owned());
    hook.first_retry = Duration::from_millis(50);
    hook.max_attempts = 4;
    ValueSettings {
        refresh_every: None,
        at_risk_share,
        webhook: Some(hook),
        ..ValueSettings::default()
    }
}

/// Three regular buyers and `lapsed` one-time buyers from long ago.
fn small_shop(lapsed: &[&str]) -> Value {
    let mut rows = Vec::new();
    for regular in ["R1", "R2", "R3"] {
        for day in [70, 49, 28, 7] {
            rows.push(json!({"customer_id": regular, "date": days_ago(day), "amount": 30}));
        }
    }
    for (i, id) in lapsed.iter().enumerate() {
        rows.push(json!({"customer_id": id, "date": days_ago(280 + i as i64), "amount": 90}));
    }
    Value::Array(rows)
}

async fn refresh(app: &TestApp, key: &str) -> anyhow::Result<Value> {
    let (status, report) = call(
        app,
        reqwest::Method::POST,
        "/api/value/refresh",
        Some(key),
        None,
    )
    .await?;
    anyhow::ensure!(status == 200, "refresh: {status} {report}");
    Ok(report)
}

#[tokio::test]
async fn an_at_risk_customer_gets_one_task_and_a_signed_webhook_retried_until_delivered()
-> anyhow::Result<()> {
    let hook = receiver(1).await?;
    let Some(app) = spawn_app_with(AppOptions {
        value: outreach_settings(&hook.url, 0.25),
        ..AppOptions::default()
    })
    .await?
    else {
        anyhow::bail!("SQLite is always available");
    };
    let key = api_key(&app, "shop").await?;
    let (status, _) = post_purchases(&app, &key, small_shop(&["L1"])).await?;
    assert_eq!(status, 200);
    let lapsed = store(&app)
        .customer_by_external_id("L1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("L1 not stored"))?;

    let report = refresh(&app, &key).await?;
    // Four customers: too few for BG/NBD, scored by the simple model with the reason recorded.
    assert_eq!(report["model_version"], SIMPLE_MODEL_VERSION);
    assert!(
        report["fallback_reason"]
            .as_str()
            .is_some_and(|r| r.contains("4 customers")),
        "{report}"
    );
    assert_eq!(report["newly_at_risk"], json!([lapsed]));
    assert_eq!(report["tasks_created"], 1);
    assert_eq!(report["messages_sent"], 0, "no consent, no message");
    assert_eq!(
        report["webhook_deliveries"][0]["delivered"], true,
        "{report}"
    );
    assert_eq!(report["webhook_deliveries"][0]["attempts"], 2);

    let tasks = store(&app).customer_tasks(lapsed).await?;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, "at_risk_outreach");
    let detail: Value = serde_json::from_str(&tasks[0].detail)?;
    assert_eq!(detail["reasons"][0], "no purchase for 40 weeks");

    // The receiver: a 503 first, then a delivery whose signature verified.
    let seen = hook.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [503, 200]);
    assert_eq!(seen[1].1["event"], "customers.at_risk");
    assert_eq!(seen[1].1["customers"][0]["external_id"], "L1");
    assert_eq!(seen[1].1["customers"][0]["task_id"], tasks[0].id);
    // Every attempt is recorded, under one delivery id.
    let attempts = store(&app).webhook_attempts().await?;
    let recorded: Vec<(i64, &str, Option<i64>)> = attempts
        .iter()
        .map(|a| (a.attempt, a.status.as_str(), a.response_code))
        .collect();
    assert_eq!(
        recorded,
        [(1, "retrying", Some(503)), (2, "delivered", Some(200))]
    );
    assert_eq!(attempts[0].delivery_id, attempts[1].delivery_id);

    // Still at risk on the next run: no second task, no second webhook.
    let report = refresh(&app, &key).await?;
    assert_eq!(report["newly_at_risk"], json!([]));
    assert_eq!(store(&app).customer_tasks(lapsed).await?.len(), 1);
    assert_eq!(store(&app).webhook_attempts().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_webhook_with_the_wrong_secret_is_refused_and_not_retried() -> anyhow::Result<()> {
    let hook = receiver(0).await?;
    let mut settings = outreach_settings(&hook.url, 0.25);
    if let Some(h) = settings.webhook.as_mut() {
        h.secret = "another_secret_0123456789".into();
    }
    let Some(app) = spawn_app_with(AppOptions {
        value: settings,
        ..AppOptions::default()
    })
    .await?
    else {
        anyhow::bail!("SQLite is always available");
    };
    let key = api_key(&app, "shop").await?;
    post_purchases(&app, &key, small_shop(&["L1"])).await?;
    let report = refresh(&app, &key).await?;
    assert_eq!(report["webhook_deliveries"][0]["delivered"], false);
    let attempts = store(&app).webhook_attempts().await?;
    assert_eq!(attempts.len(), 1, "a 401 is final");
    assert_eq!(
        (attempts[0].status.as_str(), attempts[0].response_code),
        ("failed", Some(401))
    );
    Ok(())
}

#[tokio::test]
async fn proactive_messages_only_with_consent_and_churn_reads_the_conversations_on_sqlite()
-> anyhow::Result<()> {
    outreach_with_consent_and_signals(Engine::Sqlite).await
}

#[tokio::test]
async fn proactive_messages_only_with_consent_and_churn_reads_the_conversations_on_postgres()
-> anyhow::Result<()> {
    outreach_with_consent_and_signals(Engine::Postgres).await
}

/// Stores an NPS answer as the survey feature does (its API is another issue's).
async fn nps_answer(app: &TestApp, customer_id: i64, score: i64) -> anyhow::Result<()> {
    let sql = "INSERT INTO survey_responses (kind, customer_id, channel, score, created_at) \
               VALUES ('nps', $1, 'web', $2, $3)";
    let now = hark_bot::store::now_ms();
    if app.db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await?;
        sqlx::query(sql)
            .bind(customer_id)
            .bind(score)
            .bind(now)
            .execute(&pool)
            .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&app.db.url).await?;
        sqlx::query(sql)
            .bind(customer_id)
            .bind(score)
            .bind(now)
            .execute(&pool)
            .await?;
        pool.close().await;
    }
    Ok(())
}

async fn outreach_with_consent_and_signals(engine: Engine) -> anyhow::Result<()> {
    let hook = receiver(0).await?;
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        value: outreach_settings(&hook.url, 0.5),
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let key = api_key(&app, "shop").await?;

    // Two chat visitors; the first is unhappy in chat and asks for a person.
    let mut unhappy = app.widget().await?;
    let welcome = unhappy.hello(None, None).await?;
    let unhappy_conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
    unhappy
        .ask(
            "m1",
            "This is terrible, my order is broken and I am very angry",
        )
        .await?;
    // So upset that the policy already fetched a person; asking again changes nothing.
    unhappy
        .send_json(
            json!({"type": "message", "client_id": "m2", "text": "I want to talk to a person"}),
        )
        .await?;
    unhappy.recv_until("ack").await?;
    // The third consents too but waits for a person: the bot stays silent there.
    let mut queued = app.widget().await?;
    let welcome = queued.hello(None, None).await?;
    let queued_conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
    queued.ask("q1", "I want to talk to a person").await?;
    let queued_id = store(&app)
        .conversation(queued_conversation)
        .await?
        .customer_id;
    let mut willing = app.widget().await?;
    let welcome = willing.hello(None, None).await?;
    let willing_conversation = welcome["conversation_id"].as_i64().unwrap_or_default();
    let unhappy_id = store(&app)
        .conversation(unhappy_conversation)
        .await?
        .customer_id;
    let willing_id = store(&app)
        .conversation(willing_conversation)
        .await?
        .customer_id;
    nps_answer(&app, unhappy_id, 3).await?;
    nps_answer(&app, willing_id, 9).await?;

    // The shop's purchases arrive first; then the shop says who the visitors are.
    post_purchases(&app, &key, small_shop(&["L1", "L2", "L3"])).await?;
    for (id, external) in [(unhappy_id, "L1"), (willing_id, "L2"), (queued_id, "L3")] {
        let (status, body) = call(
            &app,
            reqwest::Method::PUT,
            &format!("/api/customers/{id}/external-id"),
            Some(&key),
            Some(json!({"external_id": external}).to_string()),
        )
        .await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["link"]["merged"]["purchases_moved"], 1, "{body}");
    }
    // Another chat customer cannot take an id a chat customer holds.
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        &format!("/api/customers/{willing_id}/external-id"),
        Some(&key),
        Some(json!({"external_id": "L1"}).to_string()),
    )
    .await?;
    assert_eq!(status, 409);
    // The unhappy one does not consent.
    for id in [willing_id, queued_id] {
        let (status, body) = call(
            &app,
            reqwest::Method::PUT,
            &format!("/api/customers/{id}/consent"),
            Some(&key),
            Some(json!({"consent": true}).to_string()),
        )
        .await?;
        assert_eq!((status, &body["may_contact"]), (200, &json!(true)));
    }
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        "/api/customers/999999/consent",
        Some(&key),
        Some(json!({"consent": true}).to_string()),
    )
    .await?;
    assert_eq!(status, 404);

    let report = refresh(&app, &key).await?;
    let mut newly: Vec<i64> = serde_json::from_value(report["newly_at_risk"].clone())?;
    newly.sort_unstable();
    let mut expected = vec![unhappy_id, willing_id, queued_id];
    expected.sort_unstable();
    assert_eq!(newly, expected, "{report}");
    assert_eq!(report["messages_sent"], 1);

    // The consenting customer sees the message live on their open widget.
    let frames = willing.recv_until("message").await?;
    let message = frames.last().cloned().unwrap_or_default();
    assert_eq!(message["author"], "bot");
    assert!(
        message["text"]
            .as_str()
            .is_some_and(|t| t.contains("Is there anything we can help you with?"))
    );
    // The others got nothing stored; all three have their task.
    for conversation in [unhappy_conversation, queued_conversation] {
        let stored = store(&app).messages_after(conversation, 0).await?;
        assert!(
            stored
                .iter()
                .all(|m| m.meta.outcome.as_deref() != Some("proactive_outreach"))
        );
    }
    for id in [unhappy_id, willing_id, queued_id] {
        assert_eq!(store(&app).customer_tasks(id).await?.len(), 1);
    }

    // Churn risk read the unhappy conversation.
    let (_, score) = call(
        &app,
        reqwest::Method::GET,
        "/api/customers/by-external-id/L1/value",
        Some(&key),
        None,
    )
    .await?;
    let reasons: Vec<String> = serde_json::from_value(score["reasons"].clone())?;
    for expected in [
        "one negative conversation this month",
        "NPS detractor",
        "one escalation",
        "one unresolved contact",
    ] {
        assert!(
            reasons.contains(&expected.to_owned()),
            "{expected}: {reasons:?}"
        );
    }
    let (_, score) = call(
        &app,
        reqwest::Method::GET,
        "/api/customers/by-external-id/L2/value",
        Some(&key),
        None,
    )
    .await?;
    let reasons: Vec<String> = serde_json::from_value(score["reasons"].clone())?;
    assert_eq!(
        reasons,
        ["no purchase for 40 weeks", "no repeat purchase yet"]
    );
    Ok(())
}

#[tokio::test]
async fn scores_are_recomputed_on_a_schedule() -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        value: ValueSettings {
            refresh_every: Some(Duration::from_millis(300)),
            ..ValueSettings::default()
        },
        demo_kb: false,
        ..AppOptions::default()
    })
    .await?
    else {
        anyhow::bail!("SQLite is always available");
    };
    let key = api_key(&app, "shop").await?;
    let (status, _) = post_purchases(&app, &key, small_shop(&["L1"])).await?;
    assert_eq!(status, 200);
    let lapsed = store(&app)
        .customer_by_external_id("L1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("L1 not stored"))?;
    // Nobody asked for a refresh: the schedule stores the scores.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let first = loop {
        if let Some(score) = store(&app).customer_score(lapsed).await? {
            break score;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no scheduled refresh"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(first.model_version, SIMPLE_MODEL_VERSION);
    assert!(first.at_risk);
    // And again on the next period, with a later fit time; still one task.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = store(&app).customer_score(lapsed).await?;
        if now.as_ref().is_some_and(|s| s.fitted_at > first.fitted_at) {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no second run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store(&app).customer_tasks(lapsed).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_webhook_is_retried_with_backoff_and_every_attempt_recorded()
-> anyhow::Result<()> {
    // A port nobody listens on: bind, note it, close it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?;
    let mut settings = outreach_settings(&format!("http://{closed}/hook"), 0.25);
    if let Some(h) = settings.webhook.as_mut() {
        h.max_attempts = 3;
    }
    let Some(app) = spawn_app_with(AppOptions {
        value: settings,
        ..AppOptions::default()
    })
    .await?
    else {
        anyhow::bail!("SQLite is always available");
    };
    let key = api_key(&app, "shop").await?;
    post_purchases(&app, &key, small_shop(&["L1"])).await?;
    let started = tokio::time::Instant::now();
    let report = refresh(&app, &key).await?;
    // Waits of 50 ms and 100 ms between the three attempts.
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(report["webhook_deliveries"][0]["delivered"], false);
    assert_eq!(report["webhook_deliveries"][0]["attempts"], 3);
    // The refresh itself succeeded: scores and the task are stored regardless.
    assert_eq!(report["tasks_created"], 1);
    let attempts = store(&app).webhook_attempts().await?;
    let recorded: Vec<(i64, &str, Option<i64>, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.status.as_str(),
                a.response_code,
                a.error.is_some(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            (1, "retrying", None, true),
            (2, "retrying", None, true),
            (3, "failed", None, true)
        ]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.delivery_id == attempts[0].delivery_id)
    );
    Ok(())
}
