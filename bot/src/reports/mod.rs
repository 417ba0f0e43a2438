//! The owners' reports: how customers feel (NPS with its interval, CSAT with the Wilson
//! interval), what they are worth (value-weighted NPS, revenue at risk), how service runs
//! (bot resolution, handoffs, response times), broken down by channel, value segment, agent
//! and topic, with a trend, the customers table and the comments in their own words.
//!
//! Reads the store; knows no HTTP. The statistics are `feedback::stats` and
//! `crate::metrics`, so the figures here are only grouping and counting. Tables render as CSV
//! through [`csv`].

pub mod csv;
pub mod period;
pub mod summary;

use std::collections::{BTreeMap, HashMap};

use feedback::stats::{
    self, CsatSummary, NpsCategory, NpsCounts, NpsSummary, RevenueAtRisk, RiskEntry, StatsError,
};
use serde::Serialize;

use crate::metrics::{self, EventRow, ServiceMetrics};
use crate::store::{AnsweredArticle, CustomerReportRow, ReportAnswer, Segment, Store, StoreError};
use csv::Cell;
pub use period::{Bucket, Period};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("stored survey data is invalid: {0}")]
    Data(#[from] StatsError),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// How many comments the dashboard carries (the comments table pages through the rest).
pub const DASHBOARD_COMMENTS: usize = 50;
/// The largest page of the customers and comments tables.
pub const MAX_PAGE: usize = 500;

/// The report service; cheap to clone.
#[derive(Clone)]
pub struct Reports {
    store: Store,
}

/// The period a report covers, as sent back with it.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket: Bucket,
}

/// How the figures were computed, in words.
#[derive(Debug, Clone, Serialize)]
pub struct Methods {
    pub nps: &'static str,
    pub nps_interval: &'static str,
    pub csat: &'static str,
    pub csat_interval: &'static str,
    pub percentiles: &'static str,
    pub value_weighted_nps: &'static str,
    pub revenue_at_risk: &'static str,
}

const METHODS: Methods = Methods {
    nps: "% promoters (9-10) - % detractors (0-6) of the NPS answers in the period",
    nps_interval: stats::NPS_INTERVAL_METHOD,
    csat: "share of CSAT answers that are 4 or 5",
    csat_interval: stats::SHARE_INTERVAL_METHOD,
    percentiles: "nearest rank",
    value_weighted_nps: "each NPS answer weighted by its customer's current CLV; answers from customers without a CLV are left out",
    revenue_at_risk: "CLV of customers flagged at risk now or whose latest NPS answer in the period is a detractor's, each customer once",
};

/// Answers of one group (a channel, a segment, an agent, a topic, a week).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key: String,
    pub label: String,
    pub nps: NpsSummary,
    pub csat: CsatSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    /// `2026-W48` or `2026-11`.
    pub bucket: String,
    /// The first day of the bucket.
    pub start: String,
    pub nps: NpsSummary,
    pub csat: CsatSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breakdowns {
    pub channel: Vec<Group>,
    pub segment: Vec<Group>,
    pub agent: Vec<Group>,
    pub topic: Vec<Group>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ValueWeightedNps {
    pub nps: Option<f64>,
    /// NPS answers from customers with a CLV (those weighted).
    pub answers_weighted: u64,
    pub answers_without_clv: u64,
}

/// A comment in the customer's words.
#[derive(Debug, Clone, Serialize)]
pub struct CommentView {
    pub id: i64,
    pub kind: String,
    pub score: i64,
    pub comment: String,
    /// VADER compound score of the comment (−1 to 1).
    pub sentiment: Option<f64>,
    pub channel: String,
    pub customer_id: i64,
    pub conversation_id: Option<i64>,
    pub created_at: i64,
}

/// Every figure of the owners' dashboard for one period.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub period: PeriodView,
    pub methods: Methods,
    pub nps: NpsSummary,
    pub value_weighted_nps: ValueWeightedNps,
    pub revenue_at_risk: RevenueAtRisk,
    pub csat: CsatSummary,
    pub service: ServiceMetrics,
    pub trend: Vec<TrendPoint>,
    pub breakdowns: Breakdowns,
    /// The newest comments (at most [`DASHBOARD_COMMENTS`]); `comments_total` counts them all.
    pub comments: Vec<CommentView>,
    pub comments_total: usize,
}

