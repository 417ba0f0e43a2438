//! The agents' console over HTTP and its live socket (`docs/console-api.md`): a thin adapter
//! over the accounts, the engine's agent side and the dispatcher.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::{self, OwnerSession, StaffSession};
use super::error::ApiError;
use crate::accounts::NewUser;
use crate::dispatch::{AgentFeed, Presence, QueueItem, queue_item};
use crate::engine::{Agent, ClientId, MessageText};
use crate::hub::{HubEvent, Subscription, Topic};
use crate::metrics::{self, EventRow};
use crate::store::{Author, ConversationState, Message, Role, Staff, Task, now_ms};

const INDEX: &str = include_str!("../../../web-console/index.html");
const APP_JS: &str = include_str!("../../../web-console/app.js");
const APP_CSS: &str = include_str!("../../../web-console/app.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/invite", get(index))
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/logout-everywhere", post(logout_everywhere))
        .route("/api/me", get(me))
        .route("/api/presence", post(presence))
        .route("/api/queue", get(queue))
        .route("/api/conversations/{id}", get(conversation))
        .route("/api/conversations/{id}/claim", post(claim))
        .route("/api/conversations/{id}/reply", post(reply))
        .route("/api/conversations/{id}/notes", post(note))
        .route("/api/conversations/{id}/transfer", post(transfer))
        .route("/api/conversations/{id}/hand-back", post(hand_back))
        .route("/api/conversations/{id}/resolve", post(resolve))
        .route("/api/canned", get(canned))
        .route("/api/customers/{id}", get(customer))
        .route("/api/metrics", get(service_metrics))
        .route("/api/tasks", get(open_tasks))
        .route("/api/tasks/{id}/done", post(complete_task))
        .route("/api/staff", get(list_staff).post(add_staff))
        .route("/api/staff/{id}/disable", post(disable_staff))
        .route("/api/staff/{id}/enable", post(enable_staff))
        .route("/api/invites/accept", post(accept_invite))
        .route("/ws/console", get(socket))
}

// ---- pages -----------------------------------------------------------------------------------

/// Pages get a strict content security policy: scripts only from this server, no inline code.
pub(super) fn page_headers() -> [(header::HeaderName, &'static str); 3] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

async fn index() -> impl IntoResponse {
    (page_headers(), Html(INDEX))
}

async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
}

async fn app_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_CSS,
    )
}

// ---- views -----------------------------------------------------------------------------------

#[derive(Serialize)]
struct StaffView {
    id: i64,
    email: String,
    display_name: String,
    role: Role,
    capacity: i64,
    disabled: bool,
    presence: Presence,
}

fn staff_view(state: &AppState, s: &Staff) -> StaffView {
    StaffView {
        id: s.id,
        email: s.email.clone(),
        display_name: s.display_name.clone(),
        role: s.role,
        capacity: s.capacity,
        disabled: s.disabled,
        presence: state.dispatcher.presence(s.id),
    }
}

/// A message as the console shows it.
#[derive(Serialize)]
struct MessageView<'a> {
    id: i64,
    conversation_id: i64,
    author: Author,
    text: &'a str,
    created_at: i64,
    author_name: Option<&'a str>,
    article_id: Option<&'a str>,
    sentiment: Option<f64>,
    suggestions: &'a [crate::store::SuggestedArticle],
}

fn message_view(m: &Message) -> MessageView<'_> {
    MessageView {
        id: m.id,
        conversation_id: m.conversation_id,
        author: m.author,
        text: &m.body,
        created_at: m.created_at,
        author_name: m.meta.author_name.as_deref(),
        article_id: m.article_id.as_deref(),
        sentiment: m.sentiment,
        suggestions: &m.meta.suggestions,
    }
}

/// A positive id from the path (conversation, staff member, customer, task); anything else is
/// simply not found.
fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

// ---- sessions --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

