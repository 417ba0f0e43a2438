//! hark: the conversation engine, its channels and the server.
//!
//! # Layout
//! - [`engine`]: what happens when a customer writes: knowledge-base answer, clarification,
//!   handoff; knows nothing of HTTP, websockets or Telegram.
//! - [`store`]: one storage interface over SQLite and PostgreSQL.
//! - [`hub`]: the realtime event bus channels and the console subscribe to.
//! - [`server`]: axum routes and the widget's websocket channel, thin adapters over the engine.
//! - [`surveys`]: CSAT and NPS answers, whatever the channel.
//! - [`linking`]: one-time codes that join a customer's identities across channels.
//! - [`telegram`]: the Telegram channel (teloxide), a thin adapter over the engine.
//! - [`config`]: settings from file, environment and flags.
//! - [`app`]: wiring it all together for the binary and the tests.
//! - [`bench`]: the widget load generator behind `hark bench widget`.
//! - [`learning`]: the unanswered-questions report and agents' article links approved by owners.
//! - [`value`]: customer value scores stored on a schedule, and outreach to customers at risk.
//! - [`reports`]: the owners' reports (NPS, CSAT, value, service) for a period, and CSV.

pub mod accounts;
pub mod apikey;
pub mod app;
pub mod bench;
pub mod bench_console;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod hub;
pub mod learning;
pub mod linking;
pub mod metrics;
pub mod reports;
pub mod server;
pub mod store;
pub mod surveys;
pub mod telegram;
pub mod value;
