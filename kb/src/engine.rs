//! [`KnowledgeBase`]: the index, the trained model and its calibration, kept consistent, and the
//! answer decision.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use tantivy::{IndexWriter, Searcher};

use crate::calibrate::{ANSWER_AT, CLARIFY_AT, Calibration, HeldOut, Signal};
use crate::index::{KbIndex, article_key};
use crate::model::{Model, Prepared, TrainOptions};
use crate::text::{Features, Featurizer, Rng};
use crate::{Article, KbError, Language};

/// How many BM25 hits to fetch as candidates.
const CANDIDATES: usize = 20;
/// Weight of the (max-normalised) BM25 score added to the classifier score. The classifier has
/// seen the example questions; BM25 also sees the answer text and catches typos via trigrams.
const BM25_WEIGHT: f32 = 0.3;
/// An answer needs the runner-up's own probability below this share of the top one's.
const AMBIGUOUS_RATIO: f32 = 0.8;
/// Queries are cut here (in characters) to bound latency; longer messages say little more.
const MAX_QUERY_CHARS: usize = 1000;
/// Calibration folds held out at every rebuild.
const FOLDS: usize = 3;
/// In each calibration fold one of this many article groups is dropped entirely, so a fifth of
/// the held-out questions are ones the knowledge base cannot answer.
const DROP_GROUPS: usize = 5;
/// The most held-out questions a calibration fold ranks.
const MAX_QUERIES_PER_FOLD: usize = 700;
/// Below this many example questions the knowledge base calibrates on its titles instead.
const MIN_QUESTIONS_TO_CALIBRATE: usize = 30;
/// Generic messages a single-article knowledge base is trained against, so it has something
/// to tell its one article apart from (English; in other languages they still stand for
/// "anything else").
const BACKGROUND: &[&str] = &[
    "hello",
    "hi there",
    "thank you",
    "what is the weather today",
    "tell me a joke",
    "who are you",
    "good morning",
    "I need help",
];

/// What the bot should do with a customer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Confident: reply with the article.
    Answer,
    /// The right article is probably one of a few: ask "Did you mean A, B or C?".
    Clarify,
    /// Nothing confident: offer a person (and the closest articles, if any).
    Handoff,
}

/// One article offered to the customer, with a 0..1 score (its chance of being the right one).
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub article_id: String,
    pub title: String,
    pub score: f32,
}

/// The answer decision: what to do, which article, and how sure.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// Set only for [`Outcome::Answer`].
    pub article_id: Option<String>,
    pub title: Option<String>,
    /// Calibrated probability (0..1) that the best article is the right one.
    pub confidence: f32,
    /// Answer: runners-up; Clarify: the 2–3 choices to offer; Handoff: the closest articles.
    pub suggestions: Vec<Suggestion>,
}

impl Decision {
    fn handoff() -> Self {
        Decision {
            outcome: Outcome::Handoff,
            article_id: None,
            title: None,
            confidence: 0.0,
            suggestions: Vec::new(),
        }
    }
}

/// The trained half of a generation: model and calibration.
#[derive(Clone)]
pub(crate) struct Brain {
    model: Model,
    calibration: Calibration,
}

/// One consistent generation: the articles, the index searcher and the brain built from them.
struct State {
    searcher: Searcher,
    articles: Vec<Article>,
    by_id: HashMap<String, usize>,
    by_key: HashMap<u64, usize>,
    brain: Option<Brain>,
}

/// The knowledge base. `Send + Sync`: the server shares one in an `Arc` and calls [`ask`] from
/// many threads; changes are serialised by the single index writer.
///
/// [`ask`]: KnowledgeBase::ask
pub struct KnowledgeBase {
    lang: Language,
    featurizer: Featurizer,
    index: KbIndex,
    /// A std Mutex: writes are rare, blocking and never held across an await (there is none here).
    writer: Mutex<IndexWriter>,
    /// Readers clone the Arc and drop the lock at once; a rebuild swaps the whole generation.
    state: RwLock<Arc<State>>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("language", &self.lang)
            .field("articles", &self.len())
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// An empty knowledge base whose index lives in memory (tests, `hark kb ask --kb FILE`).
    pub fn in_memory(lang: Language) -> Result<Self, KbError> {
        Self::start(KbIndex::in_ram(lang)?, lang, false)
    }

