//! The owners' dashboard end to end: CSAT and NPS answers come in through the widget over a
//! real websocket (three customers rate their resolved conversation and then answer the NPS
//! question with a reason), seven more NPS answers through the domain `Surveys` API (customers
//! without a conversation, as the NPS schedule would ask them), value scores through the store;
//! then the owner reads `/api/reports/*` and every figure must be exactly what the worked
//! example below says. On SQLite and PostgreSQL.

use std::sync::Arc;

use feedback::sentiment::Analyzer;
use hark_bot::reports::summary::SummarySettings;
use hark_bot::store::{Channel, CustomerScore, Role, Segment, Store, SurveyKind};
use hark_bot::surveys::{Answer, Comment, Score, Surveys};
use hark_bot::value::WebhookSettings;
use hark_tests::console::ConsoleClient;
use hark_tests::{AppOptions, Engine, TestApp, spawn_app_with};
use serde_json::{Value, json};

const PASSWORD: &str = "a long password";

fn close(got: &Value, expected: f64) -> bool {
    got.as_f64().is_some_and(|v| (v - expected).abs() < 1e-6)
}

macro_rules! assert_close {
    ($got:expr, $expected:expr) => {{
        let got = &$got;
        assert!(
            close(got, $expected),
            "{} = {got}, expected {}",
            stringify!($got),
            $expected
        );
    }};
}

/// A widget customer who asks `first` (and, unless it already did, for a person), is resolved
/// by `agent`, rates the conversation `csat` with `comment`, then answers the NPS question that
/// follows with `nps` and `reason`, all through the widget.
async fn widget_customer_rates(
    app: &TestApp,
    agent: &hark_bot::engine::Agent,
    first: &str,
    (csat, comment): (i64, Option<&str>),
    (nps, reason): (i64, Option<&str>),
) -> anyhow::Result<(i64, i64)> {
    let engine = &app.state.engine;
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    customer.ask("r1", first).await?;
    if engine.store().conversation(conversation_id).await?.state
        == hark_bot::store::ConversationState::Bot
    {
        customer.ask("r2", "I want to talk to a person").await?;
    }
    engine.claim(conversation_id, agent).await?;
    engine.resolve(conversation_id, agent).await?;
    customer.recv_until("survey").await?;
    let mut frame = json!({"type": "csat", "score": csat});
    if let Some(text) = comment {
        frame["comment"] = json!(text);
    }
    customer.send_json(frame).await?;
    customer.recv_until("survey_thanks").await?;
    let question = customer.recv_until("survey").await?;
    let question = question.last().cloned().unwrap_or_default();
    anyhow::ensure!(question["kind"] == "nps", "{question}");
    let ask = question["ask_id"].clone();
    customer
        .send_json(json!({"type": "nps", "ask_id": ask, "score": nps}))
        .await?;
    customer.recv_until("survey_reason").await?;
    customer
        .send_json(json!({"type": "nps_reason", "ask_id": ask, "reason": reason}))
        .await?;
    customer.recv_until("survey_thanks").await?;
    customer.close().await?;
    let customer_id = engine
        .store()
        .conversation(conversation_id)
        .await?
        .customer_id;
    Ok((customer_id, conversation_id))
}

fn score(customer_id: i64, segment: Segment, clv: f64, at_risk: bool) -> CustomerScore {
    CustomerScore {
        customer_id,
        model_version: "test".into(),
        fitted_at: 0,
        scored_at: 0,
        p_alive: None,
        expected_purchases: None,
        clv: Some(clv),
        segment,
        churn_risk: if at_risk { 0.9 } else { 0.1 },
        at_risk,
        reasons: if at_risk {
            vec!["no purchase for 200 days".into()]
        } else {
            vec![]
        },
    }
}

