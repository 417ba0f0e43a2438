//! One text per line on stdin, one JSON score per line on stdout: what `hark sentiment` does,
//! plus switches for the side-by-side check against Python `vaderSentiment`
//! (`scripts/bench-sentiment.sh`).
//!
//! ```text
//! cargo run --release -p feedback --example sentiment_lines -- [--vader-only] [--no-model] \
//!     [--explain] [--lexicon FILE] [--examples FILE] [--confidence FILL,OVERRULE] [--time]
//! ```
//! `--explain` adds `domain_rules` (the `file:line` of each customer-service rule that fired,
//! and `service-model` when the service model decided); `--no-model` scores with VADER and the
//! rules only; `--examples` retrains the service model with more labelled messages;
//! `--confidence` sets its thresholds (for measuring them); `--time`
//! also prints single-core scoring throughput (texts/s) to stderr.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::Instant;

use feedback::sentiment::{Analyzer, run_lines};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut analyzer = if args.iter().any(|a| a == "--vader-only") {
        Analyzer::vader_only()
    } else {
        Analyzer::new()
    };
    if let Some(k) = args.iter().position(|a| a == "--lexicon") {
        let path = args.get(k + 1).ok_or("--lexicon needs a file")?;
        analyzer = analyzer.with_domain_lexicon_file(Path::new(path))?;
    }
    if let Some(k) = args.iter().position(|a| a == "--examples") {
        let path = args.get(k + 1).ok_or("--examples needs a file")?;
        analyzer = analyzer.with_service_examples_file(Path::new(path))?;
    }
    if let Some(k) = args.iter().position(|a| a == "--confidence") {
        // FILL,OVERRULE: the service model's thresholds, for measuring them.
        let value = args.get(k + 1).ok_or("--confidence needs FILL,OVERRULE")?;
        let (fill, overrule) = value.split_once(',').ok_or("--confidence FILL,OVERRULE")?;
        analyzer = analyzer.with_service_model_confidence(feedback::sentiment::ModelConfidence {
            fill: fill.parse()?,
            overrule: overrule.parse()?,
        });
    }
    if args.iter().any(|a| a == "--no-model") {
        analyzer = analyzer.without_service_model();
    }
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    if args.iter().any(|a| a == "--time") {
        // Score only (no I/O, no JSON), several rounds, best round: what Python's loop measures.
        let texts: Vec<String> = input.lines().map_while(Result::ok).collect();
        let mut best = f64::INFINITY;
        let mut checksum = 0.0;
        for _ in 0..5 {
            let start = Instant::now();
            for t in &texts {
                checksum += analyzer.score(t).compound;
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        eprintln!(
            "rust: {} texts in {:.4} s = {:.0} texts/s (best of 5, single core, checksum {checksum:.3})",
            texts.len(),
            best,
            texts.len() as f64 / best
        );
    }
    if args.iter().any(|a| a == "--explain") {
        let body = input.strip_suffix(b"\n").unwrap_or(&input);
        for line in body.split(|&b| b == b'\n').filter(|_| !body.is_empty()) {
            let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
            serde_json::to_writer(&mut out, &analyzer.analyze(&text))?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    run_lines(&analyzer, input.as_slice(), &mut out)?;
    Ok(())
}
