//! Article import from JSON Lines and CSV files.
//!
//! Import is all-or-nothing: the first bad row stops it and is reported with its 1-based line
//! number, and no article is returned. The server stores the result in one transaction.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::Article;

/// Why an import (or a labelled-data load for [`crate::eval`]) failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A row is bad; `line` is 1-based and counts physical lines of the file.
    #[error("line {line}: {reason}")]
    Row { line: usize, reason: String },
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported file type {0:?}: use .jsonl, .json or .csv")]
    UnsupportedFormat(String),
}

impl ImportError {
    /// The 1-based line of the bad row, when the error is about one row.
    pub fn line(&self) -> Option<usize> {
        match self {
            ImportError::Row { line, .. } => Some(*line),
            _ => None,
        }
    }

    pub(crate) fn row(line: usize, reason: impl Into<String>) -> Self {
        ImportError::Row {
            line,
            reason: reason.into(),
        }
    }
}

/// Reads the whole input and strips a UTF-8 byte-order mark, which spreadsheet exports add.
fn read_all(mut r: impl Read) -> Result<Vec<u8>, ImportError> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    Ok(bytes)
}

/// Splits into (1-based line number, text) pairs, rejecting invalid UTF-8 per line.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = Result<(usize, &str), ImportError>> {
    bytes.split(|b| *b == b'\n').enumerate().map(|(i, raw)| {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        std::str::from_utf8(raw)
            .map(|text| (i + 1, text))
            .map_err(|_| ImportError::row(i + 1, "invalid utf-8"))
    })
}

/// Parses JSON Lines, one article object per line; blank lines are skipped.
pub fn from_jsonl(r: impl Read) -> Result<Vec<Article>, ImportError> {
    let bytes = read_all(r)?;
    let mut articles = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for item in lines(&bytes) {
        let (line, text) = item?;
        if text.trim().is_empty() {
            continue;
        }
        let article: Article = serde_json::from_str(text)
            .map_err(|e| ImportError::row(line, format!("bad json: {}", json_reason(&e))))?;
        let article = article
            .normalized()
            .map_err(|reason| ImportError::row(line, reason))?;
        if let Some(first) = first_line.insert(article.id.clone(), line) {
            return Err(ImportError::row(
                line,
                format!("duplicate id {:?} (first on line {first})", article.id),
            ));
        }
        articles.push(article);
    }
    Ok(articles)
}

/// serde_json appends "at line 1 column 9" to messages; our line numbers are the file's.
fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// Parses a JSON array of articles, for `.json` files that are not JSON Lines.
fn from_json_array(bytes: &[u8]) -> Result<Vec<Article>, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        ImportError::row(line, "invalid utf-8")
    })?;
    let raw: Vec<Article> = serde_json::from_str(text)
        .map_err(|e| ImportError::row(e.line().max(1), format!("bad json: {}", json_reason(&e))))?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut articles = Vec::with_capacity(raw.len());
    for (i, article) in raw.into_iter().enumerate() {
        // An array has no row lines; report the item's position, which is what an editor shows
        // for pretty-printed files with one article per line.
        let position = i + 1;
        let article = article.normalized().map_err(|reason| {
            ImportError::row(position, format!("article {position}: {reason}"))
        })?;
        if let Some(first) = seen.insert(article.id.clone(), position) {
            return Err(ImportError::row(
                position,
                format!("duplicate id {:?} (first in article {first})", article.id),
            ));
        }
        articles.push(article);
    }
    Ok(articles)
}

