//! Builds the running application from [`Settings`]: database, knowledge base, engine, state.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kb::KnowledgeBase;

use crate::config::Settings;
use crate::engine::Engine;
use crate::hub::InProcessBus;
use crate::server::AppState;
use crate::store::Store;

/// The demo shop's knowledge base, written for the project (`web-widget/demo-kb.jsonl`).
pub const DEMO_KB: &str = include_str!("../../web-widget/demo-kb.jsonl");

/// Connects the database (applying migrations), rebuilds the search index from the stored
/// articles and returns the state the server runs on.
pub async fn build(settings: &Settings) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    let store = Store::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    let index_dir = settings.data_dir.join("index");
    let language = settings.kb_language;
    let kb = tokio::task::spawn_blocking(move || KnowledgeBase::open(&index_dir, language))
        .await?
        .context("opening the search index")?;
    let kb = Arc::new(kb);
    // Read the version before rebuilding, so a change made during the rebuild is not missed.
    let version = store.articles_version().await?;
    rebuild_kb(&store, &kb).await?;
    let mut state = AppState::new(
        Engine::new(
            store,
            kb,
            InProcessBus::new_hub(),
            Arc::new(settings.sentiment.analyzer()?),
        )
        .with_policy(settings.handoff.policy.clone()),
        settings.limits,
    )
    .with_dispatch(settings.handoff.dispatch.clone())
    .with_nps(settings.nps)
    .with_value(
        crate::value::ValueService::new(settings.value.clone())
            .context("configuring customer value")?,
    )
    .with_summary(
        crate::reports::summary::SummaryService::new(settings.summary.clone())
            .context("configuring the weekly summary")?,
    );
    spawn_kb_refresh(&state, version, KB_REFRESH_EVERY);
    crate::value::spawn_refresh(&state);
    crate::reports::summary::spawn_schedule(&state);
    if let Some(telegram) = &settings.telegram {
        state.telegram = Some(
            crate::telegram::start(&state, telegram)
                .await
                .context("starting the Telegram channel")?,
        );
    }
    Ok(state)
}

/// How often the server looks for changed articles.
pub const KB_REFRESH_EVERY: Duration = Duration::from_secs(3);

/// Keeps the search index in step with the database: articles changed by another process (an
/// import, another node) are picked up within one period, and a burst of changes costs one
/// rebuild (one commit), not one per article.
pub fn spawn_kb_refresh(state: &AppState, built_from: (i64, i64, i64), every: Duration) {
    let store = state.engine.store().clone();
    let kb = Arc::clone(state.engine.kb());
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let mut seen = Some(built_from);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let Ok(version) = store.articles_version().await else {
                continue;
            };
            if seen == Some(version) {
                continue;
            }
            match rebuild_kb(&store, &kb).await {
                Ok(count) => {
                    tracing::info!(articles = count, "knowledge base changed; index rebuilt");
                    seen = Some(version);
                }
                Err(e) => tracing::error!(error = ?e, "rebuilding the knowledge base failed"),
            }
        }
    });
}

/// Rebuilds `kb` from the articles stored in the database (the database is the source of truth).
pub async fn rebuild_kb(store: &Store, kb: &Arc<KnowledgeBase>) -> anyhow::Result<usize> {
    let articles = store.articles().await.context("reading articles")?;
    let count = articles.len();
    let kb = Arc::clone(kb);
    tokio::task::spawn_blocking(move || kb.rebuild(articles))
        .await?
        .context("rebuilding the search index")?;
    Ok(count)
}

/// Loads the demo knowledge base into the database (idempotent: articles are upserted by id).
pub async fn load_demo_kb(store: &Store) -> anyhow::Result<usize> {
    let articles =
        kb::import::from_jsonl(DEMO_KB.as_bytes()).context("parsing the demo knowledge base")?;
    store.upsert_articles(&articles).await?;
    Ok(articles.len())
}

/// The demo's staff accounts: an owner and an agent, each with a fresh random password on every
/// start (printed by `hark demo`, never stored in clear). Returns (email, name, password).
pub async fn demo_staff(store: &Store) -> anyhow::Result<Vec<(String, String, String)>> {
    use crate::accounts::{Accounts, NewUser};
    use crate::store::Role;
    let accounts = Accounts::new(store.clone());
    let mut out = Vec::new();
    for (email, name, role) in [
        ("owner@demo.hark", "Olive (owner)", Role::Owner),
        ("agent@demo.hark", "Alex", Role::Agent),
    ] {
        let password = format!("demo-{}", &hex_token()[..12]);
        match store.staff_credentials(email).await? {
            Some((staff, _)) => accounts.set_password(staff.id, &password).await?,
            None => {
                accounts
                    .add_user(NewUser {
                        email: email.into(),
                        display_name: name.into(),
                        role,
                        capacity: 5,
                        password: Some(password.clone()),
                    })
                    .await?;
            }
        }
        out.push((email.to_owned(), name.to_owned(), password));
    }
    Ok(out)
}

fn hex_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}
