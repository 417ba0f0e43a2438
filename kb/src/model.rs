//! The re-ranking model: TF-IDF over hashed word and character n-grams, and a multiclass linear
//! classifier (averaged passive-aggressive, i.e. an online linear SVM) with one class per article.
//!
//! Why this model: on short customer questions a linear model over n-grams is a strong, well
//! understood baseline; training is a few passes of sparse updates and scoring is one
//! sparse-times-dense product, a few microseconds. No crate: what we need is ~200 lines, and
//! the crates that offer linear SVMs or logistic regression bring dense linear algebra we do
//! not use. Each article's nearest training example (cosine over informative word features)
//! is added to its score, which helps queries that nearly repeat a known question.

use std::collections::HashMap;
use std::sync::Arc;

use crate::text::{Features, Featurizer, Key, Rng};

/// A sparse, L2-normalised feature vector: (feature index, weight), sorted by index.
pub(crate) type SparseVec = Vec<(u32, f32)>;

/// Upper bound on `features × articles` weights (4 bytes each) so memory stays bounded for
/// knowledge bases with many articles: 8M weights = 32 MB per model (twice that while training).
const MAX_WEIGHTS: usize = 8_000_000;

/// Maps feature keys to columns and holds their inverse document frequencies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vocab {
    index: HashMap<Key, u32>,
    idf: Vec<f32>,
}

impl Vocab {
    /// Builds the vocabulary from training texts' features, keeping at most `max_features`
    /// columns, the most frequent first.
    pub(crate) fn build(docs: &[&Features], max_features: usize) -> Self {
        let mut df: HashMap<Key, u32> = HashMap::new();
        let mut seen: Vec<Key> = Vec::new();
        for doc in docs {
            seen.clear();
            seen.extend(doc.words.iter().chain(doc.chars.iter()));
            seen.sort_unstable();
            seen.dedup();
            for key in &seen {
                *df.entry(*key).or_insert(0) += 1;
            }
        }
        // Most frequent first: columns are rows of the model's weights, and the frequent ones
        // (short character grams, common words) are in almost every text, so numbering them
        // first keeps the rows a text touches close together in memory (training and scoring
        // are bound by loading those rows).
        let mut keys: Vec<(Key, u32)> = df.into_iter().collect();
        keys.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        keys.truncate(max_features);
        let n = docs.len() as f32;
        let mut index = HashMap::with_capacity(keys.len());
        let mut idf = Vec::with_capacity(keys.len());
        for (i, (key, df)) in keys.into_iter().enumerate() {
            index.insert(key, i as u32);
            idf.push(((1.0 + n) / (1.0 + df as f32)).ln() + 1.0);
        }
        Vocab { index, idf }
    }

    pub(crate) fn len(&self) -> usize {
        self.idf.len()
    }

    pub(crate) fn contains(&self, key: Key) -> bool {
        self.index.contains_key(&key)
    }

    /// Sublinear TF-IDF, each block (words, characters) L2-normalised and weighted equally.
    pub(crate) fn vectorize(&self, features: &Features) -> SparseVec {
        let mut out = Vec::with_capacity(features.words.len() + features.chars.len());
        self.block(&features.words, &mut out);
        self.block(&features.chars, &mut out);
        out.sort_unstable_by_key(|(i, _)| *i);
        let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut out {
                *v /= norm;
            }
        }
        out
    }

    /// The word block alone, L2-normalised.
    pub(crate) fn words_only(&self, features: &Features) -> SparseVec {
        let mut out = Vec::with_capacity(features.words.len());
        self.block(&features.words, &mut out);
        out
    }

    fn block(&self, keys: &[Key], out: &mut SparseVec) {
        let start = out.len();
        let mut cols: Vec<u32> = keys
            .iter()
            .filter_map(|k| self.index.get(k).copied())
            .collect();
        cols.sort_unstable();
        let mut i = 0;
        while i < cols.len() {
            let col = cols[i];
            let mut j = i;
            while j < cols.len() && cols[j] == col {
                j += 1;
            }
            let tf = 1.0 + ((j - i) as f32).ln();
            out.push((col, tf * self.idf[col as usize]));
            i = j;
        }
        let norm = out[start..].iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut out[start..] {
                *v /= norm;
            }
        }
    }
}

/// One training example: the text's vector, its article (class) and how much it counts.
pub(crate) struct Example<'a> {
    pub x: &'a SparseVec,
    pub class: u32,
    pub weight: f32,
}