    /// Opens the index in `dir` (created if missing) and retrains from the articles stored there.
    /// If the index was written for another language, it is rewritten with this one's stemmer.
    pub fn open(dir: &Path, lang: Language) -> Result<Self, KbError> {
        let (index, stale) = KbIndex::open(dir, lang)?;
        let kb = Self::start(index, lang, stale)?;
        if stale {
            KbIndex::mark_language(dir, lang)?;
        }
        Ok(kb)
    }

    fn start(index: KbIndex, lang: Language, rewrite: bool) -> Result<Self, KbError> {
        let mut writer = index.writer()?;
        let featurizer = Featurizer::new(lang);
        let mut searcher = index.refreshed_searcher()?;
        let articles = index.stored_articles(&searcher)?;
        if rewrite && !articles.is_empty() {
            writer.delete_all_documents()?;
            for article in &articles {
                index.add(&writer, article)?;
            }
            writer.commit()?;
            searcher = index.refreshed_searcher()?;
        }
        let brain = build_brain(lang, &featurizer, &articles)?;
        let state = State::new(searcher, articles, brain);
        Ok(KnowledgeBase {
            lang,
            featurizer,
            index,
            writer: Mutex::new(writer),
            state: RwLock::new(Arc::new(state)),
        })
    }

    pub fn language(&self) -> Language {
        self.lang
    }