/// Accumulates NPS and CSAT answers for one group.
#[derive(Debug, Default, Clone)]
struct Tally {
    label: String,
    nps: NpsCounts,
    csat: Vec<i64>,
}

impl Tally {
    fn add(&mut self, answer: &ReportAnswer) -> Result<()> {
        match answer.kind.as_str() {
            "nps" => {
                self.nps.add(answer.score)?;
            }
            "csat" => self.csat.push(answer.score),
            _ => {}
        }
        Ok(())
    }

    fn group(self, key: String) -> Result<Group> {
        Ok(Group {
            key,
            label: self.label,
            nps: NpsSummary::of(self.nps),
            csat: stats::csat_summary(self.csat)?,
        })
    }

    fn responses(&self) -> u64 {
        self.nps.total() + self.csat.len() as u64
    }
}

/// Groups answers by `keys(answer)` (an answer may fall in several groups, e.g. topics), with
/// the largest groups first.
fn breakdown(
    answers: &[ReportAnswer],
    mut keys: impl FnMut(&ReportAnswer) -> Vec<(String, String)>,
) -> Result<Vec<Group>> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for a in answers {
        for (key, label) in keys(a) {
            let tally = tallies.entry(key).or_default();
            tally.label = label;
            tally.add(a)?;
        }
    }
    let mut tallies: Vec<(String, Tally)> = tallies.into_iter().collect();
    tallies.sort_by(|a, b| b.1.responses().cmp(&a.1.responses()).then(a.0.cmp(&b.0)));
    tallies.into_iter().map(|(k, t)| t.group(k)).collect()
}

fn one(key: &str, label: &str) -> Vec<(String, String)> {
    vec![(key.to_owned(), label.to_owned())]
}

/// Everything the dashboard computes from what the store returned; no I/O.
pub fn dashboard(
    period: &Period,
    bucket: Bucket,
    answers: &[ReportAnswer],
    articles: &[AnsweredArticle],
    scored: &[CustomerReportRow],
    events: &[EventRow],
) -> Result<Dashboard> {
    let nps_answers: Vec<&ReportAnswer> = answers.iter().filter(|a| a.kind == "nps").collect();
    let nps_counts = NpsCounts::from_scores(nps_answers.iter().map(|a| a.score))?;
    let csat = stats::csat_summary(answers.iter().filter(|a| a.kind == "csat").map(|a| a.score))?;

    let weighted: Vec<(i64, f64)> = nps_answers
        .iter()
        .filter_map(|a| a.clv.map(|clv| (a.score, clv.max(0.0))))
        .collect();
    let value_weighted_nps = ValueWeightedNps {
        nps: stats::value_weighted_nps(weighted.iter().copied())?,
        answers_weighted: weighted.len() as u64,
        answers_without_clv: (nps_answers.len() - weighted.len()) as u64,
    };

    // Revenue at risk: everyone flagged at risk now, and each customer whose latest NPS
    // answer in the period is a detractor's.
    let mut latest: HashMap<i64, &ReportAnswer> = HashMap::new();
    for a in &nps_answers {
        latest.insert(a.customer_id, a);
    }
    let mut entries: Vec<RiskEntry<i64>> = scored
        .iter()
        .map(|c| RiskEntry {
            customer: c.customer_id,
            clv: c.clv.map(|v| v.max(0.0)),
            detractor: false,
            at_risk: c.at_risk != 0,
        })
        .collect();
    for a in latest.values() {
        entries.push(RiskEntry {
            customer: a.customer_id,
            clv: a.clv.map(|v| v.max(0.0)),
            detractor: NpsCategory::of(a.score)? == NpsCategory::Detractor,
            at_risk: false,
        });
    }
    let revenue_at_risk = stats::revenue_at_risk(entries)?;

    // The trend: every bucket of the period, empty ones included, so the x axis is even.
    let mut trend = Vec::new();
    for start in bucket.starts(period) {
        let from = period::day_start_ms(start);
        let to = period::day_start_ms(bucket.next(start));
        let mut tally = Tally::default();
        for a in answers
            .iter()
            .filter(|a| a.created_at >= from && a.created_at < to)
        {
            tally.add(a)?;
        }
        trend.push(TrendPoint {
            bucket: bucket.label(start),
            start: period::format_date(start),
            nps: NpsSummary::of(tally.nps),
            csat: stats::csat_summary(tally.csat)?,
        });
    }

    let mut topics: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for article in articles {
        topics.entry(article.conversation_id).or_default().push((
            article.article_id.clone(),
            article
                .title
                .clone()
                .unwrap_or_else(|| article.article_id.clone()),
        ));
    }
    let breakdowns = Breakdowns {
        channel: breakdown(answers, |a| one(&a.channel, &a.channel))?,
        segment: breakdown(answers, |a| match &a.segment {
            Some(s) => one(s, s),
            None => one("unscored", "not scored"),
        })?,
        agent: breakdown(answers, |a| match (a.conversation_id, a.agent_id) {
            (None, _) => one("none", "no conversation"),
            (Some(_), None) => one("bot", "bot only"),
            (Some(_), Some(id)) => one(
                &format!("staff:{id}"),
                a.agent_name.as_deref().unwrap_or("unknown"),
            ),
        })?,
        topic: breakdown(answers, |a| match a.conversation_id {
            None => one("none", "no conversation"),
            Some(id) => topics
                .get(&id)
                .cloned()
                .unwrap_or_else(|| one("no_article", "no article")),
        })?,
    };

    let all_comments = comments(answers, None);
    let comments_total = all_comments.len();
    let comments = all_comments.into_iter().take(DASHBOARD_COMMENTS).collect();

    Ok(Dashboard {
        period: PeriodView {
            from: period::format_date(period.from),
            to: period::format_date(period.to),
            from_ms: period.start_ms(),
            to_ms: period.end_ms(),
            bucket,
        },
        methods: METHODS,
        nps: NpsSummary::of(nps_counts),
        value_weighted_nps,
        revenue_at_risk,
        csat,
        service: metrics::compute(events),
        trend,
        breakdowns,
        comments,
        comments_total,
    })
}

