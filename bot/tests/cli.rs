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
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(stdin.as_bytes()))
        .transpose()?;
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
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(String::from_utf8_lossy(&import.stdout).contains("imported 2 articles"));

    let ask = hark(
        dir.path(),
        &["kb", "ask"],
        "how long does delivery take?\nqwzx plonk\n",
    )?;
    assert!(
        ask.status.success(),
        "{}",
        String::from_utf8_lossy(&ask.stderr)
    );
    let answers = lines(&ask)?;
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["query"], "how long does delivery take?");
    assert_eq!(answers[0]["article_id"], "delivery-times");
    assert_eq!(answers[0]["title"], "Delivery times");
    assert_eq!(answers[0]["answered"], true);
    assert_eq!(answers[0]["outcome"], "answer");
    assert!(
        answers[0]["confidence"]
            .as_f64()
            .is_some_and(|c| (0.0..=1.0).contains(&c))
    );
    assert!(answers[0]["suggestions"].is_array());
    assert_eq!(answers[1]["answered"], false);
    assert_ne!(answers[1]["outcome"], "answer");
    Ok(())
}

#[test]
fn ask_from_a_file_needs_no_database() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("kb.jsonl"), ARTICLES)?;
    let ask = hark(
        dir.path(),
        &["kb", "ask", "--kb", "kb.jsonl"],
        "can I return an item\n",
    )?;
    assert!(ask.status.success());
    assert_eq!(lines(&ask)?[0]["article_id"], "returns");
    assert!(
        !dir.path().join("hark.db").exists(),
        "no database was created"
    );
    Ok(())
}

#[test]
fn a_bad_row_names_its_line_and_imports_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("good.jsonl"), ARTICLES)?;
    assert!(
        hark(dir.path(), &["kb", "import", "good.jsonl"], "")?
            .status
            .success()
    );

    let bad = format!(
        "{}{}",
        r#"{"id":"new-one","title":"New","answer":"A new article."}
"#,
        r#"{"id":"broken","title":"","answer":"no title"}
"#
    );
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
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(b"\xff\xfe\ncan I return an item\n"))
        .transpose()?;
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("hark.db").exists());
    let out = hark(
        dir.path(),
        &["migrate", "--database-url", "mysql://nope"],
        "",
    )?;
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

/// A purchase history drawn as BG/NBD assumes: each customer buys at their own rate and may
/// leave after any purchase with their own probability (deterministic: a linear congruential generator).
fn purchases() -> String {
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("customer_id,date,amount\n");
    let start =
        time::Date::from_calendar_date(2024, time::Month::January, 1).unwrap_or(time::Date::MIN);
    for customer in 0..400 {
        let rate = 0.002 + 0.05 * next() * next();
        let first = (next() * 60.0) as i64;
        // After each purchase the customer may leave for good, with their own probability.
        let leave = 0.05 + 0.5 * next();
        let mut alive = true;
        // Each customer has their own typical basket (Gamma-Gamma's premise).
        let basket = 15.0 + 60.0 * next() * next();
        for day in first..180 {
            if day == first || (alive && next() < rate) {
                let date = start + time::Duration::days(day);
                alive = next() >= leave;
                csv.push_str(&format!(
                    "c{customer},{date},{:.2}\n",
                    basket * (0.6 + 0.8 * next())
                ));
            }
        }
    }
    csv
}