/// Training knobs; the defaults were chosen by cross-validation on banking77 and are not tied to
/// any one knowledge base.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrainOptions {
    pub epochs: usize,
    /// Passive-aggressive aggressiveness cap (PA-I "C").
    pub c: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 8,
            c: 0.5,
            seed: 7,
        }
    }
}

/// Training skips examples whose margin last time exceeded this (see `Linear::train`).
const SHRINK_MARGIN: f32 = 1.2;

/// Weight of the best neighbour's cosine similarity added to the linear score.
const NEIGHBOUR_WEIGHT: f32 = 0.5;

/// Per-class linear scores, weights stored feature-major so scoring one sparse query touches a
/// few hundred contiguous rows of `classes` floats.
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    classes: usize,
    features: usize,
    /// `(features + 1) × classes`; the last row is the bias.
    w: Vec<f32>,
}

impl Linear {
    pub(crate) fn max_features(classes: usize) -> usize {
        MAX_WEIGHTS / classes.max(1)
    }

    pub(crate) fn train(
        examples: &[Example<'_>],
        classes: usize,
        features: usize,
        opts: TrainOptions,
    ) -> Self {
        let k = classes;
        let rows = features + 1;
        let mut w = vec![0.0_f32; rows * k];
        // Averaging (Daumé's trick): `u` accumulates t-weighted updates, final = w - u / t.
        let mut u = vec![0.0_f32; rows * k];
        let mut scores = vec![0.0_f32; k];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = Rng::new(opts.seed);
        let mut t = 1.0_f32;
        if k >= 2 {
            // Shrinking: an example far beyond the margin is very unlikely to need an update in
            // the next pass, so middle passes skip it (as a step without an update, which is
            // what it would most likely have been); the first and last passes see everything.
            let mut margin = vec![0.0_f32; examples.len()];
            for epoch in 0..opts.epochs {
                let check_all = epoch == 0 || epoch + 1 == opts.epochs;
                rng.shuffle(&mut order);
                for &i in &order {
                    if !check_all && margin[i] > SHRINK_MARGIN {
                        t += 1.0;
                        continue;
                    }
                    let ex = &examples[i];
                    score_into(&w, k, features, ex.x, &mut scores);
                    let y = ex.class as usize;
                    let (r, sr) = scores.iter().enumerate().filter(|(c, _)| *c != y).fold(
                        (0, f32::NEG_INFINITY),
                        |best, (c, s)| {
                            if *s > best.1 { (c, *s) } else { best }
                        },
                    );
                    margin[i] = scores[y] - sr;
                    let loss = 1.0 - margin[i];
                    if loss > 0.0 {
                        // ||x||² = 1 (normalised) plus the bias feature's 1.
                        let tau = (loss / 4.0).min(opts.c * ex.weight);
                        let ut = tau * t;
                        for &(f, v) in ex.x.iter().chain(std::iter::once(&(features as u32, 1.0))) {
                            let base = f as usize * k;
                            w[base + y] += tau * v;
                            w[base + r] -= tau * v;
                            u[base + y] += ut * v;
                            u[base + r] -= ut * v;
                        }
                    }
                    t += 1.0;
                }
            }
            for (wi, ui) in w.iter_mut().zip(&u) {
                *wi -= ui / t;
            }
        }
        Linear {
            classes,
            features,
            w,
        }
    }

    /// Raw decision values, one per class.
    pub(crate) fn scores(&self, x: &SparseVec) -> Vec<f32> {
        let mut out = vec![0.0; self.classes];
        score_into(&self.w, self.classes, self.features, x, &mut out);
        out
    }
}

fn score_into(w: &[f32], k: usize, features: usize, x: &SparseVec, out: &mut [f32]) {
    let bias = features * k;
    out.copy_from_slice(&w[bias..bias + k]);
    for &(f, v) in x {
        let row = &w[f as usize * k..f as usize * k + k];
        for (o, wi) in out.iter_mut().zip(row) {
            *o += v * wi;
        }
    }
}

/// Vocabulary plus classifier: everything needed to score a query against the articles.
#[derive(Clone)]
pub(crate) struct Model {
    pub featurizer: Featurizer,
    pub vocab: Arc<Vocab>,
    pub linear: Linear,
    neighbours: Neighbours,
}

/// The training texts indexed by their word features (stems and word bigrams), to find each
/// article's most similar example for a query: near-paraphrases of a known question are the
/// surest answers, and a linear model alone averages them away.
#[derive(Clone, Debug, Default)]
struct Neighbours {
    postings: HashMap<u32, Vec<(u32, f32)>>,
    class_of: Vec<u32>,
    classes: usize,
}

impl Neighbours {
    /// From each text's word vector ([`Vocab::words_only`]) and class.
    fn build(texts: &[(&SparseVec, u32)], classes: usize) -> Self {
        let mut postings: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
        let mut class_of = Vec::with_capacity(texts.len());
        for (i, (words, class)) in texts.iter().enumerate() {
            for &(col, v) in words.iter() {
                postings.entry(col).or_default().push((i as u32, v));
            }
            class_of.push(*class);
        }
        // Words in more than one text in twenty ("my", "card" in a card FAQ) cost the most to
        // scan and tell the least apart; similarity is measured on the rest.
        let common = (texts.len() / 20).max(50);
        postings.retain(|_, list| list.len() <= common);
        Neighbours {
            postings,
            class_of,
            classes,
        }
    }

