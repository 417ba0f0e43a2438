//! A real headless Chromium (Debian's `chromium`), driven over the DevTools protocol.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::page::Page;
use futures_util::StreamExt;
use serde_json::Value;

use crate::skip_or_fail;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A running browser; dropped at the end of the test (which kills the process).
pub struct TestBrowser {
    pub browser: Browser,
    _profile: tempfile::TempDir,
    handler: tokio::task::JoinHandle<()>,
}

impl TestBrowser {
    /// Starts headless Chromium with a phone-or-desktop window, or `None` (printed) when it is
    /// not installed and this is not CI.
    pub async fn launch(width: u32, height: u32) -> anyhow::Result<Option<TestBrowser>> {
        if !Path::new(CHROMIUM).exists() {
            skip_or_fail("chromium is not installed (the README's test command installs it)");
            return Ok(None);
        }
        let profile = tempfile::tempdir()?;
        // Without the background-networking flags Chromium keeps dialling Google's hosts, which
        // this closed network refuses, slowing every start.
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .new_headless_mode()
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(width, height)
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(30))
            .args([
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .build()
            .map_err(|e| anyhow::anyhow!("browser config: {e}"))?;
        let (browser, mut handler) = Browser::launch(config)
            .await
            .context("launching chromium")?;
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Ok(Some(TestBrowser {
            browser,
            _profile: profile,
            handler,
        }))
    }

    pub async fn open(&self, url: &str) -> anyhow::Result<Page> {
        let page = self.browser.new_page(url).await?;
        page.wait_for_navigation().await?;
        Ok(page)
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
        Ok(())
    }
}

/// Evaluates `expression` in the page and returns its JSON value.
pub async fn eval(page: &Page, expression: &str) -> anyhow::Result<Value> {
    let result = page.evaluate(expression).await?;
    Ok(result.value().cloned().unwrap_or(Value::Null))
}

/// Polls `expression` until it is truthy (not null/false/""/0), returning that value.
pub async fn wait_for(page: &Page, expression: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let value = eval(page, expression).await?;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for `{expression}` (last value {value})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
