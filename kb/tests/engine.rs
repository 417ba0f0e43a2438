//! The answer engine end to end, on small hand-written knowledge bases and (when present) on
//! banking77.

use kb::{Article, KnowledgeBase, Language, Outcome};

fn article(id: &str, title: &str, answer: &str, questions: &[&str]) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        answer: answer.into(),
        questions: questions.iter().map(|q| (*q).to_owned()).collect(),
        tags: Vec::new(),
    }
}

/// A shop knowledge base with titles and answers only, like a first-day setup.
fn shop() -> Vec<Article> {
    vec![
        article(
            "delivery",
            "Delivery times",
            "Orders arrive within 3 to 5 working days. Express delivery arrives the next day.",
            &[],
        ),
        article(
            "returns",
            "Returns and refunds",
            "You can return any item within 30 days. We refund the purchase price to your original payment method.",
            &[],
        ),
        article(
            "payment",
            "Payment methods",
            "We accept credit cards, PayPal and bank transfer. Payment is taken when the order ships.",
            &[],
        ),
        article(
            "tracking",
            "Track your order",
            "Every shipment has a tracking number. You find it in the shipping confirmation email.",
            &[],
        ),
        article(
            "cancel",
            "Cancel an order",
            "You can cancel an order until it has shipped. Open your account and choose cancel.",
            &[],
        ),
        article(
            "countries",
            "Countries we ship to",
            "We ship to all countries of the European Union, Switzerland and the United Kingdom.",
            &[],
        ),
        article(
            "giftcards",
            "Gift cards",
            "Gift cards are valid for three years and can be used for any product in the shop.",
            &[],
        ),
        article(
            "password",
            "Reset your password",
            "Use the forgot password link on the login page. We send a reset link by email.",
            &[],
        ),
        article(
            "sizes",
            "Size guide",
            "Our clothes follow European sizes. Each product page has a size table with measurements.",
            &[],
        ),
        article(
            "warranty",
            "Warranty",
            "All electronics come with a two year warranty. Contact us with the receipt to claim it.",
            &[],
        ),
    ]
}

fn shop_kb() -> KnowledgeBase {
    let kb = KnowledgeBase::in_memory(Language::English).expect("in-memory index");
    kb.rebuild(shop()).expect("rebuild");
    kb
}

#[test]
fn tiny_kb_without_questions_answers_delivery_question() {
    let kb = shop_kb();
    let d = kb.ask("how long does delivery take?");
    assert_eq!(d.outcome, Outcome::Answer, "{d:?}");
    assert_eq!(d.article_id.as_deref(), Some("delivery"));
    assert_eq!(d.title.as_deref(), Some("Delivery times"));
    assert!(d.confidence > 0.0 && d.confidence <= 1.0);
}

#[test]
fn typos_still_find_the_article() {
    let kb = shop_kb();
    let d = kb.ask("how long does delivry tkae?");
    let top = d
        .article_id
        .clone()
        .or_else(|| d.suggestions.first().map(|s| s.article_id.clone()));
    assert_eq!(top.as_deref(), Some("delivery"), "{d:?}");
    let hits = kb.search("pasword reset", 3);
    assert_eq!(
        hits.first().map(|s| s.article_id.as_str()),
        Some("password"),
        "{hits:?}"
    );
}

#[test]
fn nonsense_is_handed_over_and_empty_queries_do_not_panic() {
    let kb = shop_kb();
    let d = kb.ask("xqzt blorf wibble");
    assert_eq!(d.outcome, Outcome::Handoff, "{d:?}");
    for q in ["", "   ", "?!", "\n\t"] {
        let d = kb.ask(q);
        assert_eq!(d.outcome, Outcome::Handoff);
        assert!(d.suggestions.is_empty());
    }
}

#[test]
fn empty_kb_hands_over() {
    let kb = KnowledgeBase::in_memory(Language::English).expect("in-memory index");
    assert!(kb.is_empty());
    assert_eq!(
        kb.ask("how long does delivery take?").outcome,
        Outcome::Handoff
    );
    assert!(kb.search("delivery", 5).is_empty());
}