/// Parses CSV with a header naming at least `id,title,question,answer` (any order, any case;
/// an optional `tags` column is split on `;`). Rows sharing an id merge their questions; on those
/// rows title and answer may be left empty, but if given they must match the first row.
pub fn from_csv(r: impl Read) -> Result<Vec<Article>, ImportError> {
    let bytes = read_all(r)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Ok(Vec::new()),
        Some(header) => header.map_err(csv_error)?,
    };
    let names: Vec<String> = header
        .iter()
        .map(|field| String::from_utf8_lossy(field).trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| names.iter().position(|n| n == name);
    let (Some(id_col), Some(title_col), Some(question_col), Some(answer_col)) = (
        column("id"),
        column("title"),
        column("question"),
        column("answer"),
    ) else {
        let missing: Vec<&str> = ["id", "title", "question", "answer"]
            .into_iter()
            .filter(|name| column(name).is_none())
            .collect();
        return Err(ImportError::row(
            1,
            format!("missing column: {}", missing.join(", ")),
        ));
    };
    let tags_col = column("tags");

    let mut articles: Vec<Article> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record
            .iter()
            .all(|field| field.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if record.len() != names.len() {
            return Err(ImportError::row(
                line,
                format!("expected {} fields, found {}", names.len(), record.len()),
            ));
        }
        let field = |col: usize| -> Result<&str, ImportError> {
            std::str::from_utf8(record.get(col).unwrap_or_default())
                .map(str::trim)
                .map_err(|_| ImportError::row(line, "invalid utf-8"))
        };
        let (id, title, question, answer) = (
            field(id_col)?,
            field(title_col)?,
            field(question_col)?,
            field(answer_col)?,
        );
        let tags: Vec<String> = match tags_col {
            Some(col) => field(col)?.split(';').map(str::to_owned).collect(),
            None => Vec::new(),
        };
        if let Some(&at) = by_id.get(id) {
            let article = &mut articles[at];
            if !title.is_empty() && title != article.title {
                return Err(ImportError::row(
                    line,
                    format!("title differs from an earlier row with id {id:?}"),
                ));
            }
            if !answer.is_empty() && answer != article.answer {
                return Err(ImportError::row(
                    line,
                    format!("answer differs from an earlier row with id {id:?}"),
                ));
            }
            if !question.is_empty() && !article.questions.iter().any(|q| q == question) {
                article.questions.push(question.to_owned());
            }
            for tag in tags {
                let tag = tag.trim();
                if !tag.is_empty() && !article.tags.iter().any(|t| t == tag) {
                    article.tags.push(tag.to_owned());
                }
            }
            continue;
        }
        let article = Article {
            id: id.to_owned(),
            title: title.to_owned(),
            answer: answer.to_owned(),
            questions: vec![question.to_owned()],
            tags,
        }
        .normalized()
        .map_err(|reason| ImportError::row(line, reason))?;
        by_id.insert(article.id.clone(), articles.len());
        articles.push(article);
    }
    Ok(articles)
}

fn csv_error(e: csv::Error) -> ImportError {
    let line = e.position().map_or(0, |p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ImportError::Io(io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ImportError::row(line, format!("expected {expected_len} fields, found {len}")),
        other => ImportError::row(line, format!("bad csv: {other:?}")),
    }
}

/// Imports a file, choosing the format by extension: `.jsonl`, `.json` (JSON Lines or one JSON
/// array) or `.csv`.
pub fn from_path(p: &Path) -> Result<Vec<Article>, ImportError> {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => from_jsonl(std::fs::File::open(p)?),
        "csv" => from_csv(std::fs::File::open(p)?),
        "json" => {
            let bytes = read_all(std::fs::File::open(p)?)?;
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                from_json_array(&bytes)
            } else {
                from_jsonl(bytes.as_slice())
            }
        }
        _ => Err(ImportError::UnsupportedFormat(ext)),
    }
}

/// One labelled example for evaluation, as JSON Lines.
#[derive(Deserialize)]
pub(crate) struct LabelledLine {
    pub text: String,
    pub label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(result: Result<Vec<Article>, ImportError>) -> (Option<usize>, String) {
        match result {
            Ok(articles) => panic!("expected an error, got {} articles", articles.len()),
            Err(e) => (e.line(), e.to_string()),
        }
    }

