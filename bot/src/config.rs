//! Configuration: defaults, then a TOML file, then `HARK_*` environment variables, then flags.
//! Each later source overrides the earlier ones (see the README's Configuration section).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::server::Limits;
use crate::store::Store;
use crate::telegram::TelegramSettings;

/// The settings every command that touches the database or serves shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML config file (keys as below, e.g. `listen = "0.0.0.0:8080"`); `./hark.toml` if present.
    #[arg(long, env = "HARK_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "HARK_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// `sqlite://PATH` or `postgres://…` [default: SQLite file hark.db in the data dir]
    #[arg(long, env = "HARK_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and the search index [default: ./data]
    #[arg(long, env = "HARK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Knowledge-base language for stemming: en, de or es [default: en]
    #[arg(long, env = "HARK_KB_LANGUAGE", global = true)]
    pub kb_language: Option<String>,
    /// Websocket connections one IP address may hold [default: 20]
    #[arg(long, env = "HARK_WS_CONNECTIONS_PER_IP", global = true)]
    pub ws_connections_per_ip: Option<usize>,
    /// Messages per second one widget connection may send [default: 5]
    #[arg(long, env = "HARK_WS_MESSAGES_PER_SECOND", global = true)]
    pub ws_messages_per_second: Option<u32>,
    /// Hours between customer value refreshes; 0 turns the schedule off [default: 24]
    #[arg(long, env = "HARK_VALUE_REFRESH_HOURS", global = true)]
    pub value_refresh_hours: Option<u64>,
    /// Share of scored customers flagged at risk [default: 0.25]
    #[arg(long, env = "HARK_VALUE_AT_RISK_SHARE", global = true)]
    pub value_at_risk_share: Option<f64>,
    /// URL that gets a signed POST when customers become at risk [default: none]
    #[arg(long, env = "HARK_VALUE_WEBHOOK_URL", global = true)]
    pub value_webhook_url: Option<String>,
    /// HMAC secret of that webhook (at least 16 characters; prefer the environment variable)
    #[arg(
        long,
        env = "HARK_VALUE_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub value_webhook_secret: Option<String>,
    /// When people answer, e.g. "Mon-Fri 09:00-17:00 +01:00"; outside them customers are told
    /// when someone will reply and can leave a message [default: always]
    #[arg(long, env = "HARK_BUSINESS_HOURS", global = true)]
    pub business_hours: Option<String>,
    /// Assign waiting conversations to online agents automatically [default: true]
    #[arg(long, env = "HARK_AUTO_ASSIGN", global = true)]
    pub auto_assign: Option<bool>,
    /// Telegram bot token; the Telegram channel runs when one is set
    #[arg(
        long,
        env = "HARK_TELEGRAM_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub telegram_token: Option<String>,
    /// Telegram Bot API base URL [default: https://api.telegram.org]
    #[arg(long, env = "HARK_TELEGRAM_API_URL", global = true)]
    pub telegram_api_url: Option<String>,
    /// Public URL of this server's /telegram/webhook; set it to use a webhook instead of polling
    #[arg(long, env = "HARK_TELEGRAM_WEBHOOK_URL", global = true)]
    pub telegram_webhook_url: Option<String>,
    /// Secret Telegram must send with each webhook call (required with a webhook URL)
    #[arg(
        long,
        env = "HARK_TELEGRAM_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub telegram_webhook_secret: Option<String>,
    /// Days before a customer may be asked for NPS again (asked, answered or not) [default: 90]
    #[arg(long, env = "HARK_NPS_PERIOD_DAYS", global = true)]
    pub nps_period_days: Option<u64>,
    /// Hours between runs of the NPS schedule (Telegram customers with consent); 0 turns it
    /// off [default: 24]
    #[arg(long, env = "HARK_NPS_SCHEDULE_HOURS", global = true)]
    pub nps_schedule_hours: Option<u64>,
    /// URL that gets the owners' weekly summary as a signed POST [default: none]
    #[arg(long, env = "HARK_SUMMARY_WEBHOOK_URL", global = true)]
    pub summary_webhook_url: Option<String>,
    /// HMAC secret of that webhook (at least 16 characters; prefer the environment variable)
    #[arg(
        long,
        env = "HARK_SUMMARY_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub summary_webhook_secret: Option<String>,
    /// Days between summaries; 0 turns the schedule off [default: 7]
    #[arg(long, env = "HARK_SUMMARY_EVERY_DAYS", global = true)]
    pub summary_every_days: Option<u64>,
    /// Extra customer-service sentiment rules (the format of the built-in
    /// service_lexicon.tsv) [default: none]
    #[arg(long, env = "HARK_SENTIMENT_LEXICON", global = true)]
    pub sentiment_lexicon: Option<PathBuf>,
    /// Your own labelled customer messages (label<TAB>text) the sentiment service model
    /// learns from, besides the built-in ones [default: none]
    #[arg(long, env = "HARK_SENTIMENT_EXAMPLES", global = true)]
    pub sentiment_examples: Option<PathBuf>,
}

