//! The functions behind `hark value fit` and `hark value score`, end to end on files,
//! with synthetic customers (no shared data needed).

mod value {
    use std::collections::HashMap;
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use feedback::value::churn::SupportSignals;
    use feedback::value::cli::{self, ScoreOptions};
    use feedback::value::segment::ValueTier;
    use feedback::value::synth::{Population, SplitMix64};
    use feedback::value::{CustomerId, CustomerSummary, ValueError};
    use time::macros::date;
    use time::{Date, Duration};

    /// A file in the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("hark-value-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).expect("write temp file");
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn customers(n: usize) -> Vec<CustomerSummary> {
        let population = Population::cdnow();
        let mut rng = SplitMix64::new(3);
        (0..n)
            .map(|i| {
                population.draw(
                    CustomerId::parse(&format!("cust-{i}")).expect("id"),
                    &mut rng,
                )
            })
            .collect()
    }

    const CAL_END: Date = date!(1997 - 09 - 30);

    /// Turn summaries back into purchase rows: first purchase T weeks before the
    /// calibration end, the last one at the recency, others spread between, and one
    /// holdout purchase for every third repeat buyer.
    fn transactions_csv(summaries: &[CustomerSummary]) -> String {
        let mut csv = String::from("customer_id,date,amount,order_id\n");
        for (i, s) in summaries.iter().enumerate() {
            let first = CAL_END - Duration::days((s.t * 7.0).round() as i64);
            let spend = s.monetary_value.unwrap_or(0.0).max(1.0);
            let _ = writeln!(csv, "{},{first},{spend:.2},o{i}-0", s.customer_id);
            let span = (s.recency * 7.0).round() as i64;
            for k in 1..=i64::from(s.frequency) {
                let day = first + Duration::days(span * k / i64::from(s.frequency));
                let _ = writeln!(csv, "{},{day},{spend:.2},o{i}-{k}", s.customer_id);
            }
            if s.frequency > 0 && i % 3 == 0 {
                let _ = writeln!(
                    csv,
                    "{},1997-11-15T12:00:00+01:00,{spend:.2},",
                    s.customer_id
                );
            }
        }
        csv
    }

    #[test]
    fn value_fit_transactions_reports_models_and_the_holdout_check() {
        let people = customers(3_000);
        let file = TempFile::new("tx.csv", &transactions_csv(&people));
        let report =
            cli::fit_transactions(&file.0, CAL_END, Some(date!(1998 - 06 - 30))).expect("fit");
        let json = serde_json::to_value(&report).expect("json");
        for key in ["r", "alpha", "a", "b", "log_likelihood"] {
            assert!(json["bgnbd"][key].is_f64(), "bgnbd.{key} in {json}");
        }
        for key in ["p", "q", "v"] {
            assert!(json["gamma_gamma"][key].is_f64(), "gamma_gamma.{key}");
        }
        let holdout = &json["holdout"];
        assert_eq!(holdout["weeks"], 39.0);
        assert!(
            holdout["predicted_repeat_purchases"]
                .as_f64()
                .is_some_and(|p| p > 0.0)
        );
        let buyers = people
            .iter()
            .enumerate()
            .filter(|(i, s)| s.frequency > 0 && i % 3 == 0)
            .count();
        assert_eq!(holdout["actual_repeat_purchases"], buyers as u64);
        assert_eq!(json["model_version"], feedback::value::MODEL_VERSION);
        // Parameters near the ones the customers were drawn from.
        let r = report.bgnbd.params.r;
        assert!((0.15..0.35).contains(&r), "r {r}");
    }

    #[test]
    fn value_fit_summary_with_and_without_spend() {
        let people = customers(2_000);
        let mut with = String::from("customer_id,frequency,recency,T,monetary_value\n");
        let mut without = String::from("customer_id,frequency,recency,T\n");
        for s in &people {
            let m = s.monetary_value.unwrap_or(0.0);
            let _ = writeln!(
                with,
                "{},{},{},{},{m}",
                s.customer_id, s.frequency, s.recency, s.t
            );
            let _ = writeln!(
                without,
                "{},{},{},{}",
                s.customer_id, s.frequency, s.recency, s.t
            );
        }
        let (a, b) = (
            TempFile::new("with.csv", &with),
            TempFile::new("without.csv", &without),
        );
        let with = cli::fit_summary(&a.0).expect("fit");
        let without = cli::fit_summary(&b.0).expect("fit");
        assert!(with.gamma_gamma.is_some() && without.gamma_gamma.is_none());
        assert_eq!(with.bgnbd, without.bgnbd);
        assert!(with.holdout.is_none());
        // The same data through the in-memory path gives the same fit.
        assert_eq!(cli::fit(&people, None).expect("fit").bgnbd, with.bgnbd);
    }