    #[test]
    fn jsonl_imports_articles_and_skips_blank_lines() {
        let input = "{\"id\":\"a\",\"title\":\"Delivery\",\"answer\":\"3 days\",\"questions\":[\"how long?\"]}\r\n\n{\"id\":\"b\",\"title\":\"Returns\",\"answer\":\"30 days\",\"tags\":[\"returns\"]}\n";
        let articles = from_jsonl(input.as_bytes()).expect("valid input");
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].questions, vec!["how long?".to_owned()]);
        assert_eq!(articles[1].tags, vec!["returns".to_owned()]);
    }

    #[test]
    fn jsonl_reports_empty_title_with_its_line() {
        let input = "{\"id\":\"a\",\"title\":\"T\",\"answer\":\"A\"}\n\n{\"id\":\"b\",\"title\":\" \",\"answer\":\"A\"}\n";
        let (line, msg) = line_of(from_jsonl(input.as_bytes()));
        assert_eq!(line, Some(3));
        assert_eq!(msg, "line 3: title is empty");
    }

    #[test]
    fn jsonl_rejects_bad_json_duplicates_long_ids_and_invalid_utf8() {
        let (line, msg) = line_of(from_jsonl(
            &b"{\"id\":\"a\",\"title\":\"T\",\"answer\":\"A\"}\n{oops\n"[..],
        ));
        assert_eq!(line, Some(2));
        assert!(msg.starts_with("line 2: bad json"), "{msg}");

        let dup = "{\"id\":\"a\",\"title\":\"T\",\"answer\":\"A\"}\n{\"id\":\"a\",\"title\":\"U\",\"answer\":\"B\"}\n";
        let (line, msg) = line_of(from_jsonl(dup.as_bytes()));
        assert_eq!(line, Some(2));
        assert!(msg.contains("duplicate id"), "{msg}");

        let long = format!(
            "{{\"id\":\"{}\",\"title\":\"T\",\"answer\":\"A\"}}\n",
            "x".repeat(129)
        );
        assert_eq!(line_of(from_jsonl(long.as_bytes())).0, Some(1));

        let missing = "{\"id\":\"a\",\"title\":\"T\"}\n";
        let (line, msg) = line_of(from_jsonl(missing.as_bytes()));
        assert_eq!(line, Some(1));
        assert!(msg.contains("answer"), "{msg}");

        let mut bad = b"{\"id\":\"a\",\"title\":\"T\",\"answer\":\"A\"}\n".to_vec();
        bad.extend_from_slice(b"{\"id\":\"b\",\"title\":\"\xff\",\"answer\":\"A\"}\n");
        assert_eq!(
            line_of(from_jsonl(bad.as_slice())),
            (Some(2), "line 2: invalid utf-8".to_owned())
        );
    }

    #[test]
    fn csv_merges_questions_of_rows_with_the_same_id() {
        let input = "\u{feff}id,title,question,answer\r\nd,Delivery times,how long does delivery take?,3 to 5 days\r\nd,,\"when will my order\r\narrive?\",\r\nr,Returns,,30 days\r\n";
        let articles = from_csv(input.as_bytes()).expect("valid csv");
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].questions.len(), 2);
        assert_eq!(articles[0].questions[1], "when will my order\r\narrive?");
        assert!(articles[1].questions.is_empty());
    }

    #[test]
    fn csv_reports_bad_rows_with_their_line() {
        // The quoted newline makes the third record start on line 4.
        let input = "id,title,question,answer\na,T,\"q\nq\",A\nb,,q,A\n";
        assert_eq!(
            line_of(from_csv(input.as_bytes())),
            (Some(4), "line 4: title is empty".to_owned())
        );

        let input = "id,title,answer\na,T,A\n";
        let (line, msg) = line_of(from_csv(input.as_bytes()));
        assert_eq!(line, Some(1));
        assert_eq!(msg, "line 1: missing column: question");

        let input = "id,title,question,answer\na,T,q,A\nb,T,q\n";
        assert_eq!(line_of(from_csv(input.as_bytes())).0, Some(3));

        let input = "id,title,question,answer\na,T,q,A\na,Other,q2,A\n";
        let (line, msg) = line_of(from_csv(input.as_bytes()));
        assert_eq!(line, Some(3));
        assert!(msg.contains("title differs"), "{msg}");

        let input = b"id,title,question,answer\na,T,q,A\nb,T,\xfe,A\n";
        assert_eq!(
            line_of(from_csv(&input[..])),
            (Some(3), "line 3: invalid utf-8".to_owned())
        );
    }

    #[test]
    fn from_path_picks_the_format_by_extension() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("kb.json");
        std::fs::write(&json, "[{\"id\":\"a\",\"title\":\"T\",\"answer\":\"A\"}]").expect("write");
        assert_eq!(from_path(&json).expect("json array").len(), 1);
        let txt = dir.path().join("kb.txt");
        std::fs::write(&txt, "x").expect("write");
        assert!(matches!(
            from_path(&txt),
            Err(ImportError::UnsupportedFormat(_))
        ));
    }
}