fn session_response(
    state: &AppState,
    session: &crate::accounts::Session,
    headers: &HeaderMap,
) -> Response {
    let body = json!({
        "staff": staff_view(state, &session.staff),
        "csrf_token": session.csrf_token,
    });
    (
        [(header::SET_COOKIE, auth::session_cookie(session, headers))],
        Json(body),
    )
        .into_response()
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    if !auth::same_origin(&headers) {
        return Err(ApiError::Csrf);
    }
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    state
        .login_limiter
        .check(peer.ip(), &body.email)
        .map_err(ApiError::RateLimited)?;
    let session = state.accounts.login(&body.email, &body.password).await?;
    state.login_limiter.succeeded(&body.email);
    tracing::info!(staff_id = session.staff.id, "staff login");
    Ok(session_response(&state, &session, &headers))
}

async fn logout(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Response, ApiError> {
    state.accounts.logout(&session.token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::cleared_cookie())],
    )
        .into_response())
}

async fn logout_everywhere(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Response, ApiError> {
    state.accounts.logout_everywhere(session.staff.id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, auth::cleared_cookie())],
    )
        .into_response())
}

async fn me(State(state): State<AppState>, session: StaffSession) -> Json<Value> {
    Json(json!({
        "staff": staff_view(&state, &session.staff),
        "csrf_token": session.csrf_token,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceBody {
    presence: Presence,
}

async fn presence(
    State(state): State<AppState>,
    session: StaffSession,
    Json(body): Json<PresenceBody>,
) -> StatusCode {
    state
        .dispatcher
        .set_presence(&session.staff, body.presence)
        .await;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    token: String,
    password: String,
}

async fn accept_invite(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<AcceptBody>,
) -> Result<Response, ApiError> {
    if !auth::same_origin(&headers) {
        return Err(ApiError::Csrf);
    }
    // Guessing invitation tokens counts against the same limit as passwords.
    state
        .login_limiter
        .check(peer.ip(), "invitation")
        .map_err(ApiError::RateLimited)?;
    let session = state
        .accounts
        .accept_invite(body.token.trim(), &body.password)
        .await?;
    Ok(session_response(&state, &session, &headers))
}

// ---- staff (owners) ----------------------------------------------------------------------------

async fn list_staff(
    State(state): State<AppState>,
    _session: StaffSession,
) -> Result<Json<Vec<StaffView>>, ApiError> {
    let staff = state.engine.store().list_staff().await?;
    Ok(Json(staff.iter().map(|s| staff_view(&state, s)).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddStaffBody {
    email: String,
    display_name: String,
    role: Role,
    #[serde(default = "default_capacity")]
    capacity: i64,
}

fn default_capacity() -> i64 {
    5
}

async fn add_staff(
    State(state): State<AppState>,
    OwnerSession(_owner): OwnerSession,
    Json(body): Json<AddStaffBody>,
) -> Result<Json<Value>, ApiError> {
    let (staff, invite) = state
        .accounts
        .add_user(NewUser {
            email: body.email,
            display_name: body.display_name,
            role: body.role,
            capacity: body.capacity,
            password: None,
        })
        .await?;
    let invite_url = invite.map(|token| format!("/console/invite#{token}"));
    Ok(Json(json!({
        "staff": staff_view(&state, &staff),
        "invite_url": invite_url,
    })))
}

async fn set_disabled(
    state: &AppState,
    owner: &StaffSession,
    raw: &str,
    disabled: bool,
) -> Result<StatusCode, ApiError> {
    let id = path_id(raw)?;
    if disabled && id == owner.staff.id {
        return Err(ApiError::BadRequest("you cannot disable yourself".into()));
    }
    state.accounts.set_disabled(id, disabled).await?;
    if disabled {
        let staff = state.engine.store().staff(id).await?;
        state
            .dispatcher
            .set_presence(&staff, Presence::Offline)
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn disable_staff(
    State(state): State<AppState>,
    OwnerSession(owner): OwnerSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &owner, &id, true).await
}

async fn enable_staff(
    State(state): State<AppState>,
    OwnerSession(owner): OwnerSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &owner, &id, false).await
}

// ---- the queue and conversations --------------------------------------------------------------

async fn queue(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Json<Value>, ApiError> {
    let items = state.dispatcher.queue().await?;
    let me = session.staff.id;
    let (mut waiting, mut mine, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        if item.assigned_to == Some(me) {
            mine.push(item);
        } else if item.state == ConversationState::Waiting && item.assigned_to.is_none() {
            waiting.push(item);
        } else {
            others.push(item);
        }
    }
    Ok(Json(
        json!({"waiting": waiting, "mine": mine, "others": others}),
    ))
}

async fn item(state: &AppState, id: i64) -> Result<QueueItem, ApiError> {
    let row = state.engine.store().queue_row(id).await?;
    Ok(queue_item(row, now_ms()))
}

async fn conversation(
    State(state): State<AppState>,
    _session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let item = item(&state, id).await?;
    let store = state.engine.store();
    let messages = store.messages_after(id, 0).await?;
    let notes = store.notes(id).await?;
    let panel = customer_panel(&state, item.customer.id).await?;
    Ok(Json(json!({
        "conversation": item,
        "messages": messages.iter().map(message_view).collect::<Vec<_>>(),
        "notes": notes,
        "customer": panel,
    })))
}

async fn claim(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<QueueItem>, ApiError> {
    let id = path_id(&id)?;
    state.engine.claim(id, &Agent::from(&session.staff)).await?;
    Ok(Json(item(&state, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    client_id: String,
    text: String,
}

async fn reply(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    Json(body): Json<ReplyBody>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let client_id = ClientId::parse(&body.client_id)?;
    let text = MessageText::parse(&body.text)?;
    let receipt = state
        .engine
        .agent_reply(id, &Agent::from(&session.staff), &client_id, text)
        .await?;
    Ok(Json(
        json!({"message_id": receipt.message_id, "duplicate": receipt.duplicate}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

async fn note(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    Json(body): Json<NoteBody>,
) -> Result<Json<crate::store::Note>, ApiError> {
    let id = path_id(&id)?;
    let text = MessageText::parse(&body.text)?;
    let note = state
        .engine
        .note(id, &Agent::from(&session.staff), text)
        .await?;
    Ok(Json(note))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: i64,
}

async fn transfer(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    Json(body): Json<TransferBody>,
) -> Result<Json<QueueItem>, ApiError> {
    let id = path_id(&id)?;
    let to = state.engine.store().staff(body.to).await?;
    if to.disabled {
        return Err(ApiError::BadRequest("that user is disabled".into()));
    }
    state
        .engine
        .transfer(id, &Agent::from(&session.staff), &Agent::from(&to))
        .await?;
    Ok(Json(item(&state, id).await?))
}

async fn hand_back(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<QueueItem>, ApiError> {
    let id = path_id(&id)?;
    state
        .engine
        .hand_back(id, &Agent::from(&session.staff))
        .await?;
    Ok(Json(item(&state, id).await?))
}

async fn resolve(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<QueueItem>, ApiError> {
    let id = path_id(&id)?;
    state
        .engine
        .resolve(id, &Agent::from(&session.staff))
        .await?;
    Ok(Json(item(&state, id).await?))
}

#[derive(Deserialize)]
struct CannedQuery {
    #[serde(default)]
    q: String,
}

/// Canned replies: knowledge-base articles that match what the agent typed.
async fn canned(
    State(state): State<AppState>,
    _session: StaffSession,
    Query(query): Query<CannedQuery>,
) -> Result<Json<Value>, ApiError> {
    let q = query.q.trim().chars().take(200).collect::<String>();
    if q.is_empty() {
        return Ok(Json(json!({"replies": []})));
    }
    let kb = Arc::clone(state.engine.kb());
    let hits = tokio::task::spawn_blocking(move || kb.search(&q, 8))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let replies: Vec<Value> = hits
        .into_iter()
        .filter_map(|hit| state.engine.kb().article(&hit.article_id))
        .map(|a| json!({"article_id": a.id, "title": a.title, "text": a.answer}))
        .collect();
    Ok(Json(json!({"replies": replies})))
}

// ---- tasks ---------------------------------------------------------------------------------------

/// Open tasks (at-risk outreach, detractor follow-ups, messages left after hours), oldest first.
async fn open_tasks(
    State(state): State<AppState>,
    _session: StaffSession,
) -> Result<Json<Value>, ApiError> {
    let tasks = state.engine.store().open_tasks().await?;
    Ok(Json(json!({"tasks": tasks})))
}

async fn complete_task(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    state
        .engine
        .store()
        .complete_task(id, session.staff.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- the customer panel -----------------------------------------------------------------------

async fn customer_panel(state: &AppState, customer_id: i64) -> Result<Value, ApiError> {
    let store = state.engine.store();
    let customer = store.customer(customer_id).await?;
    let identities = store.customer_identities(customer_id).await?;
    let score = store.customer_score(customer_id).await?;
    let conversations = store.customer_conversations(customer_id).await?;
    let surveys = store.customer_surveys(customer_id).await?;
    let tasks: Vec<Task> = store.customer_tasks(customer_id).await?;
    let since = now_ms() - 90 * 24 * 3600 * 1000;
    let points = store.customer_sentiment(customer_id, since).await?;
    let values: Vec<f64> = points.iter().map(|(_, c)| *c).collect();
    let sentiment = (!values.is_empty()).then(|| feedback::sentiment::conversation(&values));
    Ok(json!({
        "customer": {
            "id": customer.id,
            "name": customer.display_name,
            "email": customer.email,
            "external_id": customer.external_id,
            "segment": score.as_ref().map(|s| s.segment),
            "churn_risk": score.as_ref().map(|s| s.churn_risk),
            "at_risk": score.as_ref().is_some_and(|s| s.at_risk),
            "sentiment": sentiment.as_ref().map(|s| s.mean),
        },
        "identities": identities.iter().map(|(channel, since)| json!({"channel": channel, "since": since})).collect::<Vec<_>>(),
        "score": score,
        "conversations": conversations,
        "surveys": surveys,
        "sentiment": sentiment.map(|s| json!({
            "mean": s.mean,
            "min": s.min,
            "trend": s.trend,
            "points": points.iter().map(|(at, c)| json!({"at": at, "compound": c})).collect::<Vec<_>>(),
        })),
        "tasks": tasks,
    }))
}

async fn customer(
    State(state): State<AppState>,
    _session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    Ok(Json(customer_panel(&state, id).await?))
}

#[derive(Deserialize)]
struct MetricsQuery {
    days: Option<u32>,
}

async fn service_metrics(
    State(state): State<AppState>,
    _session: StaffSession,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = query.days.unwrap_or(7).clamp(1, 366);
    let since = now_ms() - i64::from(days) * 24 * 3600 * 1000;
    let rows = state.engine.store().events_since(since).await?;
    let events: Vec<EventRow> = rows
        .into_iter()
        .map(|(kind, conversation_id, data, _)| EventRow {
            kind,
            conversation_id,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
        })
        .collect();
    let m = metrics::compute(&events);
    let mut body = serde_json::to_value(&m).map_err(|e| ApiError::Internal(e.into()))?;
    body["days"] = json!(days);
    Ok(Json(body))
}

// ---- the live socket ---------------------------------------------------------------------------

async fn socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Browsers send cookies with cross-site websocket handshakes: only our own pages may open it.
    if !auth::same_origin(&headers) {
        return Err(ApiError::Forbidden);
    }
    let token = auth::session_token(&headers).ok_or(ApiError::Unauthenticated)?;
    let (staff, _) = state
        .accounts
        .session(&token)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let tracker = state.tracker.clone();
    Ok(upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |ws| async move {
            tracker
                .track_future(serve_socket(ws, state, staff, token))
                .await;
        }))
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Follow { conversation_id: i64 },
    Unfollow,
    Typing { conversation_id: i64, active: bool },
    Presence { presence: Presence },
}

async fn serve_socket(mut ws: WebSocket, state: AppState, staff: Staff, token: String) {
    let _presence = state.dispatcher.connect(&staff);
    let mut feed = state.engine.hub().subscribe(Topic::Agents);
    let mut followed: Option<(i64, Subscription)> = None;
    let shutdown = state.shutdown.clone();
    // Sessions can end elsewhere (logout everywhere, disabled): check now and then.
    let mut recheck = tokio::time::interval(std::time::Duration::from_secs(30));
    recheck.tick().await;
    loop {
        let outgoing: Option<Value> = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = ws.send(WsMessage::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1001,
                    reason: "server shutting down".into(),
                }))).await;
                break;
            }
            _ = recheck.tick() => {
                match state.accounts.session(&token).await {
                    Ok(Some(_)) => None,
                    _ => {
                        let _ = ws.send(WsMessage::Close(Some(axum::extract::ws::CloseFrame {
                            code: 4401,
                            reason: "session ended".into(),
                        }))).await;
                        break;
                    }
                }
            }
            incoming = ws.recv() => {
                let Some(Ok(frame)) = incoming else { break };
                let text = match frame {
                    WsMessage::Text(text) => text.to_string(),
                    WsMessage::Close(_) => break,
                    _ => continue,
                };
                match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(ClientFrame::Follow { conversation_id }) => {
                        followed = Some((conversation_id, state.engine.subscribe(conversation_id)));
                        // From here on every message of the conversation reaches this socket, so
                        // a transcript loaded after this frame misses nothing.
                        Some(json!({"type": "following", "conversation_id": conversation_id}))
                    }
                    Ok(ClientFrame::Unfollow) => {
                        followed = None;
                        None
                    }
                    Ok(ClientFrame::Typing { conversation_id, active }) => {
                        state.engine.typing(conversation_id, Author::Agent, active);
                        None
                    }
                    Ok(ClientFrame::Presence { presence }) => {
                        state.dispatcher.set_presence(&staff, presence).await;
                        None
                    }
                    Err(e) => Some(json!({"type": "error", "code": "bad_request", "message": e.to_string()})),
                }
            }
            event = feed.recv() => match event {
                Ok(HubEvent::Agents(item)) => feed_frame(&item, staff.id),
                Ok(_) => None,
                Err(RecvError::Lagged(_)) => Some(json!({"type": "resync"})),
                Err(RecvError::Closed) => break,
            },
            event = recv_followed(&mut followed) => match event {
                Ok(HubEvent::Message(m)) => Some(json!({"type": "message", "message": message_view(&m)})),
                Ok(HubEvent::Typing { conversation_id, author: Author::Customer, active }) => {
                    Some(json!({"type": "typing", "conversation_id": conversation_id, "author": "customer", "active": active}))
                }
                Ok(_) => None,
                Err(RecvError::Lagged(_)) => Some(json!({"type": "resync"})),
                Err(RecvError::Closed) => { followed = None; None }
            },
        };
        if let Some(frame) = outgoing
            && ws
                .send(WsMessage::Text(frame.to_string().into()))
                .await
                .is_err()
        {
            break;
        }
    }
}

async fn recv_followed(followed: &mut Option<(i64, Subscription)>) -> Result<HubEvent, RecvError> {
    match followed {
        Some((_, updates)) => updates.recv().await,
        None => std::future::pending().await,
    }
}

/// A console frame for one feed item; `assigned` when a conversation just became this agent's.
fn feed_frame(item: &AgentFeed, me: i64) -> Option<Value> {
    match item {
        AgentFeed::Queue { item } if item.assigned_to == Some(me) => {
            Some(json!({"type": "assigned", "item": item}))
        }
        AgentFeed::Message { message } => {
            // Messages of followed conversations come on their own topic; this one is for
            // unread counts and notifications of queued conversations.
            Some(json!({"type": "queue_message", "message": message_view(message)}))
        }
        other => serde_json::to_value(other).ok(),
    }
}
