//! The hark knowledge base: articles, their import, a tantivy index and the answer engine that
//! decides whether the bot answers, asks the customer to pick between a few articles, or hands
//! the conversation to a person.
//!
//! # Layout
//! - [`import`]: parse JSON Lines and CSV article files, all-or-nothing, errors carry line numbers.
//! - `text`: tokenising, stemming per [`Language`] and feature hashing shared by index and model.
//! - `index`: the tantivy index (BM25 over title, example questions, answer, tags and a
//!   character-trigram field for typos).
//! - `model`: a linear classifier over word and character n-gram TF-IDF features, trained on the
//!   knowledge base's own example questions (plus each article's nearest example), that scores
//!   every article; its score and the BM25 score of the retrieved candidates make the ranking.
//! - `calibrate`: turns raw scores into a probability of being right, fitted on held-out folds of
//!   the knowledge base itself at every rebuild.
//! - [`KnowledgeBase`]: the entry point the server and the CLI use; [`KnowledgeBase::ask`] is the
//!   one decision for the live bot and `hark kb ask`.
//! - [`eval`]: k-fold cross-validation over labelled text (`hark kb eval`).
//! - [`group_similar`]: groups similar unanswered questions for the owners' report.
//!
//! # How `ask` decides
//! 1. The query is analysed once: stems (per language), words, character n-grams.
//! 2. The model scores every article (linear score plus its nearest example's similarity);
//!    tantivy retrieves BM25 candidates (trigrams only for words the KB has never seen, i.e.
//!    likely typos) and their max-normalised BM25 score is added.
//! 3. The top score and its margin over the runner-up go through the calibration curves:
//!    P(top article is right) and P(right article in the top three).
//! 4. Answer when P(right) ≥ 0.65 and the runner-up is clearly less likely; else Clarify with
//!    the top 2–3 when P(in top three) ≥ 0.6; else Handoff, suggesting only articles that share
//!    words with the message.
//!
//! # Architecture invariants
//! - This crate knows nothing about transports or storage: it never depends on axum, tungstenite,
//!   teloxide, sqlx or tokio. The database is the server's; it calls [`KnowledgeBase::rebuild`].
//! - Every public call is blocking and CPU-bound; async callers run it off their executor.
//!   `ask` takes well under a millisecond; `rebuild`, `upsert_many` and `remove` retrain and
//!   recalibrate the whole model (seconds for thousands of examples), so batch changes.
//! - Readers see one consistent generation: index searcher, model and calibration are swapped
//!   together, so a query never mixes an old index with a new model.

mod article;
mod calibrate;
mod engine;
pub mod eval;
mod group;
pub mod import;
mod index;
mod model;
mod text;

pub use article::{Article, Language, MAX_ID_CHARS};
pub use engine::{Decision, KnowledgeBase, Outcome, Suggestion};
pub use group::{QuestionGroup, group_similar};
pub use import::ImportError;

/// What can go wrong inside the knowledge base (not while importing files: see [`ImportError`]).
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("cannot open index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid article: {0}")]
    InvalidArticle(String),
    #[error("unknown language: {0}")]
    UnknownLanguage(String),
    #[error("stored article is unreadable: {0}")]
    Corrupt(String),
    #[error("a training thread panicked")]
    WorkerPanicked,
    #[error("knowledge base lock poisoned")]
    Poisoned,
}
