//! The HTTP and websocket server: a thin adapter over the engine.
//!
//! [`run`] takes a bound listener and a shutdown future, so the binary binds the configured
//! address and tests bind port 0.

pub mod api;
mod assets;
pub mod auth;
pub mod console;
pub mod error;
pub mod learning;
pub mod reports;
pub mod widget;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::trace::TraceLayer;

use crate::accounts::Accounts;
use crate::dispatch::{DispatchSettings, Dispatcher};
use crate::engine::Engine;
use crate::store::Store;
use auth::LoginLimiter;
use error::ApiError;

/// Abuse limits for the public endpoints (see `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub ws_connections_per_ip: usize,
    pub ws_messages_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ws_connections_per_ip: 20,
            ws_messages_per_second: 5,
        }
    }
}

/// Everything a request handler needs; every field is a cheap handle.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub accounts: Accounts,
    /// Presence, auto-assignment, queue positions and the consoles' live feed.
    pub dispatcher: Dispatcher,
    pub login_limiter: Arc<LoginLimiter>,
    pub limits: Limits,
    pub connections: Arc<ConnectionLimiter>,
    /// Cancelled when the server shuts down; long-lived tasks (sockets) watch it.
    pub shutdown: CancellationToken,
    /// Tracks upgraded sockets, which the HTTP server's graceful shutdown does not see.
    pub tracker: TaskTracker,
    /// Customer value scores and outreach.
    pub value: crate::value::ValueService,
    /// The Telegram channel, when a bot token is configured (its webhook route needs it).
    pub telegram: Option<Arc<crate::telegram::Telegram>>,
    /// NPS: when customers are asked, their answers, detractor tasks.
    pub nps: crate::surveys::nps::Nps,
    /// The owners' weekly summary (webhook, schedule).
    pub summary: crate::reports::summary::SummaryService,
}

impl AppState {
    pub fn new(engine: Engine, limits: Limits) -> Self {
        let nps = crate::surveys::nps::Nps::new(
            engine.store().clone(),
            Arc::clone(engine.sentiment()),
            crate::surveys::nps::NpsSettings::default(),
        );
        AppState {
            accounts: Accounts::new(engine.store().clone()),
            dispatcher: Dispatcher::new(engine.clone(), DispatchSettings::default()),
            login_limiter: Arc::new(LoginLimiter::default()),
            engine,
            limits,
            connections: Arc::new(ConnectionLimiter::new(limits.ws_connections_per_ip)),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            value: crate::value::ValueService::default(),
            telegram: None,
            nps,
            summary: crate::reports::summary::SummaryService::default(),
        }
    }

    /// The weekly summary service, configured (webhook, schedule).
    pub fn with_summary(mut self, summary: crate::reports::summary::SummaryService) -> Self {
        self.summary = summary;
        self
    }

    /// NPS with these settings (period, schedule).
    pub fn with_nps(mut self, settings: crate::surveys::nps::NpsSettings) -> Self {
        self.nps = crate::surveys::nps::Nps::new(
            self.engine.store().clone(),
            Arc::clone(self.engine.sentiment()),
            settings,
        );
        self
    }

    /// The customer value service, configured (webhook, schedule).
    pub fn with_value(mut self, value: crate::value::ValueService) -> Self {
        self.value = value;
        self
    }

    /// Replaces the dispatcher's settings (call before the server starts).
    pub fn with_dispatch(mut self, settings: DispatchSettings) -> Self {
        self.dispatcher = Dispatcher::new(self.engine.clone(), settings);
        self
    }

    fn store(&self) -> &Store {
        self.engine.store()
    }
}

/// Counts open websocket connections per client address.
pub struct ConnectionLimiter {
    per_ip: usize,
    // std mutex: one hash-map update per connect and disconnect, never held across an await.
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnectionLimiter {
    pub fn new(per_ip: usize) -> Self {
        ConnectionLimiter {
            per_ip,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A permit for one more connection from `ip`, or `None` when it holds its limit already.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionPermit> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.per_ip {
            return None;
        }
        *count += 1;
        Some(ConnectionPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }
}

pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// How long shutdown waits for open sockets to close after telling them to go away.
const SOCKET_DRAIN: Duration = Duration::from_secs(5);
/// Request bodies are small JSON documents.
const BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::demo_page))
        .route("/widget.js", get(assets::widget_js))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/ws/widget", get(widget::upgrade))
        .merge(api::routes())
        .merge(console::routes())
        .merge(reports::routes())
        .merge(learning::routes())
        .route(
            "/telegram/webhook",
            axum::routing::post(crate::telegram::webhook::receive),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store().ping().await.map_err(|e| {
        tracing::warn!(error = ?e, "database not ready");
        ApiError::Unavailable
    })?;
    Ok("ready")
}

/// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish,
/// closes every websocket with 1001 "going away" and waits (briefly) for them to end.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cancel = state.shutdown.clone();
    let tracker = state.tracker.clone();
    state.dispatcher.spawn(cancel.clone(), &tracker);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            cancel.cancel();
        })
        .await?;
    tracker.close();
    if tokio::time::timeout(SOCKET_DRAIN, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close in time");
    }
    Ok(())
}
