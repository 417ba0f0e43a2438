//! Per-customer recency–frequency–monetary summaries, built exactly as Fader and Hardie
//! (and `lifetimes.utils.calibration_and_holdout_data`) build them.
//!
//! Rules, pinned by the CDNOW test (0 mismatches on 2,357 customers):
//! - purchases on the same calendar day are one purchase, with their amounts summed;
//! - `frequency` (x) counts the distinct repeat purchase days in calibration, so the
//!   first purchase day is not counted;
//! - `recency` (t_x) is last purchase day − first purchase day, `T` is calibration end −
//!   first purchase day, both in the chosen time unit;
//! - `monetary_value` is the mean per-day spend over repeat days only (0 when x = 0);
//! - customers whose first purchase is after the calibration end are left out;
//! - the holdout count is the number of distinct purchase days in (calibration end, holdout end].

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use time::Date;

use super::error::{RowErrors, ValueError};
use super::input::{CustomerId, Transaction, column};

/// The time unit of recency and `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days.
    Day,
    /// Weeks of 7 days (the CDNOW convention and our default).
    #[default]
    Week,
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            Self::Day => 1.0,
            Self::Week => 7.0,
        }
    }

    /// Units in a month, as `lifetimes` counts them for CLV (`4.345` weeks, `30` days).
    pub fn per_month(self) -> f64 {
        match self {
            Self::Day => 30.0,
            Self::Week => 4.345,
        }
    }
}

/// Frequency, recency and age of one customer: what the BG/NBD model needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rfm {
    /// Repeat purchases (x).
    pub frequency: u32,
    /// Time from first to last purchase (t_x).
    pub recency: f64,
    /// Time from first purchase to the end of calibration (T).
    pub t: f64,
}

impl Rfm {
    /// Validate: 0 ≤ recency ≤ T, recency = 0 when frequency = 0, all finite.
    pub fn new(frequency: u32, recency: f64, t: f64) -> Result<Self, String> {
        if !(recency.is_finite() && t.is_finite()) {
            return Err("recency and T must be finite".into());
        }
        if recency < 0.0 || t < 0.0 {
            return Err("recency and T must not be negative".into());
        }
        if recency > t {
            return Err(format!("recency {recency} is larger than T {t}"));
        }
        if frequency == 0 && recency != 0.0 {
            return Err("recency must be 0 when frequency is 0".into());
        }
        Ok(Self {
            frequency,
            recency,
            t,
        })
    }
}

/// One customer's summary over the calibration (and optional holdout) period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerSummary {
    /// The customer.
    pub customer_id: CustomerId,
    /// Distinct repeat purchase days in calibration (x).
    pub frequency: u32,
    /// Last − first purchase day, in the time unit (t_x).
    pub recency: f64,
    /// Calibration end − first purchase day, in the time unit.
    #[serde(rename = "T")]
    pub t: f64,
    /// Mean per-day spend over repeat purchase days; `None` when spend is unknown.
    pub monetary_value: Option<f64>,
    /// Distinct purchase days in the holdout period, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout_frequency: Option<u32>,
}

impl CustomerSummary {
    /// The frequency, recency and age.
    pub fn rfm(&self) -> Rfm {
        Rfm {
            frequency: self.frequency,
            recency: self.recency,
            t: self.t,
        }
    }
}

/// Calibration and holdout periods for [`summarise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Periods {
    /// Last day of calibration (inclusive).
    pub calibration_end: Date,
    /// Last day of the holdout (inclusive), after `calibration_end`.
    pub holdout_end: Option<Date>,
    /// Unit of recency and `T`.
    pub unit: TimeUnit,
}

impl Periods {
    /// Validate that the holdout, when given, ends after the calibration.
    pub fn new(
        calibration_end: Date,
        holdout_end: Option<Date>,
        unit: TimeUnit,
    ) -> Result<Self, ValueError> {
        if let Some(h) = holdout_end
            && h <= calibration_end
        {
            return Err(ValueError::invalid(
                "holdout end must be after calibration end",
            ));
        }
        Ok(Self {
            calibration_end,
            holdout_end,
            unit,
        })
    }

    /// Holdout length in the time unit (0 without a holdout).
    pub fn holdout_length(&self) -> f64 {
        self.holdout_end.map_or(0.0, |h| {
            (h - self.calibration_end).whole_days() as f64 / self.unit.days()
        })
    }
}

