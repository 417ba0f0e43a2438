//! Tests of `feedback::sentiment`: VADER parity with the Python reference, every customer-service
//! rule, the API contract the server relies on, linear time, and the accuracy targets.

// The reference table holds VADER's rounded scores, some of which look like famous constants.
#![allow(clippy::approx_constant)]

/// One module, so that `cargo test -p feedback sentiment` selects every test here.
mod sentiment {
    use std::io::Cursor;
    use std::path::PathBuf;
    use std::time::Instant;

    use feedback::sentiment::{Analyzer, Label, SentimentError, conversation, run_lines};

    /// Scores from Python `vaderSentiment` 3.3.2 (`polarity_scores`), copied from its output.
    const REFERENCE: &[(&str, f64, f64, f64, f64)] = &[
        (
            "VADER is smart, handsome, and funny.",
            0.8316,
            0.746,
            0.254,
            0.0,
        ),
        (
            "VADER is smart, handsome, and funny!",
            0.8439,
            0.752,
            0.248,
            0.0,
        ),
        (
            "VADER is very smart, handsome, and funny.",
            0.8545,
            0.701,
            0.299,
            0.0,
        ),
        (
            "VADER is VERY SMART, handsome, and FUNNY.",
            0.9227,
            0.754,
            0.246,
            0.0,
        ),
        (
            "VADER is VERY SMART, handsome, and FUNNY!!!",
            0.9342,
            0.767,
            0.233,
            0.0,
        ),
        (
            "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
            0.9469,
            0.706,
            0.294,
            0.0,
        ),
        (
            "VADER is not smart, handsome, nor funny.",
            -0.7424,
            0.0,
            0.354,
            0.646,
        ),
        ("The book was good.", 0.4404, 0.492, 0.508, 0.0),
        (
            "At least it isn't a horrible book.",
            0.431,
            0.322,
            0.678,
            0.0,
        ),
        ("The book was only kind of good.", 0.3832, 0.303, 0.697, 0.0),
        (
            "The plot was good, but the characters are uncompelling and the dialog is not great.",
            -0.7042,
            0.094,
            0.579,
            0.327,
        ),
        ("Today SUX!", -0.5461, 0.0, 0.221, 0.779),
        (
            "Today only kinda sux! But I'll get by, lol",
            0.5249,
            0.317,
            0.556,
            0.127,
        ),
        ("Make sure you :) or :D today!", 0.8633, 0.706, 0.294, 0.0),
        (
            "Catch utf-8 emoji such as 💘 and 💋 and 😁",
            0.875,
            0.417,
            0.583,
            0.0,
        ),
        ("Not bad at all", 0.431, 0.487, 0.513, 0.0),
        (
            "I love it but it was terrible but fine",
            -0.09,
            0.321,
            0.401,
            0.278,
        ),
        ("no no good", -0.1326, 0.357, 0.189, 0.454),
        (
            "No problem at all, the least I could do.",
            0.3089,
            0.22,
            0.78,
            0.0,
        ),
        (
            "This is the least helpful answer.",
            -0.3252,
            0.0,
            0.682,
            0.318,
        ),
        ("This is very least useful.", 0.4902, 0.443, 0.557, 0.0),
        (
            "The food here is the bomb and the service is to die for.",
            0.0258,
            0.212,
            0.582,
            0.206,
        ),
        ("yeah right, like that will work", 0.5719, 0.54, 0.46, 0.0),
        (
            "He was not so happy, without doubt a kiss of death.",
            -0.7502,
            0.131,
            0.386,
            0.483,
        ),
        (
            "never so good, never this bad",
            -0.0986,
            0.315,
            0.337,
            0.348,
        ),
        (
            "It isn't that great, but it's not terrible either.",
            0.2924,
            0.267,
            0.561,
            0.172,
        ),
        ("GOOD GOOD good bad BAD", 0.347, 0.568, 0.0, 0.432),
        (
            "Wow!!!! This is AMAZING??? Really???",
            0.9093,
            0.777,
            0.223,
            0.0,
        ),
        ("sort of nice, just enough fun", 0.7269, 0.604, 0.396, 0.0),
        ("I don't think it's good.", -0.3412, 0.0, 0.624, 0.376),
        ("😀😀 great 🎉", 0.8957, 0.797, 0.203, 0.0),
        (
            "The movie was kind of, sort of ok",
            0.6494,
            0.469,
            0.531,
            0.0,
        ),
    ];

