use time::macros::date;

use super::*;

/// An answer on `day` of November 2026 at noon UTC.
#[allow(clippy::too_many_arguments)]
fn answer(
    id: i64,
    kind: &str,
    customer: i64,
    conversation: Option<i64>,
    channel: &str,
    score: i64,
    day: u8,
    segment: Option<&str>,
    clv: Option<f64>,
    agent: Option<(i64, &str)>,
) -> ReportAnswer {
    let date = time::Date::from_calendar_date(2026, time::Month::November, day)
        .unwrap_or(date!(2026 - 11 - 01));
    ReportAnswer {
        id,
        kind: kind.into(),
        customer_id: customer,
        conversation_id: conversation,
        channel: channel.into(),
        score,
        comment: None,
        comment_sentiment: None,
        created_at: period::day_start_ms(date) + 12 * 3600 * 1000,
        segment: segment.map(str::to_owned),
        clv,
        agent_id: agent.map(|a| a.0),
        agent_name: agent.map(|a| a.1.to_owned()),
    }
}

fn scored(customer: i64, segment: &str, clv: f64, at_risk: bool, name: &str) -> CustomerReportRow {
    CustomerReportRow {
        customer_id: customer,
        name: Some(name.into()),
        external_id: Some(format!("C{customer}")),
        email: None,
        clv: Some(clv),
        segment: segment.into(),
        churn_risk: if at_risk { 0.8 } else { 0.2 },
        at_risk: i64::from(at_risk),
        reasons: if at_risk {
            r#"["no purchase for 120 days"]"#.into()
        } else {
            "[]".into()
        },
        scored_at: 0,
        latest_nps: None,
        latest_nps_at: None,
    }
}

fn example() -> (
    Period,
    Vec<ReportAnswer>,
    Vec<AnsweredArticle>,
    Vec<CustomerReportRow>,
) {
    let ana = Some((7, "Ana"));
    let mut slow = answer(
        6,
        "csat",
        3,
        Some(13),
        "web",
        2,
        10,
        Some("low"),
        Some(50.0),
        None,
    );
    slow.comment = Some("=slow, very slow".into());
    slow.comment_sentiment = Some(-0.3);
    let answers = vec![
        answer(
            1,
            "nps",
            1,
            Some(11),
            "web",
            10,
            3,
            Some("high"),
            Some(1000.0),
            ana,
        ),
        answer(
            2,
            "nps",
            2,
            None,
            "telegram",
            9,
            4,
            Some("mid"),
            Some(200.0),
            None,
        ),
        answer(
            3,
            "csat",
            1,
            Some(11),
            "web",
            5,
            4,
            Some("high"),
            Some(1000.0),
            ana,
        ),
        answer(
            4,
            "nps",
            3,
            Some(13),
            "web",
            3,
            9,
            Some("low"),
            Some(50.0),
            None,
        ),
        answer(5, "nps", 4, None, "web", 8, 12, None, None, None),
        slow,
    ];
    let article = |conversation_id: i64, id: &str, title: &str| AnsweredArticle {
        conversation_id,
        article_id: id.into(),
        title: Some(title.into()),
    };
    let articles = vec![
        article(11, "delivery", "Delivery times"),
        article(11, "returns", "Returns"),
        article(13, "delivery", "Delivery times"),
    ];
    let customers = vec![
        scored(1, "high", 1000.0, false, "Ann"),
        scored(2, "mid", 200.0, true, "bob"),
        scored(3, "low", 50.0, false, "Cy"),
    ];
    let period = Period {
        from: date!(2026 - 11 - 02),
        to: date!(2026 - 11 - 15),
    };
    (period, answers, articles, customers)
}

fn group<'a>(groups: &'a [Group], key: &str) -> &'a Group {
    groups
        .iter()
        .find(|g| g.key == key)
        .unwrap_or_else(|| panic!("no group {key} in {groups:?}"))
}

