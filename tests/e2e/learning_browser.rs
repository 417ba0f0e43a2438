//! Learning from operations in a real headless Chromium: the owner (owners work conversations
//! too) answers a question the bot could not, links the article with the picker, approves the
//! link on the Learning page, and the next customer asking the question gets the article.

use std::time::Duration;

use hark_bot::store::Role;
use hark_tests::browser::{TestBrowser, eval, wait_for};
use hark_tests::spawn_app;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery";
const QUESTION: &str = "can my parcel be left with the porter downstairs?";

fn js(value: &str) -> String {
    Value::from(value).to_string()
}

#[tokio::test]
async fn an_owner_links_an_article_in_the_transcript_and_approves_it() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 800).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    app.add_staff(Role::Owner, "Olive", PASSWORD).await?;
    let page = browser.open(&app.http_url("/console")).await?;
    wait_for(&page, "!document.querySelector('#login-form').hidden", WAIT).await?;
    eval(
        &page,
        &format!(
            "document.querySelector('#login-email').value = 'olive@example.com';
             document.querySelector('#login-password').value = {p};
             document.querySelector('#login-form button[type=submit]').click(); true",
            p = js(PASSWORD)
        ),
    )
    .await?;
    wait_for(&page, "window.harkConsole.state().connected", WAIT).await?;

    // A customer asks what the bot cannot answer, then asks for a person.
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();
    let asked = customer.ask("q1", QUESTION).await?;
    assert!(asked.reply["article_id"].is_null(), "{}", asked.reply);
    customer.ask("q2", "I want to talk to a person").await?;

    // The owner opens it and replies through the reply box.
    eval(
        &page,
        &format!("location.hash = '#/c/{conversation_id}'; true"),
    )
    .await?;
    let question = format!("#log .msg[data-id=\"{}\"]", asked.message_id);
    wait_for(
        &page,
        &format!("!!document.querySelector({})", js(&question)),
        WAIT,
    )
    .await?;
    eval(
        &page,
        "(() => { const t = document.querySelector('#reply-text'); t.focus();
            t.value = 'Yes: leave a note for the courier at checkout.';
            t.dispatchEvent(new Event('input', {bubbles: true}));
            t.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); return true; })()",
    )
    .await?;
    loop {
        let frame = customer.recv().await?;
        if frame["type"] == "message" && frame["author"] == "agent" {
            break;
        }
    }

    // "Link article" appears on the unanswered question only; the picker searches the KB.
    let button = format!("{question} .learn button");
    wait_for(
        &page,
        &format!("!!document.querySelector({})", js(&button)),
        WAIT,
    )
    .await?;
    assert_eq!(
        eval(
            &page,
            "document.querySelectorAll('#log .learn button').length"
        )
        .await?,
        json!(1)
    );
    eval(
        &page,
        &format!("document.querySelector({}).click(); true", js(&button)),
    )
    .await?;
    let pick = format!(
        "(() => {{ const b = Array.from(document.querySelectorAll({})).find((b) => b.textContent.includes('Changing the delivery address'));
            if (!b) return false; b.click(); return true; }})()",
        js(&format!("{question} .link-list button"))
    );
    wait_for(&page, &pick, WAIT).await?;
    let linked = wait_for(
        &page,
        &format!(
            "Array.from(document.querySelectorAll({})).map((p) => p.textContent).find((t) => t.includes('waiting for an owner'))",
            js(&format!("{question} .learn .aside"))
        ),
        WAIT,
    )
    .await?;
    assert!(
        linked
            .as_str()
            .unwrap_or_default()
            .contains("Changing the delivery address"),
        "{linked}"
    );

    // The Learning page: the report lists the question; approving teaches the bot.
    eval(&page, "location.hash = '#/learning'; true").await?;
    let row = wait_for(
        &page,
        "document.querySelector('#unanswered-table tbody th strong')?.textContent",
        WAIT,
    )
    .await?;
    assert_eq!(row, QUESTION);
    wait_for(
        &page,
        "(() => { const b = document.querySelector('#suggestions-list .suggestion button.primary');
            if (!b) return false; b.click(); return true; })()",
        WAIT,
    )
    .await?;
    wait_for(
        &page,
        "!document.querySelector('#suggestions-empty').hidden",
        WAIT,
    )
    .await?;
    let mut next = app.widget().await?;
    next.hello(None, None).await?;
    let learned = next.ask("n1", QUESTION).await?;
    assert_eq!(
        learned.reply["article_id"], "change-address",
        "{}",
        learned.reply
    );
    browser.close().await?;
    Ok(())
}
