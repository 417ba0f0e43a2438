//! One store test suite, run against SQLite and PostgreSQL.

use hark_bot::store::{
    Author, Channel, ConversationState, CustomerScore, EventKind, Exchange, NewEvent, NewMessage,
    NewTask, NewTurn, Segment, Store, StoreError, StreakChange, TaskState,
};
use hark_tests::{Engine, TestDb};

/// Declares each store test twice: `sqlite::name` and `postgres::name`.
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() -> anyhow::Result<()> {
                super::with_store(hark_tests::Engine::Sqlite, super::$name).await
            })+
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() -> anyhow::Result<()> {
                super::with_store(hark_tests::Engine::Postgres, super::$name).await
            })+
        }
    };
}

store_tests!(
    customers_are_found_by_channel_identity,
    conversations_start_with_the_bot_and_change_state,
    an_exchange_is_stored_whole_and_only_once,
    articles_upsert_and_delete,
    a_failed_import_stores_nothing,
    migrations_are_idempotent,
    purchases_import_all_or_nothing_and_match_customers_by_external_id,
    tasks_open_once_per_kind_and_customer,
    consent_and_opt_out_are_stored,
    value_scores_are_replaced_per_customer,
);

async fn with_store<F, Fut>(engine: Engine, test: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let Some(db) = TestDb::new(engine).await? else {
        return Ok(());
    };
    let store = Store::connect(&db.url).await?;
    test(store.clone()).await?;
    store.close().await;
    Ok(())
}

async fn customers_are_found_by_channel_identity(store: Store) -> anyhow::Result<()> {
    assert_eq!(store.customer_by_identity(Channel::Web, "k1").await?, None);
    let id = store.create_customer(Channel::Web, "k1").await?;
    assert_eq!(
        store.customer_by_identity(Channel::Web, "k1").await?,
        Some(id)
    );
    assert_eq!(
        store.customer_by_identity(Channel::Telegram, "k1").await?,
        None
    );
    // One identity per channel key.
    assert!(store.create_customer(Channel::Web, "k1").await.is_err());
    assert_eq!(store.customer(id).await?.id, id);
    assert!(matches!(
        store.customer(id + 1000).await,
        Err(StoreError::NotFound)
    ));
    Ok(())
}

