//! The widget in a real headless Chromium: the demo page, the bubble, a question, the answer.

use std::time::Duration;

use hark_tests::browser::{TestBrowser, eval, wait_for};
use hark_tests::spawn_app;

const WAIT: Duration = Duration::from_secs(20);

/// JS that returns the widget's shadow root.
const ROOT: &str = "document.querySelector('#hark-widget').shadowRoot";

fn send_js(text: &str) -> String {
    format!(
        "(() => {{ const r = {ROOT}; const i = r.querySelector('textarea[data-hark=input]');
            i.value = {text}; i.dispatchEvent(new Event('input', {{bubbles: true}}));
            r.querySelector('button[data-hark=send]').click(); return true; }})()",
        text = serde_json::Value::from(text)
    )
}

#[tokio::test]
async fn a_visitor_asks_the_widget_on_the_demo_page_and_reads_the_answer() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 900).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    let page = browser.open(&app.http_url("/")).await?;

    wait_for(
        &page,
        &format!("!!({ROOT}?.querySelector('button[data-hark=bubble]'))"),
        WAIT,
    )
    .await?;
    eval(
        &page,
        &format!("{ROOT}.querySelector('button[data-hark=bubble]').click()"),
    )
    .await?;
    wait_for(&page, "window.harkWidget.state().connected", WAIT).await?;
    let expanded = eval(
        &page,
        &format!("{ROOT}.querySelector('button[data-hark=bubble]').getAttribute('aria-expanded')"),
    )
    .await?;
    assert_eq!(expanded, "true");

    eval(&page, &send_js("how long does delivery take?")).await?;
    let answer = wait_for(
        &page,
        &format!("{ROOT}.querySelector('[data-hark=message][data-author=bot] [data-hark=text]')?.textContent"),
        WAIT,
    )
    .await?;
    let expected = app
        .state
        .engine
        .kb()
        .article("delivery-times")
        .map(|a| a.answer)
        .unwrap_or_default();
    assert_eq!(answer.as_str(), Some(expected.as_str()));
    browser.close().await
}

#[tokio::test]
async fn message_text_is_never_run_as_html() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 900).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    let page = browser.open(&app.http_url("/")).await?;
    wait_for(&page, "window.harkWidget", WAIT).await?;
    eval(&page, "window.harkWidget.open()").await?;
    wait_for(&page, "window.harkWidget.state().connected", WAIT).await?;

    let attack = "<img src=x onerror=\"window.__pwned = 1\"><script>window.__pwned = 2</script>";
    eval(&page, &send_js(attack)).await?;
    let shown = wait_for(
        &page,
        &format!("{ROOT}.querySelector('[data-hark=message][data-author=customer] [data-hark=text]')?.textContent"),
        WAIT,
    )
    .await?;
    assert_eq!(shown.as_str(), Some(attack), "shown as text");
    // Give a would-be image error handler time to fire.
    wait_for(
        &page,
        &format!("!!{ROOT}.querySelector('[data-hark=message][data-author=bot]')"),
        WAIT,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(eval(&page, "typeof window.__pwned").await?, "undefined");
    assert_eq!(
        eval(&page, &format!("{ROOT}.querySelectorAll('img').length")).await?,
        0
    );
    browser.close().await
}

#[tokio::test]
async fn on_a_phone_the_panel_fits_the_screen_and_escape_closes_it() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(390, 844).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    let page = browser.open(&app.http_url("/")).await?;
    wait_for(&page, "window.harkWidget", WAIT).await?;
    eval(
        &page,
        &format!("{ROOT}.querySelector('button[data-hark=bubble]').click()"),
    )
    .await?;
    wait_for(&page, "window.harkWidget.state().connected", WAIT).await?;
    let fits = eval(
        &page,
        &format!("(() => {{ const r = {ROOT}.querySelector('[data-hark=panel]').getBoundingClientRect();
            return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1 && r.bottom <= window.innerHeight + 1; }})()"),
    )
    .await?;
    assert_eq!(fits, true);
    // Focus is in the input on open; Escape closes and gives focus back to the bubble.
    let focused = eval(&page, &format!("{ROOT}.activeElement?.dataset.hark")).await?;
    assert_eq!(focused, "input");
    eval(&page, &format!("{ROOT}.querySelector('textarea[data-hark=input]').dispatchEvent(new KeyboardEvent('keydown', {{key: 'Escape', bubbles: true, composed: true}}))")).await?;
    wait_for(&page, &format!("{ROOT}.querySelector('button[data-hark=bubble]').getAttribute('aria-expanded') === 'false'"), WAIT).await?;
    let focused = eval(&page, &format!("{ROOT}.activeElement?.dataset.hark")).await?;
    assert_eq!(focused, "bubble");
    browser.close().await
}
