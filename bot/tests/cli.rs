//! The `hark` binary as a user runs it: imports, asks, migrations, bad files.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn hark(dir: &std::path::Path, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(args)
        .env("HARK_DATA_DIR", dir)
        .env_remove("HARK_DATABASE_URL")
        .env_remove("HARK_CONFIG")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().map(|mut s| s.write_all(stdin.as_bytes())).transpose()?;
    Ok(child.wait_with_output()?)
}

fn lines(output: &Output) -> anyhow::Result<Vec<serde_json::Value>> {
    String::from_utf8(output.stdout.clone())?
        .lines()
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

const ARTICLES: &str = r#"{"id":"delivery-times","title":"Delivery times","answer":"Orders arrive in 2 to 4 working days.","questions":["how long does delivery take?","when will my order arrive"],"tags":["delivery"]}
{"id":"returns","title":"Returns and refunds","answer":"Return anything within 30 days for a full refund.","questions":["can I return an item","how do refunds work"],"tags":["returns"]}
"#;

#[test]
fn import_then_ask_answers_from_the_database() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("kb.jsonl"), ARTICLES)?;
    let import = hark(dir.path(), &["kb", "import", "kb.jsonl"], "")?;
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    assert!(String::from_utf8_lossy(&import.stdout).contains("imported 2 articles"));

    let ask = hark(dir.path(), &["kb", "ask"], "how long does delivery take?\nqwzx plonk\n")?;
    assert!(ask.status.success(), "{}", String::from_utf8_lossy(&ask.stderr));
    let answers = lines(&ask)?;
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["query"], "how long does delivery take?");
    assert_eq!(answers[0]["article_id"], "delivery-times");
    assert_eq!(answers[0]["title"], "Delivery times");
    assert_eq!(answers[0]["answered"], true);
    assert_eq!(answers[0]["outcome"], "answer");
    assert!(answers[0]["confidence"].as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)));
    assert!(answers[0]["suggestions"].is_array());
    assert_eq!(answers[1]["answered"], false);
    assert_ne!(answers[1]["outcome"], "answer");
    Ok(())
}

#[test]
fn ask_from_a_file_needs_no_database() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("kb.jsonl"), ARTICLES)?;
    let ask = hark(dir.path(), &["kb", "ask", "--kb", "kb.jsonl"], "can I return an item\n")?;
    assert!(ask.status.success());
    assert_eq!(lines(&ask)?[0]["article_id"], "returns");
    assert!(!dir.path().join("hark.db").exists(), "no database was created");
    Ok(())
}

#[test]
fn a_bad_row_names_its_line_and_imports_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("good.jsonl"), ARTICLES)?;
    assert!(hark(dir.path(), &["kb", "import", "good.jsonl"], "")?.status.success());

    let bad = format!("{}{}", r#"{"id":"new-one","title":"New","answer":"A new article."}
"#, r#"{"id":"broken","title":"","answer":"no title"}
"#);
    std::fs::write(dir.path().join("bad.jsonl"), bad)?;
    let import = hark(dir.path(), &["kb", "import", "bad.jsonl"], "")?;
    assert!(!import.status.success());
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");

    let csv = "id,title,question,answer\nx,Title,q,answer\ny,Title\n";
    std::fs::write(dir.path().join("bad.csv"), csv)?;
    let import = hark(dir.path(), &["kb", "import", "bad.csv"], "")?;
    assert!(!import.status.success());
    assert!(String::from_utf8_lossy(&import.stderr).contains("line 3"));

    // Nothing from either bad file reached the database.
    let ask = hark(dir.path(), &["kb", "ask"], "A new article\n")?;
    let answers = lines(&ask)?;
    assert_ne!(answers[0]["article_id"], "new-one");
    assert_ne!(answers[0]["article_id"], "x");
    Ok(())
}

#[test]
fn ask_reports_invalid_utf8_lines_and_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("kb.jsonl"), ARTICLES)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(["kb", "ask", "--kb", "kb.jsonl"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().map(|mut s| s.write_all(b"\xff\xfe\ncan I return an item\n")).transpose()?;
    let out = child.wait_with_output()?;
    let answers = lines(&out)?;
    assert_eq!(answers[0]["error"], "line 1: invalid UTF-8");
    assert_eq!(answers[1]["article_id"], "returns");
    Ok(())
}

#[test]
fn migrate_creates_the_sqlite_database_and_a_bad_url_is_a_clear_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = hark(dir.path(), &["migrate"], "")?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("hark.db").exists());
    let out = hark(dir.path(), &["migrate", "--database-url", "mysql://nope"], "")?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database url"));
    Ok(())
}

#[test]
fn a_config_file_with_a_typo_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("hark.toml"), "lisen = \"127.0.0.1:1\"\n")?;
    let out = hark(dir.path(), &["migrate"], "")?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `lisen`"));
    Ok(())
}
