//! The owners' dashboard in a real headless Chromium: an owner signs in through the console's
//! form, opens the dashboard, and the trend chart renders as SVG with one marker and one label
//! per week that has answers, one axis label per week, and the table alternative.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::page::Page;
use feedback::sentiment::Analyzer;
use hark_bot::store::{Channel, CustomerScore, Role, Segment, SurveyKind};
use hark_bot::surveys::{Answer, Score, Surveys};
use hark_tests::browser::{TestBrowser, eval, wait_for};
use hark_tests::console::ConsoleClient;
use hark_tests::spawn_app;
use serde_json::Value;
use sqlx::Connection;

const WAIT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "correct horse battery";
const DAY_MS: i64 = 24 * 3600 * 1000;

fn js(value: &str) -> String {
    Value::from(value).to_string()
}

async fn sign_in(page: &Page, email: &str) -> anyhow::Result<()> {
    wait_for(
        page,
        "!document.querySelector('#login-form').hidden && !document.querySelector('#auth').hidden",
        WAIT,
    )
    .await?;
    eval(
        page,
        &format!(
            "document.querySelector('#login-email').value = {e};
             document.querySelector('#login-password').value = {p};
             document.querySelector('#login-form button[type=submit]').click(); true",
            e = js(email),
            p = js(PASSWORD)
        ),
    )
    .await?;
    wait_for(page, "!document.querySelector('#app').hidden", WAIT).await?;
    Ok(())
}