/// The config file's keys; every one is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    kb_language: Option<String>,
    ws_connections_per_ip: Option<usize>,
    ws_messages_per_second: Option<u32>,
    value_refresh_hours: Option<u64>,
    value_at_risk_share: Option<f64>,
    value_webhook_url: Option<String>,
    value_webhook_secret: Option<String>,
    business_hours: Option<String>,
    auto_assign: Option<bool>,
    /// Seconds an agent whose consoles all closed stays online.
    offline_grace_seconds: Option<u64>,
    /// Hand over when a message's sentiment is at or below this; below -1 turns it off.
    negative_sentiment_handoff: Option<f64>,
    /// Hand over after this many unanswered questions in a row; 0 turns it off.
    unanswered_handoff: Option<i64>,
    /// Words of sensitive topics (replaces the default list).
    sensitive_topics: Option<Vec<String>>,
    telegram_token: Option<String>,
    telegram_api_url: Option<String>,
    telegram_webhook_url: Option<String>,
    telegram_webhook_secret: Option<String>,
    nps_period_days: Option<u64>,
    nps_schedule_hours: Option<u64>,
    summary_webhook_url: Option<String>,
    summary_webhook_secret: Option<String>,
    summary_every_days: Option<u64>,
    sentiment_lexicon: Option<PathBuf>,
    sentiment_examples: Option<PathBuf>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub kb_language: kb::Language,
    pub limits: Limits,
    /// Customer value: refresh schedule, at-risk share, outreach webhook.
    pub value: crate::value::ValueSettings,
    /// The Telegram channel, when a token is configured.
    pub telegram: Option<TelegramSettings>,
    /// Escalation policy, business hours and how the queue is worked.
    pub handoff: HandoffSettings,
    /// NPS: the period between questions, the schedule.
    pub nps: crate::surveys::nps::NpsSettings,
    /// The owners' weekly summary: schedule and webhook.
    pub summary: crate::reports::summary::SummarySettings,
    /// The owner's additions to the sentiment analyzer.
    pub sentiment: SentimentSettings,
}

/// Files an owner adds to the sentiment analyzer (both optional).
#[derive(Debug, Clone, Default)]
pub struct SentimentSettings {
    /// Extra rules, in the format of the built-in `service_lexicon.tsv`.
    pub lexicon: Option<PathBuf>,
    /// Labelled messages (`label<TAB>text`) for the service model, besides the built-in ones.
    pub examples: Option<PathBuf>,
}

impl SentimentSettings {
    /// The analyzer these settings describe: the built-in one plus the owner's files. A bad
    /// file is an error naming its bad lines, never a silently weaker analyzer.
    pub fn analyzer(&self) -> anyhow::Result<feedback::sentiment::Analyzer> {
        let mut analyzer = feedback::sentiment::Analyzer::new();
        if let Some(path) = &self.lexicon {
            analyzer = analyzer
                .with_domain_lexicon_file(path)
                .context("loading sentiment_lexicon")?;
        }
        if let Some(path) = &self.examples {
            analyzer = analyzer
                .with_service_examples_file(path)
                .context("loading sentiment_examples")?;
        }
        Ok(analyzer)
    }
}

/// How conversations reach people.
#[derive(Debug, Clone, Default)]
pub struct HandoffSettings {
    pub policy: crate::engine::EscalationPolicy,
    pub dispatch: crate::dispatch::DispatchSettings,
}

const DEFAULT_CONFIG_FILE: &str = "hark.toml";

