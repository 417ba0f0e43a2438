//! The agents' console in a real headless Chromium against the real server: an agent signs in
//! through the form, a customer (a real widget websocket) asks for a person, the conversation
//! appears in the queue live, the agent reads the bot's part, replies, and resolves.

use std::time::Duration;

use chromiumoxide::page::Page;
use hark_bot::store::Role;
use hark_tests::browser::{TestBrowser, eval, wait_for};
use hark_tests::{TestApp, WidgetClient, spawn_app};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery";

fn js(value: &str) -> String {
    Value::from(value).to_string()
}

/// Signs in through the real form and waits for the live socket.
async fn sign_in(page: &Page, email: &str, password: &str) -> anyhow::Result<()> {
    wait_for(
        page,
        "!document.querySelector('#login-form').hidden && !document.querySelector('#auth').hidden",
        WAIT,
    )
    .await?;
    eval(
        page,
        &format!(
            "document.querySelector('#login-email').value = {e};
             document.querySelector('#login-password').value = {p};
             document.querySelector('#login-form button[type=submit]').click(); true",
            e = js(email),
            p = js(password)
        ),
    )
    .await?;
    Ok(())
}

/// Types into the reply box and presses Enter, as an agent does.
fn reply_js(text: &str) -> String {
    format!(
        "(() => {{ const t = document.querySelector('#reply-text'); t.focus(); t.value = {text};
            t.dispatchEvent(new Event('input', {{bubbles: true}}));
            t.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}})); return true; }})()",
        text = js(text)
    )
}

/// Frames until a message by `author` arrives on the customer's socket.
async fn next_message_by(customer: &mut WidgetClient, author: &str) -> anyhow::Result<Value> {
    loop {
        let frame = customer.recv().await?;
        if frame["type"] == "message" && frame["author"] == author {
            return Ok(frame);
        }
    }
}

