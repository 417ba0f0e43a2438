//! Prints answer latency (p50/p99 per query), rebuild time and peak memory on a knowledge base
//! built from banking77 (10,003 examples, 77 articles). A benchmark that prints figures, not a
//! timed test: `cargo bench -p kb --bench answer`. Set HARK_BANKING77 to point at another copy.

use std::time::Instant;

use kb::{Article, KnowledgeBase, Language};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("HARK_BANKING77")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/banking77/train.csv")
        });
    if !path.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            return Err(format!("CI=true but {} is missing", path.display()).into());
        }
        println!("skipping: {} not found", path.display());
        return Ok(());
    }
    let examples = kb::eval::load_labelled(&path)?;
    let mut by_label: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (text, label) in &examples {
        by_label.entry(label).or_default().push(text.clone());
    }
    let articles: Vec<Article> = by_label
        .into_iter()
        .map(|(label, questions)| Article {
            id: label.to_owned(),
            title: label.replace('_', " "),
            answer: label.replace('_', " "),
            questions,
            tags: Vec::new(),
        })
        .collect();

    let kb = KnowledgeBase::in_memory(Language::English)?;
    let mut rebuilds = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        kb.rebuild(articles.clone())?;
        rebuilds.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    rebuilds.sort_by(f64::total_cmp);

    // Queries: every example text, slightly altered so they are not verbatim training data.
    let queries: Vec<String> = examples
        .iter()
        .map(|(text, _)| format!("{} please", text.to_lowercase()))
        .collect();
    for q in queries.iter().take(500) {
        std::hint::black_box(kb.ask(q));
    }
    let mut latencies = Vec::with_capacity(queries.len());
    for q in &queries {
        let started = Instant::now();
        std::hint::black_box(kb.ask(q));
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1]
    };

    println!(
        "knowledge base: {} articles, {} example questions",
        articles.len(),
        examples.len()
    );
    println!(
        "ask latency over {} queries (one thread): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "rebuild (index + model + calibration), best/median of 3: {:.0} ms / {:.0} ms",
        rebuilds[0], rebuilds[1]
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for key in ["VmHWM", "VmRSS"] {
        if let Some(line) = status.lines().find(|l| l.starts_with(key)) {
            println!("{}", line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    Ok(())
}