    #[test]
    fn plain_vader_equals_the_reference_exactly() {
        let vader = Analyzer::vader_only();
        for &(text, compound, pos, neu, neg) in REFERENCE {
            let s = vader.score(text);
            assert_eq!(
                (s.compound, s.pos, s.neu, s.neg),
                (compound, pos, neu, neg),
                "{text}"
            );
        }
    }

    #[test]
    fn default_analyzer_equals_vader_whenever_no_domain_rule_fires() {
        let default = Analyzer::new();
        let vader = Analyzer::vader_only();
        let mut silent = 0;
        let texts = REFERENCE.iter().map(|r| r.0).chain([
            "The soundtrack is lovely and the ending made me cry.",
            "A dull, lifeless remake.",
            "The senate will vote on the budget next week.",
        ]);
        for text in texts {
            let a = default.analyze(text);
            if a.domain_rules.is_empty() {
                silent += 1;
                assert_eq!(a.scores, vader.score(text), "{text}");
            }
        }
        assert!(silent >= 25, "only {silent} texts left untouched");
    }

    #[test]
    fn labels_use_vader_thresholds() {
        assert_eq!(Label::from_compound(0.05), Label::Positive);
        assert_eq!(Label::from_compound(0.0499), Label::Neutral);
        assert_eq!(Label::from_compound(-0.05), Label::Negative);
        let s = Analyzer::new().score("");
        assert_eq!(
            (s.compound, s.pos, s.neu, s.neg, s.label),
            (0.0, 0.0, 0.0, 0.0, Label::Neutral)
        );
    }

    // ---- the customer-service layer ---------------------------------------------------------------

    const LEXICON: &str = include_str!("../data/sentiment/service_lexicon.tsv");

    /// The rules alone: these tests pin what each rule does, whatever the service model
    /// (tested below and in `model.rs`) would say of the same message.
    fn rules_only() -> Analyzer {
        Analyzer::new().without_service_model()
    }

    fn rules(text: &str) -> Vec<String> {
        rules_only().analyze(text).domain_rules
    }

    fn compound(text: &str) -> f64 {
        rules_only().score(text).compound
    }