#[test]
fn ambiguous_question_asks_to_clarify() {
    let kb = KnowledgeBase::in_memory(Language::English).expect("in-memory index");
    let mut articles = shop();
    articles.push(article(
        "card-lost",
        "Lost card",
        "Block a lost card in the app right away.",
        &[
            "I lost my card",
            "my card is gone",
            "can't find my card anywhere",
            "lost my credit card",
        ],
    ));
    articles.push(article(
        "card-stolen",
        "Stolen card",
        "Report a stolen card to us and the police.",
        &[
            "my card was stolen",
            "someone stole my card",
            "card stolen from my wallet",
            "thief took my credit card",
        ],
    ));
    kb.rebuild(articles).expect("rebuild");
    let d = kb.ask("card");
    assert_ne!(d.outcome, Outcome::Answer, "{d:?}");
    if d.outcome == Outcome::Clarify {
        let ids: Vec<&str> = d
            .suggestions
            .iter()
            .map(|s| s.article_id.as_str())
            .collect();
        assert!(
            ids.contains(&"card-lost") && ids.contains(&"card-stolen"),
            "{ids:?}"
        );
        assert!((2..=3).contains(&ids.len()));
    }
}

#[test]
fn upsert_remove_and_reopen_keep_index_and_model_in_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let kb = KnowledgeBase::open(dir.path(), Language::English).expect("open");
        kb.rebuild(shop()).expect("rebuild");
        kb.upsert(article(
            "vouchers",
            "Discount vouchers",
            "Enter the voucher code at checkout.",
            &[
                "where do I enter my voucher code",
                "discount code not working",
            ],
        ))
        .expect("upsert");
        kb.remove("warranty").expect("remove");
        kb.remove("no-such-article")
            .expect("removing an unknown id is fine");
        assert_eq!(kb.len(), 10);
        assert!(kb.article("warranty").is_none());
    }
    let kb = KnowledgeBase::open(dir.path(), Language::English).expect("reopen");
    assert_eq!(kb.len(), 10);
    assert_eq!(
        kb.article("vouchers").map(|a| a.title),
        Some("Discount vouchers".to_owned())
    );
    let d = kb.ask("my discount code is not working");
    let top = d
        .article_id
        .or_else(|| d.suggestions.first().map(|s| s.article_id.clone()));
    assert_eq!(top.as_deref(), Some("vouchers"));
}

#[test]
fn reopening_with_another_language_rewrites_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let kb = KnowledgeBase::open(dir.path(), Language::English).expect("open");
        kb.rebuild(vec![
            article(
                "lieferung",
                "Lieferzeiten",
                "Lieferungen kommen in 3 bis 5 Werktagen an.",
                &[],
            ),
            article(
                "rueckgabe",
                "Rücksendungen",
                "Sie können Artikel innerhalb von 30 Tagen zurücksenden.",
                &[],
            ),
        ])
        .expect("rebuild");
    }
    let kb = KnowledgeBase::open(dir.path(), Language::German).expect("reopen in German");
    assert_eq!(kb.language(), Language::German);
    assert_eq!(kb.len(), 2);
    // "Lieferung" stems to "liefer" in German; the English-stemmed index held "lieferungen".
    let hits = kb.search("Lieferung", 1);
    assert_eq!(
        hits.first().map(|s| s.article_id.as_str()),
        Some("lieferung"),
        "{hits:?}"
    );
}

#[test]
fn readers_see_whole_generations_while_rebuilding() {
    let kb = std::sync::Arc::new(shop_kb());
    let other = vec![
        article(
            "a1",
            "Opening hours",
            "We are open from 9 to 5.",
            &["when are you open"],
        ),
        article(
            "a2",
            "Parking",
            "Free parking behind the shop.",
            &["where can I park"],
        ),
        article(
            "a3",
            "Pets",
            "Dogs are welcome in the shop.",
            &["can I bring my dog"],
        ),
    ];
    let known: std::collections::HashSet<String> = shop()
        .into_iter()
        .chain(other.clone())
        .map(|a| a.id)
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (kb, stop, known) = (kb.clone(), stop.clone(), known.clone());
            std::thread::spawn(move || {
                let mut asked = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || asked == 0 {
                    for q in ["how long does delivery take?", "when are you open", "xyz"] {
                        let d = kb.ask(q);
                        for id in d
                            .article_id
                            .iter()
                            .chain(d.suggestions.iter().map(|s| &s.article_id))
                        {
                            assert!(known.contains(id), "unknown article {id}");
                        }
                        asked += 1;
                    }
                }
                asked
            })
        })
        .collect();
    for round in 0..4 {
        let articles = if round % 2 == 0 {
            other.clone()
        } else {
            shop()
        };
        let expected = articles.len();
        kb.rebuild(articles).expect("rebuild");
        assert_eq!(kb.len(), expected);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("reader did not panic") > 0);
    }
}