    fn current(&self) -> Arc<State> {
        match self.state.read() {
            Ok(state) => Arc::clone(&state),
            // A panic elsewhere cannot leave a half-written Arc; the generation is still whole.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces every article, the model and the calibration in one commit; readers see the old
    /// generation or the new one, never a mix.
    pub fn rebuild(&self, articles: Vec<Article>) -> Result<(), KbError> {
        let articles = validate_all(articles)?;
        let mut writer = self.writer.lock().map_err(|_| KbError::Poisoned)?;
        let brain = build_brain(self.lang, &self.featurizer, &articles)?;
        writer.delete_all_documents()?;
        for article in &articles {
            self.index.add(&writer, article)?;
        }
        self.commit(&mut writer, articles, brain)
    }

    /// Adds or replaces one article. For many articles use [`upsert_many`], which commits once.
    ///
    /// [`upsert_many`]: KnowledgeBase::upsert_many
    pub fn upsert(&self, article: Article) -> Result<(), KbError> {
        self.upsert_many(vec![article])
    }

    /// Adds or replaces articles with one commit and one retraining.
    pub fn upsert_many(&self, changed: Vec<Article>) -> Result<(), KbError> {
        let changed = validate_all(changed)?;
        if changed.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().map_err(|_| KbError::Poisoned)?;
        let state = self.current();
        let mut articles = state.articles.clone();
        for article in &changed {
            match state.by_id.get(&article.id) {
                Some(&i) => articles[i] = article.clone(),
                None => articles.push(article.clone()),
            }
        }
        let brain = build_brain(self.lang, &self.featurizer, &articles)?;
        for article in &changed {
            self.index.delete(&writer, &article.id);
            self.index.add(&writer, article)?;
        }
        self.commit(&mut writer, articles, brain)
    }

    /// Removes an article; removing an unknown id does nothing.
    pub fn remove(&self, id: &str) -> Result<(), KbError> {
        let mut writer = self.writer.lock().map_err(|_| KbError::Poisoned)?;
        let state = self.current();
        if !state.by_id.contains_key(id) {
            return Ok(());
        }
        let articles: Vec<Article> = state
            .articles
            .iter()
            .filter(|a| a.id != id)
            .cloned()
            .collect();
        let brain = build_brain(self.lang, &self.featurizer, &articles)?;
        self.index.delete(&writer, id);
        self.commit(&mut writer, articles, brain)
    }

    fn commit(
        &self,
        writer: &mut IndexWriter,
        articles: Vec<Article>,
        brain: Option<Brain>,
    ) -> Result<(), KbError> {
        if let Err(e) = writer.commit() {
            // Drop the half-applied batch so the next commit does not publish it.
            let _ = writer.rollback();
            return Err(e.into());
        }
        let searcher = self.index.refreshed_searcher()?;
        let state = Arc::new(State::new(searcher, articles, brain));
        match self.state.write() {
            Ok(mut slot) => *slot = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
        Ok(())
    }

    pub fn article(&self, id: &str) -> Option<Article> {
        let state = self.current();
        state.by_id.get(id).map(|&i| state.articles[i].clone())
    }

    pub fn len(&self) -> usize {
        self.current().articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The decision the live bot and `hark kb ask` both use.
    pub fn ask(&self, query: &str) -> Decision {
        self.ask_ranked(query).0
    }

    /// The decision plus the best-ranked article whatever the outcome (for evaluation).
    pub(crate) fn ask_ranked(&self, query: &str) -> (Decision, Option<String>) {
        let state = self.current();
        let Some(brain) = &state.brain else {
            return (Decision::handoff(), None);
        };
        let query = clip(query);
        if !query.chars().any(char::is_alphanumeric) {
            return (Decision::handoff(), None);
        }
        let ranked = rank(brain, &self.index, &state.searcher, &state.by_key, query);
        let Some(&(best, _, _)) = ranked.first() else {
            return (Decision::handoff(), None);
        };
        let n = state.articles.len();
        let top_id = (best < n).then(|| state.articles[best].id.clone());
        (decide(brain, &state.articles, &ranked), top_id)
    }

    /// Plain ranked search: articles that share words (or trigrams) with the query, best first,
    /// each with its 0..1 score.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Suggestion> {
        let state = self.current();
        let Some(brain) = &state.brain else {
            return Vec::new();
        };
        let query = clip(query);
        if limit == 0 || !query.chars().any(char::is_alphanumeric) {
            return Vec::new();
        }
        let ranked = rank(brain, &self.index, &state.searcher, &state.by_key, query);
        let n = state.articles.len();
        ranked
            .iter()
            .filter(|r| r.0 < n && r.2)
            .take(limit)
            .map(|&(c, _, _)| suggestion(brain, &state.articles, &ranked, c))
            .collect()
    }
}

impl State {
    fn new(searcher: Searcher, articles: Vec<Article>, brain: Option<Brain>) -> Self {
        let by_id = articles
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let by_key = articles
            .iter()
            .enumerate()
            .map(|(i, a)| (article_key(&a.id), i))
            .collect();
        State {
            searcher,
            articles,
            by_id,
            by_key,
            brain,
        }
    }
}

fn clip(query: &str) -> &str {
    match query.char_indices().nth(MAX_QUERY_CHARS) {
        Some((i, _)) => &query[..i],
        None => query,
    }
}

fn validate_all(articles: Vec<Article>) -> Result<Vec<Article>, KbError> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = HashMap::new();
    let mut out = Vec::with_capacity(articles.len());
    for article in articles {
        let article = article.validated()?;
        if !seen.insert(article.id.clone()) {
            return Err(KbError::InvalidArticle(format!(
                "duplicate id {:?}",
                article.id
            )));
        }
        // The index finds articles by a 64-bit hash of the id; two ids must not share one.
        if let Some(other) = keys.insert(article_key(&article.id), article.id.clone()) {
            return Err(KbError::InvalidArticle(format!(
                "ids {:?} and {:?} collide",
                other, article.id
            )));
        }
        out.push(article);
    }
    Ok(out)
}

/// (class, score, whether BM25 retrieved it).
type Ranked = (usize, f32, bool);

/// Scores every class: classifier score plus the max-normalised BM25 score of the candidates
/// tantivy retrieved. Sorted best first.
fn rank(
    brain: &Brain,
    index: &KbIndex,
    searcher: &Searcher,
    by_key: &HashMap<u64, usize>,
    query: &str,
) -> Vec<Ranked> {
    let analyzed = brain.model.featurizer.analyze(query);
    let mut scores = brain.model.scores(&analyzed.features);
    let unknown: Vec<&str> = analyzed
        .stems
        .iter()
        .zip(&analyzed.plain)
        .filter(|(stem, _)| !brain.model.knows_stem(stem))
        .map(|(_, word)| word.as_str())
        .collect();
    // A failed search (corrupt segment) degrades to the classifier alone rather than failing.
    let hits = index
        .retrieve(searcher, &analyzed.stems, &unknown, CANDIDATES)
        .unwrap_or_default();
    let max = hits.iter().map(|h| h.1).fold(0.0_f32, f32::max);
    let mut matched = vec![false; scores.len()];
    if max > 0.0 {
        for (key, score) in hits {
            if let Some(&c) = by_key.get(&key) {
                scores[c] += BM25_WEIGHT * score / max;
                matched[c] = true;
            }
        }
    }
    let mut ranked: Vec<Ranked> = scores
        .into_iter()
        .zip(matched)
        .enumerate()
        .map(|(c, (score, matched))| (c, score, matched))
        .collect();
    ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

fn signal(ranked: &[Ranked]) -> Signal {
    let top = ranked.first().map_or(0.0, |r| r.1);
    // With one class there is no runner-up; a margin of 1 is what training aims for.
    let second = ranked.get(1).map_or(top - 1.0, |r| r.1);
    Signal {
        top,
        margin: top - second,
    }
}

fn suggestion(brain: &Brain, articles: &[Article], ranked: &[Ranked], class: usize) -> Suggestion {
    let mine = ranked.iter().find(|r| r.0 == class).map_or(0.0, |r| r.1);
    let best_other = ranked
        .iter()
        .find(|r| r.0 != class)
        .map_or(mine - 1.0, |r| r.1);
    let article = &articles[class];
    Suggestion {
        article_id: article.id.clone(),
        title: article.title.clone(),
        score: brain.calibration.answer.prob(Signal {
            top: mine,
            margin: mine - best_other,
        }),
    }
}

fn decide(brain: &Brain, articles: &[Article], ranked: &[Ranked]) -> Decision {
    let n = articles.len();
    let s = signal(ranked);
    let confidence = brain.calibration.answer.prob(s);
    let Some(&(best, _, _)) = ranked.first() else {
        return Decision::handoff();
    };
    let offer = |skip: usize, take: usize| -> Vec<Suggestion> {
        ranked
            .iter()
            .filter(|r| r.0 < n)
            .skip(skip)
            .take(take)
            .map(|&(c, _, _)| suggestion(brain, articles, ranked, c))
            .collect()
    };
    // Handing over, the bot may still show the closest articles, but only ones that share words
    // with the message: a guess from nothing would look random to the customer.
    let closest = || -> Vec<Suggestion> {
        ranked
            .iter()
            .filter(|r| r.0 < n && r.2)
            .take(3)
            .map(|&(c, _, _)| suggestion(brain, articles, ranked, c))
            .collect()
    };
    if best >= n {
        // The background class won: the message is not about the one article there is.
        return Decision {
            confidence: 0.0,
            suggestions: closest(),
            ..Decision::handoff()
        };
    }
    // The margin counts twice: in the calibrated confidence, and here, where a runner-up that
    // would itself be nearly as likely right makes the question ambiguous, whatever the floor.
    let runner_up = offer(1, 1).first().map_or(0.0, |s| s.score);
    if confidence >= ANSWER_AT && runner_up < AMBIGUOUS_RATIO * confidence {
        return Decision {
            outcome: Outcome::Answer,
            article_id: Some(articles[best].id.clone()),
            title: Some(articles[best].title.clone()),
            confidence,
            suggestions: offer(1, 2),
        };
    }
    let choices = offer(0, 3);
    if choices.len() >= 2 && brain.calibration.top3.prob(s) >= CLARIFY_AT {
        return Decision {
            outcome: Outcome::Clarify,
            confidence,
            suggestions: choices,
            ..Decision::handoff()
        };
    }
    Decision {
        confidence,
        suggestions: closest(),
        ..Decision::handoff()
    }
}

/// Sentences of an answer worth learning from: people ask in the answer's words too.
fn answer_sentences(answer: &str) -> impl Iterator<Item = &str> {
    answer
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 2)
        .take(4)
}

/// Where a training text came from, so calibration folds can leave some out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Question(usize),
    Title,
    Other,
}

/// One text the classifier learns from, analysed once per rebuild and shared by the final
/// model and every calibration fold.
struct TrainText {
    /// Index into the articles; `articles.len()` is the background class.
    article: usize,
    source: Source,
    weight: f32,
    features: Features,
}

/// What the classifier learns from: every example question, and (weighted lower) the title,
/// the tags and the answer's first sentences, so articles without questions still have a voice.
/// A single article also gets generic background messages to be told apart from.
fn training_texts(featurizer: &Featurizer, articles: &[Article]) -> Vec<TrainText> {
    let mut out = Vec::new();
    let mut push = |article: usize, source: Source, weight: f32, text: &str| {
        out.push(TrainText {
            article,
            source,
            weight,
            features: featurizer.features(text),
        });
    };
    for (a, article) in articles.iter().enumerate() {
        for (q, question) in article.questions.iter().enumerate() {
            push(a, Source::Question(q), 1.0, question);
        }
        let pseudo = if article.questions.is_empty() {
            1.0
        } else {
            0.5
        };
        push(a, Source::Title, pseudo, &article.title);
        if !article.tags.is_empty() {
            push(a, Source::Other, pseudo * 0.5, &article.tags.join(" "));
        }
        for sentence in answer_sentences(&article.answer) {
            push(a, Source::Other, pseudo * 0.5, sentence);
        }
    }
    if articles.len() == 1 {
        for text in BACKGROUND {
            push(1, Source::Other, 1.0, text);
        }
    }
    out
}

/// Trains on the texts `class_of` maps to a class (the others are left out).
fn train(
    featurizer: &Featurizer,
    prepared: &Prepared,
    texts: &[TrainText],
    classes: usize,
    class_of: impl Fn(&TrainText) -> Option<u32>,
) -> Model {
    let picked: Vec<(usize, u32, f32)> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, t)| class_of(t).map(|c| (i, c, t.weight)))
        .collect();
    Model::train_prepared(
        featurizer,
        prepared,
        &picked,
        classes,
        TrainOptions::default(),
    )
}

