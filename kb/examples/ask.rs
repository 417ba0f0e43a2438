//! Answers one query per stdin line from a knowledge-base file, printing each decision as JSON.
//!
//! cargo run --release -p kb --example ask -- KB.jsonl [--lang en] < queries.txt

use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or("usage: ask KB_FILE [--lang en] < queries")?;
    let lang = match (args.next().as_deref(), args.next()) {
        (Some("--lang"), Some(lang)) => lang.parse()?,
        _ => kb::Language::English,
    };
    let kb = kb::KnowledgeBase::in_memory(lang)?;
    kb.rebuild(kb::import::from_path(std::path::Path::new(&file))?)?;
    for line in std::io::stdin().lock().lines() {
        let query = line?;
        let d = kb.ask(&query);
        let ids: Vec<&str> = d
            .suggestions
            .iter()
            .map(|s| s.article_id.as_str())
            .collect();
        println!(
            "{:<45} {:?} {:?} {:.2} {:?}",
            query, d.outcome, d.article_id, d.confidence, ids
        );
    }
    Ok(())
}