impl Settings {
    pub fn resolve(args: &ConfigArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileConfig::default(),
        };
        let handoff = handoff_settings(args, &file)?;
        let nps = nps_settings(args, &file)?;
        let summary = summary_settings(args, &file)?;
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| Store::sqlite_url_in(&data_dir));
        let kb_language = match args.kb_language.clone().or(file.kb_language) {
            Some(lang) => lang
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown kb language {lang:?} (use en, de or es)"))?,
            None => kb::Language::default(),
        };
        let defaults = Limits::default();
        let value_defaults = crate::value::ValueSettings::default();
        let value = crate::value::ValueSettings {
            refresh_every: match args.value_refresh_hours.or(file.value_refresh_hours) {
                Some(0) => None,
                Some(hours) => Some(std::time::Duration::from_secs(hours.saturating_mul(3600))),
                None => value_defaults.refresh_every,
            },
            at_risk_share: args
                .value_at_risk_share
                .or(file.value_at_risk_share)
                .unwrap_or(value_defaults.at_risk_share),
            webhook: match (
                args.value_webhook_url.clone().or(file.value_webhook_url),
                args.value_webhook_secret
                    .clone()
                    .or(file.value_webhook_secret),
            ) {
                (Some(url), Some(secret)) => Some(crate::value::WebhookSettings::new(url, secret)),
                (None, _) => None,
                (Some(_), None) => anyhow::bail!("value_webhook_url needs value_webhook_secret"),
            },
            ..value_defaults
        };
        let telegram = args
            .telegram_token
            .clone()
            .or(file.telegram_token)
            .filter(|t| !t.trim().is_empty())
            .map(|token| TelegramSettings {
                api_url: args.telegram_api_url.clone().or(file.telegram_api_url),
                webhook_url: args
                    .telegram_webhook_url
                    .clone()
                    .or(file.telegram_webhook_url),
                webhook_secret: args
                    .telegram_webhook_secret
                    .clone()
                    .or(file.telegram_webhook_secret),
                ..TelegramSettings::new(token.trim())
            });
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database_url,
            data_dir,
            kb_language,
            limits: Limits {
                ws_connections_per_ip: args
                    .ws_connections_per_ip
                    .or(file.ws_connections_per_ip)
                    .unwrap_or(defaults.ws_connections_per_ip),
                ws_messages_per_second: args
                    .ws_messages_per_second
                    .or(file.ws_messages_per_second)
                    .unwrap_or(defaults.ws_messages_per_second),
            },
            value,
            handoff,
            telegram,
            nps,
            summary,
            sentiment: SentimentSettings {
                lexicon: args.sentiment_lexicon.clone().or(file.sentiment_lexicon),
                examples: args.sentiment_examples.clone().or(file.sentiment_examples),
            },
        })
    }
}

fn summary_settings(
    args: &ConfigArgs,
    file: &FileConfig,
) -> anyhow::Result<crate::reports::summary::SummarySettings> {
    let mut settings = crate::reports::summary::SummarySettings::default();
    match args.summary_every_days.or(file.summary_every_days) {
        Some(0) => settings.every = None,
        Some(days) => {
            anyhow::ensure!(days <= 366, "summary_every_days must be from 0 to 366");
            settings.every = Some(std::time::Duration::from_secs(days * 24 * 3600));
        }
        None => {}
    }
    settings.webhook = match (
        args.summary_webhook_url
            .clone()
            .or(file.summary_webhook_url.clone()),
        args.summary_webhook_secret
            .clone()
            .or(file.summary_webhook_secret.clone()),
    ) {
        (Some(url), Some(secret)) => Some(crate::value::WebhookSettings::new(url, secret)),
        (None, _) => None,
        (Some(_), None) => anyhow::bail!("summary_webhook_url needs summary_webhook_secret"),
    };
    Ok(settings)
}

fn handoff_settings(args: &ConfigArgs, file: &FileConfig) -> anyhow::Result<HandoffSettings> {
    let mut settings = HandoffSettings::default();
    if let Some(raw) = args.business_hours.clone().or(file.business_hours.clone()) {
        settings.policy.business_hours = Some(raw.parse().map_err(anyhow::Error::msg)?);
    }
    if let Some(threshold) = file.negative_sentiment_handoff {
        settings.policy.negative_sentiment = (threshold >= -1.0).then_some(threshold);
    }
    if let Some(limit) = file.unanswered_handoff {
        settings.policy.unanswered_limit = (limit > 0).then_some(limit);
    }
    if let Some(topics) = &file.sensitive_topics {
        settings.policy.sensitive_topics = topics.clone();
    }
    if let Some(auto) = args.auto_assign.or(file.auto_assign) {
        settings.dispatch.auto_assign = auto;
    }
    if let Some(seconds) = file.offline_grace_seconds {
        settings.dispatch.offline_grace = std::time::Duration::from_secs(seconds);
    }
    Ok(settings)
}

