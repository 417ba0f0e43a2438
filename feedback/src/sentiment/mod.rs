//! Sentiment of customer messages: a faithful VADER scorer plus a customer-service layer.
//!
//! It feeds handoff (escalate angry customers), churn risk and reports: the server scores each
//! customer message once with a shared [`Analyzer`] and stores the [`Scores`]; a conversation's
//! trajectory comes from [`conversation`]; `hark sentiment` is a thin shell over [`run_lines`].
//!
//! # Layout
//! - `vader`: a port of Python `vaderSentiment` 3.3.2 (Hutto & Gilbert 2014) with its lexicons
//!   vendored under MIT in `data/sentiment/`. On general text its scores equal the reference's.
//! - `domain`: the customer-service layer ("my order never arrived", "on hold for 45 minutes",
//!   "great, another delay"), driven by `data/sentiment/service_lexicon.tsv`.
//! - `model`: the service model, a classifier trained on labelled customer-service messages
//!   (`data/sentiment/service_messages*.tsv`), for the complaints no rule names ("got two left
//!   shoes"). It speaks only where the lexicon and the rules found no sentiment, or where a
//!   service rule fired and it is confident (see [`DEFAULT_CONFIDENCE`]).
//!
//! *Architecture invariant*: when no customer-service rule fires and the service model does not
//! decide, the scores are exactly plain VADER's; [`Analysis::domain_rules`] names whatever
//! changed them. *Architecture invariant*: scoring is linear (`n log n` at worst) in the message
//! length; a 64 KiB message scores in a few milliseconds.
//!
//! Measuring: `cargo test -p feedback sentiment` checks parity with the reference, every rule and
//! the labelled sets; `scripts/bench-sentiment.sh` compares F1, compound and speed with Python
//! `vaderSentiment` 3.3.2 side by side on the VADER corpora.
//!
//! This module knows nothing of HTTP, storage or async runtimes: callers own those.
//!
//! ```
//! use feedback::sentiment::{Analyzer, Label};
//! let analyzer = Analyzer::new();
//! assert_eq!(analyzer.score("Thanks, that fixed it!").label, Label::Positive);
//! assert_eq!(analyzer.score("Still no refund after 3 weeks.").label, Label::Negative);
//! assert_eq!(analyzer.score("How do I change my delivery address?").label, Label::Neutral);
//! ```

mod domain;
mod model;
mod vader;

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use domain::DomainLexicon;
use model::{Example, ServiceModel};
use vader::{Token, Vader, WordMap};

/// Errors of the sentiment module.
#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    #[error("cannot read domain lexicon {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid domain lexicon {origin}: {}", problems.join("; "))]
    InvalidLexicon {
        origin: String,
        /// One entry per bad line, each starting with `line N:`.
        problems: Vec<String>,
    },
    #[error("invalid labelled messages {origin}: {}", problems.join("; "))]
    InvalidExamples {
        origin: String,
        /// One entry per bad line, each starting with `line N:`.
        problems: Vec<String>,
    },
    #[error("the labelled messages {origin} and the built-in ones hold fewer than two labels")]
    NothingToLearn { origin: String },
}

/// The sentiment class of a message, from the compound score with VADER's ±0.05 thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Positive,
    Neutral,
    Negative,
}

impl Label {
    /// `compound >= 0.05` is positive, `compound <= -0.05` negative, anything between neutral.
    pub fn from_compound(compound: f64) -> Label {
        if compound >= 0.05 {
            Label::Positive
        } else if compound <= -0.05 {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

/// The scores of one message, rounded as VADER rounds them (compound to 4 decimals, shares to 3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Overall sentiment in [-1, 1].
    pub compound: f64,
    /// Share of positive, neutral and negative weight; they sum to about 1 (0 for empty text).
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
    pub label: Label,
}

/// Scores plus which customer-service rules changed them (for debugging and audits).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub scores: Scores,
    /// `file:line` of every domain rule that fired, in order, then [`SERVICE_MODEL`] when the
    /// service model decided the scores; empty means plain VADER.
    pub domain_rules: Vec<String>,
}

/// How [`Analysis::domain_rules`] names the service model.
pub const SERVICE_MODEL: &str = "service-model";

/// How sure the service model must be of its label to use it (see
/// [`Analyzer::with_service_model_confidence`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConfidence {
    /// Where the lexicon and the rules found no sentiment (a neutral label).
    pub fill: f64,
    /// Where a customer-service rule fired: to overrule the rules' label.
    pub overrule: f64,
}