async fn conversations_start_with_the_bot_and_change_state(store: Store) -> anyhow::Result<()> {
    let customer = store.create_customer(Channel::Telegram, "chat-1").await?;
    assert!(
        store
            .latest_conversation(customer, Channel::Telegram)
            .await?
            .is_none()
    );
    let conversation = store
        .create_conversation(customer, Channel::Telegram)
        .await?;
    assert_eq!(conversation.state, ConversationState::Bot);
    for state in ConversationState::ALL {
        store
            .set_state(
                conversation.id,
                *state,
                NewEvent::new(EventKind::HandoffRequested),
            )
            .await?;
        assert_eq!(store.conversation(conversation.id).await?.state, *state);
    }
    let latest = store
        .latest_conversation(customer, Channel::Telegram)
        .await?;
    assert_eq!(latest.map(|c| c.id), Some(conversation.id));
    assert!(matches!(
        store
            .set_state(
                conversation.id + 99,
                ConversationState::Bot,
                NewEvent::new(EventKind::Reopened)
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .events(Some(EventKind::ConversationStarted))
            .await?
            .len(),
        1
    );
    Ok(())
}

fn turn(conversation_id: i64, client_id: &str) -> NewTurn {
    let mut customer = NewMessage::new(Author::Customer, "where is my parcel?");
    customer.client_id = Some(client_id.into());
    customer.sentiment = Some(-0.25);
    let mut reply = NewMessage::new(Author::Bot, "It is on its way.");
    reply.article_id = Some("tracking".into());
    reply.meta.offer_handoff = true;
    NewTurn {
        conversation_id,
        customer,
        replies: vec![reply],
        handoff_reason: None,
        new_state: Some(ConversationState::Waiting),
        streak: StreakChange::Increment,
        events: vec![NewEvent::new(EventKind::MessageReceived).conversation(conversation_id)],
    }
}

async fn an_exchange_is_stored_whole_and_only_once(store: Store) -> anyhow::Result<()> {
    let customer = store.create_customer(Channel::Web, "v").await?;
    let conversation = store.create_conversation(customer, Channel::Web).await?;
    let Exchange::Stored { messages } = store.record_exchange(&turn(conversation.id, "c1")).await?
    else {
        anyhow::bail!("first send must be stored");
    };
    assert_eq!(messages.len(), 2);
    assert!(messages[0].id < messages[1].id);

    let again = store.record_exchange(&turn(conversation.id, "c1")).await?;
    assert_eq!(
        again,
        Exchange::Duplicate {
            message_id: messages[0].id
        }
    );

    let stored = store.messages_after(conversation.id, 0).await?;
    assert_eq!(stored, messages, "what was returned is what was stored");
    assert_eq!(stored[0].sentiment, Some(-0.25));
    assert!(stored[1].meta.offer_handoff);
    assert_eq!(
        store
            .messages_after(conversation.id, messages[0].id)
            .await?
            .len(),
        1
    );

    let after = store.conversation(conversation.id).await?;
    assert_eq!(after.state, ConversationState::Waiting);
    assert_eq!(
        after.unanswered_streak, 1,
        "the duplicate did not count twice"
    );
    assert_eq!(
        store.events(Some(EventKind::MessageReceived)).await?.len(),
        1
    );

    // A turn for a conversation that does not exist fails and leaves nothing behind.
    assert!(
        store
            .record_exchange(&turn(conversation.id + 50, "c2"))
            .await
            .is_err()
    );
    assert_eq!(
        store.events(Some(EventKind::MessageReceived)).await?.len(),
        1
    );
    Ok(())
}

fn article(id: &str, title: &str) -> kb::Article {
    kb::Article {
        id: id.into(),
        title: title.into(),
        answer: format!("About {title}."),
        questions: vec![format!("tell me about {title}")],
        tags: vec!["demo".into()],
    }
}

async fn articles_upsert_and_delete(store: Store) -> anyhow::Result<()> {
    store
        .upsert_articles(&[article("b", "Billing"), article("a", "Accounts")])
        .await?;
    store
        .upsert_articles(&[article("a", "Accounts and logins")])
        .await?;
    let articles = store.articles().await?;
    assert_eq!(articles.len(), 2);
    assert_eq!(articles[0], article("a", "Accounts and logins"));
    store.delete_article("b").await?;
    assert!(matches!(
        store.delete_article("b").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.articles().await?.len(), 1);
    Ok(())
}

async fn a_failed_import_stores_nothing(store: Store) -> anyhow::Result<()> {
    store.upsert_articles(&[article("keep", "Kept")]).await?;
    // The second article breaks a constraint (empty id): the first must not be stored either.
    let result = store
        .upsert_articles(&[article("new", "New"), article("", "Broken")])
        .await;
    assert!(result.is_err());
    let ids: Vec<String> = store.articles().await?.into_iter().map(|a| a.id).collect();
    assert_eq!(ids, vec!["keep".to_owned()], "all or nothing");
    Ok(())
}

async fn migrations_are_idempotent(store: Store) -> anyhow::Result<()> {
    store.migrate().await?;
    store.migrate().await?;
    store.ping().await?;
    Ok(())
}

fn purchase(
    customer: &str,
    date: &str,
    amount: f64,
    order: Option<&str>,
) -> anyhow::Result<feedback::value::Transaction> {
    Ok(feedback::value::Transaction {
        customer_id: feedback::value::CustomerId::parse(customer).map_err(anyhow::Error::msg)?,
        date: feedback::value::parse_date(date).map_err(anyhow::Error::msg)?,
        amount: feedback::value::Amount::new(amount).map_err(anyhow::Error::msg)?,
        order_id: order.map(str::to_owned),
    })
}

async fn purchases_import_all_or_nothing_and_match_customers_by_external_id(
    store: Store,
) -> anyhow::Result<()> {
    let rows = vec![
        purchase("shop-1", "2024-01-03", 20.0, Some("o1"))?,
        purchase("shop-1", "2024-02-03", 35.5, Some("o2"))?,
        purchase("shop-2", "2024-01-09", 12.0, None)?,
    ];
    let done = store.import_transactions(&rows).await?;
    assert_eq!((done.inserted, done.skipped, done.new_customers), (3, 0, 2));
    // Importing again adds only what has no order id to recognise it by.
    let again = store.import_transactions(&rows[..2]).await?;
    assert_eq!(
        (again.inserted, again.skipped, again.new_customers),
        (0, 2, 0)
    );
    let stored = store.purchases().await?;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].customer, "shop-1");
    assert_eq!(stored[0].occurred_on, "2024-01-03");
    assert_eq!(stored[1].customer, "shop-2");
    Ok(())
}

async fn tasks_open_once_per_kind_and_customer(store: Store) -> anyhow::Result<()> {
    let customer = store.create_customer(Channel::Web, "t1").await?;
    let task = NewTask {
        kind: "at_risk_outreach".into(),
        customer_id: Some(customer),
        conversation_id: None,
        title: "Call back".into(),
        detail: serde_json::json!({"reasons": ["no purchase for 14 weeks"]}),
    };
    let first = store.create_task(&task).await?;
    assert!(first.is_some());
    assert_eq!(
        store.create_task(&task).await?,
        None,
        "one open task per kind and customer"
    );
    let open = store.open_tasks().await?;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, TaskState::Open);
    let id = first.unwrap_or_default();
    let staff: i64 = 0;
    // A task can only be completed by a known staff member; with none, completing fails and
    // the task stays open.
    assert!(store.complete_task(id, staff).await.is_err());
    assert_eq!(store.open_tasks().await?.len(), 1);
    assert!(matches!(
        store.complete_task(id + 100, staff).await,
        Err(StoreError::NotFound)
    ));
    Ok(())
}

