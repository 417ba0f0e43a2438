//! `hark bench console`: customers and agents at once, over the real protocols.
//!
//! Starts `hark demo` as a child (auto-assignment off, so agents claim as they reply), opens N
//! customer widget sockets and M agents' console sessions (login over HTTP, the live socket), then
//! 1. queue: customers ask for a person at a fixed rate; for every (conversation, agent) pair it
//!    measures the time from the customer's request to that agent's console receiving the
//!    conversation's queue item;
//! 2. delivery: agents reply over HTTP at a fixed rate while every customer keeps chatting; it
//!    measures the time from the agent's request to the customer's socket receiving the reply.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::accounts::{Accounts, NewUser};
use crate::bench::{Server, percentile};
use crate::store::{Role, Store};

#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleBenchArgs {
    /// Customers connected over the widget socket.
    #[arg(long, default_value_t = 1_000)]
    pub customers: usize,
    /// Agents with the console open.
    #[arg(long, default_value_t = 20)]
    pub agents: usize,
    /// Handoff requests per second (queue phase).
    #[arg(long, default_value_t = 100)]
    pub handoff_rate: u32,
    /// Agent replies per second (delivery phase).
    #[arg(long, default_value_t = 100)]
    pub reply_rate: u32,
    /// Seconds of the delivery phase.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
}

const PASSWORD: &str = "bench password 1";

type Stamps = Arc<Mutex<HashMap<String, Instant>>>;

struct Agent {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

async fn login(base: &str, email: &str) -> anyhow::Result<Agent> {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/api/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("login of {email} failed: {}", response.status());
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let body: Value = response.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf token")?
        .to_owned();
    Ok(Agent { http, cookie, csrf })
}

pub async fn run(args: ConsoleBenchArgs) -> anyhow::Result<()> {
    // Agents are created in the database before the server starts (the owner's invitation flow
    // is tested elsewhere; here only the load matters).
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&Store::sqlite_url_in(dir.path())).await?;
    let accounts = Accounts::new(store.clone());
    let mut emails = Vec::new();
    for i in 0..args.agents {
        let email = format!("agent{i}@bench.hark");
        accounts
            .add_user(NewUser {
                email: email.clone(),
                display_name: format!("Agent {i}"),
                role: Role::Agent,
                capacity: 100,
                password: Some(PASSWORD.into()),
            })
            .await?;
        emails.push(email);
    }
    store.close().await;
    let server = Server::start_in(dir, &["--auto-assign", "false"]).await?;
    let base = format!("http://{}", server.addr);
    println!(
        "hark bench console: {} customers, {} agents (server {})",
        args.customers, args.agents, server.addr
    );