/// Which answers' comments to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    Csat,
    Nps,
}

impl CommentKind {
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>> {
        match raw.map(str::trim) {
            None | Some("") | Some("all") => Ok(None),
            Some("csat") => Ok(Some(CommentKind::Csat)),
            Some("nps") => Ok(Some(CommentKind::Nps)),
            Some(other) => Err(ReportError::Invalid(format!(
                "kind must be csat, nps or all, not {other:?}"
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CommentKind::Csat => "csat",
            CommentKind::Nps => "nps",
        }
    }
}

/// Comments in the period, newest first.
fn comments(answers: &[ReportAnswer], kind: Option<CommentKind>) -> Vec<CommentView> {
    answers
        .iter()
        .rev()
        .filter(|a| kind.is_none_or(|k| a.kind == k.as_str()))
        .filter_map(|a| {
            a.comment.as_ref().map(|comment| CommentView {
                id: a.id,
                kind: a.kind.clone(),
                score: a.score,
                comment: comment.clone(),
                sentiment: a.comment_sentiment,
                channel: a.channel.clone(),
                customer_id: a.customer_id,
                conversation_id: a.conversation_id,
                created_at: a.created_at,
            })
        })
        .collect()
}

/// A page of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Page {
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Self> {
        let number = |name: &str, raw: Option<&str>, default: usize, max: usize| match raw
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    ReportError::Invalid(format!(
                        "{name} must be a whole number from 0 to {max}, not {s:?}"
                    ))
                }),
        };
        let limit = number("limit", limit, 50, MAX_PAGE)?;
        if limit == 0 {
            return Err(ReportError::Invalid(format!(
                "limit must be a whole number from 1 to {MAX_PAGE}, not \"0\""
            )));
        }
        Ok(Page {
            limit,
            offset: number("offset", offset, 0, 10_000_000)?,
        })
    }
}

/// What the customers table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    Clv,
    ChurnRisk,
    Name,
    Segment,
    LatestNps,
    Id,
}

