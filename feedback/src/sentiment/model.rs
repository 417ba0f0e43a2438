//! The service model: a linear classifier over the words and word pairs of customer-service
//! messages, trained on labelled messages when an analyzer is built.
//!
//! The phrase rules know the complaints someone wrote down; a customer who writes "got two left
//! shoes" or "the box says 128GB" uses none of them. Messages from writers the rules were never
//! tuned on showed it: the rules scored 0.83–0.86 macro F1 there, a classifier trained on the
//! project's labelled messages 0.93. The classifier does not score general text well (it was
//! never shown any), so [`super::Analyzer`] asks it only where it helps: when the lexicon and
//! the rules found no sentiment (a neutral label), and when a customer-service rule fired (the
//! text is a service message) and the model is confident. See `docs/benchmarks.md`.
//!
//! Words are VADER's tokens as the rules see them (lowercase, surrounding punctuation trimmed),
//! so a message is split once: the analyzer's word map carries each word's model id next to its
//! valence and its rules, and one lookup per token serves all three.
//!
//! Model: binary word and word-pair features weighted by smoothed IDF and L2-normalised (as
//! scikit-learn's `TfidfVectorizer(binary=True, ngram_range=(1, 2))`), multinomial logistic
//! regression with an L2 penalty (scikit-learn's `C = 20`), fitted by full-batch Adam: no
//! randomness, the same weights on every machine. Training the built-in 2,600 messages takes
//! tens of milliseconds, once per process.

use super::domain::normalize_cow;
use super::vader::{DOMAIN_UNKNOWN, FxMap, MAX_SLOTS, Token, Vader, WordMap};
use super::{Label, SentimentError};

/// The labelled messages the built-in model learns from (`label<TAB>text`, `#` comments). The
/// third held-out set (`service_messages_heldout3.tsv`) is deliberately not among them.
const BUILTIN: [(&str, &str); 6] = [
    (
        "service_messages.tsv",
        include_str!("../../data/sentiment/service_messages.tsv"),
    ),
    (
        "service_messages_dev.tsv",
        include_str!("../../data/sentiment/service_messages_dev.tsv"),
    ),
    (
        "service_messages_dev2.tsv",
        include_str!("../../data/sentiment/service_messages_dev2.tsv"),
    ),
    (
        "service_messages_dev3.tsv",
        include_str!("../../data/sentiment/service_messages_dev3.tsv"),
    ),
    (
        "service_messages_heldout.tsv",
        include_str!("../../data/sentiment/service_messages_heldout.tsv"),
    ),
    (
        "service_messages_heldout2.tsv",
        include_str!("../../data/sentiment/service_messages_heldout2.tsv"),
    ),
];

/// Words and pairs must occur in this many examples to become features (scikit-learn's
/// `min_df`).
const MIN_DF: u32 = 2;
/// scikit-learn's `C`: the inverse strength of the L2 penalty on the summed log-loss.
const C: f64 = 20.0;
const ITERATIONS: usize = 200;
const LEARNING_RATE: f64 = 0.1;

/// Class order of the weights and probabilities.
const CLASSES: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

/// One labelled message.
#[derive(Debug, Clone)]
pub(crate) struct Example {
    pub label: Label,
    pub text: String,
}