async fn nps(
    surveys: &Surveys,
    customer_id: i64,
    conversation_id: Option<i64>,
    channel: Channel,
    value: i64,
    comment: Option<&str>,
) -> anyhow::Result<()> {
    surveys
        .record(Answer {
            customer_id,
            conversation_id,
            channel,
            score: Score::parse(SurveyKind::Nps, value)?,
            comment: comment.map(Comment::parse).transpose()?,
        })
        .await?;
    Ok(())
}

/// The worked example: 10 NPS answers (5 promoters, 3 passives, 2 detractors: +30) and 3 CSAT
/// answers (5, 4, 2: two of three satisfied).
async fn dashboard_numbers_are_exact(engine: Engine) -> anyhow::Result<()> {
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let (alex_staff, alex) = app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    app.add_staff(Role::Owner, "Olive Owner", PASSWORD).await?;
    let store: Store = app.state.engine.store().clone();

    // Three customers through the widget; the first asks about delivery first, so the bot
    // answers with an article (the topic).
    let (w1, c1) = widget_customer_rates(
        &app,
        &alex,
        "how long does delivery take?",
        (5, Some("quick and friendly")),
        (10, Some("Lovely tea, fast help")),
    )
    .await?;
    let (w2, _) = widget_customer_rates(
        &app,
        &alex,
        "I want to talk to a person",
        (4, None),
        (9, None),
    )
    .await?;
    let (w3, _) = widget_customer_rates(
        &app,
        &alex,
        "I want to talk to a person",
        (2, Some("=too slow, again")),
        (3, Some("Parcel was late twice")),
    )
    .await?;
    let article = store
        .messages_after(c1, 0)
        .await?
        .into_iter()
        .find_map(|m| m.article_id)
        .ok_or_else(|| anyhow::anyhow!("the bot answered the delivery question with no article"))?;

    // Seven more customers, NPS only.
    let mut others = Vec::new();
    for (i, channel) in [
        Channel::Web,
        Channel::Telegram,
        Channel::Web,
        Channel::Web,
        Channel::Telegram,
        Channel::Web,
        Channel::Web,
    ]
    .into_iter()
    .enumerate()
    {
        others.push((
            store.create_customer(channel, &format!("x{i}")).await?,
            channel,
        ));
    }
    let surveys = Surveys::new(store.clone(), Arc::new(Analyzer::new()));
    let [x4, x5, x6, x7, x8, x9, x10] = [0, 1, 2, 3, 4, 5, 6].map(|i| others[i]);
    nps(&surveys, x4.0, None, x4.1, 9, None).await?;
    nps(&surveys, x5.0, None, x5.1, 10, None).await?;
    nps(&surveys, x6.0, None, x6.1, 7, None).await?;
    nps(&surveys, x7.0, None, x7.1, 8, None).await?;
    nps(&surveys, x8.0, None, x8.1, 8, None).await?;
    nps(&surveys, x9.0, None, x9.1, 6, None).await?;
    nps(&surveys, x10.0, None, x10.1, 9, None).await?;
    store
        .upsert_customer_scores(&[
            score(w1, Segment::High, 1000.0, false),
            score(w2, Segment::Mid, 500.0, false),
            score(w3, Segment::Low, 200.0, true),
            score(x4.0, Segment::Low, 100.0, false),
            score(x6.0, Segment::Mid, 300.0, true),
            score(x8.0, Segment::Low, 50.0, false),
            score(x9.0, Segment::Mid, 400.0, false),
            score(x10.0, Segment::Low, 250.0, false),
        ])
        .await?;

    let mut owner = ConsoleClient::new(&app);
    let (status, _) = owner.login("olive.owner@example.com", PASSWORD).await?;
    assert_eq!(status, 200);
    let (status, d) = owner.get("/api/reports/dashboard?days=7").await?;
    assert_eq!(status, 200, "{d}");

    // NPS +30 with the adjusted Wald interval (reference values in feedback::stats' tests).
    assert_eq!(
        (
            &d["nps"]["promoters"],
            &d["nps"]["passives"],
            &d["nps"]["detractors"]
        ),
        (&json!(5), &json!(3), &json!(2))
    );
    assert_close!(d["nps"]["nps"], 30.0);
    assert_close!(d["nps"]["ci95"]["low"], -19.050615);
    assert!((d["nps"]["ci95"]["high"].as_f64().unwrap_or_default() - 65.204462).abs() < 1e-5);
    // CSAT 5, 4, 2: Wilson interval of 2/3 from statsmodels 0.15
    // (proportion_confint(2, 3, method="wilson")).
    assert_eq!(
        (&d["csat"]["responses"], &d["csat"]["satisfied"]),
        (&json!(3), &json!(2))
    );
    assert_close!(d["csat"]["share_satisfied"], 2.0 / 3.0);
    assert_close!(d["csat"]["ci95"]["low"], 0.207659601);
    assert_close!(d["csat"]["ci95"]["high"], 0.938508055);
    assert_close!(d["csat"]["mean"], 11.0 / 3.0);
    // Value-weighted: (1000 + 500 + 100 + 250 − 200 − 400) / 2800 → +44.642857; two answers
    // come from customers without a CLV.
    assert_close!(d["value_weighted_nps"]["nps"], 125000.0 / 2800.0);
    assert_eq!(d["value_weighted_nps"]["answers_weighted"], 8);
    assert_eq!(d["value_weighted_nps"]["answers_without_clv"], 2);
    // At risk: w3 (200, at risk and a detractor), x6 (300, at risk), x9 (400, detractor).
    let r = &d["revenue_at_risk"];
    assert_close!(r["total_clv"], 900.0);
    assert_eq!(
        (&r["customers"], &r["detractors"], &r["at_risk"], &r["both"]),
        (&json!(3), &json!(2), &json!(2), &json!(1))
    );
    // Service: three conversations, each handed to a person and resolved.
    assert_eq!(d["service"]["conversations"], 3);
    assert_close!(d["service"]["handoff_rate"], 1.0);
    assert_close!(d["service"]["bot_resolution_rate"], 0.0);
    assert_eq!(d["service"]["resolution_seconds"]["count"], 3);

    // Every answer is in one trend bucket (today's week).
    let trend = d["trend"].as_array().cloned().unwrap_or_default();
    let total: u64 = trend
        .iter()
        .filter_map(|t| t["nps"]["responses"].as_u64())
        .sum();
    assert_eq!(total, 10);
    assert_close!(
        trend
            .last()
            .map_or(Value::Null, |t| t["nps"]["nps"].clone()),
        30.0
    );

    let group = |by: &str, key: &str| -> Value {
        d["breakdowns"][by]
            .as_array()
            .and_then(|g| g.iter().find(|g| g["key"] == key).cloned())
            .unwrap_or(Value::Null)
    };
    // Telegram: 10 and 8 → +50. Web: 4 promoters, 2 passives, 2 detractors → +25.
    assert_close!(group("channel", "telegram")["nps"]["nps"], 50.0);
    assert_close!(group("channel", "web")["nps"]["nps"], 25.0);
    assert_eq!(group("channel", "web")["csat"]["responses"], 3);
    // Alex: NPS 10, 9, 3 → +33.3; all three CSAT answers.
    let alex_group = group("agent", &format!("staff:{}", alex_staff.id));
    assert_eq!(alex_group["label"], "Alex Kim");
    assert_close!(alex_group["nps"]["nps"], 100.0 / 3.0);
    assert_eq!(alex_group["csat"]["responses"], 3);
    // No conversation: 3 promoters, 3 passives, 1 detractor → +28.571429.
    assert_close!(group("agent", "none")["nps"]["nps"], 200.0 / 7.0);
    assert_close!(group("segment", "high")["csat"]["share_satisfied"], 1.0);
    assert_eq!(group("segment", "unscored")["nps"]["responses"], 2);
    let topic = group("topic", &article);
    assert_close!(topic["nps"]["nps"], 100.0);
    assert_eq!(topic["csat"]["responses"], 1);
    assert_eq!(group("topic", "no_article")["nps"]["responses"], 2);

    // Comments with their sentiment, newest first.
    assert_eq!(d["comments_total"], 4);
    let comments = d["comments"].as_array().cloned().unwrap_or_default();
    let late = comments
        .iter()
        .find(|c| c["comment"] == "Parcel was late twice")
        .cloned()
        .unwrap_or_default();
    assert_eq!((&late["kind"], &late["score"]), (&json!("nps"), &json!(3)));
    assert!(late["sentiment"].is_number(), "{late}");
    let (_, page) = owner.get("/api/reports/comments?days=7&kind=csat").await?;
    assert_eq!(page["total"], 2);

    // The customers table: sorted by CLV, filtered, paged.
    let (_, page) = owner.get("/api/reports/customers?limit=3").await?;
    assert_eq!(page["total"], 8);
    let ids: Vec<i64> = page["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["customer_id"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, vec![w1, w2, x9.0]);
    let (_, page) = owner
        .get("/api/reports/customers?at_risk=true&sort=churn_risk&order=asc")
        .await?;
    assert_eq!(page["total"], 2);
    assert_eq!(page["rows"][0]["reasons"][0], "no purchase for 200 days");
    let (_, page) = owner.get("/api/reports/customers?segment=high").await?;
    assert_eq!(page["rows"][0]["latest_nps"], 10);

    // CSV: a file per table, formulas neutralised, numbers left as numbers.
    let http = reqwest::Client::new();
    let csv = |path: &str| {
        let request = http
            .get(app.http_url(path))
            .header("cookie", owner.cookie.clone().unwrap_or_default());
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            anyhow::Ok((status, kind, response.text().await?))
        }
    };
    let (status, kind, body) = csv("/api/reports/csv/comments?days=7").await?;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(body.contains(",\"'=too slow, again\","), "{body}");
    let (_, _, body) = csv("/api/reports/csv/channels?days=7").await?;
    assert!(body.contains("\r\ntelegram,telegram,2,1,1,0,50,"), "{body}");
    for table in ["trend", "segments", "agents", "topics", "customers"] {
        let query = if table == "customers" {
            ""
        } else {
            "?days=7&bucket=month"
        };
        let (status, _, body) = csv(&format!("/api/reports/csv/{table}{query}")).await?;
        assert_eq!(status, 200, "{table}: {body}");
        assert!(body.lines().count() >= 2, "{table}: {body}");
    }
    let (status, _, body) = csv("/api/reports/csv/customers?at_risk=true").await?;
    assert_eq!(status, 200);
    assert_eq!(body.lines().count(), 3, "{body}");
    let (status, _, _) = csv("/api/reports/csv/secrets").await?;
    assert_eq!(status, 404);

    // Bad parameters: a clear 400 each, nothing else changes.
    for (path, words) in [
        ("/api/reports/dashboard?days=0", "days must be"),
        (
            "/api/reports/dashboard?bucket=year",
            "bucket must be week or month",
        ),
        (
            "/api/reports/dashboard?from=2026-02-30",
            "from must be a date",
        ),
        (
            "/api/reports/dashboard?colour=red",
            "unknown parameter colour",
        ),
        ("/api/reports/customers?limit=100000", "limit must be"),
        ("/api/reports/customers?sort=mood", "sort must be"),
        ("/api/reports/comments?kind=chat", "kind must be"),
    ] {
        let (status, body) = owner.get(path).await?;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains(words),
            "{path}: {body}"
        );
    }
    let (_, again) = owner.get("/api/reports/dashboard?days=7").await?;
    assert_eq!(again["nps"], d["nps"]);

    // Owners only.
    let mut agent = ConsoleClient::new(&app);
    agent.login("alex.kim@example.com", PASSWORD).await?;
    let (status, _) = agent.get("/api/reports/dashboard").await?;
    assert_eq!(status, 403);
    let (status, _) = ConsoleClient::new(&app)
        .get("/api/reports/customers")
        .await?;
    assert_eq!(status, 401);
    Ok(())
}

