//! `hark apikey add|revoke NAME`: keys for the server-to-server HTTP API.

use anyhow::Context;
use hark_bot::store::{Store, StoreError};

#[derive(Debug, clap::Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it once (only its SHA-256 is stored).
    Add { name: String },
    /// Revoke the live key with this name; requests with it get 401 at once.
    Revoke { name: String },
}

pub async fn run(command: ApiKeyCommand, database_url: &str) -> anyhow::Result<()> {
    let store = Store::connect(database_url)
        .await
        .context("opening the database")?;
    match command {
        ApiKeyCommand::Add { name } => {
            let name = hark_bot::apikey::check_name(&name).map_err(anyhow::Error::msg)?;
            let (key, hash) = hark_bot::apikey::generate();
            if store.create_api_key(name, &hash).await?.is_none() {
                anyhow::bail!("a live key called {name:?} exists; revoke it first");
            }
            println!("{key}");
            eprintln!("API key {name:?} created. It is shown only this once: store it now.");
        }
        ApiKeyCommand::Revoke { name } => match store.revoke_api_key(&name).await {
            Ok(()) => eprintln!("API key {name:?} revoked."),
            Err(StoreError::NotFound) => anyhow::bail!("no live key called {name:?}"),
            Err(e) => return Err(e.into()),
        },
    }
    store.close().await;
    Ok(())
}