/// Trains the final model and calibrates it on held-out folds of the knowledge base itself.
pub(crate) fn build_brain(
    lang: Language,
    featurizer: &Featurizer,
    articles: &[Article],
) -> Result<Option<Brain>, KbError> {
    if articles.is_empty() {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let texts = training_texts(featurizer, articles);
    let classes = articles.len() + usize::from(articles.len() == 1);
    let docs: Vec<&Features> = texts.iter().map(|t| &t.features).collect();
    let prepared = Prepared::new(&docs, classes);
    let (model, held_out) = std::thread::scope(|scope| {
        let held_out = scope.spawn(|| held_out(lang, featurizer, articles, &texts, &prepared));
        let model = train(featurizer, &prepared, &texts, classes, |t| {
            Some(t.article as u32)
        });
        (
            model,
            held_out.join().unwrap_or(Err(KbError::WorkerPanicked)),
        )
    });
    let held_out = held_out?;
    let calibration = Calibration::fit(&held_out);
    let right = held_out.iter().filter(|h| h.top1).count();
    tracing::debug!(
        articles = articles.len(),
        texts = texts.len(),
        features = model.vocab.len(),
        held_out = held_out.len(),
        held_out_right = right,
        calibrated = calibration.fitted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "knowledge base model trained"
    );
    Ok(Some(Brain { model, calibration }))
}

/// Ranks questions the model has not seen, fold by fold, each fold also missing a group of
/// articles entirely. With few example questions, the titles play the questions' part.
fn held_out(
    lang: Language,
    featurizer: &Featurizer,
    articles: &[Article],
    texts: &[TrainText],
    prepared: &Prepared,
) -> Result<Vec<HeldOut>, KbError> {
    let k = articles.len();
    if k < 3 {
        return Ok(Vec::new());
    }
    let questions: usize = articles.iter().map(|a| a.questions.len()).sum();
    let use_questions = questions >= MIN_QUESTIONS_TO_CALIBRATE;
    let mut rng = Rng::new(0x6b62_6361_6c69_6272);
    let mut order: Vec<usize> = (0..k).collect();
    rng.shuffle(&mut order);
    let mut group = vec![0; k];
    for (pos, &a) in order.iter().enumerate() {
        group[a] = pos % DROP_GROUPS;
    }
    // fold_of[a][q]: the fold in which question q of article a is held out.
    let fold_of: Vec<Vec<usize>> = articles
        .iter()
        .map(|a| {
            let start = rng.below(FOLDS);
            let mut folds: Vec<usize> = (0..a.questions.len())
                .map(|i| (i + start) % FOLDS)
                .collect();
            rng.shuffle(&mut folds);
            folds
        })
        .collect();

    let run_fold = |fold: usize| -> Result<Vec<HeldOut>, KbError> {
        let mut kept: Vec<Article> = Vec::new();
        let mut class_of: Vec<Option<usize>> = vec![None; k];
        let mut queries: Vec<(&str, usize)> = Vec::new();
        for (a, article) in articles.iter().enumerate() {
            if use_questions {
                for (q, question) in article.questions.iter().enumerate() {
                    if fold_of[a][q] == fold {
                        queries.push((question, a));
                    }
                }
            } else {
                queries.push((&article.title, a));
            }
            if group[a] == fold {
                continue;
            }
            let mut copy = article.clone();
            copy.questions = if use_questions {
                article
                    .questions
                    .iter()
                    .enumerate()
                    .filter(|(q, _)| fold_of[a][*q] != fold)
                    .map(|(_, text)| text.clone())
                    .collect()
            } else {
                article.questions.clone()
            };
            class_of[a] = Some(kept.len());
            kept.push(copy);
        }
        // A few hundred questions per fold pin down a three-parameter curve; more only cost
        // rebuild time.
        let mut fold_rng = Rng::new(0x686f_6c64 + fold as u64);
        fold_rng.shuffle(&mut queries);
        queries.truncate(MAX_QUERIES_PER_FOLD);
        if kept.len() < 2 || queries.is_empty() {
            return Ok(Vec::new());
        }
        let index = KbIndex::in_ram(lang)?;
        {
            let mut writer = index.writer()?;
            for article in &kept {
                index.add(&writer, article)?;
            }
            writer.commit()?;
        }
        let searcher = index.refreshed_searcher()?;
        let by_key: HashMap<u64, usize> = kept
            .iter()
            .enumerate()
            .map(|(i, a)| (article_key(&a.id), i))
            .collect();
        // Same training as the final model: fewer passes shift the score scale, and the
        // calibration would then describe a different model.
        let model = train(featurizer, prepared, texts, kept.len(), |t| {
            let class = class_of.get(t.article).copied().flatten()? as u32;
            match t.source {
                Source::Question(q) if fold_of[t.article][q] == fold => None,
                Source::Title if !use_questions => None,
                _ => Some(class),
            }
        });
        let brain = Brain {
            model,
            calibration: Calibration::fallback(),
        };
        let mut out = Vec::with_capacity(queries.len());
        for (query, a) in queries {
            let ranked = rank(&brain, &index, &searcher, &by_key, query);
            let truth = class_of[a];
            let top1 = truth.is_some() && ranked.first().map(|r| r.0) == truth;
            let top3 = truth.is_some() && ranked.iter().take(3).any(|r| Some(r.0) == truth);
            out.push(HeldOut {
                signal: signal(&ranked),
                top1,
                top3,
            });
        }
        Ok(out)
    };
    // Folds run one after another on the worker thread `build_brain` starts, beside the final
    // training: two threads for the two cores we plan for, and one fold's index and model in
    // memory at a time.
    let results: Vec<Result<Vec<HeldOut>, KbError>> = (0..FOLDS).map(run_fold).collect();
    let mut out = Vec::new();
    for result in results {
        out.extend(result?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn knowledge_base_is_send_and_sync() {
        assert_send_sync::<KnowledgeBase>();
    }

    #[test]
    fn clip_keeps_char_boundaries() {
        let long = "é".repeat(MAX_QUERY_CHARS + 10);
        assert_eq!(clip(&long).chars().count(), MAX_QUERY_CHARS);
    }
}
