//! The `hark` command line: a thin shell over the `hark_bot` library and the domain crates.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hark_bot::config::{ConfigArgs, Settings};
use hark_bot::store::Store;
use hark_bot::{app, server};
use kb::KnowledgeBase;
use serde_json::json;

mod apikey_cmd;
mod user_cmd;
mod value_cmd;

#[derive(Parser)]
#[command(
    name = "hark",
    version,
    about = "hark: customer conversations, answered and understood"
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run the demo shop: SQLite in the data dir, the demo knowledge base loaded.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Knowledge base: import, ask, evaluate.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Score sentiment: one text per line on stdin, one JSON object per line on stdout.
    Sentiment,
    /// Customer value: fit BG/NBD + Gamma-Gamma, score CLV, churn risk and segments.
    #[command(subcommand)]
    Value(value_cmd::ValueCommand),
    /// Staff accounts: add owners and agents, passwords, invitations.
    #[command(subcommand)]
    User(user_cmd::UserCommand),
    /// API keys for the server-to-server HTTP API (purchases, scores).
    #[command(subcommand)]
    Apikey(apikey_cmd::ApiKeyCommand),
    /// Benchmarks that print figures (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Load the widget channel: N connections, a question rate, latency and memory.
    Widget(hark_bot::bench::WidgetBenchArgs),
    /// Customers and agents at once: queue updates to every console, reply delivery latency.
    Console(hark_bot::bench_console::ConsoleBenchArgs),
}

#[derive(Subcommand)]
enum KbCommand {
    /// Import articles from JSON Lines or CSV (all or nothing).
    Import { file: PathBuf },
    /// Answer one query per stdin line with one JSON object per line.
    Ask {
        /// Answer from this JSON Lines file (in-memory index, no database).
        #[arg(long)]
        kb: Option<PathBuf>,
    },
    /// Cross-validate answering on labelled text (CSV `text,label` or JSONL).
    Eval {
        file: PathBuf,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Share of labels dropped from the knowledge base in each fold (out-of-scope test).
        #[arg(long, default_value_t = 0.0)]
        unknown_share: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn,tantivy=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = || Settings::resolve(&cli.config);
    match cli.command {
        Command::Serve => serve(settings()?, false).await,
        Command::Demo => {
            let mut settings = settings()?;
            // The demo always runs on embedded SQLite inside the data dir.
            settings.database_url = Store::sqlite_url_in(&settings.data_dir);
            serve(settings, true).await
        }
        Command::Migrate => {
            let settings = settings()?;
            Store::connect(&settings.database_url).await?;
            println!("migrations applied to {}", redact(&settings.database_url));
            Ok(())
        }
        Command::Kb(KbCommand::Import { file }) => {
            let articles = kb::import::from_path(&file)
                .with_context(|| format!("importing {}", file.display()))?;
            let store = Store::connect(&settings()?.database_url).await?;
            store.upsert_articles(&articles).await?;
            println!(
                "imported {} articles from {}",
                articles.len(),
                file.display()
            );
            Ok(())
        }
        Command::Kb(KbCommand::Ask { kb: file }) => {
            let settings = settings()?;
            let kb = Arc::new(KnowledgeBase::in_memory(settings.kb_language)?);
            match file {
                Some(file) => kb.rebuild(kb::import::from_path(&file)?)?,
                None => {
                    let store = Store::connect(&settings.database_url).await?;
                    app::rebuild_kb(&store, &kb).await?;
                }
            }
            ask_lines(&kb)
        }
        Command::Kb(KbCommand::Eval {
            file,
            folds,
            unknown_share,
            seed,
            json,
        }) => {
            let settings = settings()?;
            let examples = kb::eval::load_labelled(&file)?;
            let opts = kb::eval::EvalOptions {
                folds,
                unknown_share,
                seed,
                language: settings.kb_language,
            };
            let report =
                tokio::task::spawn_blocking(move || kb::eval::run(&examples, &opts)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(())
        }
        Command::Value(command) => value_cmd::run(command, settings).await,
        Command::Apikey(command) => apikey_cmd::run(command, &settings()?.database_url).await,
        Command::User(command) => {
            let settings = settings()?;
            let public = format!("http://{}", settings.listen);
            user_cmd::run(command, &settings.database_url, &public).await
        }
        Command::Bench(BenchCommand::Widget(args)) => hark_bot::bench::run(args).await,
        Command::Bench(BenchCommand::Console(args)) => hark_bot::bench_console::run(args).await,
        Command::Sentiment => {
            let analyzer = settings()?.sentiment.analyzer()?;
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            feedback::sentiment::run_lines(&analyzer, stdin, stdout)?;
            Ok(())
        }
    }
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let mut demo_logins = Vec::new();
    if demo {
        std::fs::create_dir_all(&settings.data_dir)?;
        let store = Store::connect(&settings.database_url).await?;
        let count = app::load_demo_kb(&store).await?;
        let staff = app::demo_staff(&store).await?;
        store.close().await;
        tracing::info!(articles = count, "demo knowledge base loaded");
        demo_logins = staff;
    }
    let state = app::build(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    if demo {
        println!("hark demo is running.");
        println!("  Shop page with the chat widget: http://{addr}/");
        println!("  Widget script:                  http://{addr}/widget.js");
        println!("  Agents' console:                http://{addr}/console");
        for (email, name, password) in &demo_logins {
            println!("    sign in as {name}: {email} / {password}");
        }
        println!("  Health:                         http://{addr}/healthz");
        println!(
            "Data (SQLite, search index) in {}. Press Ctrl-C to stop.",
            settings.data_dir.display()
        );
    }
    tracing::info!(%addr, database = %redact(&settings.database_url), "serving");
    server::run(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Answers each stdin line with the live bot's decision, as one JSON object per line.
fn ask_lines(kb: &KnowledgeBase) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (number, line) in stdin.split(b'\n').enumerate() {
        let line = line?;
        let Ok(query) = std::str::from_utf8(&line) else {
            writeln!(
                out,
                "{}",
                json!({"error": format!("line {}: invalid UTF-8", number + 1)})
            )?;
            continue;
        };
        let query = query.trim_end_matches('\r');
        let decision = kb.ask(query);
        let line = json!({
            "query": query,
            "article_id": decision.article_id,
            "title": decision.title,
            "confidence": decision.confidence,
            "answered": decision.outcome == kb::Outcome::Answer,
            "outcome": decision.outcome,
            "suggestions": decision.suggestions.iter().map(|s| &s.article_id).collect::<Vec<_>>(),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
