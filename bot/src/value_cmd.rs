//! `hark value …`: customer value from purchase data (a thin shell over `feedback::value`).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use feedback::value::cli::{self, ScoreOptions};
use feedback::value::parse_date;
use feedback::value::segment::{AtRisk, SegmentPolicy};
use feedback::value::simple::{DiscountRate, Margin};

/// Where the purchase data comes from.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// Transactions CSV `customer_id,date,amount[,order_id]` (needs --calibration-end).
    #[arg(long)]
    transactions: Option<PathBuf>,
    /// Summary CSV `customer_id,frequency,recency,T[,monetary_value]`, times in weeks.
    #[arg(long)]
    summary: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ValueCommand {
    /// Recompute and store every customer's scores from the database now (as the server's
    /// schedule does), raise outreach for customers who became at risk, print what it did.
    Refresh,
    /// Store purchases from a CSV `customer_id,date,amount[,order_id]` in the database, all or
    /// nothing; customers are matched to chat customers by their external id.
    Import { file: PathBuf },
    /// Fit BG/NBD (and Gamma-Gamma when spend is given); print the parameters as JSON.
    Fit {
        #[command(flatten)]
        source: Source,
        /// Last day of the calibration period (YYYY-MM-DD), for --transactions.
        #[arg(long)]
        calibration_end: Option<String>,
        /// Last day of a holdout period: also compare predicted and actual repeat purchases.
        #[arg(long)]
        holdout_end: Option<String>,
    },
    /// Fit, then print one JSON line per customer: P(alive), expected purchases, CLV,
    /// segment, churn risk and its reasons.
    Score {
        #[command(flatten)]
        source: Source,
        #[arg(long)]
        calibration_end: Option<String>,
        /// Share of customers in the high-value segment.
        #[arg(long, default_value_t = 0.2)]
        high_share: f64,
        /// Share of customers in the mid-value segment.
        #[arg(long, default_value_t = 0.3)]
        mid_share: f64,
        /// Share of customers flagged at risk (highest churn risk first).
        #[arg(long, default_value_t = 0.25)]
        at_risk_share: f64,
        /// CLV horizon in months.
        #[arg(long, default_value_t = 12)]
        clv_months: u32,
        /// Monthly discount rate of CLV.
        #[arg(long, default_value_t = 0.01)]
        monthly_discount_rate: f64,
        /// Profit margin applied to CLV (1 = revenue).
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
    },
}

fn date(raw: Option<&String>, flag: &str) -> anyhow::Result<Option<time::Date>> {
    raw.map(|d| parse_date(d).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .transpose()
}

/// Runs a `hark value` command; the settings are resolved only by the commands that need them.
pub async fn run(
    command: ValueCommand,
    settings: impl FnOnce() -> anyhow::Result<hark_bot::config::Settings>,
) -> anyhow::Result<()> {
    match command {
        ValueCommand::Import { file } => {
            let store = hark_bot::store::Store::connect(&settings()?.database_url).await?;
            import(&store, &file).await
        }
        ValueCommand::Refresh => {
            let settings = settings()?;
            let store = hark_bot::store::Store::connect(&settings.database_url).await?;
            let service = hark_bot::value::ValueService::new(settings.value)?;
            // No server runs in this process: messages are stored (the widget shows them on
            // reconnect) and published to nobody.
            let hub = hark_bot::hub::InProcessBus::new_hub();
            let report = service.refresh(&store, &hub, "cli").await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            store.close().await;
            Ok(())
        }
        other => tokio::task::spawn_blocking(move || run_models(other)).await?,
    }
}

/// `hark value import FILE`: parse everything first (a bad row names its line and nothing is
/// stored), then store it in one transaction.
async fn import(store: &hark_bot::store::Store, file: &std::path::Path) -> anyhow::Result<()> {
    let rows = feedback::value::read_transactions_csv(file)
        .with_context(|| format!("importing {}", file.display()))?;
    let done = store.import_transactions(&rows).await?;
    println!(
        "imported {} purchases from {} ({} already stored, {} new customers)",
        done.inserted,
        file.display(),
        done.skipped,
        done.new_customers
    );
    Ok(())
}

/// Fits and scores from a file (no database).
fn run_models(command: ValueCommand) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match command {
        ValueCommand::Import { .. } | ValueCommand::Refresh => unreachable!("handled by run"),
        ValueCommand::Fit {
            source,
            calibration_end,
            holdout_end,
        } => {
            let holdout = date(holdout_end.as_ref(), "--holdout-end")?;
            let report = match (source.transactions, source.summary) {
                (Some(path), _) => {
                    let cal = date(calibration_end.as_ref(), "--calibration-end")?
                        .context("--transactions needs --calibration-end")?;
                    cli::fit_transactions(&path, cal, holdout)?
                }
                (None, Some(path)) => {
                    anyhow::ensure!(holdout.is_none(), "--holdout-end needs --transactions");
                    cli::fit_summary(&path)?
                }
                (None, None) => anyhow::bail!("give --transactions or --summary"),
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        ValueCommand::Score {
            source,
            calibration_end,
            high_share,
            mid_share,
            at_risk_share,
            clv_months,
            monthly_discount_rate,
            margin,
        } => {
            let options = ScoreOptions {
                clv_months,
                monthly_discount_rate: DiscountRate::new(monthly_discount_rate)?,
                margin: Margin::new(margin)?,
                segments: SegmentPolicy::new(
                    high_share,
                    mid_share,
                    AtRisk::TopShare(at_risk_share),
                )?,
                ..ScoreOptions::default()
            };
            let signals = HashMap::new();
            let (_, scores) = match (source.transactions, source.summary) {
                (Some(path), _) => {
                    let cal = date(calibration_end.as_ref(), "--calibration-end")?
                        .context("--transactions needs --calibration-end")?;
                    cli::score_transactions(&path, cal, &signals, &options)?
                }
                (None, Some(path)) => cli::score_summary(&path, &signals, &options)?,
                (None, None) => anyhow::bail!("give --transactions or --summary"),
            };
            for score in scores {
                serde_json::to_writer(&mut out, &score)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