/// The customers table's sorting and filters.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerQuery {
    pub sort: CustomerSort,
    pub descending: bool,
    pub segment: Option<Segment>,
    pub at_risk: Option<bool>,
    /// Case-insensitive part of the name, external id or email.
    pub search: Option<String>,
}

impl Default for CustomerQuery {
    fn default() -> Self {
        CustomerQuery {
            sort: CustomerSort::Clv,
            descending: true,
            segment: None,
            at_risk: None,
            search: None,
        }
    }
}

impl CustomerQuery {
    pub fn parse(
        sort: Option<&str>,
        order: Option<&str>,
        segment: Option<&str>,
        at_risk: Option<&str>,
        search: Option<&str>,
    ) -> Result<Self> {
        let sort = match sort.map(str::trim) {
            None | Some("") | Some("clv") => CustomerSort::Clv,
            Some("churn_risk") => CustomerSort::ChurnRisk,
            Some("name") => CustomerSort::Name,
            Some("segment") => CustomerSort::Segment,
            Some("latest_nps") => CustomerSort::LatestNps,
            Some("customer_id") => CustomerSort::Id,
            Some(other) => {
                return Err(ReportError::Invalid(format!(
                    "sort must be clv, churn_risk, name, segment, latest_nps or customer_id, not {other:?}"
                )));
            }
        };
        let descending = match order.map(str::trim) {
            None | Some("") => !matches!(sort, CustomerSort::Name | CustomerSort::Id),
            Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(ReportError::Invalid(format!(
                    "order must be asc or desc, not {other:?}"
                )));
            }
        };
        let segment = match segment.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("all") => None,
            Some(s) => Some(s.parse::<Segment>().map_err(|_| {
                ReportError::Invalid(format!("segment must be high, mid or low, not {s:?}"))
            })?),
        };
        let at_risk = match at_risk.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("all") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ReportError::Invalid(format!(
                    "at_risk must be true or false, not {other:?}"
                )));
            }
        };
        let search = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(ReportError::Invalid(
                "q is limited to 200 characters".into(),
            ));
        }
        Ok(CustomerQuery {
            sort,
            descending,
            segment,
            at_risk,
            search,
        })
    }
}

/// A row of the customers table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerView {
    pub customer_id: i64,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub clv: Option<f64>,
    pub segment: String,
    pub churn_risk: f64,
    pub at_risk: bool,
    pub reasons: Vec<String>,
    pub scored_at: i64,
    pub latest_nps: Option<i64>,
    pub latest_nps_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    /// Rows matching the filters (all pages).
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub rows: Vec<CustomerView>,
}

