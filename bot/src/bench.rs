//! `hark bench widget`: a load generator for the widget channel.
//!
//! It starts `hark demo` as a child process (so the server's memory is measured on its own), opens
//! N widget connections over real websockets, measures the server's resident memory per idle
//! connection, then has the connections ask questions from the demo knowledge base at a fixed total
//! rate and reports answers per second and send-to-answer latency.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, Clone, clap::Args)]
pub struct WidgetBenchArgs {
    /// Concurrent widget connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Questions per second across all connections.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Seconds of load after the connections are open.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Benchmark a server already running at this address instead of starting one
    /// (then server memory is not reported).
    #[arg(long)]
    pub addr: Option<String>,
}

pub(crate) struct Server {
    child: tokio::process::Child,
    pub(crate) addr: String,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> anyhow::Result<Server> {
        Server::start_with(&[]).await
    }

    /// Starts `hark demo` with extra flags.
    pub(crate) async fn start_with(extra: &[&str]) -> anyhow::Result<Server> {
        Server::start_in(tempfile::tempdir()?, extra).await
    }

    /// Starts `hark demo` on the data dir `dir` (which may hold a prepared database).
    pub(crate) async fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> anyhow::Result<Server> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let addr = format!("127.0.0.1:{port}");
        let exe = std::env::current_exe()?;
        let child = tokio::process::Command::new(exe)
            .args([
                "demo",
                "--listen",
                &addr,
                "--ws-connections-per-ip",
                "1000000",
            ])
            .args(["--ws-messages-per-second", "1000"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server")?;
        let server = Server {
            child,
            addr,
            _dir: dir,
        };
        for _ in 0..300 {
            if TcpStream::connect(&server.addr).await.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not start listening");
    }

    fn rss_bytes(&self) -> Option<u64> {
        let pid = self.child.id()?;
        rss_of(&PathBuf::from(format!("/proc/{pid}/status")))
    }
}

fn rss_of(status: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) async fn open(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket
        .send(Message::text(json!({"type": "hello"}).to_string()))
        .await?;
    loop {
        let frame = socket.next().await.context("closed before welcome")??;
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == "welcome" {
                return Ok(socket);
            }
        }
    }
}

/// Sends one question and waits for the bot's answer; returns the latency.
async fn ask(socket: &mut Socket, client_id: &str, text: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let frame = json!({"type": "message", "client_id": client_id, "text": text});
    socket.send(Message::text(frame.to_string())).await?;
    loop {
        let frame = socket.next().await.context("closed while waiting")??;
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text)?;
            match value["type"].as_str() {
                Some("message") if value["author"] != "customer" => return Ok(start.elapsed()),
                Some("error") => bail!("error frame: {value}"),
                _ => {}
            }
        }
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(args: WidgetBenchArgs) -> anyhow::Result<()> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if (limit as usize) < args.connections * 2 + 100 => {
            eprintln!(
                "warning: open-file limit {limit} may be too low for {} connections",
                args.connections
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not raise the open-file limit: {e}"),
    }
    let server = match &args.addr {
        Some(_) => None,
        None => Some(Server::start().await?),
    };
    let addr = args
        .addr
        .clone()
        .or_else(|| server.as_ref().map(|s| s.addr.clone()))
        .context("no server address")?;
    let url = format!("ws://{addr}/ws/widget");
    let questions: Arc<Vec<String>> = Arc::new(
        kb::import::from_jsonl(crate::app::DEMO_KB.as_bytes())?
            .into_iter()
            .flat_map(|a| a.questions)
            .collect(),
    );

    // Warm up (index, allocator, first connection) before the memory baseline.
    let mut warm = open(&url).await?;
    ask(&mut warm, "warm-0", &questions[0]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.as_ref().and_then(Server::rss_bytes);

    let opened = Instant::now();
    let gate = Arc::new(Semaphore::new(256));
    let mut handles = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let permit = Arc::clone(&gate).acquire_owned().await?;
        let url = url.clone();
        handles.push(tokio::spawn(async move {
            let socket = open(&url).await;
            drop(permit);
            socket
        }));
    }
    let mut sockets = Vec::with_capacity(args.connections);
    let mut failed = 0usize;
    for handle in handles {
        match handle.await? {
            Ok(socket) => sockets.push(socket),
            Err(_) => failed += 1,
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = server.as_ref().and_then(Server::rss_bytes);
    let held = sockets.len();
    println!(
        "connections held:        {held} of {} ({failed} failed) in {open_secs:.1} s",
        args.connections
    );
    if let (Some(before), Some(after)) = (rss_before, rss_idle) {
        let per = after.saturating_sub(before) as f64 / held.max(1) as f64;
        println!(
            "server RSS:              {:.1} MiB before, {:.1} MiB with {held} idle connections",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0
        );
        println!("server RSS per idle connection: {:.1} KiB", per / 1024.0);
    }

    // Load: each connection asks every `period`, phases spread evenly.
    let period = Duration::from_secs_f64(held.max(1) as f64 / f64::from(args.rate.max(1)));
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(held);
    for (i, mut socket) in sockets.into_iter().enumerate() {
        let questions = Arc::clone(&questions);
        let latencies = Arc::clone(&latencies);
        let errors = Arc::clone(&errors);
        let phase = period.mul_f64(i as f64 / held.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now() + phase;
            let mut n = 0usize;
            loop {
                if next.into_std() >= deadline {
                    break;
                }
                tokio::time::sleep_until(next).await;
                let question = &questions[(i + n) % questions.len()];
                match ask(&mut socket, &format!("b{i}-{n}"), question).await {
                    Ok(latency) => latencies.lock().await.push(latency),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
                next += period;
            }
            socket
        }));
    }
    let mut sockets = Vec::with_capacity(held);
    for task in tasks {
        if let Ok(socket) = task.await {
            sockets.push(socket);
        }
    }
    // Answers per second over the load window (sends stop at the deadline).
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(args.duration as f64)
        .max(1e-9);
    let mut latencies = std::mem::take(&mut *latencies.lock().await);
    latencies.sort();
    println!(
        "answers:                 {} in {elapsed:.1} s = {:.0} answers/s (target rate {}/s), {} errors",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        args.rate,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "send to answer:          p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    drop(sockets);
    drop(warm);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