async fn consent_and_opt_out_are_stored(store: Store) -> anyhow::Result<()> {
    let customer = store.create_customer(Channel::Web, "c1").await?;
    assert!(!store.may_contact(customer).await?);
    store.set_contact_consent(customer, true).await?;
    assert!(store.may_contact(customer).await?);
    store.set_opted_out(customer, true).await?;
    assert!(store.opted_out(customer).await?);
    assert!(
        !store.may_contact(customer).await?,
        "an opt-out wins over consent"
    );
    store.set_opted_out(customer, false).await?;
    assert!(store.may_contact(customer).await?);
    assert!(!store.may_contact(customer + 999).await?);
    Ok(())
}

async fn value_scores_are_replaced_per_customer(store: Store) -> anyhow::Result<()> {
    let customer = store.create_customer(Channel::Web, "v1").await?;
    assert_eq!(store.customer_score(customer).await?, None);
    let mut score = CustomerScore {
        customer_id: customer,
        model_version: "value-bgnbd-gg-1".into(),
        fitted_at: 1,
        scored_at: 2,
        p_alive: Some(0.31),
        expected_purchases: Some(0.4),
        clv: Some(123.5),
        segment: Segment::High,
        churn_risk: 0.7,
        at_risk: true,
        reasons: vec!["no purchase for 14 weeks".into()],
    };
    store
        .upsert_customer_scores(std::slice::from_ref(&score))
        .await?;
    assert_eq!(store.customer_score(customer).await?.as_ref(), Some(&score));
    score.segment = Segment::Low;
    score.at_risk = false;
    score.reasons.clear();
    store
        .upsert_customer_scores(std::slice::from_ref(&score))
        .await?;
    assert_eq!(store.customer_score(customer).await?, Some(score));
    Ok(())
}