#[test]
fn invalid_articles_are_rejected_before_anything_changes() {
    let kb = shop_kb();
    let bad = article("", "No id", "answer", &[]);
    assert!(kb.upsert(bad).is_err());
    let mut dup = shop();
    dup.push(article("delivery", "Again", "answer", &[]));
    assert!(kb.rebuild(dup).is_err());
    assert_eq!(kb.len(), 10);
}

#[test]
fn single_article_kb_offers_its_topic_and_declines_others() {
    let kb = KnowledgeBase::in_memory(Language::English).expect("in-memory index");
    kb.rebuild(vec![shop().remove(0)]).expect("rebuild");
    // Too small to calibrate itself, the engine is cautious, but it offers the article on topic
    // and is far surer there than off topic.
    let on_topic = kb.ask("how long does delivery take?");
    let offered = on_topic.article_id.as_deref() == Some("delivery")
        || on_topic
            .suggestions
            .iter()
            .any(|s| s.article_id == "delivery");
    assert!(offered, "{on_topic:?}");
    let off_topic = kb.ask("can I bring my dog");
    assert_eq!(off_topic.outcome, Outcome::Handoff);
    assert!(off_topic.suggestions.is_empty(), "{off_topic:?}");
    assert!(
        on_topic.confidence > off_topic.confidence + 0.2,
        "{on_topic:?} {off_topic:?}"
    );
}

#[test]
fn german_and_spanish_knowledge_bases_match_inflected_words() {
    let kb = KnowledgeBase::in_memory(Language::German).expect("index");
    kb.rebuild(vec![
        article(
            "lieferung",
            "Lieferzeiten",
            "Lieferungen kommen in 3 bis 5 Werktagen an.",
            &[],
        ),
        article(
            "rueckgabe",
            "Rücksendungen",
            "Sie können Artikel innerhalb von 30 Tagen zurücksenden.",
            &[],
        ),
        article(
            "zahlung",
            "Zahlungsarten",
            "Wir akzeptieren Kreditkarten und Überweisungen.",
            &[],
        ),
    ])
    .expect("rebuild");
    let hits = kb.search("Wann kommt meine Lieferung an?", 1);
    assert_eq!(
        hits.first().map(|s| s.article_id.as_str()),
        Some("lieferung")
    );

    let kb = KnowledgeBase::in_memory(Language::Spanish).expect("index");
    kb.rebuild(vec![
        article("envio", "Envíos", "Los pedidos llegan en 3 a 5 días.", &[]),
        article(
            "devolucion",
            "Devoluciones",
            "Puede devolver cualquier producto en 30 días.",
            &[],
        ),
        article(
            "pago",
            "Formas de pago",
            "Aceptamos tarjetas de crédito y transferencias.",
            &[],
        ),
    ])
    .expect("rebuild");
    let hits = kb.search("¿cómo hago una devolución?", 1);
    assert_eq!(
        hits.first().map(|s| s.article_id.as_str()),
        Some("devolucion")
    );
}

/// Needs ../shared/data/banking77: skipped when missing, but fails when CI=true.
#[test]
fn banking77_cross_validation_stays_above_floor() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/banking77/train.csv");
    if !path.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {} is missing",
            path.display()
        );
        eprintln!("skipping: {} not found", path.display());
        return;
    }
    let examples = kb::eval::load_labelled(&path).expect("banking77 loads");
    assert_eq!(examples.len(), 10_003);
    // Two folds keep the debug-profile test quick; the floor sits well under the measured figure.
    let report = kb::eval::run(
        &examples,
        &kb::eval::EvalOptions {
            folds: 2,
            unknown_share: 0.2,
            seed: 1,
            language: Language::English,
        },
    );
    eprintln!("{report}");
    assert!(report.top1_accuracy > 0.85, "{report}");
    assert!(report.answered_accuracy > 0.92, "{report}");
    assert!(report.unknown_declined.unwrap_or(0.0) > 0.5, "{report}");
}
