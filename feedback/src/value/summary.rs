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
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.headers()?.clone();
    let id_col =
        column(&header, &["customer_id", "id"]).ok_or(ValueError::MissingColumn("customer_id"))?;
    let f_col =
        column(&header, &["frequency", "x"]).ok_or(ValueError::MissingColumn("frequency"))?;
    let r_col = column(&header, &["recency", "t_x"]).ok_or(ValueError::MissingColumn("recency"))?;
    let t_col = column(&header, &["T"]).ok_or(ValueError::MissingColumn("T"))?;
    let m_col = column(&header, &["monetary_value", "zbar"]);

    let mut out = Vec::new();
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
        let text = |i: usize| {
            std::str::from_utf8(record.get(i).unwrap_or(b""))
                .unwrap_or("")
                .trim()
        };
        let number = |i: usize, name: &str| -> Result<f64, String> {
            let s = text(i);
            if s.is_empty() {
                return Err(format!("{name} is missing"));
            }
            s.parse::<f64>()
                .map_err(|_| format!("{name} is not a number"))
        };
        let parsed = (|| {
            let customer_id = CustomerId::parse(text(id_col))?;
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
            Ok(CustomerSummary {
                customer_id,
                frequency: rfm.frequency,
                recency: rfm.recency,
                t: rfm.t,
                monetary_value,
                holdout_frequency: None,
            })
        })();
        match parsed {
            Ok(s) => {
                if bad.is_empty() {
                    out.push(s);
                }
            }
            Err(problem) => bad.push(line, problem),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(ValueError::BadRows(bad))
    }
}