fn segment_rank(s: &str) -> u8 {
    match s {
        "high" => 3,
        "mid" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Filters and sorts the customers table; missing values sort last whichever the order.
pub fn customers(rows: &[CustomerReportRow], query: &CustomerQuery) -> Result<Vec<CustomerView>> {
    let mut out = Vec::new();
    for r in rows {
        if query.segment.is_some_and(|s| s.as_str() != r.segment)
            || query.at_risk.is_some_and(|flag| flag != (r.at_risk != 0))
        {
            continue;
        }
        if let Some(q) = &query.search {
            let hit = [&r.name, &r.external_id, &r.email]
                .iter()
                .any(|f| f.as_deref().is_some_and(|v| v.to_lowercase().contains(q)));
            if !hit {
                continue;
            }
        }
        let reasons: Vec<String> = serde_json::from_str(&r.reasons).map_err(|e| {
            StoreError::Corrupt(format!("customer {} score reasons: {e}", r.customer_id))
        })?;
        out.push(CustomerView {
            customer_id: r.customer_id,
            name: r.name.clone(),
            external_id: r.external_id.clone(),
            email: r.email.clone(),
            clv: r.clv,
            segment: r.segment.clone(),
            churn_risk: r.churn_risk,
            at_risk: r.at_risk != 0,
            reasons,
            scored_at: r.scored_at,
            latest_nps: r.latest_nps,
            latest_nps_at: r.latest_nps_at,
        });
    }
    use std::cmp::Ordering;
    fn nulls_last<T>(
        a: Option<T>,
        b: Option<T>,
        cmp: impl Fn(T, T) -> Ordering,
        desc: bool,
    ) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => {
                let o = cmp(a, b);
                if desc { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let desc = query.descending;
    out.sort_by(|a, b| {
        let primary = match query.sort {
            CustomerSort::Clv => nulls_last(a.clv, b.clv, |x: f64, y: f64| x.total_cmp(&y), desc),
            CustomerSort::ChurnRisk => nulls_last(
                Some(a.churn_risk),
                Some(b.churn_risk),
                |x: f64, y: f64| x.total_cmp(&y),
                desc,
            ),
            CustomerSort::Name => nulls_last(
                a.name.as_ref().map(|n| n.to_lowercase()),
                b.name.as_ref().map(|n| n.to_lowercase()),
                |x, y| x.cmp(&y),
                desc,
            ),
            CustomerSort::Segment => nulls_last(
                Some(segment_rank(&a.segment)),
                Some(segment_rank(&b.segment)),
                |x, y| x.cmp(&y),
                desc,
            ),
            CustomerSort::LatestNps => {
                nulls_last(a.latest_nps, b.latest_nps, |x, y| x.cmp(&y), desc)
            }
            CustomerSort::Id => Ordering::Equal,
        };
        let id = if desc && query.sort == CustomerSort::Id {
            b.customer_id.cmp(&a.customer_id)
        } else {
            a.customer_id.cmp(&b.customer_id)
        };
        primary.then(id)
    });
    Ok(out)
}

/// The report tables that export as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Trend,
    Channels,
    Segments,
    Agents,
    Topics,
    Customers,
    Comments,
}

impl Table {
    pub const NAMES: &'static str =
        "trend, channels, segments, agents, topics, customers, comments";

    pub fn parse(raw: &str) -> Result<Self> {
        Ok(match raw.trim_end_matches(".csv") {
            "trend" => Table::Trend,
            "channels" => Table::Channels,
            "segments" => Table::Segments,
            "agents" => Table::Agents,
            "topics" => Table::Topics,
            "customers" => Table::Customers,
            "comments" => Table::Comments,
            other => {
                return Err(ReportError::Invalid(format!(
                    "unknown table {other:?}; tables: {}",
                    Table::NAMES
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Trend => "trend",
            Table::Channels => "channels",
            Table::Segments => "segments",
            Table::Agents => "agents",
            Table::Topics => "topics",
            Table::Customers => "customers",
            Table::Comments => "comments",
        }
    }
}

const GROUP_HEADER: [&str; 14] = [
    "key",
    "label",
    "nps_responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_ci95_low",
    "nps_ci95_high",
    "csat_responses",
    "csat_satisfied",
    "csat_share_satisfied",
    "csat_ci95_low",
    "csat_ci95_high",
];

fn summary_cells(nps: &NpsSummary, csat: &CsatSummary) -> Vec<Cell> {
    vec![
        nps.responses.into(),
        nps.promoters.into(),
        nps.passives.into(),
        nps.detractors.into(),
        nps.nps.into(),
        nps.ci95.map(|i| i.low).into(),
        nps.ci95.map(|i| i.high).into(),
        csat.responses.into(),
        csat.satisfied.into(),
        csat.share_satisfied.into(),
        csat.ci95.map(|i| i.low).into(),
        csat.ci95.map(|i| i.high).into(),
    ]
}

fn groups_csv(groups: &[Group]) -> String {
    let rows: Vec<Vec<Cell>> = groups
        .iter()
        .map(|g| {
            let mut row = vec![Cell::from(g.key.as_str()), Cell::from(g.label.as_str())];
            row.extend(summary_cells(&g.nps, &g.csat));
            row
        })
        .collect();
    csv::table(&GROUP_HEADER, &rows)
}

impl Dashboard {
    /// A dashboard table as CSV (not the customers table, which has its own query).
    pub fn csv(&self, table: Table) -> Option<String> {
        Some(match table {
            Table::Trend => {
                let mut header = vec!["bucket", "start"];
                header.extend(&GROUP_HEADER[2..]);
                let rows: Vec<Vec<Cell>> = self
                    .trend
                    .iter()
                    .map(|t| {
                        let mut row =
                            vec![Cell::from(t.bucket.as_str()), Cell::from(t.start.as_str())];
                        row.extend(summary_cells(&t.nps, &t.csat));
                        row
                    })
                    .collect();
                csv::table(&header, &rows)
            }
            Table::Channels => groups_csv(&self.breakdowns.channel),
            Table::Segments => groups_csv(&self.breakdowns.segment),
            Table::Agents => groups_csv(&self.breakdowns.agent),
            Table::Topics => groups_csv(&self.breakdowns.topic),
            Table::Customers | Table::Comments => return None,
        })
    }
}

pub fn customers_csv(rows: &[CustomerView]) -> String {
    let header = [
        "customer_id",
        "name",
        "external_id",
        "email",
        "clv",
        "segment",
        "churn_risk",
        "at_risk",
        "reasons",
        "latest_nps",
        "latest_nps_at",
        "scored_at",
    ];
    let rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            vec![
                r.customer_id.into(),
                r.name.clone().into(),
                r.external_id.clone().into(),
                r.email.clone().into(),
                r.clv.into(),
                r.segment.clone().into(),
                r.churn_risk.into(),
                r.at_risk.into(),
                r.reasons.join("; ").into(),
                r.latest_nps.into(),
                r.latest_nps_at.into(),
                r.scored_at.into(),
            ]
        })
        .collect();
    csv::table(&header, &rows)
}

pub fn comments_csv(rows: &[CommentView]) -> String {
    let header = [
        "id",
        "kind",
        "score",
        "comment",
        "sentiment",
        "channel",
        "customer_id",
        "conversation_id",
        "created_at",
    ];
    let rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|c| {
            vec![
                c.id.into(),
                c.kind.clone().into(),
                c.score.into(),
                c.comment.clone().into(),
                c.sentiment.into(),
                c.channel.clone().into(),
                c.customer_id.into(),
                c.conversation_id.into(),
                c.created_at.into(),
            ]
        })
        .collect();
    csv::table(&header, &rows)
}

/// A page of comments.
#[derive(Debug, Clone, Serialize)]
pub struct CommentPage {
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub rows: Vec<CommentView>,
}

impl Reports {
    pub fn new(store: Store) -> Self {
        Reports { store }
    }

    async fn events(&self, period: &Period) -> Result<Vec<EventRow>> {
        let end = period.end_ms();
        let rows = self.store.events_since(period.start_ms()).await?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, _, at)| *at < end)
            .map(|(kind, conversation_id, data, _)| EventRow {
                kind,
                conversation_id,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// Every figure of the dashboard for `period`.
    pub async fn dashboard(&self, period: &Period, bucket: Bucket) -> Result<Dashboard> {
        let (from, to) = (period.start_ms(), period.end_ms());
        let answers = self.store.report_answers(from, to).await?;
        let articles = self.store.report_answered_articles(from, to).await?;
        let scored = self.store.report_customers().await?;
        let events = self.events(period).await?;
        dashboard(period, bucket, &answers, &articles, &scored, &events)
    }

    /// The customers table: every scored customer matching `query`, sorted; `page` of them.
    pub async fn customers(&self, query: &CustomerQuery, page: Page) -> Result<CustomerPage> {
        let rows = customers(&self.store.report_customers().await?, query)?;
        Ok(CustomerPage {
            total: rows.len(),
            limit: page.limit,
            offset: page.offset,
            rows: rows
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect(),
        })
    }

    /// Every customer matching `query`, for the CSV export.
    pub async fn all_customers(&self, query: &CustomerQuery) -> Result<Vec<CustomerView>> {
        customers(&self.store.report_customers().await?, query)
    }

    /// Comments given in `period`, newest first.
    pub async fn comments(
        &self,
        period: &Period,
        kind: Option<CommentKind>,
    ) -> Result<Vec<CommentView>> {
        let answers = self
            .store
            .report_answers(period.start_ms(), period.end_ms())
            .await?;
        Ok(comments(&answers, kind))
    }
}

#[cfg(test)]
mod tests;