#[test]
fn the_worked_example_adds_up() {
    let (period, answers, articles, customers) = example();
    let d = dashboard(&period, Bucket::Week, &answers, &articles, &customers, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    // NPS: 10, 9 promoters; 8 passive; 3 detractor → (2 − 1)/4 = +25.
    assert_eq!(
        (d.nps.promoters, d.nps.passives, d.nps.detractors, d.nps.nps),
        (2, 1, 1, Some(25.0))
    );
    // Value-weighted: (1000 + 200 − 50)/1250 = +92; the unscored passive is left out.
    assert_eq!(d.value_weighted_nps.nps, Some(92.0));
    assert_eq!(
        (
            d.value_weighted_nps.answers_weighted,
            d.value_weighted_nps.answers_without_clv
        ),
        (3, 1)
    );
    // At risk: bob (200, flagged) and Cy (50, detractor).
    assert_eq!(d.revenue_at_risk.total_clv, 250.0);
    assert_eq!(
        (d.revenue_at_risk.customers, d.revenue_at_risk.detractors),
        (2, 1)
    );
    // CSAT: 5 and 2 → half satisfied.
    assert_eq!((d.csat.responses, d.csat.share_satisfied), (2, Some(0.5)));

    // Two ISO weeks: W45 (3 and 4 Nov) and W46 (9, 10, 12 Nov).
    let trend: Vec<(&str, Option<f64>, u64)> = d
        .trend
        .iter()
        .map(|t| (t.bucket.as_str(), t.nps.nps, t.csat.responses))
        .collect();
    assert_eq!(
        trend,
        vec![("2026-W45", Some(100.0), 1), ("2026-W46", Some(-50.0), 1)]
    );

    let web = group(&d.breakdowns.channel, "web");
    assert_eq!(
        (web.nps.responses, web.nps.nps, web.csat.responses),
        (3, Some(0.0), 2)
    );
    assert_eq!(
        group(&d.breakdowns.channel, "telegram").nps.nps,
        Some(100.0)
    );
    assert_eq!(group(&d.breakdowns.segment, "unscored").nps.passives, 1);
    let ana = group(&d.breakdowns.agent, "staff:7");
    assert_eq!(
        (ana.label.as_str(), ana.nps.nps, ana.csat.share_satisfied),
        ("Ana", Some(100.0), Some(1.0))
    );
    assert_eq!(group(&d.breakdowns.agent, "bot").nps.nps, Some(-100.0));
    assert_eq!(group(&d.breakdowns.agent, "none").nps.nps, Some(50.0));
    // A conversation answered with two articles counts in both topics.
    let delivery = group(&d.breakdowns.topic, "delivery");
    assert_eq!(
        (
            delivery.label.as_str(),
            delivery.nps.nps,
            delivery.csat.responses
        ),
        ("Delivery times", Some(0.0), 2)
    );
    assert_eq!(group(&d.breakdowns.topic, "returns").nps.nps, Some(100.0));

    assert_eq!(d.comments_total, 1);
    assert_eq!(d.comments[0].comment, "=slow, very slow");
    assert_eq!(d.comments[0].sentiment, Some(-0.3));

    // The CSV keeps numbers as numbers and neutralises the comment's formula.
    let trend_csv = d.csv(Table::Trend).unwrap_or_default();
    assert!(
        trend_csv.starts_with("bucket,start,nps_responses,"),
        "{trend_csv}"
    );
    assert!(
        trend_csv.contains("\r\n2026-W46,2026-11-09,2,0,1,1,-50,"),
        "{trend_csv}"
    );
    let comments = comments_csv(&d.comments);
    assert!(
        comments.contains(",\"'=slow, very slow\",-0.3,web,"),
        "{comments}"
    );
}

#[test]
fn an_empty_period_has_no_figures_not_zeros() {
    let (period, _, _, _) = example();
    let d = dashboard(&period, Bucket::Month, &[], &[], &[], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((d.nps.responses, d.nps.nps, d.nps.ci95), (0, None, None));
    assert_eq!((d.csat.share_satisfied, d.csat.ci95), (None, None));
    assert_eq!(d.value_weighted_nps.nps, None);
    assert_eq!(d.revenue_at_risk.customers, 0);
    assert_eq!(d.trend.len(), 1);
    assert_eq!(d.trend[0].bucket, "2026-11");
    assert!(d.breakdowns.channel.is_empty());
    assert_eq!(d.service.handoff_rate, None);
}

#[test]
fn a_stored_score_out_of_range_is_an_error_not_a_figure() {
    let (period, mut answers, _, _) = example();
    answers[0].score = 11;
    assert!(matches!(
        dashboard(&period, Bucket::Week, &answers, &[], &[], &[]),
        Err(ReportError::Data(_))
    ));
}

#[test]
fn the_customers_table_sorts_filters_and_pages() {
    let (_, _, _, rows) = example();
    let ids = |q: &CustomerQuery| -> Vec<i64> {
        customers(&rows, q)
            .unwrap_or_default()
            .iter()
            .map(|c| c.customer_id)
            .collect()
    };
    assert_eq!(
        ids(&CustomerQuery::default()),
        vec![1, 2, 3],
        "CLV, highest first"
    );
    let parse = |sort, order, segment, at_risk, q| {
        CustomerQuery::parse(sort, order, segment, at_risk, q).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(
        ids(&parse(Some("clv"), Some("asc"), None, None, None)),
        vec![3, 2, 1]
    );
    assert_eq!(
        ids(&parse(Some("name"), None, None, None, None)),
        vec![1, 2, 3],
        "case-insensitive"
    );
    assert_eq!(
        ids(&parse(Some("churn_risk"), None, None, None, None))[0],
        2
    );
    assert_eq!(ids(&parse(None, None, Some("mid"), None, None)), vec![2]);
    assert_eq!(ids(&parse(None, None, None, Some("true"), None)), vec![2]);
    assert_eq!(
        ids(&parse(None, None, None, Some("false"), None)),
        vec![1, 3]
    );
    assert_eq!(
        ids(&parse(None, None, None, None, Some("c3"))),
        vec![3],
        "external id"
    );
    let bob = customers(&rows, &parse(None, None, None, Some("true"), None)).unwrap_or_default();
    assert_eq!(bob[0].reasons, vec!["no purchase for 120 days".to_owned()]);
    assert!(CustomerQuery::parse(Some("mood"), None, None, None, None).is_err());
    assert!(CustomerQuery::parse(None, Some("up"), None, None, None).is_err());
    assert!(CustomerQuery::parse(None, None, Some("gold"), None, None).is_err());
    assert!(CustomerQuery::parse(None, None, None, Some("yes"), None).is_err());
    assert!(Page::parse(Some("0"), None).is_err());
    assert!(Page::parse(Some("501"), None).is_err());
    assert!(Page::parse(None, Some("-1")).is_err());
    assert_eq!(
        Page::parse(None, None).ok(),
        Some(Page {
            limit: 50,
            offset: 0
        })
    );
    let csv = customers_csv(&customers(&rows, &CustomerQuery::default()).unwrap_or_default());
    assert!(
        csv.contains("\r\n2,bob,C2,,200,mid,0.8,true,no purchase for 120 days,,,0\r\n"),
        "{csv}"
    );
}