fn nps_settings(
    args: &ConfigArgs,
    file: &FileConfig,
) -> anyhow::Result<crate::surveys::nps::NpsSettings> {
    const DAY: u64 = 24 * 3600;
    let mut settings = crate::surveys::nps::NpsSettings::default();
    if let Some(days) = args.nps_period_days.or(file.nps_period_days) {
        anyhow::ensure!(
            (1..=3650).contains(&days),
            "nps_period_days must be from 1 to 3650"
        );
        settings.period = std::time::Duration::from_secs(days * DAY);
    }
    match args.nps_schedule_hours.or(file.nps_schedule_hours) {
        Some(0) => settings.schedule_every = None,
        Some(hours) => {
            settings.schedule_every =
                Some(std::time::Duration::from_secs(hours.saturating_mul(3600)))
        }
        None => {}
    }
    Ok(settings)
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hark.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/hark\"\nws_messages_per_second = 9\n",
        )?;
        let args = ConfigArgs {
            config: Some(path),
            listen: Some("127.0.0.1:9100".parse()?),
            ..ConfigArgs::default()
        };
        let s = Settings::resolve(&args)?;
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.data_dir, PathBuf::from("/srv/hark"));
        assert_eq!(s.database_url, "sqlite:///srv/hark/hark.db");
        assert_eq!(s.limits.ws_messages_per_second, 9);
        assert_eq!(s.limits.ws_connections_per_ip, 20);
        Ok(())
    }

    #[test]
    fn value_keys_turn_the_schedule_off_and_need_a_secret_with_a_webhook() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hark.toml");
        std::fs::write(
            &path,
            "value_refresh_hours = 0\nvalue_at_risk_share = 0.1\n\
             value_webhook_url = \"https://shop.example/hook\"\n",
        )?;
        let mut args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        assert!(
            Settings::resolve(&args).is_err(),
            "a webhook needs its secret"
        );
        args.value_webhook_secret = Some("0123456789abcdef".into());
        let s = Settings::resolve(&args)?;
        assert_eq!(s.value.refresh_every, None);
        assert_eq!(s.value.at_risk_share, 0.1);
        let hook = s
            .value
            .webhook
            .ok_or_else(|| anyhow::anyhow!("no webhook"))?;
        assert_eq!(hook.url, "https://shop.example/hook");
        assert!(
            !format!("{hook:?}").contains("0123456789abcdef"),
            "secret in Debug"
        );
        assert_eq!(
            Settings::resolve(&ConfigArgs::default())?
                .value
                .refresh_every,
            Some(std::time::Duration::from_secs(24 * 3600))
        );
        Ok(())
    }

    #[test]
    fn summary_keys_set_the_webhook_and_the_schedule() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hark.toml");
        std::fs::write(
            &path,
            "summary_webhook_url = \"https://example.com/hook\"\nsummary_every_days = 0\n",
        )?;
        let mut args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        assert!(Settings::resolve(&args).is_err(), "a URL without a secret");
        args.summary_webhook_secret = Some("a secret of 16+ chars".into());
        let s = Settings::resolve(&args)?.summary;
        assert_eq!(s.every, None);
        assert_eq!(
            s.webhook.map(|h| h.url),
            Some("https://example.com/hook".to_owned())
        );
        args.summary_every_days = Some(14);
        let s = Settings::resolve(&args)?.summary;
        assert_eq!(
            s.every,
            Some(std::time::Duration::from_secs(14 * 24 * 3600))
        );
        let defaults = Settings::resolve(&ConfigArgs::default())?.summary;
        assert_eq!(
            defaults.every,
            Some(std::time::Duration::from_secs(7 * 24 * 3600))
        );
        assert_eq!(defaults.webhook, None);
        Ok(())
    }

    #[test]
    fn nps_keys_set_the_period_and_the_schedule() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hark.toml");
        std::fs::write(&path, "nps_period_days = 30\nnps_schedule_hours = 0\n")?;
        let mut args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        let s = Settings::resolve(&args)?;
        assert_eq!(s.nps.period, std::time::Duration::from_secs(30 * 24 * 3600));
        assert_eq!(s.nps.schedule_every, None);
        args.nps_period_days = Some(0);
        assert!(Settings::resolve(&args).is_err(), "a period of 0 days");
        let defaults = Settings::resolve(&ConfigArgs::default())?.nps;
        assert_eq!(
            defaults.period,
            std::time::Duration::from_secs(90 * 24 * 3600)
        );
        assert_eq!(
            defaults.schedule_every,
            Some(std::time::Duration::from_secs(24 * 3600))
        );
        Ok(())
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hark.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9000\"\n")?;
        let args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        let err = format!(
            "{:#}",
            Settings::resolve(&args)
                .err()
                .ok_or_else(|| anyhow::anyhow!("no error"))?
        );
        assert!(err.contains("unknown field `lisen`"), "{err}");
        Ok(())
    }
}
