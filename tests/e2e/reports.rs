//! The owners' dashboard end to end: CSAT answers come in through the widget over a real
//! websocket, NPS answers through the domain `Surveys` API (the widget's NPS question belongs to
//! another change), value scores through the store; then the owner reads `/api/reports/*` and
//! every figure must be exactly what the worked example below says. On SQLite and PostgreSQL.

use std::sync::Arc;

use feedback::sentiment::Analyzer;
use hark_bot::store::{Channel, CustomerScore, Role, Segment, Store, SurveyKind};
use hark_bot::surveys::{Answer, Comment, Score, Surveys};
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
/// by `agent`, and rates the conversation `csat` with `comment` through the widget.
async fn widget_customer_rates(
    app: &TestApp,
    agent: &hark_bot::engine::Agent,
    first: &str,
    csat: i64,
    comment: Option<&str>,
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
        5,
        Some("quick and friendly"),
    )
    .await?;
    let (w2, c2) =
        widget_customer_rates(&app, &alex, "I want to talk to a person", 4, None).await?;
    let (w3, c3) = widget_customer_rates(
        &app,
        &alex,
        "I want to talk to a person",
        2,
        Some("=too slow, again"),
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
    nps(
        &surveys,
        w1,
        Some(c1),
        Channel::Web,
        10,
        Some("Lovely tea, fast help"),
    )
    .await?;
    nps(&surveys, w2, Some(c2), Channel::Web, 9, None).await?;
    nps(
        &surveys,
        w3,
        Some(c3),
        Channel::Web,
        3,
        Some("Parcel was late twice"),
    )
    .await?;
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