#[test]
fn value_fit_and_score_from_transactions() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("tx.csv"), purchases())?;
    let fit = hark(
        dir.path(),
        &[
            "value",
            "fit",
            "--transactions",
            "tx.csv",
            "--calibration-end",
            "2024-06-30",
        ],
        "",
    )?;
    assert!(
        fit.status.success(),
        "{}",
        String::from_utf8_lossy(&fit.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&fit.stdout)?;
    for key in ["r", "alpha", "a", "b", "log_likelihood"] {
        assert!(
            report["bgnbd"][key].as_f64().is_some_and(f64::is_finite),
            "{key}: {report}"
        );
    }

    let score = hark(
        dir.path(),
        &[
            "value",
            "score",
            "--transactions",
            "tx.csv",
            "--calibration-end",
            "2024-06-30",
        ],
        "",
    )?;
    assert!(
        score.status.success(),
        "{}",
        String::from_utf8_lossy(&score.stderr)
    );
    let customers = lines(&score)?;
    assert_eq!(customers.len(), 400);
    for c in &customers {
        let p = c["p_alive"].as_f64().unwrap_or(-1.0);
        let risk = c["churn_risk"].as_f64().unwrap_or(-1.0);
        assert!(
            (0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&risk),
            "{c}"
        );
        assert!(c["segment"].is_string() || c["segment"].is_object(), "{c}");
        assert!(c["reasons"].is_array(), "{c}");
    }
    Ok(())
}

#[test]
fn value_import_errors_name_the_line_and_missing_flags_are_explained() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("bad.csv"),
        "customer_id,date,amount\na,2024-01-01,10\nb,2024-13-45,5\n",
    )?;
    let out = hark(
        dir.path(),
        &[
            "value",
            "fit",
            "--transactions",
            "bad.csv",
            "--calibration-end",
            "2024-06-30",
        ],
        "",
    )?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hark(
        dir.path(),
        &["value", "fit", "--transactions", "bad.csv"],
        "",
    )?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("--calibration-end"));
    Ok(())
}

#[test]
fn value_fit_on_cdnow_matches_the_published_parameters() -> anyhow::Result<()> {
    let summary = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/cdnow/cdnow_customers_summary_with_transactions.csv");
    if !summary.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and ../shared/data is missing"
        );
        eprintln!("SKIPPED: ../shared/data/cdnow is missing");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    // Hardie's file names its columns ID,x,t_x,T,zbar; ours are the lifetimes names.
    let text = std::fs::read_to_string(&summary)?.replace("\r\n", "\n");
    let renamed = text.replacen(
        "ID,x,t_x,T,zbar",
        "customer_id,frequency,recency,T,monetary_value",
        1,
    );
    std::fs::write(dir.path().join("summary.csv"), renamed)?;
    let out = hark(
        dir.path(),
        &["value", "fit", "--summary", "summary.csv"],
        "",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let close = |got: &serde_json::Value, want: f64, tol: f64| {
        got.as_f64().is_some_and(|g| (g - want).abs() / want < tol)
    };
    let b = &report["bgnbd"];
    assert!(
        close(&b["r"], 0.2426, 1e-3) && close(&b["alpha"], 4.4135, 1e-3),
        "{b}"
    );
    assert!(
        close(&b["a"], 0.7929, 1e-3) && close(&b["b"], 2.4257, 1e-3),
        "{b}"
    );
    let g = &report["gamma_gamma"];
    assert!(
        close(&g["p"], 6.2488, 1e-3)
            && close(&g["q"], 3.7446, 1e-3)
            && close(&g["v"], 15.4478, 1e-3),
        "{g}"
    );
    Ok(())
}

#[test]
fn value_import_stores_purchases_once_and_refuses_bad_files_whole() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let good = "customer_id,date,amount,order_id\nshop-1,2024-01-03,20.00,o1\nshop-2,2024-01-09,12.00,o2\n";
    std::fs::write(dir.path().join("good.csv"), good)?;
    let out = hark(dir.path(), &["value", "import", "good.csv"], "")?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 purchases"));
    let out = hark(dir.path(), &["value", "import", "good.csv"], "")?;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 0 purchases"),
        "idempotent by order id"
    );

    let bad =
        "customer_id,date,amount,order_id\nshop-3,2024-01-03,5.00,o9\nshop-3,2024-01-04,-3,o10\n";
    std::fs::write(dir.path().join("bad.csv"), bad)?;
    let out = hark(dir.path(), &["value", "import", "bad.csv"], "")?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hark(dir.path(), &["value", "import", "good.csv"], "")?;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 already stored, 0 new customers"),
        "shop-3 was not stored"
    );
    Ok(())
}