#[tokio::test]
async fn dashboard_numbers_are_exact_on_sqlite() -> anyhow::Result<()> {
    dashboard_numbers_are_exact(Engine::Sqlite).await
}

#[tokio::test]
async fn dashboard_numbers_are_exact_on_postgres() -> anyhow::Result<()> {
    dashboard_numbers_are_exact(Engine::Postgres).await
}

const SECRET: &str = "whsec_weekly_summary_test";

/// A loopback receiver that checks each delivery's signature as docs/api.md tells receivers
/// to, answering 200 when it verifies and 401 when not; it keeps every body it got.
async fn receiver() -> anyhow::Result<(String, Arc<std::sync::Mutex<Vec<(u16, Value)>>>)> {
    use axum::http::{HeaderMap, StatusCode};
    use hmac::{KeyInit, Mac};
    let seen: Arc<std::sync::Mutex<Vec<(u16, Value)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let log = Arc::clone(&log);
        async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let verified = (|| {
                let timestamp = header("x-hark-timestamp")?;
                let sent_at: i64 = timestamp.parse().ok()?;
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                if (now - sent_at).abs() > 300 {
                    return None;
                }
                let expected =
                    hex::decode(header("x-hark-signature")?.strip_prefix("sha256=")?).ok()?;
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).ok()?;
                mac.update(timestamp.as_bytes());
                mac.update(b".");
                mac.update(&body);
                mac.verify_slice(&expected).ok()
            })()
            .is_some()
                && header("x-hark-event") == Some("reports.weekly_summary");
            let status = if verified {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((status.as_u16(), json));
            status
        }
    };
    let router = axum::Router::new().route("/hook", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, seen))
}