/// Where the rules found nothing the model's most likely label stands; to overrule a rule it
/// must be 70% sure. Chosen on labelled messages the model had not been trained on and on the
/// VADER corpora (see `docs/benchmarks.md`).
pub const DEFAULT_CONFIDENCE: ModelConfidence = ModelConfidence {
    fill: 0.0,
    overrule: 0.7,
};

/// The service model and the labelled messages it was trained on (to add to them).
#[derive(Debug)]
struct Learned {
    model: ServiceModel,
    examples: Vec<Example>,
}

/// Scores messages. Build it once and share it (`Send + Sync`, cheap to clone): the VADER
/// lexicon is loaded once per process.
#[derive(Debug, Clone)]
pub struct Analyzer {
    vader: Arc<Vader>,
    domain: Option<Arc<DomainLexicon>>,
    /// VADER's words marked with the domain layer's, when there is one.
    words: Option<Arc<WordMap>>,
    /// The service model, when the analyzer has one.
    learned: Option<Arc<Learned>>,
    confidence: ModelConfidence,
}

fn shared_vader() -> Arc<Vader> {
    static VADER: OnceLock<Arc<Vader>> = OnceLock::new();
    VADER.get_or_init(|| Arc::new(Vader::embedded())).clone()
}

/// The built-in customer-service layer: rules, the service model trained on the built-in
/// labelled messages, and VADER's words marked with both. Built once per process.
type Builtin = (Arc<DomainLexicon>, Option<Arc<Learned>>, Arc<WordMap>);

fn shared_builtin() -> Builtin {
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            let vader = shared_vader();
            let domain = DomainLexicon::builtin();
            let learned = Learned::train(model::builtin_examples(), &vader);
            let words = words_for(&vader, Some(&domain), learned.as_deref());
            (Arc::new(domain), learned, Arc::new(words))
        })
        .clone()
}

/// VADER's words marked with a layer's rules and model.
fn words_for(vader: &Vader, domain: Option<&DomainLexicon>, learned: Option<&Learned>) -> WordMap {
    vader.words_with_domain(
        domain.into_iter().flat_map(DomainLexicon::words),
        learned.into_iter().flat_map(|l| l.model.words()),
    )
}

impl Learned {
    fn train(examples: Vec<Example>, vader: &Vader) -> Option<Arc<Learned>> {
        let model = ServiceModel::train(&examples, vader)?;
        Some(Arc::new(Learned { model, examples }))
    }
}

impl Default for Analyzer {
    /// VADER plus the built-in customer-service layer and service model.
    fn default() -> Self {
        let (domain, learned, words) = shared_builtin();
        Analyzer {
            vader: shared_vader(),
            domain: Some(domain),
            words: Some(words),
            learned,
            confidence: DEFAULT_CONFIDENCE,
        }
    }
}

impl Analyzer {
    /// VADER plus the built-in customer-service layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plain VADER, scoring exactly as `vaderSentiment` 3.3.2.
    pub fn vader_only() -> Self {
        Analyzer {
            vader: shared_vader(),
            domain: None,
            words: None,
            learned: None,
            confidence: DEFAULT_CONFIDENCE,
        }
    }

    /// The same analyzer without the service model: VADER and the lexicon's rules only.
    pub fn without_service_model(self) -> Self {
        Analyzer {
            learned: None,
            ..self
        }
    }

    /// How sure the service model must be to decide; [`DEFAULT_CONFIDENCE`] unless set. For
    /// measuring: a probability of 1 or more never decides.
    pub fn with_service_model_confidence(self, confidence: ModelConfidence) -> Self {
        Analyzer { confidence, ..self }
    }