#[tokio::test]
async fn an_agent_signs_in_takes_a_waiting_customer_replies_and_resolves() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 800).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    app.add_staff(Role::Agent, "Ana", PASSWORD).await?;
    let page = browser.open(&app.http_url("/console")).await?;

    // A wrong password is refused with a clear message; the right one signs in.
    sign_in(&page, "ana@example.com", "not the password").await?;
    let error = wait_for(
        &page,
        "document.querySelector('#login-error:not([hidden])')?.textContent",
        WAIT,
    )
    .await?;
    assert_eq!(error, "Wrong email or password.");
    sign_in(&page, "ana@example.com", PASSWORD).await?;
    wait_for(&page, "window.harkConsole.state().connected", WAIT).await?;
    assert_eq!(
        eval(&page, "document.querySelector('#me-name').textContent").await?,
        "Ana"
    );
    // Away: nothing is assigned to Ana automatically, so the customer waits in the queue.
    eval(
        &page,
        "const p = document.querySelector('#presence'); p.value = 'away';
         p.dispatchEvent(new Event('change')); true",
    )
    .await?;
    wait_for(
        &page,
        "document.querySelector('#announce').textContent === 'You are away'",
        WAIT,
    )
    .await?;

    // A customer asks the bot something, then asks for a person.
    let mut customer = app.widget().await?;
    let welcome = customer.hello(None, None).await?;
    let answer = customer.ask("q1", "how long does delivery take?").await?;
    assert_eq!(answer.reply["author"], "bot");
    let conversation_id = welcome["conversation_id"]
        .as_i64()
        .or(answer.reply["conversation_id"].as_i64());
    customer
        .send_json(json!({"type": "handoff", "client_id": "h1"}))
        .await?;

    // It shows up in the waiting queue without a reload, with its reason in words.
    let entry = wait_for(
        &page,
        "document.querySelector('#list-waiting .qitem')?.dataset.conversationId",
        WAIT,
    )
    .await?;
    let id: i64 = entry.as_str().unwrap_or_default().parse()?;
    if let Some(expected) = conversation_id {
        assert_eq!(id, expected);
    }
    let meta = eval(
        &page,
        "document.querySelector('#list-waiting .qitem .q-meta').textContent",
    )
    .await?;
    assert!(
        meta.as_str()
            .unwrap_or_default()
            .contains("Customer pressed"),
        "{meta}"
    );
    wait_for(&page, "document.title.startsWith('(1) ')", WAIT).await?;

    // Open it: the bot's part of the transcript is there, authors named in words.
    eval(
        &page,
        "document.querySelector('#list-waiting .qitem a').click()",
    )
    .await?;
    let bot = wait_for(
        &page,
        "document.querySelector('#log .msg[data-author=bot] .text')?.textContent",
        WAIT,
    )
    .await?;
    assert_eq!(bot, answer.reply["text"]);
    let who = eval(
        &page,
        "document.querySelector('#log .msg[data-author=bot] .who').textContent",
    )
    .await?;
    assert_eq!(who, "Bot");
    let asked = eval(
        &page,
        "document.querySelector('#log .msg[data-author=customer] .text').textContent",
    )
    .await?;
    assert_eq!(asked, "how long does delivery take?");

    // The reply box sends on Enter; the customer's socket receives the reply, once.
    eval(&page, &reply_js("Hello, I'm Ana. Let me check your order.")).await?;
    let reply = next_message_by(&mut customer, "agent").await?;
    assert_eq!(reply["text"], "Hello, I'm Ana. Let me check your order.");
    assert_eq!(reply["author_name"], "Ana");
    wait_for(
        &page,
        // One copy on screen, confirmed (by the reply's answer or the live copy, whichever
        // comes first), not pending.
        "document.querySelectorAll('#log .msg[data-author=agent]').length === 1 && !document.querySelector('#log .msg[data-pending], #log .msg[data-failed]') && document.querySelector('#log .msg[data-author=agent]').dataset.id !== undefined",
        WAIT,
    )
    .await?;
    assert_eq!(
        eval(&page, "document.querySelector('#reply-text').value").await?,
        ""
    );

    // Markup from the customer is shown as text and never runs.
    let attack = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";
    customer
        .send_json(json!({"type": "message", "client_id": "x1", "text": attack}))
        .await?;
    let shown = wait_for(
        &page,
        &format!(
            "[...document.querySelectorAll('#log .msg[data-author=customer] .text')].map(t => t.textContent).find(t => t === {a})",
            a = js(attack)
        ),
        WAIT,
    )
    .await?;
    assert_eq!(shown, attack);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(eval(&page, "typeof window.__pwned").await?, "undefined");
    assert_eq!(
        eval(&page, "document.querySelectorAll('#app img').length").await?,
        0
    );

    // Resolve: it leaves the queue and the customer is told.
    eval(&page, "document.querySelector('#act-resolve').click()").await?;
    loop {
        let frame = customer.recv().await?;
        if frame["type"] == "state" && frame["state"] == "resolved" {
            break;
        }
    }
    wait_for(
        &page,
        &format!("!document.querySelector('.qitem[data-conversation-id=\"{id}\"]')"),
        WAIT,
    )
    .await?;
    wait_for(
        &page,
        "document.querySelector('#act-resolve').disabled",
        WAIT,
    )
    .await?;
    browser.close().await
}

/// A customer waiting for a person, and the conversation's id as the console shows it.
async fn waiting_customer(app: &TestApp, page: &Page) -> anyhow::Result<(WidgetClient, i64)> {
    let mut customer = app.widget().await?;
    customer.hello(None, None).await?;
    customer
        .send_json(
            json!({"type": "message", "client_id": "m1", "text": "can I talk to a human please"}),
        )
        .await?;
    let entry = wait_for(
        page,
        // Ana is online, so it may be assigned to her at once: look in every list.
        "document.querySelector('#queue .qitem')?.dataset.conversationId",
        WAIT,
    )
    .await?;
    Ok((customer, entry.as_str().unwrap_or_default().parse()?))
}

#[tokio::test]
async fn a_reply_whose_answer_is_lost_is_retried_and_reaches_the_customer_once()
-> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(1280, 800).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    app.add_staff(Role::Agent, "Ana", PASSWORD).await?;
    let page = browser.open(&app.http_url("/console")).await?;
    sign_in(&page, "ana@example.com", PASSWORD).await?;
    wait_for(&page, "window.harkConsole.state().connected", WAIT).await?;
    let (mut customer, id) = waiting_customer(&app, &page).await?;
    eval(&page, &format!("location.hash = '#/c/{id}'")).await?;
    wait_for(
        &page,
        "document.querySelector('#log .msg[data-author=customer]')",
        WAIT,
    )
    .await?;

    // The first reply request reaches the server but its answer is lost, as on a dropped
    // connection: the console must retry with the same client_id.
    eval(
        &page,
        "(() => { const real = window.fetch; let lost = 0; window.__lost = () => lost;
            window.fetch = async (url, init) => {
              const res = await real(url, init);
              if (String(url).endsWith('/reply') && lost === 0) { lost += 1; throw new TypeError('Failed to fetch'); }
              return res; };
            return true; })()",
    )
    .await?;
    eval(&page, &reply_js("Sorry for the wait!")).await?;
    let reply = next_message_by(&mut customer, "agent").await?;
    assert_eq!(reply["text"], "Sorry for the wait!");
    wait_for(
        &page,
        "document.querySelector('#log .msg[data-author=agent]:not([data-local])') && !document.querySelector('#log .msg[data-pending], #log .msg[data-failed]')",
        WAIT,
    )
    .await?;
    assert_eq!(eval(&page, "window.__lost()").await?, 1);
    assert_eq!(
        eval(
            &page,
            "document.querySelectorAll('#log .msg[data-author=agent]').length"
        )
        .await?,
        1
    );
    // No second copy reaches the customer.
    let more = tokio::time::timeout(
        Duration::from_millis(1500),
        next_message_by(&mut customer, "agent"),
    )
    .await;
    assert!(more.is_err(), "a second copy arrived: {more:?}");
    browser.close().await
}