fn summary_settings(url: &str, every: Option<std::time::Duration>) -> SummarySettings {
    let mut hook = WebhookSettings::new(url.to_owned(), SECRET.to_owned());
    hook.first_retry = std::time::Duration::from_millis(50);
    SummarySettings {
        every,
        webhook: Some(hook),
    }
}

#[tokio::test]
async fn the_weekly_summary_goes_out_signed_and_recorded_when_an_owner_asks() -> anyhow::Result<()>
{
    weekly_summary_on_demand(Engine::Sqlite).await
}

#[tokio::test]
async fn the_weekly_summary_goes_out_signed_and_recorded_on_postgres() -> anyhow::Result<()> {
    weekly_summary_on_demand(Engine::Postgres).await
}

async fn weekly_summary_on_demand(engine: Engine) -> anyhow::Result<()> {
    let (url, seen) = receiver().await?;
    let Some(app) = spawn_app_with(AppOptions {
        engine,
        summary: summary_settings(&url, None),
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    app.add_staff(Role::Owner, "Olive Owner", PASSWORD).await?;
    app.add_staff(Role::Agent, "Alex Kim", PASSWORD).await?;
    let store = app.state.engine.store().clone();

    // A customer asks something the shop's knowledge base does not cover, twice.
    let mut customer = app.widget().await?;
    customer.hello(None, None).await?;
    customer.ask("u1", "do you repair bicycles?").await?;
    customer.ask("u2", "can you fix my bicycle?").await?;
    customer.close().await?;
    // NPS: 10, 9 and 2 → +33.3; the detractor is worth 700 and also at risk.
    let surveys = Surveys::new(store.clone(), Arc::new(Analyzer::new()));
    let mut customers = Vec::new();
    for (i, value) in [10, 9, 2].into_iter().enumerate() {
        let id = store
            .create_customer(Channel::Web, &format!("s{i}"))
            .await?;
        nps(&surveys, id, None, Channel::Web, value, None).await?;
        customers.push(id);
    }
    store
        .upsert_customer_scores(&[
            score(customers[0], Segment::High, 900.0, false),
            score(customers[2], Segment::Mid, 700.0, true),
        ])
        .await?;

    let mut owner = ConsoleClient::new(&app);
    owner.login("olive.owner@example.com", PASSWORD).await?;
    let (status, sent) = owner.post("/api/reports/weekly-summary", json!({})).await?;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        (&sent["delivered"], &sent["attempts"]),
        (&json!(true), &json!(1))
    );

    let got = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(got.len(), 1);
    let (code, body) = &got[0];
    assert_eq!(*code, 200, "the receiver verified the signature");
    assert_eq!(body["event"], "reports.weekly_summary");
    assert_eq!(body["delivery_id"], sent["delivery_id"]);
    assert_close!(body["nps"]["nps"], 100.0 / 3.0);
    assert_eq!(body["nps"]["responses"], 3);
    assert_eq!(body["csat"]["responses"], 0);
    assert_eq!(body["at_risk_total"], 1);
    assert_eq!(body["at_risk_customers"][0]["customer_id"], customers[2]);
    assert_eq!(
        body["at_risk_customers"][0]["reasons"][0],
        "no purchase for 200 days"
    );
    assert_close!(body["revenue_at_risk"]["total_clv"], 700.0);
    let unanswered = body["top_unanswered"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let asked: u64 = unanswered.iter().filter_map(|g| g["count"].as_u64()).sum();
    assert_eq!(asked, 2, "{unanswered:?}");

    // The delivery is on record.
    let attempts: Vec<_> = store
        .webhook_attempts()
        .await?
        .into_iter()
        .filter(|a| a.event == "reports.weekly_summary")
        .collect();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, "delivered");
    assert_eq!(
        attempts[0].delivery_id,
        sent["delivery_id"].as_str().unwrap_or_default()
    );

    // Owners only, with the CSRF token.
    let mut agent = ConsoleClient::new(&app);
    agent.login("alex.kim@example.com", PASSWORD).await?;
    let (status, _) = agent.post("/api/reports/weekly-summary", json!({})).await?;
    assert_eq!(status, 403);
    owner.csrf = Some("wrong".into());
    let (status, body) = owner.post("/api/reports/weekly-summary", json!({})).await?;
    assert_eq!((status.as_u16(), &body["error"]), (403, &json!("csrf")));
    assert_eq!(seen.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    Ok(())
}

#[tokio::test]
async fn without_a_webhook_the_summary_is_not_configured() -> anyhow::Result<()> {
    let app = hark_tests::spawn_app().await?;
    app.add_staff(Role::Owner, "Olive Owner", PASSWORD).await?;
    let mut owner = ConsoleClient::new(&app);
    owner.login("olive.owner@example.com", PASSWORD).await?;
    let (status, body) = owner.post("/api/reports/weekly-summary", json!({})).await?;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (409, &json!("not_configured"))
    );
    Ok(())
}

#[tokio::test]
async fn the_weekly_summary_goes_out_on_its_schedule() -> anyhow::Result<()> {
    let (url, seen) = receiver().await?;
    let Some(app) = spawn_app_with(AppOptions {
        summary: summary_settings(&url, Some(std::time::Duration::from_millis(400))),
        ..AppOptions::default()
    })
    .await?
    else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.lock().unwrap_or_else(|p| p.into_inner()).len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no scheduled summaries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        got.iter()
            .all(|(code, body)| *code == 200 && body["event"] == "reports.weekly_summary")
    );
    let recorded = app
        .state
        .engine
        .store()
        .webhook_attempts()
        .await?
        .into_iter()
        .filter(|a| a.event == "reports.weekly_summary" && a.status == "delivered")
        .count();
    assert!(recorded >= 2, "{recorded}");
    Ok(())
}
