//! The period a report covers and the buckets of its trend (ISO weeks or calendar months,
//! UTC). Parsed from plain strings here so the HTTP layer only passes them on.

use serde::Serialize;
use time::{Date, Duration, Month, OffsetDateTime, Time};

use super::ReportError;

/// The longest period a report covers.
pub const MAX_DAYS: i64 = 1100;
/// The period when none is given: the last 90 days.
pub const DEFAULT_DAYS: i64 = 90;

/// Whole UTC days `[from, to]`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

/// How the trend groups answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Week,
    Month,
}

impl Bucket {
    pub fn parse(raw: Option<&str>) -> Result<Self, ReportError> {
        match raw.map(str::trim) {
            None | Some("") | Some("week") => Ok(Bucket::Week),
            Some("month") => Ok(Bucket::Month),
            Some(other) => Err(ReportError::Invalid(format!(
                "bucket must be week or month, not {other:?}"
            ))),
        }
    }
}

fn parse_date(name: &str, raw: &str) -> Result<Date, ReportError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw.trim(), format).map_err(|_| {
        ReportError::Invalid(format!(
            "{name} must be a date like 2026-11-23, not {raw:?}"
        ))
    })
}

pub fn day_start_ms(date: Date) -> i64 {
    date.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp() * 1000
}

pub fn date_of_ms(ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

pub fn format_date(date: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(format).unwrap_or_default()
}

impl Period {
    /// `from` and `to` (dates, both included) or `days` (the last N days up to `today`);
    /// the last [`DEFAULT_DAYS`] days when none is given.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        days: Option<&str>,
        today: Date,
    ) -> Result<Self, ReportError> {
        let from = from.filter(|s| !s.trim().is_empty());
        let to = to.filter(|s| !s.trim().is_empty());
        let days = days.filter(|s| !s.trim().is_empty());
        if days.is_some() && from.is_some() {
            return Err(ReportError::Invalid(
                "give either days or from (with to), not both".into(),
            ));
        }
        let to = match to {
            Some(raw) => parse_date("to", raw)?,
            None => today,
        };
        let from = match (from, days) {
            (Some(raw), _) => parse_date("from", raw)?,
            (None, Some(raw)) => {
                let n: i64 = raw
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_DAYS).contains(n))
                    .ok_or_else(|| {
                        ReportError::Invalid(format!(
                            "days must be a whole number from 1 to {MAX_DAYS}, not {raw:?}"
                        ))
                    })?;
                to - Duration::days(n - 1)
            }
            (None, None) => to - Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(ReportError::Invalid("from must not be after to".into()));
        }
        if (to - from).whole_days() + 1 > MAX_DAYS {
            return Err(ReportError::Invalid(format!(
                "a report covers at most {MAX_DAYS} days"
            )));
        }
        Ok(Period { from, to })
    }

    /// The first millisecond of the period.
    pub fn start_ms(&self) -> i64 {
        day_start_ms(self.from)
    }

    /// The first millisecond after the period.
    pub fn end_ms(&self) -> i64 {
        day_start_ms(self.to.next_day().unwrap_or(self.to))
    }
}

impl Bucket {
    /// The first day of the bucket holding `date`: the Monday of its ISO week, or the first of
    /// its month.
    pub fn start_of(self, date: Date) -> Date {
        match self {
            Bucket::Week => {
                date - Duration::days(i64::from(date.weekday().number_days_from_monday()))
            }
            Bucket::Month => date.replace_day(1).unwrap_or(date),
        }
    }

    /// The first day of the next bucket after the one starting on `start`.
    pub fn next(self, start: Date) -> Date {
        match self {
            Bucket::Week => start + Duration::days(7),
            Bucket::Month => {
                let (year, month) = match start.month() {
                    Month::December => (start.year() + 1, Month::January),
                    m => (start.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).unwrap_or(start)
            }
        }
    }

    /// A short label: `2026-W47` or `2026-11`.
    pub fn label(self, start: Date) -> String {
        match self {
            Bucket::Week => {
                let (year, week, _) = start.to_iso_week_date();
                format!("{year}-W{week:02}")
            }
            Bucket::Month => format!("{}-{:02}", start.year(), u8::from(start.month())),
        }
    }

    /// The starts of every bucket that overlaps the period, oldest first.
    pub fn starts(self, period: &Period) -> Vec<Date> {
        let mut out = Vec::new();
        let mut start = self.start_of(period.from);
        while start <= period.to {
            out.push(start);
            start = self.next(start);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_from_dates_days_or_the_default() {
        let today = date!(2026 - 11 - 23);
        let p = Period::parse(Some("2026-11-01"), Some("2026-11-30"), None, today);
        assert_eq!(
            p.ok(),
            Some(Period {
                from: date!(2026 - 11 - 01),
                to: date!(2026 - 11 - 30)
            })
        );
        let p = Period::parse(None, None, Some("7"), today).ok();
        assert_eq!(p.map(|p| p.from), Some(date!(2026 - 11 - 17)));
        let p = Period::parse(None, None, None, today).ok();
        assert_eq!(p.map(|p| (p.to - p.from).whole_days()), Some(89));
        let one = Period::parse(Some("2026-11-23"), Some("2026-11-23"), None, today).ok();
        assert_eq!(
            one.map(|p| p.end_ms() - p.start_ms()),
            Some(24 * 3600 * 1000)
        );
    }

    #[test]
    fn bad_periods_say_what_is_wrong() {
        let today = date!(2026 - 11 - 23);
        let err = |f: Option<&str>, t: Option<&str>, d: Option<&str>| {
            Period::parse(f, t, d, today)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(Some("23/11/2026"), None, None).contains("from must be a date"));
        assert!(err(None, Some("2026-13-01"), None).contains("to must be a date"));
        assert!(err(None, None, Some("0")).contains("days must be"));
        assert!(err(None, None, Some("many")).contains("days must be"));
        assert!(err(Some("2026-11-02"), None, Some("3")).contains("not both"));
        assert!(err(Some("2026-11-24"), Some("2026-11-23"), None).contains("after"));
        assert!(err(Some("2020-01-01"), None, None).contains("at most"));
        assert!(Bucket::parse(Some("year")).is_err());
        assert_eq!(Bucket::parse(None).ok(), Some(Bucket::Week));
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let period = Period {
            from: date!(2026 - 11 - 04),
            to: date!(2026 - 11 - 23),
        };
        let weeks = Bucket::Week.starts(&period);
        assert_eq!(
            weeks,
            vec![
                date!(2026 - 11 - 02),
                date!(2026 - 11 - 09),
                date!(2026 - 11 - 16),
                date!(2026 - 11 - 23)
            ]
        );
        assert_eq!(Bucket::Week.label(date!(2026 - 11 - 23)), "2026-W48");
        // ISO week-years: 2026-12-28 is in 2026-W53; 2027-01-04 starts 2027-W01.
        assert_eq!(Bucket::Week.label(date!(2026 - 12 - 28)), "2026-W53");
        let months = Bucket::Month.starts(&Period {
            from: date!(2026 - 11 - 15),
            to: date!(2027 - 01 - 02),
        });
        assert_eq!(
            months,
            vec![
                date!(2026 - 11 - 01),
                date!(2026 - 12 - 01),
                date!(2027 - 01 - 01)
            ]
        );
        assert_eq!(Bucket::Month.label(date!(2027 - 01 - 01)), "2027-01");
    }
}