    /// Retrains the service model on the built-in labelled messages plus those in `path`
    /// (`label<TAB>text` lines, labels `negative`, `neutral` or `positive`, `#` comments):
    /// the owner's own customers' words. Every bad line is reported with its line number.
    pub fn with_service_examples_file(self, path: &Path) -> Result<Self, SentimentError> {
        let text = std::fs::read_to_string(path).map_err(|source| SentimentError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.with_service_examples_str(&text, &path.display().to_string())
    }

    /// Like [`Analyzer::with_service_examples_file`] for messages already in memory.
    pub fn with_service_examples_str(
        self,
        text: &str,
        origin: &str,
    ) -> Result<Self, SentimentError> {
        let added = model::parse_examples(text, origin)?;
        let mut examples = match &self.learned {
            Some(learned) => learned.examples.clone(),
            None => model::builtin_examples(),
        };
        examples.extend(added);
        let learned = Learned::train(examples, &self.vader).ok_or_else(|| {
            SentimentError::NothingToLearn {
                origin: origin.to_owned(),
            }
        })?;
        let words = words_for(&self.vader, self.domain.as_deref(), Some(&learned));
        Ok(Analyzer {
            words: Some(Arc::new(words)),
            learned: Some(learned),
            ..self
        })
    }

    /// Adds the rules of a domain lexicon file (format: see `data/sentiment/service_lexicon.tsv`)
    /// to this analyzer's layer. Every bad line is reported with its line number.
    pub fn with_domain_lexicon_file(self, path: &Path) -> Result<Self, SentimentError> {
        let text = std::fs::read_to_string(path).map_err(|source| SentimentError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.with_domain_lexicon_str(&text, &path.display().to_string())
    }

    /// Like [`Analyzer::with_domain_lexicon_file`] for rules already in memory; `origin` names
    /// them in errors and in [`Analysis::domain_rules`].
    pub fn with_domain_lexicon_str(self, text: &str, origin: &str) -> Result<Self, SentimentError> {
        let mut domain = self.domain.as_deref().cloned().unwrap_or_default();
        domain.extend_from_str(text, origin)?;
        let words = words_for(&self.vader, Some(&domain), self.learned.as_deref());
        Ok(Analyzer {
            vader: self.vader,
            domain: Some(Arc::new(domain)),
            words: Some(Arc::new(words)),
            learned: self.learned,
            confidence: self.confidence,
        })
    }

    /// Scores one message.
    pub fn score(&self, text: &str) -> Scores {
        self.run(text, false).0
    }

    /// Scores one message and tells which domain rules fired.
    pub fn analyze(&self, text: &str) -> Analysis {
        let (scores, rules) = self.run(text, true);
        Analysis {
            scores,
            domain_rules: rules,
        }
    }

    fn run(&self, text: &str, explain: bool) -> (Scores, Vec<String>) {
        thread_local! {
            // Token and valence buffers reused from one message to the next on this thread.
            static SCRATCH: RefCell<(Vec<Token<'static>>, Vec<f64>)> = const {
                RefCell::new((Vec::new(), Vec::new()))
            };
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let (tokens, sentiments) = &mut *scratch;
                self.run_with(text, explain, tokens, sentiments)
            }
            // Only if scoring ever re-entered itself on this thread.
            Err(_) => self.run_with(text, explain, &mut Vec::new(), &mut Vec::new()),
        })
    }

    fn run_with(
        &self,
        text: &str,
        explain: bool,
        token_buffer: &mut Vec<Token<'static>>,
        sentiments: &mut Vec<f64>,
    ) -> (Scores, Vec<String>) {
        let text = self.vader.demojize(text);
        let marks = vader::Marks::of(&text);
        let words = self.words.as_deref().unwrap_or_else(|| self.vader.words());
        let mut tokens = recycle(std::mem::take(token_buffer));
        self.vader.tokenize_into(&text, words, &mut tokens);
        self.vader.valences_into(&tokens, sentiments);
        let mut rules = Vec::new();
        let mut service_rules_fired = false;
        if let Some(domain) = &self.domain {
            let fired = domain.apply(marks, &tokens, self.words.as_deref(), sentiments, explain);
            service_rules_fired = fired.count > 0;
            if explain {
                rules = fired.rules.iter().map(ToString::to_string).collect();
            }
        }
        vader::but_check(&tokens, sentiments);
        let raw = vader::score_valence_marks(sentiments, marks);
        let compound = vader::py_round(raw.compound, 4);
        let mut scores = Scores {
            compound,
            pos: vader::py_round(raw.pos, 3),
            neu: vader::py_round(raw.neu, 3),
            neg: vader::py_round(raw.neg, 3),
            label: Label::from_compound(compound),
        };
        if let Some(decided) = self.service_model_decision(&tokens, scores, service_rules_fired) {
            scores = decided;
            if explain {
                rules.push(SERVICE_MODEL.to_owned());
            }
        }
        *token_buffer = recycle(tokens);
        (scores, rules)
    }

