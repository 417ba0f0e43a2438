//! Parse at the edge: purchase rows become [`Transaction`]s with validated fields, or
//! the whole import fails with every bad line listed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::Date;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::error::{RowErrors, ValueError};

/// A customer's external id (the shop's own id, matched to chat customers elsewhere).
///
/// Non-empty after trimming, at most [`CustomerId::MAX_LEN`] bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(String);

impl CustomerId {
    /// Longest accepted id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validate a raw id.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::check(raw).map(|id| Self(id.to_owned()))
    }

    /// Validate a raw id without keeping it; returns the trimmed id.
    pub fn check(raw: &str) -> Result<&str, String> {
        let id = raw.trim();
        if id.is_empty() {
            return Err("customer_id is empty".into());
        }
        if id.len() > Self::MAX_LEN {
            return Err(format!(
                "customer_id is longer than {} bytes",
                Self::MAX_LEN
            ));
        }
        if id.chars().any(char::is_control) {
            return Err("customer_id contains a control character".into());
        }
        Ok(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A purchase amount: finite and not negative (refunds are not purchases).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Amount(f64);

impl Amount {
    /// Validate a raw amount such as `12.50`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("amount is missing".into());
        }
        let value: f64 = raw
            .parse()
            .map_err(|_| "amount is not a number".to_owned())?;
        Self::new(value)
    }

    /// Validate an amount already held as a number.
    pub fn new(value: f64) -> Result<Self, String> {
        if !value.is_finite() {
            return Err("amount is not a finite number".into());
        }
        if value < 0.0 {
            return Err("amount is negative".into());
        }
        Ok(Self(value))
    }

    /// The amount in the shop's currency.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Parse a purchase date: ISO 8601 `YYYY-MM-DD`, or a full RFC 3339 timestamp whose
/// calendar date (in the timestamp's own offset) is the purchase day.
pub fn parse_date(raw: &str) -> Result<Date, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("date is missing".into());
    }
    let parsed = if raw.len() == 10 {
        Date::parse(raw, format_description!("[year]-[month]-[day]")).ok()
    } else {
        time::OffsetDateTime::parse(raw, &Rfc3339)
            .ok()
            .map(|t| t.date())
    };
    parsed.ok_or_else(|| format!("date {raw:?} is not YYYY-MM-DD or RFC 3339"))
}

/// One purchase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transaction {
    /// Who bought.
    pub customer_id: CustomerId,
    /// The purchase day; purchases on the same day are one purchase for the models.
    #[serde(with = "date_iso")]
    pub date: Date,
    /// What was spent.
    pub amount: Amount,
    /// The shop's order id, when given.
    pub order_id: Option<String>,
}

mod date_iso {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(date)
    }
}

fn open(path: &Path) -> Result<File, ValueError> {
    File::open(path).map_err(|source| ValueError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Read transactions from a CSV file with header `customer_id,date,amount[,order_id]`
/// (columns in any order, names case-insensitive). All or nothing.
pub fn read_transactions_csv(path: &Path) -> Result<Vec<Transaction>, ValueError> {
    parse_transactions_csv(open(path)?)
}

/// Column position of `name` in `header`, case-insensitive.
pub(crate) fn column(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h = h.trim().trim_start_matches('\u{feff}');
        names.iter().any(|n| h.eq_ignore_ascii_case(n))
    })
}