    /// Every `phrase` line carries an example; the rule on that line must fire on it.
    #[test]
    fn every_lexicon_phrase_fires_on_its_example() {
        let analyzer = rules_only();
        let mut checked = 0;
        for (k, line) in LEXICON.lines().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields[0] != "phrase" {
                continue;
            }
            let example = fields
                .get(3)
                .unwrap_or_else(|| panic!("line {}: phrase without example", k + 1));
            let id = format!("service_lexicon.tsv:{}", k + 1);
            let fired = analyzer.analyze(example).domain_rules;
            assert!(
                fired.contains(&id),
                "{id} ({}) did not fire on {example:?}: {fired:?}",
                fields[1]
            );
            checked += 1;
        }
        assert!(checked > 100, "{checked}");
    }

    /// Each phrase moves its example the way its valence says, compared with plain VADER.
    #[test]
    fn every_lexicon_phrase_moves_its_example_in_its_direction() {
        let vader = Analyzer::vader_only();
        let analyzer = rules_only();
        for line in LEXICON.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields[0] != "phrase" || fields.len() < 4 {
                continue;
            }
            // An unmet expectation ("used to be great") negates the praise after it.
            let valence: f64 = match fields[2] {
                "flip" => -1.0,
                v => v.parse().expect("valence"),
            };
            let (with, without) = (
                analyzer.score(fields[3]).compound,
                vader.score(fields[3]).compound,
            );
            if valence < 0.0 {
                assert!(
                    with < 0.0 && with <= without,
                    "{line}: {with} vs VADER {without}"
                );
            } else if valence > 0.0 {
                assert!(
                    with > 0.0 && with >= without,
                    "{line}: {with} vs VADER {without}"
                );
            }
        }
    }

    #[test]
    fn waiting_times_scale_with_the_wait() {
        let c20 = compound("I was on hold for 20 minutes.");
        let c45 = compound("I was on hold for 45 minutes.");
        let c2h = compound("I was on hold for 2 hours.");
        assert!(c20 < 0.0 && c45 < c20 && c2h < c45, "{c20} {c45} {c2h}");
        assert!(compound("It's been three weeks.") < -0.4);
        assert!(compound("Waited a couple of days for a reply.") < -0.4);
        assert!(!rules("I have been waiting for 3 weeks").is_empty());
    }

    #[test]
    fn short_or_scheduled_durations_are_not_waits() {
        for text in [
            "I only waited 5 minutes.",
            "I waited just an hour, fine.",
            "Returns are accepted within 30 days.",
            "It should arrive in 2 days.",
            "I have been a customer for 10 years.",
        ] {
            assert!(rules(text).is_empty(), "{text}: {:?}", rules(text));
        }
    }

    #[test]
    fn sarcasm_before_a_complaint_turns_negative() {
        for text in [
            "Great, another delay.",
            "Oh wonderful, still no refund.",
            "Love how nobody answers the phone.",
            "Perfect, my order got cancelled without any explanation.",
            "So I paid for next day delivery and it's been 4 days. Brilliant.",
            "Wonderful. Now the discount code is invalid too.",
            // A degree word before the praise still opens an interjection.
            "Super helpful, closing my ticket while I'm still waiting.",
            "Very useful, the same error again.",
        ] {
            assert!(compound(text) < -0.05, "{text}: {}", compound(text));
        }
        // The same words without a complaint stay positive.
        for text in [
            "Great, thanks!",
            "Perfect, it arrived today.",
            "Love how easy the app is.",
            "Super helpful, thanks a lot.",
        ] {
            assert!(compound(text) > 0.05, "{text}: {}", compound(text));
        }
    }

    #[test]
    fn questions_ask_rather_than_praise() {
        let a = rules_only().analyze("Is the item dishwasher safe?");
        assert_eq!(a.scores.label, Label::Neutral);
        assert!(a.domain_rules.contains(&"question-positive".to_string()));
        let closing = rules_only().analyze("Can you resend the invoice? Thanks!");
        assert_eq!(closing.scores.label, Label::Neutral, "{closing:?}");
        // A question still carries its complaint; a thanks after a statement is still thanks.
        assert_eq!(
            rules_only().score("Why hasn't my refund arrived?").label,
            Label::Negative
        );
        assert_eq!(
            rules_only().score("The parcel arrived. Thanks!").label,
            Label::Positive
        );
        // A good outcome asked about is not one.
        assert!(rules_only().score("Has the issue been fixed yet?").compound <= 0.0);
    }

    #[test]
    fn how_to_questions_name_problems_without_complaining() {
        for text in [
            "How do I return a broken item?",
            "What happens if my parcel is lost?",
            "What if it never arrives?",
            "Thank you for the email. What time will the engineer arrive?",
            // Greetings and fillers before the question word ("Just checking, is …").
            "Just checking, is my appointment still at 2pm tomorrow?",
            "Good morning, could you tell me if my order is still processing?",
        ] {
            let a = rules_only().analyze(text);
            assert_eq!(a.scores.label, Label::Neutral, "{text}: {a:?}");
        }
        // A mild cue ("again") in a how-to question is dropped; it still tints a statement.
        assert_eq!(
            rules_only()
                .score("Could I have the tracking link again please?")
                .label,
            Label::Neutral
        );
        assert!(compound("The app crashed again.") < compound("The app crashed."));
        // A real complaint in the question, or a "why", stays negative.
        for text in [
            "Why is my order so late?",
            "Can you tell me why my order never arrived?",
        ] {
            assert_eq!(rules_only().score(text).label, Label::Negative, "{text}");
        }
    }

    #[test]
    fn pattern_gaps_never_skip_a_negation() {
        assert_eq!(
            rules_only().score("The issue still isn't fixed.").label,
            Label::Negative
        );
        assert_eq!(
            rules_only().score("The issue is fixed.").label,
            Label::Positive
        );
    }

    #[test]
    fn a_negation_before_a_phrase_flips_it() {
        assert!(compound("Delivery was on time.") > 0.05);
        assert!(compound("Delivery was never on time.") < -0.05);
    }

    fn label(text: &str) -> Label {
        rules_only().score(text).label
    }

    #[test]
    fn unmet_expectations_negate_the_praise_after_them() {
        for text in [
            "I'm really disappointed, this used to be a great shop.",
            "The quality used to be so good.",
            "I was hoping for a better answer.",
            "It would have been nice to get an update.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}: {}", compound(text));
        }
        // The praise itself, and praise in the next clause, stay praise.
        assert_eq!(label("This is a great shop."), Label::Positive);
        assert_eq!(
            label("It used to be slow, now it's great."),
            Label::Positive
        );
    }

    #[test]
    fn anchored_phrases_need_a_clause_start_or_a_sentence_end() {
        // `$?`: "Hello?" on its own is impatience; "Hello, …" or "Hello." is a greeting.
        assert_eq!(label("hello?? anyone there??"), Label::Negative);
        assert_eq!(label("Hello, I have a question."), Label::Neutral);
        assert_eq!(label("Hello. Do you ship to Spain?"), Label::Neutral);
        // `^so much for` is sarcasm; "thank you so much for" is thanks.
        assert_eq!(label("So much for next day delivery."), Label::Negative);
        assert_eq!(
            label("Right, so much for next day delivery."),
            Label::Negative
        );
        assert_eq!(label("Thank you so much for the help."), Label::Positive);
    }

    #[test]
    fn scare_quotes_turn_praise_and_promises_around() {
        for text in [
            "the \"fast\" delivery",
            "Yeah, thanks for the \"fast\" delivery. Only took a month.",
            "Your \u{201c}premium\u{201d} support is a script.",
            "the 'express' option",
        ] {
            let a = rules_only().analyze(text);
            assert_eq!(a.scores.label, Label::Negative, "{text}: {a:?}");
            assert!(
                a.domain_rules.contains(&"scare-quotes".to_string()),
                "{a:?}"
            );
        }
        // Without quotes, or a capitalised label in quotes, nothing turns.
        assert_eq!(label("the fast delivery"), Label::Positive);
        assert_eq!(label("I clicked \"Great\" on the form."), Label::Positive);
        assert!(!rules("The status says \"delivered\".").contains(&"scare-quotes".to_string()));
    }

    #[test]
    fn thanks_next_to_a_complaint_is_politeness() {
        for text in [
            "Thanks for getting back to me. My refund still hasn't arrived.",
            "Cheers for the help, still broken though.",
            "I have been waiting for two weeks. Thank you.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}: {}", compound(text));
        }
        // A good outcome between the complaint and the thanks keeps the thanks.
        for text in [
            "It was late, but you kept me updated and it arrived safely, thank you.",
            "The first delivery was late, but you made up for it with the voucher, thanks.",
            "Thanks for your help!",
        ] {
            assert_eq!(label(text), Label::Positive, "{text}: {}", compound(text));
        }
    }

    #[test]
    fn sarcasm_after_oh_or_wow_needs_no_service_complaint() {
        assert_eq!(
            label("Oh perfect, the replacement is broken too."),
            Label::Negative
        );
        assert_eq!(label("Oh perfect, that fixed it."), Label::Positive);
        assert_eq!(label("Wow, what a great team."), Label::Positive);
        // Without the lead, praise before a plain negative word is left to VADER.
        assert_eq!(
            label("Perfect, the broken part was replaced."),
            Label::Positive
        );
    }

    #[test]
    fn sarcastic_thanks_and_praise_for_a_mishap() {
        for text in [
            "Thanks a lot for losing my package.",
            "Cheers for nothing.",
            "Thanks for absolutely nothing.",
            "Great job losing my order for the second time.",
            "Great service... if you like waiting three weeks for a reply.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}: {}", compound(text));
        }
        assert_eq!(label("Great job on the new app."), Label::Positive);
        assert_eq!(label("Thanks a lot for your help."), Label::Positive);
    }

    #[test]
    fn cancelling_is_a_request_unless_announced_or_explained_by_a_complaint() {
        for text in [
            "Please close my account.",
            "I need to cancel my subscription please.",
            "Please cancel my membership from next month.",
            "I'd like to cancel my order, I found it cheaper elsewhere.",
        ] {
            assert_eq!(label(text), Label::Neutral, "{text}: {}", compound(text));
        }
        for text in [
            "I'm cancelling my membership because of how this was handled.",
            "I will cancel my subscription if this isn't fixed.",
            "Please cancel my account, I'm done with this.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}: {}", compound(text));
        }
    }

    #[test]
    fn acknowledgements_stay_neutral() {
        for text in [
            "Thanks, I'll check my spam folder.",
            "Thank you, I'll try again later.",
            "Thanks, I'll wait for the courier then.",
            "I'm happy to wait, just let me know when it's back in stock.",
        ] {
            assert_eq!(label(text), Label::Neutral, "{text}: {}", compound(text));
        }
        // A promise of loyalty is still praise.
        assert_eq!(
            label("Thanks, I'll definitely be ordering again!"),
            Label::Positive
        );
    }

    #[test]
    fn a_word_may_stand_between_a_count_and_its_unit() {
        for text in [
            "Why does it take 5 business days just to answer an email?",
            "I've now been waiting 10 working days for a reply.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}");
        }
        // Terms are still terms.
        for text in [
            "Refunds are processed within 5 working days.",
            "Delivery takes 3 working days.",
        ] {
            assert!(rules(text).is_empty(), "{text}: {:?}", rules(text));
        }
    }

    #[test]
    fn promises_and_fixes_expected_are_not_fixes() {
        // "it would be fixed" is a promise, not a good outcome.
        for text in [
            "I was told it would be fixed by now.",
            "You said it would be here by Thursday. It wasn't.",
            "The engineer was meant to come yesterday.",
        ] {
            assert_eq!(label(text), Label::Negative, "{text}: {}", compound(text));
        }
        assert_eq!(label("The problem has been fixed."), Label::Positive);
        // A mild cue is dropped in a how-to question.
        assert_eq!(label("What is this button meant to do?"), Label::Neutral);
    }

    #[test]
    fn neutral_requests_stay_neutral() {
        for text in [
            "Please send me a copy of my invoice.",
            "I'd like to update the email on my account.",
            "I need help resetting my password.",
            "Kind regards, Maria",
            "My order number is 48213.",
            "How do I cancel my order before it ships?",
        ] {
            assert_eq!(rules_only().score(text).label, Label::Neutral, "{text}");
        }
    }

    #[test]
    fn curly_apostrophes_and_punctuation_match_like_plain_ones() {
        assert_eq!(
            compound("My order hasn’t arrived."),
            compound("My order hasn't arrived.")
        );
        assert!(compound("“Still no refund!!”") < -0.5);
    }

    // ---- extension files --------------------------------------------------------------------------

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("hark-sentiment-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write temp lexicon");
        path
    }

    #[test]
    fn a_domain_lexicon_file_adds_rules() {
        let path = temp_file(
            "extra.tsv",
            "# our product\nclass\tgadget\tkettle|toaster\nphrase\t@gadget ~2 leaks|leaking\t-2.5\tThe kettle leaks.\nphrase\tfrobnicator\t2.0\n",
        );
        let analyzer = rules_only()
            .with_domain_lexicon_file(&path)
            .expect("valid file");
        let a = analyzer.analyze("My kettle is leaking everywhere");
        assert!(a.scores.compound < -0.5, "{a:?}");
        assert!(
            a.domain_rules.iter().any(|r| r.ends_with("extra.tsv:3")),
            "{a:?}"
        );
        assert!(analyzer.score("the frobnicator").compound > 0.3);
        // The built-in rules are still there, and extension files can use their classes.
        assert!(analyzer.score("My order never arrived").compound < -0.3);
        let vader_plus = Analyzer::vader_only()
            .with_domain_lexicon_file(&path)
            .expect("valid file");
        assert!(vader_plus.score("My order never arrived").label == Label::Neutral);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn bad_lexicon_lines_are_reported_with_their_numbers() {
        let path = temp_file(
            "bad.tsv",
            "phrase\tfine\t1.0\nphrase\t@nosuchclass x\t-1\nphrase\tgood words\tlots\nwidget\tx\n\nunit\tfortnight\t-3\n",
        );
        let err = rules_only()
            .with_domain_lexicon_file(&path)
            .expect_err("invalid file");
        let SentimentError::InvalidLexicon { problems, .. } = &err else {
            panic!("{err}")
        };
        let lines: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(lines, ["line 2", "line 3", "line 4", "line 6"], "{err}");
        assert!(
            err.to_string().contains("unknown class @nosuchclass"),
            "{err}"
        );
        std::fs::remove_file(path).ok();
        let missing =
            rules_only().with_domain_lexicon_file(std::path::Path::new("/nonexistent/x.tsv"));
        assert!(matches!(missing, Err(SentimentError::Read { .. })));
    }

    #[test]
    fn anchors_flip_polite_and_scare_lines_parse_or_fail_clearly() {
        let good = temp_file(
            "kinds.tsv",
            "phrase\t^zorp$\t-1.5\tZorp.\nphrase\tonce upon$?\tflip\tOnce upon?\npolite\tmerci\nscare\tgratis\n",
        );
        let analyzer = rules_only()
            .with_domain_lexicon_file(&good)
            .expect("valid file");
        assert_eq!(analyzer.score("Zorp.").label, Label::Negative);
        assert_eq!(analyzer.score("Zorp, I'm fine.").label, Label::Positive);
        std::fs::remove_file(good).ok();
        let bad = temp_file(
            "kinds-bad.tsv",
            "phrase\t^\t-1\nphrase\tx\tflipped\npolite\nscare\t|\n",
        );
        let err = rules_only()
            .with_domain_lexicon_file(&bad)
            .expect_err("invalid file");
        let SentimentError::InvalidLexicon { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 4, "{err}");
        std::fs::remove_file(bad).ok();
    }

    // ---- accuracy on customer-service messages ----------------------------------------------------

    fn macro_f1(analyzer: &Analyzer, tsv: &str) -> f64 {
        let rows: Vec<(Label, &str)> = tsv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (label, text) = l.split_once('\t').expect("label<TAB>text");
                let label = match label {
                    "positive" => Label::Positive,
                    "negative" => Label::Negative,
                    "neutral" => Label::Neutral,
                    other => panic!("bad label {other}"),
                };
                (label, text)
            })
            .collect();
        let predicted: Vec<Label> = rows.iter().map(|(_, t)| analyzer.score(t).label).collect();
        let mut sum = 0.0;
        for label in [Label::Positive, Label::Neutral, Label::Negative] {
            let tp = rows
                .iter()
                .zip(&predicted)
                .filter(|((g, _), p)| *g == label && **p == label)
                .count() as f64;
            let fp = rows
                .iter()
                .zip(&predicted)
                .filter(|((g, _), p)| *g != label && **p == label)
                .count() as f64;
            let fn_ = rows
                .iter()
                .zip(&predicted)
                .filter(|((g, _), p)| *g == label && **p != label)
                .count() as f64;
            let (p, r) = (tp / (tp + fp).max(1.0), tp / (tp + fn_).max(1.0));
            sum += if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
        }
        sum / 3.0
    }

    #[test]
    fn service_messages_macro_f1_reaches_target() {
        let main = include_str!("../data/sentiment/service_messages.tsv");
        let dev = include_str!("../data/sentiment/service_messages_dev.tsv");
        assert!(main.lines().filter(|l| !l.starts_with('#')).count() >= 150);
        let (with, without) = (
            macro_f1(&Analyzer::new(), main),
            macro_f1(&Analyzer::vader_only(), main),
        );
        let (dev_with, dev_without) = (
            macro_f1(&Analyzer::new(), dev),
            macro_f1(&Analyzer::vader_only(), dev),
        );
        println!(
            "service_messages: {with:.3} (plain VADER {without:.3}); dev: {dev_with:.3} (plain VADER {dev_without:.3})"
        );
        assert!(with >= 0.90 && dev_with >= 0.90, "{with} {dev_with}");
        assert!(
            without < 0.7 && dev_without < 0.7,
            "the sets should need the layer"
        );
        // The rules alone still carry the sets they were written from.
        let rules = Analyzer::new().without_service_model();
        assert!(macro_f1(&rules, main) >= 0.90 && macro_f1(&rules, dev) >= 0.90);
    }

    /// The third held-out set: two writers who never saw the rules or the data, never trained
    /// or tuned on (not in the service model's examples; its errors are never printed). The
    /// target is 0.90 on messages the project has not seen; the rules alone scored 0.830.
    #[test]
    fn unseen_writers_messages_reach_the_target() {
        let heldout = include_str!("../data/sentiment/service_messages_heldout3.tsv");
        assert_eq!(heldout.lines().filter(|l| !l.starts_with('#')).count(), 320);
        let with = macro_f1(&Analyzer::new(), heldout);
        let rules = macro_f1(&Analyzer::new().without_service_model(), heldout);
        println!("service_messages_heldout3: {with:.3} (rules alone {rules:.3})");
        assert!(with >= 0.90, "{with}");
    }

    #[test]
    fn the_owners_labelled_messages_teach_the_service_model() {
        // A shop's own words, which neither VADER, the rules nor the built-in examples know.
        let text = "my flurbel is squonking";
        assert_eq!(Analyzer::new().score(text).label, Label::Neutral);
        let examples = temp_file(
            "examples.tsv",
            "# our customers\nnegative\tthe flurbel is squonking again\n\
             negative\tsquonking all night, please fix the flurbel\n\
             negative\tit keeps squonking\nneutral\thow do I clean the flurbel?\n",
        );
        let taught = Analyzer::new()
            .with_service_examples_file(&examples)
            .expect("examples load");
        let a = taught.analyze(text);
        assert_eq!(a.scores.label, Label::Negative, "{a:?}");
        assert_eq!(a.domain_rules, [feedback::sentiment::SERVICE_MODEL]);
        std::fs::remove_file(examples).ok();
    }

    #[test]
    fn bad_labelled_message_lines_are_reported_and_nothing_changes() {
        let bad = temp_file(
            "bad-examples.tsv",
            "negative\tlate\nfurious\tvery late\nno tab\n",
        );
        let err = Analyzer::new()
            .with_service_examples_file(&bad)
            .expect_err("bad lines");
        let text = err.to_string();
        assert!(
            text.contains("line 2:") && text.contains("line 3:") && !text.contains("line 1:"),
            "{text}"
        );
        let missing =
            Analyzer::new().with_service_examples_file(std::path::Path::new("/nonexistent/x.tsv"));
        assert!(missing.is_err());
        std::fs::remove_file(bad).ok();
    }

    #[test]
    fn the_service_model_speaks_where_the_rules_found_nothing() {
        // Complaints in plain words, no sentiment word and no rule: the model's call.
        for text in ["got two left shoes", "Ordered a kettle, got a toaster."] {
            let a = Analyzer::new().analyze(text);
            assert_eq!(a.scores.label, Label::Negative, "{text}: {a:?}");
            assert!(
                a.domain_rules
                    .contains(&feedback::sentiment::SERVICE_MODEL.to_owned())
            );
        }
        // General text the rules leave alone and the model has no view on keeps VADER's scores.
        let vader = Analyzer::vader_only();
        for text in [
            "The senate will vote on the budget next week.",
            "What a lovely film!",
        ] {
            let a = Analyzer::new().analyze(text);
            if a.domain_rules.is_empty() {
                assert_eq!(a.scores, vader.score(text), "{text}");
            }
        }
    }

    // ---- API for the server and the command line ------------------------------------------------

    #[test]
    fn run_lines_prints_one_json_object_per_line_and_survives_bad_utf8() {
        let input: &[u8] = b"I love this!\r\n\xff\xfe broken\nmy order never arrived\n\n";
        let mut out = Vec::new();
        run_lines(&Analyzer::new(), Cursor::new(input), &mut out).expect("io");
        let text = String::from_utf8(out).expect("utf8 output");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["label"], "positive");
        let keys: Vec<&String> = lines[0].as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 5);
        for key in ["compound", "pos", "neu", "neg", "label"] {
            assert!(lines[0].get(key).is_some(), "{key}");
        }
        assert_eq!(
            lines[1],
            serde_json::json!({"error": "line 2: invalid UTF-8"})
        );
        assert_eq!(lines[2]["label"], "negative");
        assert_eq!(lines[3]["label"], "neutral");
    }

    #[test]
    fn scores_serialize_for_storage() {
        let json =
            serde_json::to_value(Analyzer::new().score("Thanks, that fixed it!")).expect("json");
        assert_eq!(json["label"], "positive");
        assert!(
            json["compound"]
                .as_f64()
                .is_some_and(|c| (0.05..=1.0).contains(&c))
        );
    }

    #[test]
    fn conversation_summarises_mean_minimum_and_trend() {
        let c = conversation(&[-0.8, -0.4, 0.0, 0.4]);
        assert_eq!(c.count, 4);
        assert!((c.mean - -0.2).abs() < 1e-12);
        assert_eq!(c.min, -0.8);
        assert!((c.trend - 0.4).abs() < 1e-12, "{}", c.trend);
        let empty = conversation(&[]);
        assert_eq!((empty.count, empty.mean, empty.trend), (0, 0.0, 0.0));
        let one = conversation(&[0.5, f64::NAN]);
        assert_eq!(
            (one.count, one.mean, one.min, one.trend),
            (1, 0.5, 0.5, 0.0)
        );
        serde_json::to_string(&c).expect("serializes");
    }

    #[test]
    fn analyzer_is_shared_across_threads() {
        let analyzer = std::sync::Arc::new(Analyzer::new());
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let a = analyzer.clone();
                std::thread::spawn(move || a.score("still no refund").compound)
            })
            .collect();
        for h in handles {
            assert!(h.join().expect("thread") < 0.0);
        }
    }

    // ---- linear time --------------------------------------------------------------------------------

    /// The reference's `but` rule is quadratic; these texts would take seconds there.
    #[test]
    fn a_64_kib_message_scores_in_milliseconds() {
        let analyzer = Analyzer::new();
        // Many short sentences with questions and complaints, and one run-on sentence without
        // punctuation (regression: the sarcasm and how-to checks were once quadratic there).
        let units = [
            "Great, but the parcel never arrived and I was on hold for 45 minutes!! NOT good, \
             kind of bad :( 😡 but thanks anyway? ",
            "great my order never arrived and nobody answered still no refund ",
        ];
        for unit in units {
            let big = unit.repeat(64 * 1024 / unit.len() + 1);
            let quarter = unit.repeat(16 * 1024 / unit.len() + 1);
            // Best of five: other tests run in parallel on few cores, and the first run of a big
            // text pays for fresh pages.
            let time = |text: &str| {
                let mut best = f64::INFINITY;
                let mut scores = None;
                for _ in 0..5 {
                    let start = Instant::now();
                    scores = Some(analyzer.score(text));
                    best = best.min(start.elapsed().as_secs_f64());
                }
                (best, scores)
            };
            let (t_quarter, _) = time(&quarter);
            let (t_big, s) = time(&big);
            assert!(s.is_some_and(|s| s.compound.is_finite()));
            // Release builds take about 1-2 ms; unoptimised test builds a few times more.
            let limit = if cfg!(debug_assertions) { 1.0 } else { 0.05 };
            println!(
                "64 KiB: {:.2} ms, 16 KiB: {:.2} ms",
                t_big * 1e3,
                t_quarter * 1e3
            );
            assert!(t_big < limit, "64 KiB took {t_big} s");
            assert!(
                t_big < t_quarter * 8.0 + 0.01,
                "not linear: {t_quarter} -> {t_big}"
            );
        }
    }

    // ---- the VADER ground-truth corpora -------------------------------------------------------------

    /// `../shared/data/vader` beside the checkout (or `VADER_DATA`). Missing data skips the test
    /// with a reason, except under CI (`CI=true`), where it must be there.
    fn vader_data() -> Option<PathBuf> {
        let dir = std::env::var_os("VADER_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vader")
            });
        if dir.join("amazonReviewSnippets_GroundTruth.txt").exists() {
            return Some(dir);
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "VADER corpora missing at {} (CI=true requires them)",
                dir.display()
            );
        }
        println!(
            "skipped: VADER corpora not found at {} (set VADER_DATA)",
            dir.display()
        );
        None
    }

    fn weighted_f1(gold: &[Label], predicted: &[Label]) -> f64 {
        let mut sum = 0.0;
        for label in [Label::Positive, Label::Neutral, Label::Negative] {
            let support = gold.iter().filter(|g| **g == label).count() as f64;
            let tp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| **g == label && **p == label)
                .count() as f64;
            let fp = gold
                .iter()
                .zip(predicted)
                .filter(|(g, p)| **g != label && **p == label)
                .count() as f64;
            let (p, r) = (tp / (tp + fp).max(1.0), tp / support.max(1.0));
            let f1 = if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
            sum += f1 * support / gold.len() as f64;
        }
        sum
    }

    /// Support-weighted 3-class F1 against the mean human rating (±0.05), as the paper and
    /// scripts/bench-sentiment.sh compute it. Python vaderSentiment 3.3.2 gets amazon 0.626, movie
    /// 0.589, nyt 0.549; plain VADER here must match, the service layer must not do worse.
    #[test]
    fn ground_truth_corpora_f1_matches_the_reference() {
        let Some(dir) = vader_data() else { return };
        let (vader, default) = (Analyzer::vader_only(), Analyzer::new());
        for (file, reference) in [
            ("amazonReviewSnippets_GroundTruth.txt", 0.626),
            ("movieReviewSnippets_GroundTruth.txt", 0.589),
            ("nytEditorialSnippets_GroundTruth.txt", 0.549),
        ] {
            let raw = std::fs::read_to_string(dir.join(file)).expect("read corpus");
            let rows: Vec<(f64, &str)> = raw
                .lines()
                .filter_map(|l| {
                    let mut f = l.trim_start_matches('\u{feff}').split('\t');
                    let (_, mean, text) = (f.next()?, f.next()?, f.next()?);
                    Some((mean.parse().ok()?, text))
                })
                .collect();
            assert!(rows.len() > 3000, "{file}: {} rows", rows.len());
            let gold: Vec<Label> = rows.iter().map(|(m, _)| Label::from_compound(*m)).collect();
            let plain: Vec<Label> = rows.iter().map(|(_, t)| vader.score(t).label).collect();
            let layered: Vec<Label> = rows.iter().map(|(_, t)| default.score(t).label).collect();
            let (f_plain, f_layered) = (weighted_f1(&gold, &plain), weighted_f1(&gold, &layered));
            println!(
                "{file}: plain {f_plain:.3}, with service layer {f_layered:.3} (reference {reference})"
            );
            assert!((f_plain - reference).abs() < 0.0015, "{file}: {f_plain}");
            assert!(f_layered > reference - 0.005, "{file}: {f_layered}");
        }
    }
}
