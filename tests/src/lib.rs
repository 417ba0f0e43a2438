//! Helpers for hark's end-to-end tests: a fresh database per test (SQLite file or a new
//! PostgreSQL database), the real server on port 0, and a websocket client speaking the widget
//! protocol.
//!
//! Requirements that may be missing on a developer's machine (PostgreSQL, Chromium, the data in
//! `../shared/data`) make a test *skip with a printed reason*, except when `CI=true`, where they
//! make it fail: CI must prove everything.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hark_bot::accounts::{Accounts, NewUser};
use hark_bot::config::Settings;
use hark_bot::engine::Agent;
use hark_bot::server::{AppState, Limits};
use hark_bot::store::{Role, Staff, Store};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod browser;
pub mod console;
pub mod telegram;

/// Whether this run must prove everything (set by `.ci/run`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips the calling test with a reason, or fails it under CI.
pub fn skip_or_fail(reason: &str) {
    assert!(!in_ci(), "CI=true and {reason}");
    eprintln!("SKIPPED: {reason}");
}

/// Which engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database of its own for one test. The SQLite file lives in `dir`; a PostgreSQL database is
/// created fresh in the throw-away cluster whose admin URL is `HARK_TEST_PG_URL`.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// A new database, or `None` (after printing why) when PostgreSQL is not available here.
    pub async fn new(engine: Engine) -> anyhow::Result<Option<TestDb>> {
        let dir = tempfile::tempdir()?;
        let url = match engine {
            Engine::Sqlite => Store::sqlite_url_in(dir.path()),
            Engine::Postgres => {
                let Ok(admin) = std::env::var("HARK_TEST_PG_URL") else {
                    skip_or_fail("HARK_TEST_PG_URL is not set (run the README's test command)");
                    return Ok(None);
                };
                let name = format!("hark_test_{}", hex_id());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .context("connecting to the test PostgreSQL cluster")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                database_url_with_name(&admin, &name)
            }
        };
        Ok(Some(TestDb { url, dir }))
    }
}

fn database_url_with_name(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    format!("{base}/{name}{query}")
}

fn hex_id() -> String {
    rand::random::<u64>().to_string()
}

/// A running server for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: TestDb,
    telegram: Option<hark_bot::telegram::TelegramSettings>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Options for [`spawn_app_with`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub engine: Engine,
    pub limits: Limits,
    /// Load the demo shop's knowledge base.
    pub demo_kb: bool,
    /// Customer value settings (schedule, webhook).
    pub value: hark_bot::value::ValueSettings,
    /// Escalation policy, business hours, auto-assignment.
    pub handoff: hark_bot::config::HandoffSettings,
    /// Run the Telegram channel with these settings (against [`telegram::FakeTelegram`]).
    pub telegram: Option<hark_bot::telegram::TelegramSettings>,
    /// NPS period and schedule.
    pub nps: hark_bot::surveys::nps::NpsSettings,
    /// The owners' weekly summary (schedule, webhook).
    pub summary: hark_bot::reports::summary::SummarySettings,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            engine: Engine::Sqlite,
            limits: Limits::default(),
            demo_kb: true,
            value: hark_bot::value::ValueSettings::default(),
            handoff: hark_bot::config::HandoffSettings::default(),
            telegram: None,
            nps: hark_bot::surveys::nps::NpsSettings::default(),
            summary: hark_bot::reports::summary::SummarySettings::default(),
        }
    }
}

/// Starts the real server on port 0 over a fresh SQLite database with the demo knowledge base.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(AppOptions::default())
        .await?
        .context("SQLite is always available")
}

/// Starts the real server; `None` when the requested database engine is not available here.
pub async fn spawn_app_with(options: AppOptions) -> anyhow::Result<Option<TestApp>> {
    let Some(db) = TestDb::new(options.engine).await? else {
        return Ok(None);
    };
    let app = start(db, options).await?;
    Ok(Some(app))
}

async fn start(db: TestDb, options: AppOptions) -> anyhow::Result<TestApp> {
    let AppOptions {
        limits,
        demo_kb,
        value,
        handoff,
        telegram,
        nps,
        summary,
        ..
    } = options;
    if demo_kb {
        let store = Store::connect(&db.url).await?;
        hark_bot::app::load_demo_kb(&store).await?;
        store.close().await;
    }
    let settings = Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: db.url.clone(),
        data_dir: db.dir.path().join("data"),
        kb_language: kb::Language::English,
        limits,
        value,
        handoff,
        telegram: telegram.clone(),
        nps,
        summary,
        sentiment: Default::default(),
    };
    let state = hark_bot::app::build(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(hark_bot::server::run(listener, state.clone(), async {
        let _ = rx.await;
    }));
    Ok(TestApp {
        addr,
        state,
        db,
        telegram,
        shutdown: Some(tx),
        handle: Some(handle),
    })
}

