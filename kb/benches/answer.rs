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

    println!("{} after loading the data", memory("VmHWM"));
    let kb = KnowledgeBase::in_memory(Language::English)?;
    let mut rebuilds = Vec::new();
    let mut rebuild_cpu = Vec::new();
    // HARK_REBUILDS=10 shows whether peak memory settles over many rebuilds.
    let rounds: usize = std::env::var("HARK_REBUILDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(2);
    for _ in 0..rounds {
        let cpu = process_cpu_ms();
        let started = Instant::now();
        kb.rebuild(articles.clone())?;
        rebuilds.push(started.elapsed().as_secs_f64() * 1000.0);
        if let (Some(before), Some(after)) = (cpu, process_cpu_ms()) {
            rebuild_cpu.push(after - before);
        }
        println!("{} after rebuild {}", memory("VmHWM"), rebuilds.len());
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
    let cpu_before = thread_cpu_ns();
    for q in &queries {
        let started = Instant::now();
        std::hint::black_box(kb.ask(q));
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu_per_query = match (cpu_before, thread_cpu_ns()) {
        (Some(before), Some(after)) => {
            after.saturating_sub(before) as f64 / 1e6 / queries.len() as f64
        }
        _ => f64::NAN,
    };
    latencies.sort_by(f64::total_cmp);
    let pct = |v: &[f64], q: f64| {
        if v.is_empty() {
            return f64::NAN;
        }
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };

    println!(
        "knowledge base: {} articles, {} example questions",
        articles.len(),
        examples.len()
    );
    println!(
        "ask latency over {} queries (one thread, wall clock): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latencies.len(),
        pct(&latencies, 0.50),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0)
    );
    // On a shared machine the wall clock includes time the thread waited for a core; the
    // thread's own CPU time shows what one core spends per query (the kernel counts it in
    // scheduler ticks here, so only the mean over all queries is meaningful).
    println!("ask CPU time per query (this thread, mean): {cpu_per_query:.3} ms");
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average while measuring: {}", load.trim());
    }
    println!(
        "rebuild (index + model + calibration), best/median of {}: {:.0} ms / {:.0} ms",
        rebuilds.len(),
        rebuilds[0],
        rebuilds[rebuilds.len() / 2]
    );
    println!(
        "rebuild CPU time (all threads, 10 ms ticks): {:?} ms",
        rebuild_cpu
    );
    println!("{}, {}", memory("VmHWM"), memory("VmRSS"));
    Ok(())
}

/// A line of /proc/self/status such as "VmHWM: 123 kB" (peak resident memory).
fn memory(key: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| format!("{key}: unavailable"))
}

/// This thread's time on a CPU, in nanoseconds (first field of /proc/thread-self/schedstat).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The process's user + system CPU time in milliseconds (from /proc/self/stat, 100 ticks/s).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}