/// Parses `label<TAB>text` lines (`#` comments and blank lines skipped). Every bad line is
/// reported with its number; nothing is returned then.
pub(crate) fn parse_examples(text: &str, origin: &str) -> Result<Vec<Example>, SentimentError> {
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let n = k + 1;
        let Some((label, message)) = line.split_once('\t') else {
            problems.push(format!("line {n}: expected label<TAB>text"));
            continue;
        };
        let label = match label.trim() {
            "negative" => Label::Negative,
            "neutral" => Label::Neutral,
            "positive" => Label::Positive,
            other => {
                problems.push(format!(
                    "line {n}: label {other:?} is not negative, neutral or positive"
                ));
                continue;
            }
        };
        if message.trim().is_empty() {
            problems.push(format!("line {n}: the message is empty"));
            continue;
        }
        examples.push(Example {
            label,
            text: message.to_owned(),
        });
    }
    if problems.is_empty() {
        Ok(examples)
    } else {
        Err(SentimentError::InvalidExamples {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// The built-in examples (the embedded files parse: a unit test checks it).
pub(crate) fn builtin_examples() -> Vec<Example> {
    BUILTIN
        .iter()
        .flat_map(|(origin, text)| parse_examples(text, origin).unwrap_or_default())
        .collect()
}

/// What the model says of a message: a logit per class in [`CLASSES`] order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Prediction {
    logits: [f64; 3],
}

impl Prediction {
    /// The most likely label (no exponentials: most messages need no more than this).
    pub fn label(&self) -> Label {
        CLASSES[self.best()]
    }

    fn best(&self) -> usize {
        let mut best = 1;
        for k in [0, 2] {
            if self.logits[k] > self.logits[best] {
                best = k;
            }
        }
        best
    }

    /// The probability of each label, in [`CLASSES`] order.
    pub fn probabilities(&self) -> [f64; 3] {
        softmax(self.logits)
    }

    /// The most likely label and its probability.
    pub fn top(&self) -> (Label, f64) {
        let best = self.best();
        (CLASSES[best], self.probabilities()[best])
    }

    /// A compound score in [-1, 1] for the top label: P(positive) − P(negative), kept inside
    /// the label's band of VADER's ±0.05 thresholds.
    pub fn compound(&self) -> f64 {
        let [neg, _, pos] = self.probabilities();
        let raw = pos - neg;
        match self.label() {
            Label::Positive => raw.max(0.05),
            Label::Negative => raw.min(-0.05),
            Label::Neutral => raw.clamp(-0.0499, 0.0499),
        }
    }
}

/// A trained model. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct ServiceModel {
    /// Word → its unigram feature.
    words: FxMap<Box<str>, u32>,
    /// (first word, second word) → the pair's feature.
    pairs: PairTable,
    /// Per feature: the class weights times the feature's IDF, then the IDF squared (for the
    /// message's norm). One 16-byte row: scoring a feature reads one place in memory.
    rows: Vec<[f32; 4]>,
    bias: [f32; 3],
}

/// Two word ids in one key: ids stay below [`MAX_SLOTS`], so each fits 16 bits.
fn pair_key(first: u32, second: u32) -> u32 {
    (first << 16) | (second & 0xFFFF)
}

/// Word pairs → features: open addressing with linear probing, at most half full, each key
/// next to its feature in 8 bytes, so the table stays in the processor's nearest cache and a
/// lookup (one per adjacent pair of known words) is a multiply, a shift and a probe or two.
#[derive(Debug, Clone)]
struct PairTable {
    slots: Vec<(u32, u32)>,
    shift: u32,
}

impl PairTable {
    /// No pair of two ids below [`MAX_SLOTS`] has this key.
    const EMPTY: u32 = u32::MAX;

    fn new(pairs: &FxMap<u32, u32>) -> PairTable {
        let bits = (pairs.len().max(1) * 2)
            .next_power_of_two()
            .trailing_zeros()
            .max(4);
        let size = 1usize << bits;
        let mut table = PairTable {
            slots: vec![(Self::EMPTY, 0); size],
            shift: 32 - bits,
        };
        // In key order, so the layout does not depend on the hash map's iteration order.
        let mut sorted: Vec<(u32, u32)> = pairs.iter().map(|(&k, &v)| (k, v)).collect();
        sorted.sort_unstable();
        for (key, value) in sorted {
            let mut slot = table.slot(key);
            while table.slots[slot].0 != Self::EMPTY {
                slot = (slot + 1) & (size - 1);
            }
            table.slots[slot] = (key, value);
        }
        table
    }

    #[inline]
    fn slot(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B9) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, key: u32) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut slot = self.slot(key);
        loop {
            match self.slots[slot] {
                (k, value) if k == key => return Some(value),
                (Self::EMPTY, _) => return None,
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

/// A token's word as the model knows it (the rules' normalised word); empty for punctuation.
fn word_of<'t>(token: &Token<'t>) -> std::borrow::Cow<'t, str> {
    normalize_cow(token.raw)
}

thread_local! {
    /// The marks of the features counted, reused from one message to the next.
    static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::new(Seen::default());
}

impl ServiceModel {
    /// Fits the model to `examples`, split into words by `vader` as the analyzer will split
    /// messages. `None` without examples of at least two labels.
    pub(crate) fn train(examples: &[Example], vader: &Vader) -> Option<ServiceModel> {
        let distinct = CLASSES
            .iter()
            .filter(|c| examples.iter().any(|e| e.label == **c))
            .count();
        if distinct < 2 {
            return None;
        }
        // Vocabulary: the words and word pairs of at least MIN_DF examples (rarer ones teach
        // little and would only make the tables the scorer reads larger).
        let mut interned: FxMap<Box<str>, u32> = FxMap::default();
        let mut sequences: Vec<Vec<u32>> = Vec::with_capacity(examples.len());
        for example in examples {
            let text = vader.demojize(&example.text);
            let mut tokens = Vec::new();
            vader.tokenize_into(&text, vader.words(), &mut tokens);
            let sequence = tokens
                .iter()
                .map(|token| {
                    let word = word_of(token);
                    if word.is_empty() {
                        // Punctuation alone: no word, and the words around it are no pair.
                        return u32::MAX;
                    }
                    let next = u32::try_from(interned.len()).unwrap_or(u32::MAX);
                    *interned.entry(Box::from(&*word)).or_insert(next)
                })
                .collect();
            sequences.push(sequence);
        }
        let mut spelling: Vec<&str> = vec![""; interned.len()];
        for (w, &id) in &interned {
            spelling[id as usize] = w;
        }
        let word_df = document_frequencies(
            sequences
                .iter()
                .map(|s| s.iter().filter(|&&w| w != u32::MAX).map(|&w| u64::from(w))),
        );
        let mut kept: Vec<u32> = (0..spelling.len() as u32)
            .filter(|&w| word_df.get(&u64::from(w)).is_some_and(|&d| d >= MIN_DF))
            .collect();
        // Most frequent first (then alphabetical): a stable numbering, and the cap, if ever
        // reached, drops the rarest words.
        kept.sort_by(|&a, &b| {
            word_df[&u64::from(b)]
                .cmp(&word_df[&u64::from(a)])
                .then_with(|| spelling[a as usize].cmp(spelling[b as usize]))
        });
        kept.truncate(MAX_SLOTS);
        let mut final_id = vec![u32::MAX; spelling.len()];
        let mut words: FxMap<Box<str>, u32> = FxMap::default();
        for (id, &w) in kept.iter().enumerate() {
            let id = u32::try_from(id).ok()?;
            final_id[w as usize] = id;
            words.insert(Box::from(spelling[w as usize]), id);
        }
        for sequence in &mut sequences {
            for w in sequence.iter_mut() {
                if *w != u32::MAX {
                    *w = final_id[*w as usize];
                }
            }
        }
        let n_words = u32::try_from(words.len()).ok()?;
        let pair_df = document_frequencies(sequences.iter().map(|s| {
            s.windows(2)
                .filter(|w| w[0] != u32::MAX && w[1] != u32::MAX)
                .map(|w| u64::from(pair_key(w[0], w[1])))
        }));
        let mut kept_pairs: Vec<u32> = pair_df
            .iter()
            .filter(|&(_, &d)| d >= MIN_DF)
            .filter_map(|(&k, _)| u32::try_from(k).ok())
            .collect();
        kept_pairs.sort_unstable();
        let mut pairs: FxMap<u32, u32> = FxMap::default();
        for (k, key) in kept_pairs.into_iter().enumerate() {
            pairs.insert(key, n_words + u32::try_from(k).ok()?);
        }
        let rows: Vec<Vec<u32>> = sequences
            .iter()
            .map(|sequence| {
                let mut row: Vec<u32> = sequence
                    .iter()
                    .copied()
                    .filter(|&w| w != u32::MAX)
                    .chain(
                        sequence
                            .windows(2)
                            .filter_map(|w| pairs.get(&pair_key(w[0], w[1])).copied()),
                    )
                    .collect();
                row.sort_unstable();
                row.dedup();
                row
            })
            .collect();
        let features = n_words as usize + pairs.len();
        // Smoothed IDF, as scikit-learn: ln((1 + n) / (1 + df)) + 1.
        let mut df = vec![0u32; features];
        for row in &rows {
            for &f in row {
                df[f as usize] += 1;
            }
        }
        let n = examples.len() as f64;
        let idf: Vec<f64> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + f64::from(d))).ln() + 1.0)
            .collect();
        // Each example's features with their normalised values.
        let values: Vec<Vec<f64>> = rows
            .iter()
            .map(|row| {
                let norm = row
                    .iter()
                    .map(|&f| idf[f as usize].powi(2))
                    .sum::<f64>()
                    .sqrt();
                row.iter()
                    .map(|&f| {
                        if norm > 0.0 {
                            idf[f as usize] / norm
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let targets: Vec<usize> = examples
            .iter()
            .map(|e| CLASSES.iter().position(|c| *c == e.label).unwrap_or(1))
            .collect();

        let (w, b) = fit(&rows, &values, &targets, features);
        let rows: Vec<[f32; 4]> = w
            .iter()
            .zip(&idf)
            .map(|(w, &idf)| {
                [
                    (w[0] * idf) as f32,
                    (w[1] * idf) as f32,
                    (w[2] * idf) as f32,
                    (idf * idf) as f32,
                ]
            })
            .collect();
        let mut rows: Vec<[f32; 4]> = rows;
        // The row of words and pairs the model never saw: zeros.
        rows.push([0.0; 4]);
        Some(ServiceModel {
            words,
            pairs: PairTable::new(&pairs),
            rows,
            bias: b.map(|x| x as f32),
        })
    }

    /// Every word the model knows with its id, for the analyzer's word map.
    pub(crate) fn words(&self) -> impl Iterator<Item = (&str, u32)> {
        self.words.iter().map(|(w, &id)| (&**w, id))
    }

    /// The class probabilities of a message from its tokens (split with a word map that
    /// carries this model's ids); `None` when it has no word the model knows.
    pub(crate) fn predict(&self, tokens: &[Token<'_>], words: &WordMap) -> Option<Prediction> {
        SEEN.with(|cell| match cell.try_borrow_mut() {
            Ok(mut seen) => self.predict_with(tokens, words, &mut seen),
            Err(_) => self.predict_with(tokens, words, &mut Seen::default()),
        })
    }

    fn predict_with(
        &self,
        tokens: &[Token<'_>],
        words: &WordMap,
        seen: &mut Seen,
    ) -> Option<Prediction> {
        let stamp = seen.next(self.rows.len());
        let mut sum = [0f32; 4];
        // Words the model never saw read the last row, which is all zeros: no branch on them.
        let none = self.rows.len() as u32 - 1;
        let mut previous = u32::MAX;
        for t in tokens {
            let id = match t.model {
                // Not ASCII: the tokenizer left the normalising to us.
                DOMAIN_UNKNOWN => {
                    let word = word_of(t);
                    if word.is_empty() {
                        u32::MAX
                    } else {
                        words.model_id(&word)
                    }
                }
                id => id,
            };
            let pair = if previous != u32::MAX && id != u32::MAX {
                self.pairs.get(pair_key(previous, id)).unwrap_or(none)
            } else {
                none
            };
            for f in [id.min(none), pair] {
                // A feature counts once however often it occurs (binary features, as trained).
                let mark = &mut seen.marks[f as usize];
                if *mark != stamp {
                    *mark = stamp;
                    let row = self.rows[f as usize];
                    for c in 0..4 {
                        sum[c] += row[c];
                    }
                }
            }
            previous = id;
        }
        // sum[3] is the squared norm of the message's features; zero when none was known.
        if sum[3] <= 0.0 {
            return None;
        }
        let norm = sum[3].sqrt();
        Some(Prediction {
            logits: std::array::from_fn(|c| f64::from(self.bias[c] + sum[c] / norm)),
        })
    }
}

/// Which features the message being scored has counted already: a mark per feature, equal
/// to the message's stamp once counted (no clearing between messages).
#[derive(Debug, Default)]
struct Seen {
    marks: Vec<u32>,
    stamp: u32,
}

impl Seen {
    /// A fresh stamp for the next message, with a mark for each of `features`.
    fn next(&mut self, features: usize) -> u32 {
        if self.marks.len() < features {
            self.marks.resize(features, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // After 2^32 messages the stamps come round again: start the marks afresh.
            self.marks.fill(0);
            self.stamp = 1;
        }
        self.stamp
    }
}

/// In how many of the examples each key occurs (keys as `u64`: word ids or pair keys).
fn document_frequencies<I: Iterator<Item = u64>, W: Iterator<Item = I>>(
    examples: W,
) -> FxMap<u64, u32> {
    let mut df: FxMap<u64, u32> = FxMap::default();
    let mut seen: Vec<u64> = Vec::new();
    for keys in examples {
        seen.clear();
        seen.extend(keys);
        seen.sort_unstable();
        seen.dedup();
        for &k in &seen {
            *df.entry(k).or_default() += 1;
        }
    }
    df
}

fn softmax(logits: [f64; 3]) -> [f64; 3] {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = logits.map(|z| (z - max).exp());
    let total: f64 = e.iter().sum();
    e.map(|x| x / total)
}

/// Multinomial logistic regression: minimises Σ log-loss + ‖W‖² / (2C) (the bias unpenalised)
/// by full-batch Adam. Returns the weights per feature and the bias.
fn fit(
    rows: &[Vec<u32>],
    values: &[Vec<f64>],
    targets: &[usize],
    features: usize,
) -> (Vec<[f64; 3]>, [f64; 3]) {
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut w = vec![[0f64; 3]; features];
    let mut m = vec![[0f64; 3]; features];
    let mut v = vec![[0f64; 3]; features];
    let mut grad = vec![[0f64; 3]; features];
    let (mut b, mut mb, mut vb) = ([0f64; 3], [0f64; 3], [0f64; 3]);
    for t in 1..=ITERATIONS {
        for (g, wf) in grad.iter_mut().zip(&w) {
            *g = wf.map(|x| x / C);
        }
        let mut gb = [0f64; 3];
        for ((row, vals), &y) in rows.iter().zip(values).zip(targets) {
            let mut z = b;
            for (&f, &x) in row.iter().zip(vals) {
                for c in 0..3 {
                    z[c] += w[f as usize][c] * x;
                }
            }
            let mut p = softmax(z);
            p[y] -= 1.0;
            for (&f, &x) in row.iter().zip(vals) {
                for c in 0..3 {
                    grad[f as usize][c] += p[c] * x;
                }
            }
            for c in 0..3 {
                gb[c] += p[c];
            }
        }
        let (c1, c2) = (1.0 - beta1.powi(t as i32), 1.0 - beta2.powi(t as i32));
        let step = |x: &mut f64, g: f64, m: &mut f64, v: &mut f64| {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *x -= LEARNING_RATE * (*m / c1) / ((*v / c2).sqrt() + eps);
        };
        for f in 0..features {
            for c in 0..3 {
                step(&mut w[f][c], grad[f][c], &mut m[f][c], &mut v[f][c]);
            }
        }
        for c in 0..3 {
            step(&mut b[c], gb[c], &mut mb[c], &mut vb[c]);
        }
    }
    (w, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vader() -> Vader {
        Vader::embedded()
    }

    /// What the analyzer does: tokens split with a word map that carries the model's ids.
    fn predict(model: &ServiceModel, vader: &Vader, text: &str) -> Option<Prediction> {
        let words = vader.words_with_domain(std::iter::empty(), model.words());
        let text = vader.demojize(text);
        let mut tokens = Vec::new();
        vader.tokenize_into(&text, &words, &mut tokens);
        model.predict(&tokens, &words)
    }

    fn examples(rows: &[(Label, &str)]) -> Vec<Example> {
        rows.iter()
            .map(|&(label, text)| Example {
                label,
                text: text.to_owned(),
            })
            .collect()
    }

    #[test]
    fn words_are_the_rules_normalised_tokens() {
        let vader = vader();
        let mut tokens = Vec::new();
        vader.tokenize_into(
            "I DON'T get it, the shops' box… ok. (hi) ...",
            vader.words(),
            &mut tokens,
        );
        let words: Vec<String> = tokens.iter().map(|t| word_of(t).into_owned()).collect();
        assert_eq!(
            words,
            [
                "i", "don't", "get", "it", "the", "shops", "box", "ok", "hi", ""
            ]
        );
    }

    #[test]
    fn the_builtin_examples_parse() {
        for (origin, text) in BUILTIN {
            let parsed = parse_examples(text, origin);
            assert!(
                parsed.as_ref().is_ok_and(|e| e.len() > 150),
                "{origin}: {parsed:?}"
            );
        }
    }

    #[test]
    fn bad_example_lines_are_reported_with_their_numbers() {
        let text =
            "# comment\nnegative\tlate again\nangry\tstill nothing\nno tab here\npositive\t \n";
        match parse_examples(text, "mine.tsv") {
            Err(SentimentError::InvalidExamples { origin, problems }) => {
                assert_eq!(origin, "mine.tsv");
                assert_eq!(problems.len(), 3, "{problems:?}");
                assert!(problems[0].starts_with("line 3:"), "{problems:?}");
                assert!(problems[1].starts_with("line 4:"), "{problems:?}");
                assert!(problems[2].starts_with("line 5:"), "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn it_learns_what_the_examples_say_and_is_deterministic() {
        let vader = vader();
        let examples = examples(&[
            (Label::Negative, "the parcel never came"),
            (Label::Negative, "still no parcel and no reply"),
            (Label::Negative, "you sent the wrong size again"),
            (Label::Neutral, "how do I change my address"),
            (Label::Neutral, "can I change the size of my order"),
            (Label::Neutral, "what is the address of the shop"),
            (Label::Positive, "thank you, the parcel came early"),
            (Label::Positive, "lovely service, thanks so much"),
            (Label::Positive, "thanks, all sorted now"),
        ]);
        let twice: Vec<Example> = examples.iter().chain(&examples).cloned().collect();
        let (Some(model), Some(again)) = (
            ServiceModel::train(&twice, &vader),
            ServiceModel::train(&twice, &vader),
        ) else {
            panic!("no model");
        };
        let p = predict(&model, &vader, "The parcel never came, no reply!");
        assert_eq!(
            p,
            predict(&again, &vader, "The parcel never came, no reply!")
        );
        assert_eq!(p.map(|p| p.top().0), Some(Label::Negative));
        assert_eq!(
            predict(&model, &vader, "Thanks, it came early").map(|p| p.top().0),
            Some(Label::Positive)
        );
        assert_eq!(
            predict(&model, &vader, "how do I change it?").map(|p| p.top().0),
            Some(Label::Neutral)
        );
        // Nothing it knows: no opinion.
        assert_eq!(predict(&model, &vader, "zebra quantum"), None);
    }

    #[test]
    fn tokens_give_the_features_training_saw() {
        // Non-ASCII words and punctuation take the tokenizer's other paths; each must reach
        // the same word as in training, or the model would score what it never learned.
        let vader = vader();
        let examples = examples(&[
            (Label::Negative, "Ça ne marche pas, “still” broken… ok."),
            (Label::Neutral, "Où est mon colis? (hi) it's"),
            (Label::Positive, "Merci beaucoup, c'était top 👍"),
        ]);
        // Each twice: a word must be in two examples to become a feature.
        let twice: Vec<Example> = examples.iter().chain(&examples).cloned().collect();
        let Some(model) = ServiceModel::train(&twice, &vader) else {
            panic!("no model");
        };
        for e in &examples {
            let p = predict(&model, &vader, &e.text).map(|p| p.top().0);
            assert_eq!(p, Some(e.label), "{}", e.text);
        }
    }

    #[test]
    fn one_label_is_nothing_to_learn() {
        let examples = examples(&[(Label::Negative, "late")]);
        assert!(ServiceModel::train(&examples, &vader()).is_none());
    }

    #[test]
    fn the_compound_stays_in_the_top_labels_band() {
        let of = |p: [f64; 3]| Prediction {
            logits: p.map(f64::ln),
        };
        let close = of([0.30, 0.32, 0.38]);
        assert_eq!(close.top().0, Label::Positive);
        assert!((close.top().1 - 0.38).abs() < 1e-12);
        assert!(
            (close.compound() - 0.08).abs() < 1e-12,
            "{}",
            close.compound()
        );
        let neutral = of([0.1, 0.6, 0.3]);
        assert_eq!(Label::from_compound(neutral.compound()), Label::Neutral);
        let weak_negative = of([0.40, 0.39, 0.21]);
        assert_eq!(
            Label::from_compound(weak_negative.compound()),
            Label::Negative
        );
    }
}