impl TestApp {
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/widget", self.addr)
    }

    pub async fn widget(&self) -> anyhow::Result<WidgetClient> {
        WidgetClient::connect(&self.ws_url()).await
    }

    /// Adds a staff member with `password` and returns them as the engine's [`Agent`].
    pub async fn add_staff(
        &self,
        role: Role,
        name: &str,
        password: &str,
    ) -> anyhow::Result<(Staff, Agent)> {
        let accounts = Accounts::new(self.state.engine.store().clone());
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let (staff, _) = accounts
            .add_user(NewUser {
                email,
                display_name: name.to_owned(),
                role,
                capacity: 5,
                password: Some(password.to_owned()),
            })
            .await?;
        let agent = Agent::from(&staff);
        Ok((staff, agent))
    }

    /// Runs `sql` with the binds (`first`, `second`) straight on the test database: to move a
    /// stored time back, as if it had happened then.
    pub async fn execute(&self, sql: &'static str, first: i64, second: i64) -> anyhow::Result<()> {
        let url = &self.db.url;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await?;
            sqlx::query(sql)
                .bind(first)
                .bind(second)
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query(sql)
                .bind(first)
                .bind(second)
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(())
    }

    /// Stops the server (as SIGTERM would) and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<TestDb> {
        self.shutdown_now().await?;
        let db = std::mem::replace(&mut self.db, TestDb::placeholder()?);
        Ok(db)
    }

    async fn shutdown_now(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle)
                .await
                .context("server did not stop in time")???;
        }
        self.state.engine.store().close().await;
        Ok(())
    }

    /// Stops this server and starts a new one on the same database (a restart).
    pub async fn restart(self) -> anyhow::Result<TestApp> {
        let telegram = self.telegram.clone();
        let db = self.stop().await?;
        start(
            db,
            AppOptions {
                demo_kb: false,
                telegram,
                ..AppOptions::default()
            },
        )
        .await
    }
}

impl TestDb {
    fn placeholder() -> anyhow::Result<TestDb> {
        Ok(TestDb {
            url: String::new(),
            dir: tempfile::tempdir()?,
        })
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// How long a test waits for one frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// A websocket client speaking the widget protocol, as the widget does.
pub struct WidgetClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WidgetClient {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(WidgetClient { socket })
    }

    pub async fn send_json(&mut self, value: Value) -> anyhow::Result<()> {
        self.socket.send(Message::text(value.to_string())).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        self.socket.send(message).await?;
        Ok(())
    }

    /// The next JSON frame (skipping typing indicators).
    pub async fn recv(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = self.recv_frame().await?;
            match frame {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text)?;
                    if value["type"] != "typing" {
                        return Ok(value);
                    }
                }
                Message::Close(close) => bail!("socket closed: {close:?}"),
                _ => {}
            }
        }
    }

    /// The next raw websocket frame.
    pub async fn recv_frame(&mut self) -> anyhow::Result<Message> {
        match tokio::time::timeout(FRAME_TIMEOUT, self.socket.next()).await {
            Err(_) => bail!("no frame within {FRAME_TIMEOUT:?}"),
            Ok(None) => bail!("socket ended"),
            Ok(Some(frame)) => Ok(frame?),
        }
    }

    /// Frames until one of type `kind` arrives; returns them all, that one last.
    pub async fn recv_until(&mut self, kind: &str) -> anyhow::Result<Vec<Value>> {
        let mut seen = Vec::new();
        loop {
            let frame = self.recv().await?;
            let done = frame["type"] == kind;
            seen.push(frame);
            if done {
                return Ok(seen);
            }
        }
    }

    /// Sends `hello` and returns the `welcome` (replayed messages follow it on the socket).
    pub async fn hello(
        &mut self,
        token: Option<&str>,
        last_seen_id: Option<i64>,
    ) -> anyhow::Result<Value> {
        self.send_json(
            json!({"type": "hello", "visitor_token": token, "last_seen_id": last_seen_id}),
        )
        .await?;
        let welcome = self.recv().await?;
        anyhow::ensure!(
            welcome["type"] == "welcome",
            "expected welcome, got {welcome}"
        );
        Ok(welcome)
    }

    /// Sends a customer message and waits for its ack and the bot's reply.
    pub async fn ask(&mut self, client_id: &str, text: &str) -> anyhow::Result<Exchange> {
        self.send_json(json!({"type": "message", "client_id": client_id, "text": text}))
            .await?;
        self.exchange(client_id).await
    }

    /// Collects frames until the ack for `client_id` and a non-customer message have arrived.
    pub async fn exchange(&mut self, client_id: &str) -> anyhow::Result<Exchange> {
        let mut ack = None;
        let mut reply = None;
        let mut frames = Vec::new();
        while ack.is_none() || reply.is_none() {
            let frame = self.recv().await?;
            match frame["type"].as_str() {
                Some("ack") if frame["client_id"] == client_id => {
                    ack = frame["message_id"].as_i64()
                }
                Some("message") if frame["author"] != "customer" => reply = Some(frame.clone()),
                Some("error") => bail!("error frame: {frame}"),
                _ => {}
            }
            frames.push(frame);
        }
        Ok(Exchange {
            message_id: ack.unwrap_or_default(),
            reply: reply.unwrap_or_default(),
            frames,
        })
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.close(None).await?;
        Ok(())
    }
}

/// What one customer message produced.
#[derive(Debug)]
pub struct Exchange {
    pub message_id: i64,
    pub reply: Value,
    pub frames: Vec<Value>,
}

/// The directory of the public benchmark data, if present (`../shared/data` from the workspace).
pub fn shared_data() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    root.is_dir().then_some(root)
}