#[test]
fn apikey_add_prints_a_key_once_and_revoke_ends_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let add = hark(dir.path(), &["apikey", "add", "shop-backend"], "")?;
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let key = String::from_utf8(add.stdout)?;
    assert!(
        key.trim().starts_with("hark_") && key.trim().len() == 69,
        "{key}"
    );
    // Only the hash is stored: the key is nowhere in the database files (WAL included),
    // while its hash is.
    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hark.db"))
        {
            db.extend(std::fs::read(path)?);
        }
    }
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(key.trim().as_bytes()));
    assert!(contains(hark_bot::apikey::hash(key.trim()).as_bytes()));

    let again = hark(dir.path(), &["apikey", "add", "shop-backend"], "")?;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; revoke it first"));
    let bad = hark(dir.path(), &["apikey", "add", "no spaces"], "")?;
    assert!(!bad.status.success());

    let revoke = hark(dir.path(), &["apikey", "revoke", "shop-backend"], "")?;
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let twice = hark(dir.path(), &["apikey", "revoke", "shop-backend"], "")?;
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no live key"));
    // The name is free again after revoking.
    assert!(
        hark(dir.path(), &["apikey", "add", "shop-backend"], "")?
            .status
            .success()
    );
    Ok(())
}

#[test]
fn value_refresh_scores_the_stored_purchases() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| (today - time::Duration::days(n)).to_string();
    let csv = format!(
        "customer_id,date,amount\nA,{},20\nA,{},20\nA,{},20\nB,{},90\n",
        day(40),
        day(20),
        day(3),
        day(200)
    );
    std::fs::write(dir.path().join("p.csv"), csv)?;
    let import = hark(dir.path(), &["value", "import", "p.csv"], "")?;
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let refresh = hark(
        dir.path(),
        &["value", "refresh", "--value-at-risk-share", "0.5"],
        "",
    )?;
    assert!(
        refresh.status.success(),
        "{}",
        String::from_utf8_lossy(&refresh.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&refresh.stdout)?;
    assert_eq!(report["model_version"], "value-simple-1");
    assert_eq!(report["customers"], 2);
    assert_eq!(report["at_risk"], 1);
    assert_eq!(report["tasks_created"], 1);
    assert!(
        report["fallback_reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 customers with purchases")),
        "{report}"
    );
    // A webhook URL without its secret is a configuration error, said plainly.
    let out = hark(
        dir.path(),
        &[
            "value",
            "refresh",
            "--value-webhook-url",
            "http://127.0.0.1:9/hook",
        ],
        "",
    )?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs value_webhook_secret"));
    Ok(())
}

#[test]
fn sentiment_scores_lines_and_takes_the_owners_files() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = hark(
        dir.path(),
        &["sentiment"],
        "Thanks, that fixed it!\nmy order never arrived\nmy flurbel is squonking\n",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let labels: Vec<&str> = rows.iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(labels, ["positive", "negative", "neutral"]);
    for key in ["compound", "pos", "neu", "neg"] {
        assert!(rows[0][key].is_f64(), "{key} in {}", rows[0]);
    }

    // The owner's labelled messages teach the service model their customers' words.
    let examples = dir.path().join("examples.tsv");
    std::fs::write(
        &examples,
        "negative\tthe flurbel is squonking again\nnegative\tsquonking all night, fix the flurbel\n\
         negative\tit keeps squonking\nneutral\thow do I clean the flurbel?\n",
    )?;
    let path = examples.to_string_lossy().into_owned();
    let out = hark(
        dir.path(),
        &["sentiment", "--sentiment-examples", &path],
        "my flurbel is squonking\n",
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(row["label"], "negative", "{row}");

    // A bad file is refused with its line numbers, not quietly ignored.
    std::fs::write(&examples, "negative\tlate\nfurious\tvery late\n")?;
    let out = hark(
        dir.path(),
        &["sentiment", "--sentiment-examples", &path],
        "hello\n",
    )?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sentiment_examples") && err.contains("line 2"),
        "{err}"
    );
    Ok(())
}