    /// The service model's scores where it decides: the rules found no sentiment and it sees
    /// some, or a service rule fired and it is sure enough of another label.
    fn service_model_decision(
        &self,
        tokens: &[Token<'_>],
        scores: Scores,
        service_rules_fired: bool,
    ) -> Option<Scores> {
        let learned = self.learned.as_deref()?;
        let words = self.words.as_deref()?;
        if scores.label != Label::Neutral && !service_rules_fired {
            return None;
        }
        let prediction = learned.model.predict(tokens, words)?;
        let decides = if scores.label == Label::Neutral {
            // A threshold of 0 needs no probabilities: the exponentials are skipped.
            prediction.label() != Label::Neutral
                && (self.confidence.fill <= 0.0 || prediction.top().1 >= self.confidence.fill)
        } else {
            let (label, confidence) = prediction.top();
            label != scores.label && confidence >= self.confidence.overrule
        };
        if !decides {
            return None;
        }
        let [neg, neu, pos] = prediction.probabilities();
        let compound = vader::py_round(prediction.compound(), 4);
        Some(Scores {
            compound,
            pos: vader::py_round(pos, 3),
            neu: vader::py_round(neu, 3),
            neg: vader::py_round(neg, 3),
            label: Label::from_compound(compound),
        })
    }
}

/// Empties a token buffer so that it can hold tokens of another text: the allocation is kept
/// (an in-place `collect` of an empty vector of the same layout).
fn recycle<'b>(mut tokens: Vec<Token<'_>>) -> Vec<Token<'b>> {
    tokens.clear();
    tokens.into_iter().map(|_| unreachable!()).collect()
}

/// A conversation's sentiment from the compound scores of its customer messages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConversationSentiment {
    pub mean: f64,
    /// The lowest compound: the worst moment of the conversation.
    pub min: f64,
    /// Least-squares slope of compound per message: above 0 the customer is calming down.
    pub trend: f64,
    /// Messages counted (non-finite compounds are skipped).
    pub count: usize,
}

/// Mean, minimum and trend of a conversation's compound scores. Empty input gives zeros.
pub fn conversation(compounds: &[f64]) -> ConversationSentiment {
    let values: Vec<f64> = compounds
        .iter()
        .copied()
        .filter(|c| c.is_finite())
        .collect();
    let count = values.len();
    if count == 0 {
        return ConversationSentiment {
            mean: 0.0,
            min: 0.0,
            trend: 0.0,
            count: 0,
        };
    }
    let n = count as f64;
    let mean = values.iter().sum::<f64>() / n;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let x_mean = (n - 1.0) / 2.0;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (k, y) in values.iter().enumerate() {
        let dx = k as f64 - x_mean;
        sxy += dx * (y - mean);
        sxx += dx * dx;
    }
    let trend = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    ConversationSentiment {
        mean,
        min,
        trend,
        count,
    }
}

#[derive(Serialize)]
struct LineError {
    error: String,
}

/// `hark sentiment`: one text per line in, one JSON object per line out with `compound`, `pos`,
/// `neu`, `neg` and `label`. A line that is not UTF-8 gives `{"error":"line N: invalid UTF-8"}`
/// and the rest is still scored. A trailing `\r` is dropped (CRLF input).
pub fn run_lines(
    analyzer: &Analyzer,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let mut line = buf.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => serde_json::to_writer(&mut output, &analyzer.score(text))?,
            Err(_) => serde_json::to_writer(
                &mut output,
                &LineError {
                    error: format!("line {line_no}: invalid UTF-8"),
                },
            )?,
        }
        output.write_all(b"\n")?;
    }
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzer_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Analyzer>();
    }

    #[test]
    fn builtin_domain_lexicon_parses() {
        let mut lexicon = DomainLexicon::default();
        let result = lexicon.extend_from_str(
            include_str!("../../data/sentiment/service_lexicon.tsv"),
            domain::BUILTIN_ORIGIN,
        );
        assert!(result.is_ok(), "{result:?}");
        assert!(!lexicon.phrases.is_empty());
    }

    #[test]
    fn vader_lexicon_is_complete() {
        // 7,520 lines in vaderSentiment 3.3.2, a few keys duplicated.
        assert!(shared_vader().lexicon_len() > 7_400);
    }
}