    /// Per class, the highest cosine similarity between the query's word features and one of
    /// the class's texts.
    fn best_per_class(&self, query: &SparseVec) -> Vec<f32> {
        // Dense accumulator: one float per training text is cheaper than hashing each hit.
        let mut sims = vec![0.0_f32; self.class_of.len()];
        for (col, v) in query {
            if let Some(list) = self.postings.get(col) {
                for (ex, w) in list {
                    sims[*ex as usize] += v * w;
                }
            }
        }
        let mut best = vec![0.0_f32; self.classes];
        for (sim, class) in sims.iter().zip(&self.class_of) {
            let b = &mut best[*class as usize];
            if *sim > *b {
                *b = *sim;
            }
        }
        best
    }
}

/// A knowledge base's training texts vectorised once per rebuild: the final model and every
/// calibration fold train on subsets of these, so the vocabulary (feature selection and IDF)
/// is built and each text vectorised once instead of once per model. The folds' IDF then also
/// counts their held-out questions' words (no labels): a transductive TF-IDF, as is common.
pub(crate) struct Prepared {
    vocab: Arc<Vocab>,
    /// Per text: the full vector and the word block alone (for nearest examples).
    x: Vec<SparseVec>,
    words: Vec<SparseVec>,
}

impl Prepared {
    /// `classes`: the most classes any model trained from this will have (bounds the features).
    pub(crate) fn new(texts: &[&Features], classes: usize) -> Self {
        let vocab = Vocab::build(texts, Linear::max_features(classes));
        let x = texts.iter().map(|f| vocab.vectorize(f)).collect();
        let words = texts.iter().map(|f| vocab.words_only(f)).collect();
        Prepared {
            vocab: Arc::new(vocab),
            x,
            words,
        }
    }
}

impl Model {
    /// Trains on some of the prepared texts: (text index, class, weight).
    pub(crate) fn train_prepared(
        featurizer: &Featurizer,
        prepared: &Prepared,
        picked: &[(usize, u32, f32)],
        classes: usize,
        opts: TrainOptions,
    ) -> Self {
        let examples: Vec<Example<'_>> = picked
            .iter()
            .map(|&(i, class, weight)| Example {
                x: &prepared.x[i],
                class,
                weight,
            })
            .collect();
        let linear = Linear::train(&examples, classes, prepared.vocab.len(), opts);
        let words: Vec<(&SparseVec, u32)> = picked
            .iter()
            .map(|&(i, class, _)| (&prepared.words[i], class))
            .collect();
        let neighbours = Neighbours::build(&words, classes);
        Model {
            featurizer: featurizer.clone(),
            vocab: Arc::clone(&prepared.vocab),
            linear,
            neighbours,
        }
    }

    pub(crate) fn scores(&self, features: &Features) -> Vec<f32> {
        let mut scores = self.linear.scores(&self.vocab.vectorize(features));
        let near = self
            .neighbours
            .best_per_class(&self.vocab.words_only(features));
        for (s, n) in scores.iter_mut().zip(near) {
            *s += NEIGHBOUR_WEIGHT * n;
        }
        scores
    }

    /// Whether the model saw this stemmed word in training (if not, it may be a typo).
    pub(crate) fn knows_stem(&self, stem: &str) -> bool {
        self.vocab.contains(crate::text::stem_key(stem))
    }
}