    #[test]
    fn value_score_lines_carry_segment_risk_and_reasons() {
        let people = customers(2_000);
        let report = cli::fit(&people, None).expect("fit");
        let options = ScoreOptions::default();
        let quiet =
            cli::score(&people, &report.models(), &HashMap::new(), &options).expect("score");
        let target = quiet
            .iter()
            .position(|s| s.churn_risk < 0.5)
            .expect("someone active");
        let id = people[target].customer_id.clone();
        let signals = HashMap::from([(
            id.clone(),
            SupportSignals {
                nps_detractor: Some(true),
                negative_conversations_30d: Some(2),
                escalations: Some(1),
                ..SupportSignals::default()
            },
        )]);
        let loud = cli::score(&people, &report.models(), &signals, &options).expect("score");
        assert!(loud[target].churn_risk > quiet[target].churn_risk);
        assert!(loud[target].reasons.iter().any(|r| r == "NPS detractor"));
        assert!(
            loud[target]
                .reasons
                .iter()
                .any(|r| r == "two negative conversations this month")
        );

        let line = serde_json::to_value(&loud[target]).expect("json");
        for key in [
            "customer_id",
            "p_alive",
            "expected_purchases",
            "clv",
            "segment",
            "churn_risk",
            "reasons",
        ] {
            assert!(!line[key].is_null(), "{key} in {line}");
        }
        assert_eq!(line["customer_id"], id.as_str());
        let high = quiet
            .iter()
            .filter(|s| s.segment == ValueTier::High)
            .count();
        assert!((380..=420).contains(&high), "{high} of 2000 high-value");
        assert!(
            quiet
                .iter()
                .all(|s| !s.action.is_empty() && (0.0..=1.0).contains(&s.p_alive))
        );

        // Stored models give the same scores without a refit.
        let stored = serde_json::to_string(&report.models()).expect("json");
        let models: cli::Models = serde_json::from_str(&stored).expect("read back");
        let again = cli::score(&people, &models, &HashMap::new(), &options).expect("score");
        // serde_json may round the last bit of a float on the way back.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        for (a, q) in again.iter().zip(&quiet) {
            assert!(close(a.p_alive, q.p_alive) && close(a.churn_risk, q.churn_risk));
            assert!(close(a.clv.unwrap_or(0.0), q.clv.unwrap_or(0.0)));
            assert_eq!((a.segment, &a.reasons), (q.segment, &q.reasons));
        }
    }

    #[test]
    fn value_cli_errors_are_plain() {
        let missing = std::path::Path::new("/nonexistent/hark/tx.csv");
        let err = cli::fit_transactions(missing, CAL_END, None).expect_err("missing file");
        assert!(matches!(err, ValueError::Io { .. }));
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/hark/tx.csv")
        );
        let bad = TempFile::new(
            "bad.csv",
            "customer_id,date,amount\nc1,1997-01-01,5\nc1,1997-02-30,5\n",
        );
        let err = cli::fit_transactions(&bad.0, CAL_END, None).expect_err("bad date");
        assert_eq!(
            err.to_string(),
            "line 3: date \"1997-02-30\" is not YYYY-MM-DD or RFC 3339"
        );
        let err = cli::fit_transactions(&bad.0, CAL_END, Some(CAL_END)).expect_err("bad holdout");
        assert!(
            err.to_string()
                .contains("holdout end must be after calibration end")
        );
        let late = TempFile::new("late.csv", "customer_id,date,amount\nc1,1998-01-01,5\n");
        let err = cli::fit_transactions(&late.0, CAL_END, None).expect_err("nobody in calibration");
        assert!(matches!(err, ValueError::NoCustomers));
    }
}