/// Summarise transactions per customer; see the module doc for the exact rules.
/// Customers are returned sorted by id.
pub fn summarise(transactions: &[Transaction], periods: &Periods) -> Vec<CustomerSummary> {
    let mut rows: Vec<(&CustomerId, Date, f64)> = transactions
        .iter()
        .map(|t| (&t.customer_id, t.date, t.amount.get()))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));

    let unit = periods.unit.days();
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let id = rows[i].0;
        let mut j = i;
        while j < rows.len() && rows[j].0 == id {
            j += 1;
        }
        // Merge same-day purchases: (day, summed spend).
        let mut days: Vec<(Date, f64)> = Vec::new();
        for &(_, date, amount) in &rows[i..j] {
            match days.last_mut() {
                Some((d, spend)) if *d == date => *spend += amount,
                _ => days.push((date, amount)),
            }
        }
        i = j;
        let first = days[0].0;
        if first > periods.calibration_end {
            continue;
        }
        let calibration: Vec<&(Date, f64)> = days
            .iter()
            .filter(|(d, _)| *d <= periods.calibration_end)
            .collect();
        let repeat = &calibration[1..];
        let last = calibration.last().map_or(first, |(d, _)| *d);
        let frequency = repeat.len() as u32;
        let monetary = if repeat.is_empty() {
            0.0
        } else {
            repeat.iter().map(|(_, s)| s).sum::<f64>() / repeat.len() as f64
        };
        let holdout_frequency = periods.holdout_end.map(|end| {
            days.iter()
                .filter(|(d, _)| *d > periods.calibration_end && *d <= end)
                .count() as u32
        });
        out.push(CustomerSummary {
            customer_id: id.clone(),
            frequency,
            recency: (last - first).whole_days() as f64 / unit,
            t: (periods.calibration_end - first).whole_days() as f64 / unit,
            monetary_value: Some(monetary),
            holdout_frequency,
        });
    }
    out
}

