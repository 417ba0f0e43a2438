//! CSV for the report tables: RFC 4180 quoting, CRLF line ends, and text cells that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) prefixed with `'` (OWASP's advice on CSV injection). Numbers we format ourselves
//! are written as they are, so `-12.5` stays a number.

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text from people or the database (names, comments, labels): quoted and neutralised.
    Text(String),
    Number(f64),
    Int(i64),
    Bool(bool),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Cell::Empty, Cell::Number)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Number(v)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Cell::Empty, Cell::Int)
    }
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::Empty, Cell::Text)
    }
}

impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Cell::Bool(v)
    }
}

/// A text cell's value as written: formula starters neutralised, then quoted when it holds a
/// comma, a quote, a line break or starts or ends with a space.
pub fn text_cell(raw: &str) -> String {
    let neutral = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    let needs_quotes = neutral.contains([',', '"', '\n', '\r'])
        || neutral.starts_with(' ')
        || neutral.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => text_cell(s),
        Cell::Number(v) if v.is_finite() => {
            // Six decimals at most, without trailing zeros.
            let s = format!("{v:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" {
                "0".to_owned()
            } else {
                s.to_owned()
            }
        }
        Cell::Number(_) | Cell::Empty => String::new(),
        Cell::Int(v) => v.to_string(),
        Cell::Bool(v) => v.to_string(),
    }
}

/// A whole table: a header line and one line per row, CRLF after each.
pub fn table(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(header.iter().map(|h| text_cell(h)).collect(), &mut out);
    for row in rows {
        line(row.iter().map(cell).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(text_cell("plain"), "plain");
        assert_eq!(text_cell("a,b"), "\"a,b\"");
        assert_eq!(text_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(text_cell(" padded"), "\" padded\"");
        assert_eq!(text_cell(""), "");
    }

    #[test]
    fn formulas_are_neutralised_in_text_but_numbers_stay_numbers() {
        assert_eq!(
            text_cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(text_cell("+1 555"), "'+1 555");
        assert_eq!(text_cell("-2+3"), "'-2+3");
        assert_eq!(text_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text_cell("\tx"), "'\tx");
        assert_eq!(cell(&Cell::Number(-12.5)), "-12.5");
        assert_eq!(cell(&Cell::Number(30.0)), "30");
        assert_eq!(cell(&Cell::Number(1.0 / 3.0)), "0.333333");
        assert_eq!(cell(&Cell::Number(-0.0000001)), "0");
        assert_eq!(cell(&Cell::Number(f64::NAN)), "");
        assert_eq!(cell(&Cell::Int(-3)), "-3");
    }

    #[test]
    fn a_table_has_a_header_and_crlf_lines() {
        let csv = table(
            &["name", "nps"],
            &[
                vec!["Ann, Bo".into(), Cell::Number(30.0)],
                vec![Cell::Empty, Cell::Empty],
            ],
        );
        assert_eq!(csv, "name,nps\r\n\"Ann, Bo\",30\r\n,\r\n");
    }
}