#[tokio::test]
async fn the_dashboard_draws_the_trend_an_owner_asked_for() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 900).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    app.add_staff(Role::Owner, "Olive Owner", PASSWORD).await?;
    let store = app.state.engine.store().clone();

    // Six NPS answers: two this week, two a week ago, two two weeks ago (moved back in time in
    // the database, as if given then). This week: 10 and 9 (+100); last week 9 and 3 (0); the
    // week before 2 and 8 (−50).
    let surveys = Surveys::new(store.clone(), Arc::new(Analyzer::new()));
    let mut ids = Vec::new();
    for (i, score) in [10, 9, 9, 3, 2, 8].into_iter().enumerate() {
        let customer = store
            .create_customer(Channel::Web, &format!("b{i}"))
            .await?;
        let stored = surveys
            .record(Answer {
                customer_id: customer,
                conversation_id: None,
                channel: Channel::Web,
                score: Score::parse(SurveyKind::Nps, score)?,
                comment: None,
            })
            .await?;
        ids.push(stored.id);
    }
    let mut db = sqlx::SqliteConnection::connect(&app.db.url).await?;
    for (i, id) in ids.iter().enumerate() {
        let weeks_back = (i / 2) as i64;
        sqlx::query("UPDATE survey_responses SET created_at = created_at - $1 WHERE id = $2")
            .bind(weeks_back * 7 * DAY_MS)
            .bind(id)
            .execute(&mut db)
            .await?;
    }
    db.close().await?;
    // Three scored customers for the customers table.
    let score = |i: usize, clv: f64, churn_risk: f64, at_risk: bool| CustomerScore {
        customer_id: i64::try_from(i).unwrap_or_default(),
        model_version: "test".into(),
        fitted_at: 0,
        scored_at: 0,
        p_alive: None,
        expected_purchases: None,
        clv: Some(clv),
        segment: Segment::Mid,
        churn_risk,
        at_risk,
        reasons: vec![format!("reason {i}")],
    };
    store
        .upsert_customer_scores(&[
            score(1, 300.0, 0.2, false),
            score(2, 900.0, 0.1, false),
            score(3, 50.0, 0.9, true),
        ])
        .await?;

    // What the API says the chart should show.
    let mut owner = ConsoleClient::new(&app);
    owner.login("olive.owner@example.com", PASSWORD).await?;
    let (status, expected) = owner
        .get("/api/reports/dashboard?days=30&bucket=week")
        .await?;
    assert_eq!(status, 200, "{expected}");
    let trend = expected["trend"].as_array().cloned().unwrap_or_default();
    let with_nps: Vec<f64> = trend
        .iter()
        .filter_map(|t| t["nps"]["nps"].as_f64())
        .collect();
    assert_eq!(
        with_nps[with_nps.len() - 3..],
        [-50.0, 0.0, 100.0],
        "{trend:?}"
    );

    let page = browser.open(&app.http_url("/console")).await?;
    sign_in(&page, "olive.owner@example.com").await?;
    // The console links owners to the reports.
    wait_for(
        &page,
        "!document.querySelector('a[href=\"/console/dashboard\"]').hidden",
        WAIT,
    )
    .await?;
    page.goto(app.http_url("/console/dashboard")).await?;
    page.wait_for_navigation().await?;
    eval(
        &page,
        "document.querySelector('#preset').value = '30';
         document.querySelector('#period button[type=submit]').click(); true",
    )
    .await?;
    wait_for(
        &page,
        "document.body.dataset.loaded && document.querySelector('#period-text').textContent.includes('by week') \
         && document.querySelectorAll('#trend-chart svg text.x-label').length",
        WAIT,
    )
    .await?;

    let count = |selector: &str| {
        let page = &page;
        let expression = format!("document.querySelectorAll({}).length", js(selector));
        async move { anyhow::Ok(eval(page, &expression).await?.as_u64().unwrap_or(0)) }
    };
    assert_eq!(count("#trend-chart svg").await?, 1);
    assert_eq!(count("#trend-chart svg circle.point.nps").await?, 3);
    assert_eq!(count("#trend-chart svg text.nps-label").await?, 3);
    assert_eq!(count("#trend-chart svg line.ci").await?, 3);
    assert_eq!(
        count("#trend-chart svg text.x-label").await?,
        trend.len() as u64,
        "one axis label per week"
    );
    // Weeks without answers break the line; the last three weeks are one run.
    assert!(count("#trend-chart svg polyline.nps-line").await? >= 1);
    // The legend tells the series apart by shape and line style.
    let legend = eval(
        &page,
        "[...document.querySelectorAll('#trend-chart svg text.legend')].map(t => t.textContent).join(' | ')",
    )
    .await?;
    assert_eq!(
        legend,
        "NPS (points; bar: 95% interval) | CSAT satisfied (%)"
    );
    let labels = eval(
        &page,
        "[...document.querySelectorAll('#trend-chart svg text.nps-label')].map(t => t.textContent)",
    )
    .await?;
    assert_eq!(labels, serde_json::json!(["−50", "0", "+100"]));
    // The same figures as a table.
    assert_eq!(count("#trend-rows tbody tr").await?, trend.len() as u64);
    // The key figures: NPS 6 answers, 3 promoters, 1 passive, 2 detractors → +16.7.
    let kpi = eval(&page, "document.querySelector('#kpis dd').textContent").await?;
    assert!(
        kpi.as_str().is_some_and(|t| t.starts_with("+16.7")),
        "{kpi}"
    );
    // Breakdown tables sort when a header is pressed, and the CSV links carry the period.
    let csv = eval(
        &page,
        "document.querySelector('#breakdowns a[download]').getAttribute('href')",
    )
    .await?;
    assert_eq!(csv, "/api/reports/csv/channels?days=30&bucket=week");
    let svg_text = eval(
        &page,
        "document.querySelector('#trend-chart svg desc').textContent",
    )
    .await?;
    assert!(
        svg_text.as_str().is_some_and(|t| t.starts_with("3 of ")),
        "{svg_text}"
    );

    // The customers table: by CLV first; pressing "churn risk" sorts by it, highest first.
    let first_customer =
        "document.querySelector('#customer-rows tbody tr td:nth-child(2)')?.textContent";
    wait_for(&page, &format!("{first_customer} === '900'"), WAIT).await?;
    assert_eq!(count("#customer-rows tbody tr").await?, 3);
    eval(
        &page,
        "[...document.querySelectorAll('#customer-rows th button')].find(b => b.textContent === 'churn risk').click(); true",
    )
    .await?;
    wait_for(&page, &format!("{first_customer} === '50'"), WAIT).await?;
    let sorted = eval(
        &page,
        "[...document.querySelectorAll('#customer-rows th')].find(t => t.textContent.startsWith('churn risk')).getAttribute('aria-sort')",
    )
    .await?;
    assert_eq!(sorted, "descending");
    // Filtering to customers at risk leaves one, with its reason.
    eval(
        &page,
        "document.querySelector('#cust-risk').value = 'true';
         document.querySelector('#cust-filter button[type=submit]').click(); true",
    )
    .await?;
    wait_for(
        &page,
        "document.querySelectorAll('#customer-rows tbody tr').length === 1 && document.querySelector('#customer-rows tbody tr td:nth-child(6)').textContent === 'reason 3'",
        WAIT,
    )
    .await?;
    let csv_link = eval(
        &page,
        "document.querySelector('#cust-csv').getAttribute('href')",
    )
    .await?;
    assert_eq!(
        csv_link,
        "/api/reports/csv/customers?sort=churn_risk&order=desc&at_risk=true"
    );
    browser.close().await?;
    Ok(())
}