/// Read a summary CSV: `customer_id,frequency,recency,T[,monetary_value]`, times in weeks.
///
/// The CDNOW file names (`ID`, `x`, `t_x`, `zbar`) are accepted as aliases.
pub fn read_summary_csv(path: &Path) -> Result<Vec<CustomerSummary>, ValueError> {
    let file = std::fs::File::open(path).map_err(|source| ValueError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_summary_csv(std::io::BufReader::with_capacity(1 << 20, file))
}

/// Parse a summary CSV from any reader; see [`read_summary_csv`].
pub fn parse_summary_csv(input: impl Read) -> Result<Vec<CustomerSummary>, ValueError> {
    let mut out = Vec::new();
    visit_summary_csv(input, |id, rfm, monetary_value| {
        out.push(CustomerSummary {
            customer_id: CustomerId::parse(id)?,
            frequency: rfm.frequency,
            recency: rfm.recency,
            t: rfm.t,
            monetary_value,
            holdout_frequency: None,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Read a summary CSV straight into what the fit needs, without keeping the ids: the
/// path of `hark value fit --summary`, where a million customers then cost ~40 MB.
pub(crate) fn read_summary_for_fit(
    path: &Path,
) -> Result<(Vec<Rfm>, Vec<Option<f64>>), ValueError> {
    let file = std::fs::File::open(path).map_err(|source| ValueError::Io {
        path: path.to_owned(),
        source,
    })?;
    let (mut rfms, mut spend) = (Vec::new(), Vec::new());
    visit_summary_csv(
        std::io::BufReader::with_capacity(1 << 20, file),
        |id, rfm, m| {
            CustomerId::check(id)?;
            rfms.push(rfm);
            spend.push(m);
            Ok(())
        },
    )?;
    Ok((rfms, spend))
}

/// Validate every row of a summary CSV and hand the good ones to `visit` (which may
/// reject a row too). All or nothing: after the first bad row, `visit` is not called.
fn visit_summary_csv(
    input: impl Read,
    mut visit: impl FnMut(&str, Rfm, Option<f64>) -> Result<(), String>,
) -> Result<(), ValueError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.headers()?.clone();
    let id_col =
        column(&header, &["customer_id", "id"]).ok_or(ValueError::MissingColumn("customer_id"))?;
    let f_col =
        column(&header, &["frequency", "x"]).ok_or(ValueError::MissingColumn("frequency"))?;
    let r_col = column(&header, &["recency", "t_x"]).ok_or(ValueError::MissingColumn("recency"))?;
    let t_col = column(&header, &["T"]).ok_or(ValueError::MissingColumn("T"))?;
    let m_col = column(&header, &["monetary_value", "zbar"]);

    let mut bad = RowErrors::new();
    let mut record = csv::ByteRecord::new();
    let mut line = 1;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                bad.push(
                    e.position().map_or(line + 1, |p| p.line()),
                    format!("unreadable row ({e})"),
                );
                if e.is_io_error() {
                    break;
                }
                continue;
            }
        }
        line = record.position().map_or(line + 1, |p| p.line());
        let text = |i: usize, name: &str| -> Result<&str, String> {
            std::str::from_utf8(record.get(i).unwrap_or(b""))
                .map(str::trim)
                .map_err(|_| format!("{name} is not valid UTF-8"))
        };
        let number = |i: usize, name: &str| -> Result<f64, String> {
            let s = text(i, name)?;
            if s.is_empty() {
                return Err(format!("{name} is missing"));
            }
            s.parse::<f64>()
                .map_err(|_| format!("{name} is not a number"))
        };
        let parsed = (|| {
            let id = text(id_col, "customer_id")?;
            let f = number(f_col, "frequency")?;
            if !(f >= 0.0 && f.fract() == 0.0 && f <= f64::from(u32::MAX)) {
                return Err("frequency is not a whole number of purchases".to_owned());
            }
            let rfm = Rfm::new(f as u32, number(r_col, "recency")?, number(t_col, "T")?)?;
            let monetary_value = match m_col {
                Some(i) => {
                    let m = number(i, "monetary_value")?;
                    if !(m.is_finite() && m >= 0.0) {
                        return Err("monetary_value must be a number not below 0".to_owned());
                    }
                    Some(m)
                }
                None => None,
            };
            if bad.is_empty() {
                visit(id, rfm, monetary_value)?;
            } else {
                CustomerId::check(id)?;
            }
            Ok(())
        })();
        if let Err(problem) = parsed {
            bad.push(line, problem);
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(ValueError::BadRows(bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::input::parse_transactions_csv;
    use time::macros::date;

    fn periods(holdout: Option<Date>) -> Periods {
        Periods::new(date!(2024 - 03 - 31), holdout, TimeUnit::Week).expect("valid")
    }

    #[test]
    fn same_day_purchases_merge_and_the_first_day_is_not_a_repeat() {
        let csv = "customer_id,date,amount\n\
                   a,2024-01-07,10\n\
                   a,2024-01-07,5\n\
                   a,2024-01-21,20\n\
                   a,2024-01-21,4\n\
                   a,2024-02-04,6\n\
                   a,2024-04-14,100\n\
                   a,2024-04-14,1\n\
                   a,2024-05-01,7\n\
                   b,2024-03-31,9\n\
                   late,2024-04-02,9\n";
        let tx = parse_transactions_csv(csv.as_bytes()).expect("valid");
        let s = summarise(&tx, &periods(Some(date!(2024 - 04 - 30))));
        assert_eq!(
            s.len(),
            2,
            "a customer first seen after calibration is left out"
        );
        let a = &s[0];
        assert_eq!(a.frequency, 2);
        assert!((a.recency - 4.0).abs() < 1e-12);
        assert!((a.t - 12.0).abs() < 1e-12);
        // Repeat days spend 24 and 6; the first day's 15 is excluded.
        assert_eq!(a.monetary_value, Some(15.0));
        // 2024-04-14 counts once; 2024-05-01 is after the holdout end.
        assert_eq!(a.holdout_frequency, Some(1));
        let b = &s[1];
        assert_eq!(
            (b.frequency, b.recency, b.t, b.monetary_value),
            (0, 0.0, 0.0, Some(0.0))
        );
    }

    #[test]
    fn holdout_must_end_after_calibration() {
        assert!(
            Periods::new(
                date!(2024 - 03 - 31),
                Some(date!(2024 - 03 - 31)),
                TimeUnit::Week
            )
            .is_err()
        );
        assert_eq!(periods(Some(date!(2024 - 06 - 30))).holdout_length(), 13.0);
    }

    #[test]
    fn summary_csv_accepts_cdnow_names_and_rejects_impossible_rows() {
        let ok = "ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n2,0,0,38.86,0\n";
        let rows = parse_summary_csv(ok.as_bytes()).expect("valid");
        assert_eq!(rows[0].frequency, 2);
        assert_eq!(rows[0].monetary_value, Some(22.35));
        let bad = "customer_id,frequency,recency,T\na,1.5,1,2\nb,1,3,2\nc,0,1,2\nd,1,x,2\n";
        let err = parse_summary_csv(bad.as_bytes()).expect_err("bad rows");
        let text = err.to_string();
        assert!(
            text.contains("line 2: frequency is not a whole number"),
            "{text}"
        );
        assert!(
            text.contains("line 3: recency 3 is larger than T 2"),
            "{text}"
        );
        assert!(
            text.contains("line 4: recency must be 0 when frequency is 0"),
            "{text}"
        );
        assert!(text.contains("line 5: recency is not a number"), "{text}");
    }
}