/// Parse transactions CSV from any reader; see [`read_transactions_csv`].
pub fn parse_transactions_csv(input: impl Read) -> Result<Vec<Transaction>, ValueError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.headers()?.clone();
    let id_col =
        column(&header, &["customer_id"]).ok_or(ValueError::MissingColumn("customer_id"))?;
    let date_col = column(&header, &["date"]).ok_or(ValueError::MissingColumn("date"))?;
    let amount_col = column(&header, &["amount"]).ok_or(ValueError::MissingColumn("amount"))?;
    let order_col = column(&header, &["order_id"]);

    let mut out = Vec::new();
    let mut bad = RowErrors::new();
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(line + 1, |p| p.line());
                bad.push(at, format!("unreadable row ({e})"));
                if e.is_io_error() {
                    break;
                }
                continue;
            }
        }
        line = record.position().map_or(line + 1, |p| p.line());
        if record.len() > header.len() {
            bad.push(
                line,
                format!(
                    "row has {} fields, the header has {}",
                    record.len(),
                    header.len()
                ),
            );
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or("");
        let parsed = CustomerId::parse(field(id_col)).and_then(|customer_id| {
            let date = parse_date(field(date_col))?;
            let amount = Amount::parse(field(amount_col))?;
            let order_id = order_col
                .map(|i| field(i).trim())
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            Ok(Transaction {
                customer_id,
                date,
                amount,
                order_id,
            })
        });
        match parsed {
            Ok(t) => {
                if bad.is_empty() {
                    out.push(t);
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

/// Read the CDNOW transaction files as published by Fader and Hardie.
///
/// Whitespace-separated; either the master layout `customer_id yyyymmdd cds dollars`
/// (with a header line) or the 1/10 sample layout `orig_id new_id yyyymmdd cds dollars`,
/// where the sample's `new_id` (1..2357, the ids of the published summaries) is used.
pub fn read_cdnow(path: &Path) -> Result<Vec<Transaction>, ValueError> {
    let reader = BufReader::new(open(path)?);
    let mut out = Vec::new();
    let mut bad = RowErrors::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.map_err(|source| ValueError::Io {
            path: path.to_owned(),
            source,
        })?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || (line_no == 1 && fields[0].parse::<u64>().is_err()) {
            continue;
        }
        let (id, date, dollars) = match fields.len() {
            4 => (fields[0], fields[1], fields[3]),
            5 => (fields[1], fields[2], fields[4]),
            n => {
                bad.push(line_no, format!("expected 4 or 5 fields, found {n}"));
                continue;
            }
        };
        let parsed = (|| {
            // Ids are zero-padded in the files; the summaries use the plain number.
            let id: u64 = id
                .parse()
                .map_err(|_| "customer id is not a number".to_owned())?;
            let customer_id = CustomerId::parse(&id.to_string())?;
            let date = Date::parse(date, format_description!("[year][month][day]"))
                .map_err(|_| format!("date {date:?} is not yyyymmdd"))?;
            let amount = Amount::parse(dollars)?;
            Ok::<_, String>(Transaction {
                customer_id,
                date,
                amount,
                order_id: None,
            })
        })();
        match parsed {
            Ok(t) => out.push(t),
            Err(problem) => bad.push(line_no, problem),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(ValueError::BadRows(bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_id_rejects_empty_long_and_control() {
        assert!(CustomerId::parse(" c-1 ").is_ok_and(|c| c.as_str() == "c-1"));
        assert!(CustomerId::parse("  ").is_err());
        assert!(CustomerId::parse(&"x".repeat(129)).is_err());
        assert!(CustomerId::parse("a\u{7}b").is_err());
    }

    #[test]
    fn amount_rejects_text_negative_and_infinite() {
        assert_eq!(Amount::parse("12.5").map(Amount::get), Ok(12.5));
        assert_eq!(Amount::parse("abc"), Err("amount is not a number".into()));
        assert_eq!(Amount::parse("-1"), Err("amount is negative".into()));
        assert!(Amount::parse("inf").is_err());
        assert!(Amount::parse("").is_err());
    }

    #[test]
    fn transactions_csv_reads_optional_order_id_and_any_column_order() {
        let csv = "amount,customer_id,order_id,date\n12.50,c1,o-1,2024-01-02\n3,c2,,2024-01-03T10:00:00Z\n";
        let rows = parse_transactions_csv(csv.as_bytes()).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].order_id.as_deref(), Some("o-1"));
        assert_eq!(rows[1].order_id, None);
        assert_eq!(rows[1].amount.get(), 3.0);
    }

    #[test]
    fn bad_rows_fail_the_whole_import_with_line_numbers() {
        let csv = "customer_id,date,amount\nc1,2024-01-02,10\nc2,2024-01-03,ten\nc3,2024-13-01,5\n,2024-01-01,1\nc4,2024-01-01,-2\n";
        let err = parse_transactions_csv(csv.as_bytes()).expect_err("bad rows");
        let ValueError::BadRows(rows) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(rows.total, 4);
        assert_eq!(rows.rows[0].to_string(), "line 3: amount is not a number");
        assert_eq!(rows.rows[1].line, 4);
        assert_eq!(rows.rows[2].to_string(), "line 5: customer_id is empty");
        assert_eq!(rows.rows[3].to_string(), "line 6: amount is negative");
        assert!(
            err.to_string()
                .starts_with("line 3: amount is not a number; line 4: date")
        );
    }

    #[test]
    fn a_single_bad_row_displays_as_in_the_issue() {
        let mut csv = String::from("customer_id,date,amount\n");
        for i in 0..10 {
            csv.push_str(&format!("c{i},2024-01-01,1\n"));
        }
        csv.push_str("c10,2024-01-01,abc\n");
        let err = parse_transactions_csv(csv.as_bytes()).expect_err("bad row");
        assert_eq!(err.to_string(), "line 12: amount is not a number");
        // A decimal comma splits the amount into two fields: caught, not read as 12.
        let err =
            parse_transactions_csv("customer_id,date,amount\nc1,2024-01-01,12,50\n".as_bytes())
                .expect_err("extra field");
        assert_eq!(
            err.to_string(),
            "line 2: row has 4 fields, the header has 3"
        );
    }

    #[test]
    fn missing_columns_and_long_error_lists_are_reported() {
        let err =
            parse_transactions_csv("customer_id,amount\nc1,3\n".as_bytes()).expect_err("no date");
        assert_eq!(err.to_string(), "missing column date");
        let mut csv = String::from("customer_id,date,amount\n");
        for _ in 0..25 {
            csv.push_str("c,2024-01-01,x\n");
        }
        let err = parse_transactions_csv(csv.as_bytes()).expect_err("bad");
        assert!(err.to_string().ends_with("; and 5 more bad rows"), "{err}");
    }

    #[test]
    fn dates_accept_iso_and_rfc3339() {
        let d = time::macros::date!(1997 - 09 - 30);
        assert_eq!(parse_date("1997-09-30"), Ok(d));
        assert_eq!(parse_date("1997-09-30T23:30:00-05:00"), Ok(d));
        assert_eq!(parse_date("1997-09-30T01:00:00Z"), Ok(d));
        assert!(parse_date("30/09/1997").is_err());
        assert!(parse_date("1997-02-30").is_err());
    }
}
