//! Customer value: which customers are worth most and which are slipping away, with
//! reasons an owner can read.
//!
//! # Layout
//! - [`input`]: parse at the edge. Transactions CSV (`customer_id,date,amount[,order_id]`,
//!   all or nothing, bad rows listed as `line 12: amount is not a number`) and the CDNOW
//!   files; newtypes [`CustomerId`], [`Amount`].
//! - [`summary`]: per-customer frequency / recency / T / monetary value over a calibration
//!   period and the holdout count ([`summarise`]), and the summary CSV reader.
//! - [`simple`]: the small-business CLTV formula, its DCF variant, the CLTV:CAC ratio.
//! - [`bgnbd`]: the BG/NBD model (Fader, Hardie & Lee 2005): fit, P(alive), expected
//!   purchases, P(no purchase).
//! - [`gamma_gamma`]: spend per purchase, and CLV as `lifetimes` defines it.
//! - [`churn`]: churn risk with reasons, and the `auc` helper used to validate it.
//! - [`segment`]: high / mid / low tiers by CLV, at-risk flag, suggested actions.
//! - [`synth`]: synthetic customers from model parameters (tests, benchmark).
//! - [`cli`]: the functions `hark value fit` and `hark value score` call.
//! - `special`, `optim` (private): ln Γ, ψ, ₂F₁ and a BFGS minimiser.
//!
//! *Architecture invariant*: this module knows no transport, database or runtime (no
//! axum, sqlx, tokio): the CLI and the HTTP API are adapters over [`cli`].
//! *Architecture invariant*: no protected attribute is an input to any score.
//!
//! # The command line contract
//! | command | call | prints |
//! |---|---|---|
//! | `hark value fit --transactions CSV --calibration-end DATE [--holdout-end DATE]` | [`cli::fit_transactions`] | [`cli::FitReport`] as JSON |
//! | `hark value fit --summary CSV` | [`cli::fit_summary`] | [`cli::FitReport`] as JSON |
//! | `hark value score --transactions CSV --calibration-end DATE` | [`cli::score_transactions`] | one [`cli::CustomerScore`] JSON line each |
//! | `hark value score --summary CSV` | [`cli::score_summary`] | one [`cli::CustomerScore`] JSON line each |
//!
//! `FitReport` is `{model_version, customers, time_unit, bgnbd {r, alpha, a, b,
//! log_likelihood, customers, patterns, iterations}, gamma_gamma {p, q, v,
//! log_likelihood, customers, iterations} | null, holdout {weeks,
//! predicted_repeat_purchases, actual_repeat_purchases, relative_error,
//! customers_without_purchase, auc_churn_risk, auc_p_alive} | null}`. Times are weeks.
//! Store scores with [`MODEL_VERSION`] and the fit date.
//!
//! # Checked against published results (CDNOW, 39-week calibration to 1997-09-30)
//! `tests/value_cdnow.rs` rebuilds the Fader–Hardie summary from the raw sample with 0
//! mismatches and pins: BG/NBD r 0.2426, α 4.4135, a 0.7929, b 2.4258, LL −9582.43;
//! Gamma-Gamma p 6.2488, q 3.7446, v 15.4477; Hardie's E[X(t)] and conditional
//! expectations; and the `lifetimes` 0.11.3 values to a relative 1e-4.
pub mod bgnbd;
pub mod churn;
pub mod cli;
mod error;
pub mod gamma_gamma;
pub mod input;
mod optim;
pub mod segment;
pub mod simple;
mod special;
pub mod summary;
pub mod synth;

pub use error::{RowError, RowErrors, ValueError};
pub use input::{Amount, CustomerId, Transaction, parse_date, read_cdnow, read_transactions_csv};
pub use summary::{CustomerSummary, Periods, Rfm, TimeUnit, read_summary_csv, summarise};

/// Version of the models and scoring rules, stored with every score so old scores can
/// be told apart after a change here. Bump on any change that moves a score.
pub const MODEL_VERSION: &str = "value-bgnbd-gg-1";