    // Agents: log in, open the console socket.
    let mut agents = Vec::new();
    let queue_seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let handoffs: Stamps = Arc::default();
    let mut agent_tasks = Vec::new();
    for email in &emails {
        let agent = login(&base, email).await?;
        let mut request = format!("ws://{}/ws/console", server.addr).into_client_request()?;
        request.headers_mut().insert("origin", base.parse()?);
        request
            .headers_mut()
            .insert("cookie", agent.cookie.parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let seen = Arc::clone(&queue_seen);
        let handoffs = Arc::clone(&handoffs);
        agent_tasks.push(tokio::spawn(async move {
            let mut first_seen = std::collections::HashSet::new();
            while let Some(Ok(frame)) = socket.next().await {
                let Message::Text(text) = frame else { continue };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if value["type"] != "queue" && value["type"] != "assigned" {
                    continue;
                }
                let Some(id) = value["item"]["conversation_id"].as_i64() else {
                    continue;
                };
                if !first_seen.insert(id) {
                    continue;
                }
                if let Some(start) = handoffs.lock().await.get(&id.to_string()) {
                    seen.lock().await.push(start.elapsed());
                }
            }
        }));
        agents.push(Arc::new(agent));
    }

    // Customers: open sockets, remember their conversations.
    let url = format!("ws://{}/ws/widget", server.addr);
    let mut customers = Vec::new();
    let started = Instant::now();
    for _ in 0..args.customers {
        customers.push(open_customer(&url).await?);
    }
    println!(
        "opened {} customer sockets in {:.1} s",
        customers.len(),
        started.elapsed().as_secs_f64()
    );
    bail_if_empty(&customers)?;

    // Phase 1: handoffs at a fixed rate; each agent's console must see each conversation.
    let replies: Stamps = Arc::default();
    let delivered: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut conversation_ids = Vec::new();
    let mut customer_tasks = Vec::new();
    let pause = Duration::from_secs_f64(1.0 / f64::from(args.handoff_rate.max(1)));
    let mut tick = tokio::time::interval(pause);
    for (i, (mut socket, conversation)) in customers.into_iter().enumerate() {
        tick.tick().await;
        // Stamped when the request leaves: the queue item may reach agents before the ack.
        handoffs
            .lock()
            .await
            .insert(conversation.to_string(), Instant::now());
        let client_id = format!("h{i}");
        socket
            .send(Message::text(
                json!({"type": "handoff", "client_id": client_id}).to_string(),
            ))
            .await?;
        conversation_ids.push(conversation);
        // Each customer then listens for agent replies and keeps chatting.
        let replies = Arc::clone(&replies);
        let delivered = Arc::clone(&delivered);
        customer_tasks.push(tokio::spawn(async move {
            let mut chat = tokio::time::interval(Duration::from_secs(10));
            let mut n = 0u64;
            loop {
                tokio::select! {
                    frame = socket.next() => {
                        let Some(Ok(Message::Text(text))) = frame else { break };
                        let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                        if value["type"] == "message" && value["author"] == "agent"
                            && let Some(body) = value["text"].as_str()
                            && let Some(start) = replies.lock().await.remove(body)
                        {
                            delivered.lock().await.push(start.elapsed());
                        }
                    }
                    _ = chat.tick() => {
                        n += 1;
                        let frame = json!({"type": "message", "client_id": format!("c{n}"), "text": "are you still there?"});
                        if socket.send(Message::text(frame.to_string())).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut queue = queue_seen.lock().await.clone();
    queue.sort();
    let expected = conversation_ids.len() * agents.len();
    println!(
        "queue updates: {} of {} (conversation, agent) pairs seen; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        queue.len(),
        expected,
        ms(percentile(&queue, 50.0)),
        ms(percentile(&queue, 99.0)),
        ms(queue.last().copied().unwrap_or_default()),
    );

    // Phase 2: agents reply at a fixed rate, each in its own share of the conversations.
    let pause = Duration::from_secs_f64(1.0 / f64::from(args.reply_rate.max(1)));
    let mut tick = tokio::time::interval(pause);
    let until = Instant::now() + Duration::from_secs(args.duration);
    let mut sent = 0usize;
    let mut failed = 0usize;
    let mut inflight = Vec::new();
    while Instant::now() < until {
        tick.tick().await;
        let conversation = conversation_ids[sent % conversation_ids.len()];
        let agent = Arc::clone(&agents[(conversation as usize) % agents.len()]);
        let text = format!("reply {sent}");
        let base = base.clone();
        let replies = Arc::clone(&replies);
        let sent_now = sent;
        sent += 1;
        inflight.push(tokio::spawn(async move {
            replies.lock().await.insert(text.clone(), Instant::now());
            let response = agent
                .http
                .post(format!("{base}/api/conversations/{conversation}/reply"))
                .header("cookie", &agent.cookie)
                .header("x-csrf-token", &agent.csrf)
                .json(&json!({"client_id": format!("r{sent_now}"), "text": text}))
                .send()
                .await;
            matches!(response, Ok(r) if r.status().is_success())
        }));
        if inflight.len() > 256 {
            for task in inflight.drain(..) {
                failed += usize::from(!task.await.unwrap_or(false));
            }
        }
    }
    for task in inflight {
        failed += usize::from(!task.await.unwrap_or(false));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = delivered.lock().await.clone();
    latencies.sort();
    println!(
        "agent replies: {sent} sent ({failed} refused) at {} /s; {} delivered; reply to customer's socket p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.reply_rate,
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    let queue_ok = queue.len() == expected && percentile(&queue, 99.0) < Duration::from_millis(100);
    let delivery_ok = failed == 0
        && latencies.len() == sent
        && percentile(&latencies, 99.0) < Duration::from_millis(50);
    println!(
        "targets: queue updates to all agents p99 < 100 ms: {}; reply delivery p99 < 50 ms: {}",
        if queue_ok { "met" } else { "MISSED" },
        if delivery_ok { "met" } else { "MISSED" },
    );
    for task in customer_tasks.into_iter().chain(agent_tasks) {
        task.abort();
    }
    Ok(())
}

/// Opens a customer's widget socket; returns it with the customer's conversation id.
async fn open_customer(url: &str) -> anyhow::Result<(crate::bench::Socket, i64)> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    socket
        .send(Message::text(json!({"type": "hello"}).to_string()))
        .await?;
    loop {
        let frame = socket.next().await.context("closed before welcome")??;
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == "welcome" {
                let id = value["conversation_id"]
                    .as_i64()
                    .context("welcome without conversation")?;
                return Ok((socket, id));
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bail_if_empty<T>(v: &[T]) -> anyhow::Result<()> {
    if v.is_empty() {
        bail!("no customers connected");
    }
    Ok(())
}