#[tokio::test]
async fn an_owner_invites_an_agent_who_sets_a_password_on_a_phone() -> anyhow::Result<()> {
    let Some(browser) = TestBrowser::launch(390, 844).await? else {
        return Ok(());
    };
    let app = spawn_app().await?;
    app.add_staff(Role::Owner, "Olga", PASSWORD).await?;
    let page = browser.open(&app.http_url("/console")).await?;
    sign_in(&page, "olga@example.com", PASSWORD).await?;
    wait_for(&page, "window.harkConsole.state().signedIn", WAIT).await?;

    // The users page: invite, and the link to hand over appears.
    eval(&page, "location.hash = '#/users'").await?;
    wait_for(
        &page,
        "document.querySelector('#users-table tbody tr')",
        WAIT,
    )
    .await?;
    eval(
        &page,
        "document.querySelector('#iu-email').value = 'bo@example.com';
         document.querySelector('#iu-name').value = 'Bo <i>the</i> agent';
         document.querySelector('#invite-user button[type=submit]').click(); true",
    )
    .await?;
    let link = wait_for(
        &page,
        "!document.querySelector('#iu-result').hidden && document.querySelector('#iu-link').value",
        WAIT,
    )
    .await?;
    let link = link.as_str().unwrap_or_default().to_string();
    assert!(
        link.starts_with(&app.http_url("/console/invite#")),
        "{link}"
    );
    let row = wait_for(
        &page,
        "[...document.querySelectorAll('#users-table tbody tr')].map(r => r.textContent).find(t => t.includes('bo@example.com'))",
        WAIT,
    )
    .await?;
    assert!(
        row.as_str()
            .unwrap_or_default()
            .contains("Bo <i>the</i> agent"),
        "{row}"
    );

    // The invited agent (another browser profile would do the same) sets a password and is in.
    let invited = browser.open(&link).await?;
    wait_for(
        &invited,
        "!document.querySelector('#invite-form').hidden",
        WAIT,
    )
    .await?;
    eval(
        &invited,
        "document.querySelector('#invite-password').value = 'short';
         document.querySelector('#invite-password2').value = 'short';
         document.querySelector('#invite-form button[type=submit]').click(); true",
    )
    .await?;
    let error = wait_for(
        &invited,
        "document.querySelector('#invite-error:not([hidden])')?.textContent",
        WAIT,
    )
    .await?;
    assert_eq!(error, "The password needs at least 10 characters.");
    eval(
        &invited,
        &format!(
            "document.querySelector('#invite-password').value = {p};
             document.querySelector('#invite-password2').value = {p};
             document.querySelector('#invite-form button[type=submit]').click(); true",
            p = js("a long enough password")
        ),
    )
    .await?;
    wait_for(&invited, "window.harkConsole.state().signedIn", WAIT).await?;
    assert_eq!(
        eval(&invited, "location.pathname + location.hash").await?,
        "/console"
    );
    assert_eq!(
        eval(&invited, "document.querySelector('#me-name').textContent").await?,
        "Bo <i>the</i> agent"
    );
    // An agent sees no owner pages.
    assert_eq!(
        eval(
            &invited,
            "document.querySelector('[data-nav=users]').hidden"
        )
        .await?,
        true
    );
    // On a phone the queue fills the width and nothing spills sideways.
    let fits = eval(
        &invited,
        "document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('#queue').getBoundingClientRect().width > 300",
    )
    .await?;
    assert_eq!(fits, true);
    browser.close().await
}
