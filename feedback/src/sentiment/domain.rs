//! The customer-service layer: phrases, waiting times, repeats and sarcasm that the general
//! VADER lexicon does not score ("my order never arrived", "on hold for 45 minutes",
//! "great, another delay").
//!
//! *Architecture invariant*: the layer only rewrites the valences of tokens that a rule matched.
//! When no rule fires, the per-token valences — and so every score — are exactly VADER's.
//!
//! *Speed*: most messages fire nothing, so `apply` first runs a cheap necessary condition over
//! VADER's tokens (`can_fire`: a question mark, a counted duration with a waiting cue, or a
//! phrase all of whose required elements occur, the second right after the first when the
//! pattern says so) and only then builds its own per-word view. The pre-check may let through
//! a message no rule fires on, never the reverse (`can_fire_never_hides_a_rule`); buffers are
//! reused per thread.
//!
//! The rules are data: `data/sentiment/service_lexicon.tsv` (embedded) plus any file given to
//! [`super::Analyzer::with_domain_lexicon_file`]. The file format is documented at the top of the
//! embedded file; in short, tab-separated lines of
//!
//! | kind | columns | meaning |
//! |---|---|---|
//! | `class` | name, `word\|word\|…` | a word class, used in patterns as `@name` (a later line adds words) |
//! | `phrase` | pattern, valence, example | matched tokens are set to 0 and the last one to `valence` |
//! | `unit` | `word\|word\|…`, minutes | duration words for the waiting-time rule |
//! | `wait` | `word word…` | a cue that makes a nearby duration a waiting time ("on hold", "it's been") |
//! | `sarcasm` | `word\|word\|…` | positive words read as sarcasm before a complaint in the same sentence |
//! | `polite` | `word\|word\|…` | thanks and the like: politeness, not praise, next to a complaint |
//! | `scare` | `word\|word\|…` | words that in lowercase scare quotes name a broken promise (`"express"`) |
//!
//! Pattern elements are separated by spaces: a word, `@class`, `#` (any number, digits or
//! words), `#>=N`, alternatives joined by `|` (`order|package|@item`), an element suffixed with
//! `?` is optional, and `~N` skips up to N tokens. A match never crosses a sentence end. A
//! pattern starting with `^` must open a clause; one ending in `$` must end its sentence, in
//! `$?` a question. The valence `flip` marks an unmet expectation ("used to be great"): positive
//! words in the rest of the clause are negated.
//!
//! Besides the data, these rules live in code, each with tests:
//! - *phrases*: leftmost match wins; at one start the line listed first. A gap never skips a
//!   negation, a booster before a phrase intensifies it, a negation shortly before flips it.
//! - *waiting times*: a count and a unit ("45 minutes", "a couple of days") near a waiting cue
//!   score `-0.8 · ln(minutes / 5)`, at most -2.5; "only 5 minutes", "within 30 days" do not.
//! - *sarcasm*: a listed positive word that opens a sentence with a pause ("Great, …"), or is
//!   followed by "how"/"that", or stands alone as an exclamation next to a complaint, flips;
//!   after "oh", "wow", "yeah" any clearly negative word is complaint enough ("Oh perfect, the
//!   replacement is broken too").
//! - *scare quotes*: one to three lowercase words in quotes: praise in them is negated, and a
//!   `scare` word in them is a complaint ('the "fast" delivery'). Capitalised quotes are labels.
//! - *politeness*: a `polite` word before or after a complaint, with no good outcome in
//!   between, carries nothing ("Thanks for the update. My refund still hasn't arrived.").
//! - *questions*: positive words in a question carry nothing ("Is it dishwasher safe?"); a bare
//!   "Thanks!" next to a question is politeness (`closing-thanks`); a how-to question without a
//!   complaint names its topic rather than complaining (`how-to-question`).

use std::borrow::Cow;
use std::cell::RefCell;

use super::SentimentError;
use super::vader::{DOMAIN_UNKNOWN, FxMap, Marks, N_SCALAR, Token, WordMap};

/// How many tokens before a complaint a sarcastic interjection may stand.
const SARCASM_WINDOW: usize = 20;
/// A phrase at or below this valence is a complaint (for sarcasm and how-to questions).
const COMPLAINT: f64 = -1.0;
/// A phrase at or above this valence is a good outcome (it keeps thanks before it thanks).
const GOOD: f64 = 1.0;
/// Words that, a few tokens before a praise word, make it sarcastic before any negative word.
const STRONG_LEADS: &[&str] = &["oh", "ohh", "wow", "gee", "yeah", "yay"];
/// At most this many tokens in scare quotes, and the valence of a named promise in them.
const SCARE_SPAN: usize = 3;
const SCARE_VALENCE: f64 = -1.5;
/// How many tokens after an unmet-expectation cue (`flip`) its clause may run.
const FLIP_WINDOW: usize = 6;
impl<'d> Fired<'d> {
    fn push(&mut self, rule: &'d RuleId) {
        self.count += 1;
        if self.explain {
            self.rules.push(rule);
        }
    }
}

/// What [`DomainLexicon::can_fire`] reads off one token.
struct TokenKey {
    slot: u32,
    digit: bool,
}

/// Duration in minutes at or under which a wait is not a complaint ("I waited 5 minutes").
const FREE_WAIT_MINUTES: f64 = 5.0;
/// Valence per e-fold of waiting beyond the free wait: 45 min ≈ -1.8, 2 h ≈ -2.5.
const WAIT_SLOPE: f64 = -0.8;
/// The most negative valence a waiting time alone can carry (about "horrible").
const WAIT_FLOOR: f64 = -2.5;
/// How far before / after a duration a waiting cue may stand (tokens, same sentence).
const WAIT_CUE_BEFORE: usize = 6;
const WAIT_CUE_AFTER: usize = 3;

/// Where a rule came from, for error messages and [`super::Analysis::domain_rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleId {
    pub origin: std::sync::Arc<str>,
    pub line: usize,
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.origin)
        } else {
            write!(f, "{}:{}", self.origin, self.line)
        }
    }
}

#[derive(Debug, Clone)]
enum Atom {
    /// A word and its id in the index (assigned by `rebuild_index`; ids compare faster).
    Word(Box<str>, u32),
    Class(usize),
    Number {
        min: Option<f64>,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Element { alts: Vec<Atom>, optional: bool },
    Gap(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    steps: Vec<Step>,
    valence: f64,
    /// `^`: the match must open a clause (sentence start or after `,` `:` `-`).
    opens_clause: bool,
    /// `$` / `$?`: the match must end its sentence (a question for `$?`).
    ends: Option<SentenceEnd>,
    /// Valence `flip`: positive words in the rest of the clause are unmet expectations
    /// ("used to be great", "was hoping for a better answer") and are negated.
    flip: bool,
    pub id: RuleId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SentenceEnd {
    Any,
    Question,
}

#[derive(Debug, Clone)]
struct Unit {
    minutes: f64,
    id: RuleId,
}

/// The parsed rules. Cheap to share; matching allocates only per-message scratch space.
#[derive(Debug, Clone)]
pub(crate) struct DomainLexicon {
    class_names: FxMap<Box<str>, usize>,
    classes: Vec<Vec<Box<str>>>,
    /// Word → everything the rules know about it (derived; one lookup per token).
    slots: FxMap<Box<str>, u32>,
    /// Indexed by slot; the analyzer's word map carries each word's slot.
    entries: Vec<Entry>,
    /// `first_of` lists of all entries, back to back (one small block stays in cache).
    first_pool: Vec<u32>,
    /// Each phrase's valence, apart from its steps, for the candidate loop.
    valences: Vec<f64>,
    pub(crate) phrases: Vec<Phrase>,
    units: FxMap<Box<str>, Unit>,
    wait_cues: Vec<(Vec<Box<str>>, RuleId)>,
    sarcasm: FxMap<Box<str>, RuleId>,
    /// Thanks and the like: politeness, not praise, when a complaint follows.
    polite: FxMap<Box<str>, RuleId>,
    /// Words that in scare quotes mean their opposite ("the \"express\" delivery").
    scare: FxMap<Box<str>, RuleId>,
    /// Phrases whose first element can be a number.
    by_number: Vec<usize>,
    /// Per phrase, one bit per required element (see [`Entry::feat`]): the phrase can only
    /// match a message whose tokens set every bit of its mask.
    required: Vec<Feat>,
    /// The bits of the required elements a number can match (`#`, `#>=N`).
    number_feat: Feat,
    /// Indexed by slot, plus an empty entry at the end: what the pre-check needs of a word.
    quick: Vec<Quick>,
    /// Per phrase, the bit of its second required element (as word index and mask in a
    /// [`Feat`]) and how many tokens after the first it must come within: 1 when it follows at
    /// once, `N + 1` after a gap `~N`; `None` when an optional element comes first.
    second: Vec<Option<(usize, u64, usize)>>,
    /// Per waiting cue, the bits of its words (all must be in the message).
    cue_masks: Vec<Feat>,
    rule_question: RuleId,
    rule_closer: RuleId,
    rule_how_to: RuleId,
    rule_scare: RuleId,
}

impl Default for DomainLexicon {
    fn default() -> Self {
        let rule = |name: &str| RuleId {
            origin: name.into(),
            line: 0,
        };
        DomainLexicon {
            class_names: FxMap::default(),
            classes: Vec::new(),
            slots: FxMap::default(),
            entries: Vec::new(),
            first_pool: Vec::new(),
            valences: Vec::new(),
            phrases: Vec::new(),
            units: FxMap::default(),
            wait_cues: Vec::new(),
            sarcasm: FxMap::default(),
            polite: FxMap::default(),
            scare: FxMap::default(),
            by_number: Vec::new(),
            required: Vec::new(),
            number_feat: Feat::default(),
            quick: vec![Quick::default()],
            second: Vec::new(),
            cue_masks: Vec::new(),
            rule_question: rule("question-positive"),
            rule_closer: rule("closing-thanks"),
            rule_how_to: rule("how-to-question"),
            rule_scare: rule("scare-quotes"),
        }
    }
}

/// What the rules know about one word, compact for the per-token loop.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u32,
    first_start: u32,
    first_len: u32,
    /// Bit `c` set: the word is in class `c` (at most 128 classes).
    classes: u128,
    number: Option<f64>,
    unit: bool,
    sarcasm: bool,
    polite: bool,
    /// One of [`STRONG_LEADS`].
    lead: bool,
    negation: bool,
    /// Some rule may start at this word.
    trigger: bool,
}

/// What [`DomainLexicon::can_fire`] reads of a word.
#[derive(Debug, Clone, Copy, Default)]
struct Quick {
    /// The required pattern elements the word matches.
    feat: Feat,
    /// `QUICK_*` bits.
    flags: u8,
}

/// Some phrase may start at the word.
const QUICK_FIRST: u8 = 1;
/// A duration word.
const QUICK_UNIT: u8 = 2;
/// A number word ("three").
const QUICK_NUMBER: u8 = 4;
/// Not a word flag: a token the pre-check cannot read (not ASCII).
const QUICK_UNKNOWN: u8 = 8;
/// A sarcasm word, and a strong lead ("oh", "wow"): together they may make sarcasm on their own.
const QUICK_SARCASM: u8 = 16;
const QUICK_LEAD: u8 = 32;
/// A `scare` word.
const QUICK_SCARE: u8 = 64;

/// A set of required pattern elements, one bit each (element index mod 512).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Feat([u64; FEAT_WORDS]);

/// 512 bits. The built-in rules have some 530 distinct required elements, so a few share a bit;
/// 1024 bits passed fewer messages but cost as much in wider ORs (measured on the corpora).
const FEAT_WORDS: usize = 8;

impl Feat {
    fn bit(k: usize) -> Feat {
        let mut f = Feat::default();
        f.0[(k / 64) % FEAT_WORDS] = 1 << (k % 64);
        f
    }

    #[inline]
    fn add(&mut self, other: &Feat) {
        // Indexing fixed-size arrays lets the compiler use vector ORs.
        for k in 0..FEAT_WORDS {
            self.0[k] |= other.0[k];
        }
    }

    #[inline]
    fn contains(&self, other: &Feat) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| a & b == b)
    }
}

/// What the rules know about one word, while the index is built.
#[derive(Debug, Clone)]
struct WordIndex {
    /// Id of the word when some pattern names it, `u32::MAX` otherwise.
    id: u32,
    classes: Vec<usize>,
    /// Phrases that may start with this word.
    first_of: Vec<usize>,
    unit: bool,
    sarcasm: bool,
    polite: bool,
    lead: bool,
    scare: bool,
    /// Value of a number word ("three" → 3).
    number: Option<f64>,
    /// "no", "nobody", "never"…: a negation for the gap and flip rules.
    negation: bool,
    /// The required pattern elements this word matches (see `DomainLexicon::required`).
    feat: Feat,
}

impl Default for WordIndex {
    fn default() -> Self {
        WordIndex {
            id: u32::MAX,
            classes: Vec::new(),
            first_of: Vec::new(),
            unit: false,
            sarcasm: false,
            polite: false,
            lead: false,
            scare: false,
            number: None,
            negation: false,
            feat: Feat::default(),
        }
    }
}

/// The embedded default rules.
const BUILTIN: &str = include_str!("../../data/sentiment/service_lexicon.tsv");
pub(crate) const BUILTIN_ORIGIN: &str = "service_lexicon.tsv";

/// What the layer changed in one message: one entry per rule application.
#[derive(Debug, Default)]
pub(crate) struct Fired<'d> {
    /// Whether to list the rules (explaining) or only count them (scoring).
    pub explain: bool,
    pub count: usize,
    pub rules: Vec<&'d RuleId>,
}

impl DomainLexicon {
    /// The embedded rules. A unit test guarantees they parse; should they ever not, the layer
    /// is empty (plain VADER) rather than a panic in the server.
    pub(crate) fn builtin() -> Self {
        let mut lexicon = DomainLexicon::default();
        match lexicon.extend_from_str(BUILTIN, BUILTIN_ORIGIN) {
            Ok(()) => lexicon,
            Err(_) => DomainLexicon::default(),
        }
    }

    /// Adds the rules in `text`; on any bad line nothing is added and every bad line is
    /// reported with its number.
    pub(crate) fn extend_from_str(
        &mut self,
        text: &str,
        origin: &str,
    ) -> Result<(), SentimentError> {
        let mut next = self.clone();
        let origin: std::sync::Arc<str> = origin.into();
        let mut problems = Vec::new();
        for (k, line) in text.lines().enumerate() {
            let line_no = k + 1;
            let trimmed = line.trim_end_matches('\r');
            if trimmed.trim().is_empty() || trimmed.trim_start().starts_with('#') {
                continue;
            }
            let id = RuleId {
                origin: origin.clone(),
                line: line_no,
            };
            if let Err(msg) = next.parse_line(trimmed, id) {
                problems.push(format!("line {line_no}: {msg}"));
            }
        }
        if !problems.is_empty() {
            return Err(SentimentError::InvalidLexicon {
                origin: origin.to_string(),
                problems,
            });
        }
        next.rebuild_index();
        if next.entries.len() > super::vader::MAX_SLOTS {
            return Err(SentimentError::InvalidLexicon {
                origin: origin.to_string(),
                problems: vec![format!(
                    "the rules name {} distinct words; at most {} fit",
                    next.entries.len(),
                    super::vader::MAX_SLOTS
                )],
            });
        }
        *self = next;
        Ok(())
    }

    fn parse_line(&mut self, line: &str, id: RuleId) -> Result<(), String> {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let field = |k: usize, what: &str| -> Result<&str, String> {
            fields
                .get(k)
                .copied()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| format!("missing {what}"))
        };
        match fields[0] {
            "class" => {
                let name = field(1, "class name")?;
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("class name {name:?} must be letters, digits or _"));
                }
                let words = word_list(field(2, "class words")?)?;
                let idx = match self.class_names.get(name) {
                    Some(&idx) => idx,
                    None if self.classes.len() >= 128 => {
                        return Err("at most 128 classes".into());
                    }
                    None => {
                        self.classes.push(Vec::new());
                        self.class_names.insert(name.into(), self.classes.len() - 1);
                        self.classes.len() - 1
                    }
                };
                self.classes[idx].extend(words);
            }
            "phrase" => {
                let pattern = field(1, "pattern")?;
                let (pattern, opens_clause) = match pattern.strip_prefix('^') {
                    Some(rest) => (rest, true),
                    None => (pattern, false),
                };
                let (pattern, ends) = if let Some(rest) = pattern.strip_suffix("$?") {
                    (rest, Some(SentenceEnd::Question))
                } else if let Some(rest) = pattern.strip_suffix('$') {
                    (rest, Some(SentenceEnd::Any))
                } else {
                    (pattern, None)
                };
                let steps = self.parse_pattern(pattern)?;
                let (valence, flip) = match field(2, "valence")? {
                    "flip" => (0.0, true),
                    v => (parse_valence(v)?, false),
                };
                // Column 4, the example, is for the tests (each phrase must fire on it).
                self.phrases.push(Phrase {
                    steps,
                    valence,
                    opens_clause,
                    ends,
                    flip,
                    id,
                });
            }
            "unit" => {
                let words = word_list(field(1, "unit words")?)?;
                let minutes: f64 = field(2, "minutes")?
                    .parse()
                    .ok()
                    .filter(|m: &f64| m.is_finite() && *m > 0.0)
                    .ok_or("minutes must be a positive number")?;
                for w in words {
                    self.units.insert(
                        w,
                        Unit {
                            minutes,
                            id: id.clone(),
                        },
                    );
                }
            }
            "wait" => {
                let words: Vec<Box<str>> = field(1, "cue words")?
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(normalize_word)
                    .collect();
                if words.iter().any(|w| w.is_empty()) {
                    return Err("cue words must contain letters".into());
                }
                self.wait_cues.push((words, id));
            }
            "sarcasm" => {
                for w in word_list(field(1, "sarcasm words")?)? {
                    self.sarcasm.insert(w, id.clone());
                }
            }
            "polite" => {
                for w in word_list(field(1, "polite words")?)? {
                    self.polite.insert(w, id.clone());
                }
            }
            "scare" => {
                for w in word_list(field(1, "scare-quote words")?)? {
                    self.scare.insert(w, id.clone());
                }
            }
            other => {
                return Err(format!(
                    "unknown kind {other:?} (class, phrase, unit, wait, sarcasm, polite, scare)"
                ));
            }
        }
        Ok(())
    }

    fn parse_pattern(&self, pattern: &str) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        for part in pattern.split(' ').filter(|p| !p.is_empty()) {
            if let Some(n) = part.strip_prefix('~') {
                let n: usize = n.parse().map_err(|_| format!("bad gap {part:?}"))?;
                steps.push(Step::Gap(n));
                continue;
            }
            let (body, optional) = match part.strip_suffix('?') {
                Some(body) => (body, true),
                None => (part, false),
            };
            let mut alts = Vec::new();
            for alt in body.split('|') {
                alts.push(self.parse_atom(alt)?);
            }
            steps.push(Step::Element { alts, optional });
        }
        match (steps.first(), steps.last()) {
            (
                Some(Step::Element {
                    optional: false, ..
                }),
                Some(Step::Element { .. }),
            ) => Ok(steps),
            _ => Err("a pattern must start with a required element and end with an element".into()),
        }
    }

    fn parse_atom(&self, alt: &str) -> Result<Atom, String> {
        if let Some(name) = alt.strip_prefix('@') {
            return self
                .class_names
                .get(name)
                .map(|&idx| Atom::Class(idx))
                .ok_or_else(|| format!("unknown class @{name} (define it on an earlier line)"));
        }
        if alt == "#" {
            return Ok(Atom::Number { min: None });
        }
        if let Some(min) = alt.strip_prefix("#>=") {
            let min: f64 = min
                .parse()
                .map_err(|_| format!("bad number bound {alt:?}"))?;
            return Ok(Atom::Number { min: Some(min) });
        }
        let word = normalize_word(alt);
        if word.is_empty() || *word != *alt.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'") {
            return Err(format!(
                "bad word {alt:?} (lowercase words without surrounding punctuation)"
            ));
        }
        Ok(Atom::Word(word, u32::MAX))
    }

    /// Every word some rule refers to, with its slot
    /// (see [`super::vader::Vader::words_with_domain`]).
    pub(crate) fn words(&self) -> impl Iterator<Item = (&str, u32)> {
        self.slots.iter().map(|(w, &slot)| (&**w, slot))
    }

    fn lookup(&self, word: &str) -> Option<&Entry> {
        self.slots
            .get(word)
            .map(|&slot| &self.entries[slot as usize])
    }

    fn first_of(&self, entry: &Entry) -> &[u32] {
        &self.first_pool[entry.first_start as usize..][..entry.first_len as usize]
    }

    fn rebuild_index(&mut self) {
        let mut index: FxMap<Box<str>, WordIndex> = FxMap::default();
        let mut ids: FxMap<Box<str>, u32> = FxMap::default();
        for phrase in &mut self.phrases {
            for step in &mut phrase.steps {
                let Step::Element { alts, .. } = step else {
                    continue;
                };
                for atom in alts {
                    if let Atom::Word(w, id) = atom {
                        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                        *id = *ids.entry(w.clone()).or_insert(next);
                    }
                }
            }
        }
        for (w, id) in ids {
            index.entry(w).or_default().id = id;
        }
        for (c, words) in self.classes.iter().enumerate() {
            for w in words {
                let list = &mut index.entry(w.clone()).or_default().classes;
                if !list.contains(&c) {
                    list.push(c);
                }
            }
        }
        for w in self.units.keys() {
            index.entry(w.clone()).or_default().unit = true;
        }
        for w in self.sarcasm.keys() {
            index.entry(w.clone()).or_default().sarcasm = true;
        }
        for w in self.polite.keys() {
            index.entry(w.clone()).or_default().polite = true;
        }
        for w in STRONG_LEADS {
            index.entry(Box::from(*w)).or_default().lead = true;
        }
        for w in self.scare.keys() {
            index.entry(w.clone()).or_default().scare = true;
        }
        for &(w, n) in NUMBER_WORDS {
            index.entry(Box::from(w)).or_default().number = Some(n);
        }
        self.valences = self.phrases.iter().map(|p| p.valence).collect();
        self.by_number.clear();
        for (p, phrase) in self.phrases.iter().enumerate() {
            let Some(Step::Element { alts, .. }) = phrase.steps.first() else {
                continue;
            };
            for atom in alts {
                match atom {
                    Atom::Word(w, _) => index.entry(w.clone()).or_default().first_of.push(p),
                    Atom::Class(c) => {
                        for w in &self.classes[*c] {
                            index.entry(w.clone()).or_default().first_of.push(p);
                        }
                    }
                    Atom::Number { .. } => self.by_number.push(p),
                }
            }
        }
        for entry in index.values_mut() {
            entry.first_of.sort_unstable();
            entry.first_of.dedup();
        }
        for w in ["no", "nobody", "noone", "nothing", "none", "never", "not"] {
            index.entry(Box::from(w)).or_default().negation = true;
        }
        // The pre-check of `apply`: every required element of a phrase gets a bit (equal
        // elements share one; beyond 512 they wrap, which only makes the check less selective).
        let mut element_bits: FxMap<String, usize> = FxMap::default();
        self.required.clear();
        self.second.clear();
        self.number_feat = Feat::default();
        for phrase in &self.phrases {
            let mut mask = Feat::default();
            let mut second = None;
            // Within how many tokens after the first the second element must come.
            let window = match phrase.steps.get(1) {
                Some(Step::Gap(n)) => Some(n + 1),
                Some(Step::Element {
                    optional: false, ..
                }) => Some(1),
                _ => None,
            };
            let second_at = if window == Some(1) { 1 } else { 2 };
            for (k, step) in phrase.steps.iter().enumerate() {
                let Step::Element {
                    alts,
                    optional: false,
                } = step
                else {
                    continue;
                };
                let next = element_bits.len();
                let index_of_bit = *element_bits.entry(format!("{alts:?}")).or_insert(next);
                let bit = Feat::bit(index_of_bit);
                mask.add(&bit);
                if k == second_at
                    && let Some(window) = window
                {
                    let word = (index_of_bit / 64) % bit.0.len();
                    second = Some((word, bit.0[word], window));
                }
                for atom in alts {
                    match atom {
                        Atom::Word(w, _) => index.entry(w.clone()).or_default().feat.add(&bit),
                        Atom::Class(c) => {
                            for w in &self.classes[*c] {
                                index.entry(w.clone()).or_default().feat.add(&bit);
                            }
                        }
                        Atom::Number { .. } => self.number_feat.add(&bit),
                    }
                }
            }
            self.required.push(mask);
            self.second.push(second);
        }
        self.cue_masks.clear();
        for (cue, _) in &self.wait_cues {
            let mut mask = Feat::default();
            for w in cue {
                let next = element_bits.len();
                let bit = Feat::bit(*element_bits.entry(format!("cue {w}")).or_insert(next));
                index.entry(w.clone()).or_default().feat.add(&bit);
                mask.add(&bit);
            }
            self.cue_masks.push(mask);
        }
        self.slots.clear();
        self.entries.clear();
        self.first_pool.clear();
        self.quick.clear();
        for (w, entry) in index {
            let mut feat = entry.feat;
            if entry.number.is_some() {
                feat.add(&self.number_feat);
            }
            let flag = |on: bool, bit: u8| if on { bit } else { 0 };
            self.quick.push(Quick {
                feat,
                flags: flag(!entry.first_of.is_empty(), QUICK_FIRST)
                    | flag(entry.unit, QUICK_UNIT)
                    | flag(entry.number.is_some(), QUICK_NUMBER)
                    | flag(entry.sarcasm, QUICK_SARCASM)
                    | flag(entry.lead, QUICK_LEAD)
                    | flag(entry.scare, QUICK_SCARE),
            });
            self.slots
                .insert(w, u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
            let first_start = u32::try_from(self.first_pool.len()).unwrap_or(u32::MAX);
            self.first_pool.extend(
                entry
                    .first_of
                    .iter()
                    .map(|&p| u32::try_from(p).unwrap_or(u32::MAX)),
            );
            let classes = entry
                .classes
                .iter()
                .filter(|&&c| c < 128)
                .fold(0u128, |bits, &c| bits | 1 << c);
            self.entries.push(Entry {
                id: entry.id,
                first_start,
                first_len: u32::try_from(entry.first_of.len()).unwrap_or(0),
                classes,
                number: entry.number,
                unit: entry.unit,
                sarcasm: entry.sarcasm,
                polite: entry.polite,
                lead: entry.lead,
                negation: entry.negation,
                trigger: !entry.first_of.is_empty()
                    || entry.unit
                    || (entry.number.is_some() && !self.by_number.is_empty()),
            });
        }
        self.quick.push(Quick::default());
        self.by_number.sort_unstable();
        self.by_number.dedup();
    }

    fn atom_matches(&self, atom: &Atom, t: &Norm<'_, '_>) -> bool {
        match atom {
            Atom::Word(_, id) => t.info.is_some_and(|i| i.id == *id),
            Atom::Class(c) => t.info.is_some_and(|i| (i.classes >> c) & 1 == 1),
            Atom::Number { min } => t.number.is_some_and(|n| min.is_none_or(|m| n >= m)),
        }
    }

    /// Index of the last token of a match of `steps` starting at `pos`, within `[pos, end)`;
    /// with `to_end`, only a match whose last token is `end - 1`.
    fn match_steps(
        &self,
        mut steps: &[Step],
        norms: &[Norm<'_, '_>],
        mut pos: usize,
        end: usize,
        to_end: bool,
    ) -> Option<usize> {
        loop {
            let Some((step, rest)) = steps.split_first() else {
                if to_end && pos != end {
                    return None;
                }
                return pos.checked_sub(1);
            };
            match step {
                // Required elements, the common case, need no backtracking: walk them.
                Step::Element {
                    alts,
                    optional: false,
                } => {
                    if pos >= end || !alts.iter().any(|a| self.atom_matches(a, &norms[pos])) {
                        return None;
                    }
                    steps = rest;
                    pos += 1;
                }
                // A gap never skips a negation: "it still isn't fixed" must not match "it ~2 fixed".
                Step::Gap(n) => {
                    return (0..=*n)
                        .take_while(|&skip| {
                            pos + skip <= end && (skip == 0 || !norms[pos + skip - 1].negation)
                        })
                        .find_map(|skip| self.match_steps(rest, norms, pos + skip, end, to_end));
                }
                Step::Element {
                    alts,
                    optional: true,
                } => {
                    let here = (pos < end
                        && alts.iter().any(|a| self.atom_matches(a, &norms[pos])))
                    .then(|| self.match_steps(rest, norms, pos + 1, end, to_end))
                    .flatten();
                    return here.or_else(|| self.match_steps(rest, norms, pos, end, to_end));
                }
            }
        }
    }

    /// A cheap necessary condition for any rule to fire, read off VADER's tokens without
    /// building the layer's own view of them: a question (the question rules), a duration word
    /// (waiting times), or a phrase whose every required element some token can match (the
    /// phrases; sarcasm needs a complaint from one of those). `false` means the layer would
    /// leave every valence alone, so `apply` can return at once.
    #[inline(never)]
    fn can_fire(&self, marks: Marks, tokens: &[Token<'_>], words: Option<&WordMap>) -> bool {
        const MAX_STARTS: usize = 32;
        // Without the analyzer's word map the tokens carry no slots; a question asks the rules.
        if !words.is_some_and(WordMap::has_domain) || marks.questions > 0 {
            return true;
        }
        // Branch-free over the tokens (slots past the end read an empty entry): which required
        // elements some token matches, which flags any has, where phrases may start.
        let none = self.quick.len() - 1;
        let mut present = Feat::default();
        let (mut flags, mut digit, mut quoted) = (0u8, false, false);
        let mut starts = [0u32; MAX_STARTS];
        let mut n_starts = 0usize;
        for (i, t) in tokens.iter().enumerate() {
            let q = &self.quick[(t.domain as usize).min(none)];
            present.add(&q.feat);
            flags |= q.flags
                | if t.domain == DOMAIN_UNKNOWN {
                    QUICK_UNKNOWN
                } else {
                    0
                };
            digit |= t.digit;
            // Scare quotes need lowercase praise or a `scare` word within the quotes' reach.
            quoted |= ascii_quote_opened(t)
                && tokens[i..tokens.len().min(i + SCARE_SPAN)].iter().any(|q| {
                    !q.raw.bytes().any(|b| b.is_ascii_uppercase())
                        && (q.lex().is_some_and(|v| v > 0.0)
                            || self.quick[(q.domain as usize).min(none)].flags & QUICK_SCARE != 0
                            || q.domain == DOMAIN_UNKNOWN)
                });
            starts[n_starts.min(MAX_STARTS - 1)] = i as u32;
            n_starts += usize::from(q.flags & QUICK_FIRST != 0);
        }
        if flags & QUICK_UNKNOWN != 0
            || n_starts > MAX_STARTS
            || quoted
            || flags & (QUICK_SARCASM | QUICK_LEAD) == QUICK_SARCASM | QUICK_LEAD
        {
            return true;
        }
        if digit {
            present.add(&self.number_feat);
        }
        let number = digit || flags & QUICK_NUMBER != 0;
        // A duration needs a count right before it ("45 minutes", "a few days", "for weeks")
        // and a waiting cue ("on hold", "it's been").
        if flags & QUICK_UNIT != 0
            && (1..tokens.len()).any(|i| {
                self.quick[(tokens[i].domain as usize).min(none)].flags & QUICK_UNIT != 0
                    && (self.counts(&tokens[i - 1], words)
                        || (i >= 2
                            && DURATION_ADJECTIVES.contains(&&*normalize_cow(tokens[i - 1].raw))
                            && self.counts(&tokens[i - 2], words)))
            })
            && self.cue_masks.iter().any(|m| present.contains(m))
        {
            return true;
        }
        let possible = |p: u32| present.contains(&self.required[p as usize]);
        // The second element must match a token within its window after the start.
        let second_within = |i: usize, word: usize, bit: u64, window: usize| {
            tokens.iter().skip(i + 1).take(window).any(|t| {
                let mut w = self.quick[(t.domain as usize).min(none)].feat.0[word];
                if t.digit {
                    w |= self.number_feat.0[word];
                }
                w & bit != 0
            })
        };
        starts[..n_starts].iter().any(|&i| {
            let slot = tokens[i as usize].domain as usize;
            // The test of the second element first, the whole mask only then.
            self.first_of(&self.entries[slot]).iter().any(|&p| {
                self.second[p as usize]
                    .is_none_or(|(word, bit, window)| second_within(i as usize, word, bit, window))
                    && possible(p)
            })
        }) || (number && self.by_number.iter().any(|&p| possible(p as u32)))
    }

    /// Whether a token can count a duration after it (a superset of what `quantity` accepts):
    /// a number or "a", "few", "couple", "of", "for"….
    fn counts(&self, t: &Token<'_>, words: Option<&WordMap>) -> bool {
        const COUNT_WORDS: &[&str] = &[
            "a", "an", "few", "several", "multiple", "many", "couple", "of", "for", "over", "in",
        ];
        let key = self.token_key(t, words);
        let word = normalize_cow(t.raw);
        key.digit
            || self
                .entries
                .get(key.slot as usize)
                .is_some_and(|e| e.number.is_some())
            || COUNT_WORDS.contains(&&*word)
    }

    /// The domain slot of a token's normalised word (see [`normalize_word`]) and whether that
    /// word starts with a digit.
    #[inline]
    fn token_key(&self, t: &Token<'_>, words: Option<&WordMap>) -> TokenKey {
        if t.plain {
            TokenKey {
                slot: t.domain,
                digit: t.lower.as_bytes()[0].is_ascii_digit(),
            }
        } else if t.raw.is_ascii() {
            // `normalize_word` of an ASCII token: lowercase, ASCII punctuation trimmed. That is
            // VADER's lookup key unless VADER kept the punctuation (two characters or fewer).
            let trimmed = t.raw.trim_matches(|c: char| c.is_ascii_punctuation());
            let slot = if trimmed.len() == t.lower.len() {
                t.domain
            } else {
                self.slot_of(&trimmed.to_ascii_lowercase(), words)
            };
            TokenKey {
                slot,
                digit: trimmed.as_bytes().first().is_some_and(u8::is_ascii_digit),
            }
        } else {
            let word = normalize_cow(t.raw);
            TokenKey {
                slot: self.slot_of(&word, words),
                digit: word.as_bytes().first().is_some_and(u8::is_ascii_digit),
            }
        }
    }

    fn slot_of(&self, word: &str, words: Option<&WordMap>) -> u32 {
        match words {
            Some(w) => w.domain_slot(word),
            None => self.slots.get(word).copied().unwrap_or(u32::MAX),
        }
    }

    /// Rewrites `sentiments` (VADER's per-token valences) where rules match.
    pub(crate) fn apply(
        &self,
        marks: Marks,
        tokens: &[Token<'_>],
        words: Option<&WordMap>,
        sentiments: &mut [f64],
        explain: bool,
    ) -> Fired<'_> {
        if !self.can_fire(marks, tokens, words) {
            return Fired {
                explain,
                ..Fired::default()
            };
        }
        self.apply_rules(tokens, words, sentiments, explain)
    }

    /// [`Self::apply`] without the pre-check.
    #[inline(never)]
    fn apply_rules(
        &self,
        tokens: &[Token<'_>],
        words: Option<&WordMap>,
        sentiments: &mut [f64],
        explain: bool,
    ) -> Fired<'_> {
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                self.apply_rules_in(&mut scratch, tokens, words, sentiments, explain)
            }
            Err(_) => {
                self.apply_rules_in(&mut Scratch::default(), tokens, words, sentiments, explain)
            }
        })
    }

    fn apply_rules_in(
        &self,
        scratch: &mut Scratch,
        tokens: &[Token<'_>],
        words: Option<&WordMap>,
        sentiments: &mut [f64],
        explain: bool,
    ) -> Fired<'_> {
        let mut fired = Fired {
            explain,
            ..Fired::default()
        };
        if tokens.is_empty() {
            return fired;
        }
        let Scratch {
            arena,
            odd,
            norms: norm_buffer,
            covered,
            complaints,
            goods,
            flips,
        } = scratch;
        // Words that need normalising beyond VADER's lowercasing (capitals, punctuation VADER
        // kept, curly apostrophes) go to one arena per message, not one String each.
        arena.clear();
        odd.clear();
        for t in tokens.iter().filter(|t| !t.plain) {
            let start = arena.len();
            push_normalized(arena, t.raw);
            odd.push((start, arena.len()));
        }
        let arena = arena.as_str();
        let mut odd = odd.iter().copied();
        let mut norms: Vec<Norm<'_, '_>> = recycle_norms(std::mem::take(norm_buffer));
        norms.reserve(tokens.len());
        let (mut start, mut may_fire) = (0, false);
        let (mut sarcasm, mut lead, mut polite, mut quoted) = (false, false, false, false);
        for (k, t) in tokens.iter().enumerate() {
            // The analyzer's word map gives plain words their slot; odd ones are looked up here.
            let odd_word = if t.plain { None } else { odd.next() };
            let (mut n, info) = match odd_word {
                Some((a, b)) => {
                    let word = &arena[a..b];
                    // Tokenizing already found the slot of an ASCII token's normalised word; the
                    // analyzer's map has the same slots and faster keys than `self.slots`.
                    let info = match words {
                        Some(w) if w.has_domain() && t.domain != DOMAIN_UNKNOWN => {
                            self.entries.get(t.domain as usize)
                        }
                        Some(w) => self.entries.get(w.domain_slot(word) as usize),
                        None => self.lookup(word),
                    };
                    (Norm::of(t, word, false), info)
                }
                None => (
                    Norm::of(t, t.lower, true),
                    self.entries.get(t.domain as usize),
                ),
            };
            if let Some(i) = info {
                n.info = Some(i);
                n.number = n.number.or(i.number);
                n.negation |= i.negation;
                n.unit = i.unit;
                may_fire |= i.trigger;
                sarcasm |= i.sarcasm;
                lead |= i.lead;
                polite |= i.polite;
            }
            may_fire |= n.number.is_some() && !self.by_number.is_empty();
            quoted |= quote_opened(t);
            // Sentence bounds for every token: [start, end).
            n.sentence_start = start as u32;
            let ends = n.ends_sentence || k + 1 == tokens.len();
            norms.push(n);
            if ends {
                let question = t.raw.trim_end_matches(['"', '\'', ')']).ends_with('?');
                may_fire |= question;
                for n in &mut norms[start..=k] {
                    n.sentence_end = (k + 1) as u32;
                    n.question = question;
                }
                start = k + 1;
            }
        }
        // Nothing any rule could start from (and no question): leave VADER's valences alone.
        if !(may_fire || quoted || sarcasm && lead) {
            *norm_buffer = recycle_norms(norms);
            return fired;
        }
        let sentence_start = |k: usize| norms[k].sentence_start as usize;
        let sentence_end = |k: usize| norms[k].sentence_end as usize;

        // 1. Phrases, leftmost-longest, without overlap.
        covered.clear();
        covered.resize(tokens.len(), false);
        complaints.clear(); // positions of negative events
        goods.clear();
        flips.clear();
        let mut k = 0;
        while k < tokens.len() {
            // At one start the phrase listed first wins: the file order is the priority.
            let mut best: Option<(usize, usize)> = None; // (last index, phrase)
            let candidates = norms[k]
                .info
                .map(|i| self.first_of(i))
                .unwrap_or_default()
                .iter()
                .map(|&p| (p as usize, true));
            // Number candidates still check their first element (`#>=10`).
            let numbers = norms[k]
                .number
                .is_some()
                .then_some(self.by_number.iter())
                .into_iter()
                .flatten()
                .map(|&p| (p, false));
            for (p, first_known) in candidates.chain(numbers) {
                if best.is_some_and(|(_, bp)| bp < p) {
                    // Candidates come in file order within each list: nothing later wins.
                    continue;
                }
                // A good outcome asked about ("has it been fixed?") is not one.
                if self.valences[p] > 0.0 && norms[k].question {
                    continue;
                }
                let phrase = &self.phrases[p];
                if phrase.opens_clause && k > sentence_start(k) && !norms[k - 1].ends_clause {
                    continue;
                }
                // The index only offers phrases whose first element matches this word.
                let (steps, to_end) = (&phrase.steps, phrase.ends.is_some());
                let found = if first_known {
                    self.match_steps(&steps[1..], &norms, k + 1, sentence_end(k), to_end)
                } else {
                    self.match_steps(steps, &norms, k, sentence_end(k), to_end)
                };
                if let Some(last) = found
                    && (phrase.ends != Some(SentenceEnd::Question) || norms[last].question)
                {
                    best = Some((last, p));
                }
            }
            let Some((last, p)) = best else {
                k += 1;
                continue;
            };
            let phrase = &self.phrases[p];
            let mut valence = phrase.valence;
            // A booster right before the phrase intensifies it as VADER's would ("really slow reply").
            if k > 0
                && valence != 0.0
                && !covered[k - 1]
                && let Some(b) = tokens[k - 1].booster()
            {
                valence += if valence < 0.0 { -b } else { b };
            }
            // A negation shortly before it, in the same clause, flips it as VADER flips a word
            // ("not on time", "never went smoothly"); before a good outcome even a negation that
            // belongs to a complaint counts ("nobody actually solved my problem").
            let lo = k.saturating_sub(3).max(sentence_start(k));
            if (lo..k)
                .rev()
                .take_while(|&j| !norms[j].ends_clause)
                .any(|j| (!covered[j] || valence > 0.0) && norms[j].negation)
            {
                valence *= N_SCALAR;
            }
            for (s, c) in sentiments[k..=last].iter_mut().zip(&mut covered[k..=last]) {
                *s = 0.0;
                *c = true;
            }
            sentiments[last] = valence;
            // Mild cues ("still", "again") colour a message but are not complaints of their
            // own: they neither make sarcasm nor keep a how-to question negative.
            if valence <= COMPLAINT {
                complaints.push(last);
            } else if valence >= GOOD {
                goods.push(last);
            }
            if phrase.flip {
                flips.push(last + 1);
            }
            fired.push(&phrase.id);
            k = last + 1;
        }
        // Unmet expectations ("used to be great", "I was hoping for a better answer"): positive
        // words in the rest of the clause are negated as VADER negates, once every phrase is
        // placed (a phrase after the cue may itself be praise: "used to be top notch").
        for &from in flips.iter() {
            let end = sentence_end(from.saturating_sub(1)).min(from + FLIP_WINDOW);
            for j in from..end {
                if sentiments[j] > 0.0 {
                    sentiments[j] *= N_SCALAR;
                    covered[j] = true;
                    if sentiments[j] <= COMPLAINT {
                        complaints.push(j);
                    }
                }
                if norms[j].ends_clause {
                    break;
                }
            }
        }

        // 2. Waiting times: a duration near a waiting cue.
        for k in 0..tokens.len() {
            if !norms[k].unit {
                continue;
            }
            let Some(unit) = self.units.get(norms[k].word) else {
                continue;
            };
            if covered[k] {
                continue;
            }
            let Some(count) = quantity(&norms, k, sentence_start(k)) else {
                continue;
            };
            let minutes = count * unit.minutes;
            if minutes <= FREE_WAIT_MINUTES {
                continue;
            }
            let lo = k.saturating_sub(WAIT_CUE_BEFORE).max(sentence_start(k));
            let hi = (k + WAIT_CUE_AFTER + 1).min(sentence_end(k));
            let cue = self.wait_cues.iter().find(|(words, _)| {
                (lo..hi).any(|j| {
                    j + 1 >= words.len()
                        && j + 1 - words.len() >= lo
                        && words
                            .iter()
                            .zip(&norms[j + 1 - words.len()..=j])
                            .all(|(w, t)| **w == *t.word)
                })
            });
            let Some((_, cue_id)) = cue else { continue };
            let valence = (WAIT_SLOPE * (minutes / FREE_WAIT_MINUTES).ln()).max(WAIT_FLOOR);
            sentiments[k] = valence;
            covered[k] = true;
            complaints.push(k);
            fired.push(&unit.id);
            fired.push(cue_id);
        }

        // 3. Scare quotes: one to three lowercase words in quotes that praise or name a promise
        //    ('the "fast" delivery', 'your "customer service"') mean the opposite. Capitalised
        //    quotes are labels and citations ('press "OK"') and stay as they are.
        let mut k = if quoted { 0 } else { tokens.len() };
        while k < tokens.len() {
            if !quote_opened(&tokens[k]) {
                k += 1;
                continue;
            }
            let end = sentence_end(k).min(k + SCARE_SPAN);
            let Some(close) = (k..end).find(|&j| closes_quote(tokens[j].raw, j == k)) else {
                k += 1;
                continue;
            };
            let lowercase = tokens[k..=close]
                .iter()
                .all(|t| !t.raw.bytes().any(|b| b.is_ascii_uppercase()));
            let mut hit = false;
            if lowercase {
                // A praise phrase that starts in the quotes may put its valence just after them
                // ('the "quick" reply').
                let spill = if covered[close] { 2 } else { 0 };
                for j in k..=(close + spill).min(sentence_end(k) - 1) {
                    if (j <= close || covered[j]) && sentiments[j] > 0.0 {
                        sentiments[j] *= N_SCALAR;
                        hit = true;
                    }
                }
                if !hit
                    && sentiments[close] == 0.0
                    && (k..=close).any(|j| self.scare.contains_key(norms[j].word))
                {
                    sentiments[close] = SCARE_VALENCE;
                    hit = true;
                }
            }
            if hit {
                covered[k..=close].fill(true);
                complaints.push(close);
                fired.push(&self.rule_scare);
            }
            k = close + 1;
        }

        // Phrases and waits were found in two sweeps; sorted, a range check is a binary search.
        complaints.sort_unstable();
        let complaint_in = |range: std::ops::Range<usize>| {
            let from = complaints.partition_point(|&c| c < range.start);
            complaints.get(from).is_some_and(|&c| c < range.end)
        };

        // 3. Sarcasm: a positive interjection before a complaint in the same sentence
        //    ("great, another delay", "oh wonderful, still no refund", "love how nobody answers"),
        //    or a positive exclamation standing alone next to a complaint ("…it's been 4 days.
        //    Brilliant.", "Wonderful. Now the code is invalid too.").
        for &c in complaints.iter() {
            let (start, end) = (sentence_start(c), sentence_end(c));
            let before = start.checked_sub(1).map(sentence_start);
            let alone = |j: usize| {
                let (s, e) = (sentence_start(j), sentence_end(j));
                (s == end || Some(s) == before) && is_exclamation(&norms[s..e], j - s)
            };
            // Only the last few tokens before the complaint: keeps long run-on sentences linear.
            let within = start.max(c.saturating_sub(SARCASM_WINDOW))..c;
            // A standalone exclamation is at most 5 tokens: only such a sentence before counts.
            let previous = match before.filter(|&b| start - b <= 5) {
                Some(b) => b..start,
                None => 0..0,
            };
            let after = end..norms.len().min(end + 4).min(if end < norms.len() {
                sentence_end(end)
            } else {
                end
            });
            for j in within.chain(previous).chain(after) {
                if covered[j] || sentiments[j] <= 0.0 || !norms[j].info.is_some_and(|i| i.sarcasm) {
                    continue;
                }
                let Some(id) = self.sarcasm.get(norms[j].word) else {
                    continue;
                };
                let same = j >= start && j < c && is_interjection(&norms, j, start);
                if same || (!(start..end).contains(&j) && alone(j)) {
                    sentiments[j] = -sentiments[j].abs();
                    covered[j] = true;
                    fired.push(id);
                }
            }
        }

        // After "oh", "wow", "yeah"… the praise is sarcastic before any clearly negative word,
        // not only a customer-service complaint: "Oh perfect, the replacement is broken too."
        for j in 0..if sarcasm && lead { tokens.len() } else { 0 } {
            if covered[j] || sentiments[j] <= 0.0 || !norms[j].info.is_some_and(|i| i.sarcasm) {
                continue;
            }
            let start = sentence_start(j);
            let led =
                (start.max(j.saturating_sub(3))..j).any(|i| STRONG_LEADS.contains(&norms[i].word));
            if !led || !is_interjection(&norms, j, start) {
                continue;
            }
            let end = sentence_end(j).min(j + 1 + SARCASM_WINDOW);
            if (j + 1..end).any(|i| sentiments[i] <= COMPLAINT)
                && let Some(id) = self.sarcasm.get(norms[j].word)
            {
                sentiments[j] = -sentiments[j];
                covered[j] = true;
                fired.push(id);
            }
        }

        // Politeness next to a complaint is not praise: "Thanks for the quick reply, but my
        // order still hasn't arrived", "Still no refund, thanks." A good outcome in between
        // keeps the thanks ("It was late, but it arrived safely, thank you").
        if polite {
            goods.sort_unstable();
        }
        let good_in = |range: std::ops::Range<usize>| {
            let from = goods.partition_point(|&g| g < range.start);
            goods.get(from).is_some_and(|&g| g < range.end)
        };
        let mut polite_id = None;
        for j in 0..if polite && !complaints.is_empty() {
            tokens.len()
        } else {
            0
        } {
            if covered[j] || sentiments[j] <= 0.0 || !norms[j].info.is_some_and(|i| i.polite) {
                continue;
            }
            let at = complaints.partition_point(|&c| c < j);
            let after = complaints.get(at).is_some_and(|&c| !good_in(j..c));
            let before = at > 0 && !good_in(complaints[at - 1]..j);
            if after || before {
                sentiments[j] = 0.0;
                covered[j] = true;
                polite_id = self.polite.get(norms[j].word);
            }
        }
        if let Some(id) = polite_id {
            fired.push(id);
        }

        // 4. Questions ask, they do not praise: positive words in a question sentence carry no
        //    sentiment ("Is it dishwasher safe?", "Do you have a better price?"), and a bare
        //    "Thanks!" (or "Thanks for the email.") next to a question is politeness, not praise.
        //    A how-to question without a complaint names its topic, it does not complain about it:
        //    "How do I return a broken item?", "What happens if my parcel is lost?".
        let mut k = 0;
        while k < norms.len() {
            let (s, e) = (sentence_start(k), sentence_end(k));
            let next_question = e < norms.len() && norms[e].question;
            let beside_question = (s > 0 && norms[s - 1].question) || next_question;
            let closer = beside_question && !norms[s].question && is_closer(&norms[s..e]);
            if norms[k].question || closer {
                let mut any = false;
                for j in s..e {
                    if !covered[j] && sentiments[j] > 0.0 {
                        sentiments[j] = 0.0;
                        covered[j] = true;
                        any = true;
                    }
                }
                if any {
                    fired.push(if closer {
                        &self.rule_closer
                    } else {
                        &self.rule_question
                    });
                }
            }
            // A complaint inside "if …" is hypothetical ("What if it never arrives?").
            let hypothetical = || {
                (s..e)
                    .find(|&j| matches!(norms[j].word, "if" | "case" | "suppose" | "whether"))
                    .unwrap_or(e)
            };
            let hypothetical = if norms[k].question { hypothetical() } else { e };
            if norms[k].question && is_how_to(&norms[s..e]) && !complaint_in(s..hypothetical) {
                let mut any = false;
                for j in s..e {
                    if sentiments[j] < 0.0
                        && (!covered[j] || j > hypothetical || sentiments[j] > COMPLAINT)
                    {
                        sentiments[j] = 0.0;
                        covered[j] = true;
                        any = true;
                    }
                }
                if any {
                    fired.push(&self.rule_how_to);
                }
            }
            k = e;
        }
        *norm_buffer = recycle_norms(norms);
        fired
    }
}

/// Buffers `apply` reuses from one message to the next on a thread.
#[derive(Default)]
struct Scratch {
    arena: String,
    odd: Vec<(usize, usize)>,
    /// Always empty between messages (see [`recycle_norms`]).
    norms: Vec<Norm<'static, 'static>>,
    covered: Vec<bool>,
    complaints: Vec<usize>,
    /// Positions of good outcomes ("problem solved", "works now").
    goods: Vec<usize>,
    /// The tokens right after each `flip` phrase.
    flips: Vec<usize>,
}

/// Empties a buffer of [`Norm`]s so that it can hold those of another message: the allocation
/// is kept (an in-place `collect` of an empty vector of the same layout).
fn recycle_norms<'t, 'd>(mut norms: Vec<Norm<'_, '_>>) -> Vec<Norm<'t, 'd>> {
    norms.clear();
    norms.into_iter().map(|_| unreachable!()).collect()
}

/// A question asking how, where, whether or what happens: its first word (after "hi", "just",
/// "I was"…) is a question word, an auxiliary or "wondering" ("How do I…", "Can I…", "Just
/// wondering if…"); "why" questions are complaints.
fn is_how_to(sentence: &[Norm<'_, '_>]) -> bool {
    const OPENERS: &[&str] = &[
        "how",
        "where",
        "can",
        "could",
        "may",
        "is",
        "are",
        "do",
        "does",
        "what",
        "what's",
        "whats",
        "which",
        "when",
        "will",
        "would",
        "should",
        "shall",
        "if",
        "wondering",
        "wonder",
        "curious",
        "question",
    ];
    const SKIP: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "so",
        "and",
        "also",
        "just",
        "i",
        "i'm",
        "im",
        "was",
        "quick",
        "",
        "checking",
        "confirming",
        "sorry",
        "please",
        "ok",
        "okay",
        "there",
        "good",
        "morning",
        "afternoon",
        "evening",
    ];
    sentence
        .iter()
        .filter(|t| !SKIP.contains(&t.word))
        .take(1)
        .any(|t| OPENERS.contains(&t.word))
}

/// A sentence that is only a positive exclamation, maybe with "oh", "just", "how", "so", "really":
/// "Brilliant.", "Oh wonderful!", "Just great.", "Perfect, thanks."
fn is_exclamation(sentence: &[Norm<'_, '_>], at: usize) -> bool {
    const FILLER: &[&str] = &[
        "oh", "ohh", "just", "how", "so", "really", "well", "wow", "thanks", "thank", "you",
        "very", "much", "that's", "thats", "this", "is", "just", "what", "i", "needed", "a", "lot",
        "",
    ];
    sentence.len() <= 5
        && sentence
            .iter()
            .enumerate()
            .all(|(k, t)| k == at || FILLER.contains(&t.word))
}

/// [`quote_opened`] for ASCII quotes only (the pre-check lets every non-ASCII token through).
#[inline]
fn ascii_quote_opened(t: &Token<'_>) -> bool {
    t.raw.len() != t.lower.len() && matches!(t.raw.as_bytes().first(), Some(b'"' | b'\''))
}

/// A token that opens a quotation (`"fast`, `'premium`, `“express”`). VADER strips the ASCII
/// punctuation of words longer than two letters, so only such tokens can open with `"` or `'`
/// (a length compare before any byte is read: this runs on every token of the pre-check);
/// curly quotes VADER keeps.
#[inline]
fn quote_opened(t: &Token<'_>) -> bool {
    ascii_quote_opened(t)
        || (!t.plain
            && t.raw.as_bytes().first() == Some(&0xE2)
            && t.raw.starts_with(['\u{201c}', '\u{2018}']))
}

/// A token that closes a quotation, maybe before punctuation; `alone` when it also opened it
/// (so the quote character must not be the same one).
fn closes_quote(raw: &str, alone: bool) -> bool {
    let tail = raw.trim_end_matches(['.', ',', '!', '?', ';', ':', ')']);
    tail.ends_with(['"', '\'', '\u{201d}', '\u{2019}']) && (!alone || tail.chars().count() >= 3)
}

/// A sentence that only thanks: "Thanks!", "Thank you so much.", "Thanks for the email.".
fn is_closer(sentence: &[Norm<'_, '_>]) -> bool {
    const THANKS: &[&str] = &["thanks", "thank", "thx", "ty", "cheers", "ta", "tia"];
    const FILLER: &[&str] = &[
        "you",
        "so",
        "much",
        "a",
        "lot",
        "very",
        "in",
        "advance",
        "again",
        "guys",
        "all",
        "team",
        "kindly",
        "many",
        "for",
        "your",
        "help",
        "the",
        "email",
        "reply",
        "message",
        "update",
        "info",
        "information",
        "response",
        "answer",
        "confirming",
        "checking",
        "letting",
        "me",
        "know",
        "getting",
        "back",
        "looking",
        "into",
        "this",
        "that",
        "it",
        "",
    ];
    sentence.len() <= 7
        && sentence.iter().any(|t| THANKS.contains(&t.word))
        && sentence
            .iter()
            .all(|t| THANKS.contains(&t.word) || FILLER.contains(&t.word))
}

/// Read as an interjection, and so as sarcasm before a complaint: it opens the sentence (after
/// "oh", "wow", "just"…) and is followed by a pause ("Great, …", "Perfect!!"), or is followed by
/// "how", "that" or "when" ("love how…"), or follows "oh"/"just" ("just great").
fn is_interjection(norms: &[Norm<'_, '_>], j: usize, sentence_start: usize) -> bool {
    const LEADS: &[&str] = &[
        "oh", "ohh", "wow", "just", "well", "yeah", "ah", "gee", "really", "how", "so", "and", "i",
        "we", "super", "very", "real",
    ];
    const FOLLOWS: &[&str] = &[
        "how", "that", "when", "being", "waiting", "getting", "having",
    ];
    const BEFORE: &[&str] = &["oh", "ohh", "just", "wow", "gee", "yeah"];
    let opens = norms[sentence_start..j]
        .iter()
        .all(|t| LEADS.contains(&t.word));
    let pause = norms[j].ends_clause;
    let follows = norms.get(j + 1).is_some_and(|t| FOLLOWS.contains(&t.word));
    let after_lead = j > sentence_start && BEFORE.contains(&norms[j - 1].word);
    (opens && pause) || follows || after_lead
}

/// The count before a duration word: a number, "a"/"an", "a few", "a couple of", or none for a
/// bare plural after "for" ("for weeks"). `None` when this is not a duration.
fn quantity(norms: &[Norm<'_, '_>], k: usize, sentence_start: usize) -> Option<f64> {
    let prev = |back: usize| (k >= sentence_start + back).then(|| &norms[k - back]);
    let before =
        |t: Option<&Norm<'_, '_>>, words: &[&str]| t.is_some_and(|t| words.contains(&t.word));
    // "only 5 minutes", "just an hour": framed as short, not a complaint.
    // "only 5 minutes", "just an hour" are framed as short; "within 30 days", "in 2 days", "every
    // 3 months" are terms and schedules, not waiting.
    let framed_short = |back: usize| {
        before(
            prev(back),
            &[
                "only", "just", "within", "in", "every", "per", "each", "next", "under", "than",
                "first",
            ],
        )
    };
    // One word may stand between the count and the unit: "5 business days", "6 whole days".
    let back = if before(prev(1), DURATION_ADJECTIVES) {
        2
    } else {
        1
    };
    let p1 = prev(back)?;
    if let Some(n) = p1.number {
        return (!framed_short(back + 1)).then_some(n);
    }
    match p1.word {
        "a" | "an" => (!framed_short(back + 1)).then_some(1.0),
        "few" | "several" | "multiple" | "many" => Some(3.0),
        "couple" => Some(2.0),
        "of" if before(prev(back + 1), &["couple"]) => Some(2.0),
        "for" | "over" | "in" if norms[k].word.ends_with('s') => Some(2.0),
        _ => None,
    }
}

/// Words between a count and a duration unit that keep it a duration.
const DURATION_ADJECTIVES: &[&str] = &[
    "business", "working", "calendar", "whole", "full", "entire", "straight", "solid",
];

/// A token as the domain layer sees it.
#[derive(Debug)]
struct Norm<'t, 'd> {
    /// Lowercased, surrounding punctuation removed, curly apostrophes made straight.
    word: &'t str,
    number: Option<f64>,
    info: Option<&'d Entry>,
    /// `word` is the token's VADER `lower`.
    word_is_lower: bool,
    /// A negation ("not", "never", "no", "didn't"…): gaps in patterns never skip one.
    negation: bool,
    /// The token's sentence ends with a question mark.
    question: bool,
    /// A duration word ("minutes", "weeks").
    unit: bool,
    ends_sentence: bool,
    ends_clause: bool,
    sentence_start: u32,
    sentence_end: u32,
}

impl<'t> Norm<'t, '_> {
    fn of(token: &Token<'_>, word: &'t str, word_is_lower: bool) -> Self {
        let mut norm = Norm {
            word,
            number: None,
            info: None,
            word_is_lower,
            negation: false,
            question: false,
            unit: false,
            ends_sentence: false,
            ends_clause: false,
            sentence_start: 0,
            sentence_end: 0,
        };
        if token.raw.len() != norm.word.len() {
            let tail = token
                .raw
                .trim_end_matches(['"', '\'', ')', ']', '\u{201d}', '\u{2019}']);
            norm.ends_sentence =
                tail.ends_with(['.', '!', '?', ';', '\u{2026}']) && !is_abbreviation(norm.word);
            norm.ends_clause =
                norm.ends_sentence || tail.ends_with([',', ':', '-', '\u{2014}', '\u{2013}']);
        }
        if norm.word.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            norm.number = parse_number(norm.word);
        }
        // VADER already checked its own lowercased word; a normalised one may differ ("didn’t").
        norm.negation = token.negation
            || (!norm.word_is_lower && norm.word.as_bytes().windows(3).any(|w| w == b"n't"));
        norm
    }
}

/// Appends [`normalize_word`] of `raw` to `out` without a temporary string.
fn push_normalized(out: &mut String, raw: &str) {
    let trimmed = raw.trim_matches(is_punct);
    for c in trimmed.chars() {
        match c {
            '\u{2019}' | '\u{2018}' => out.push('\''),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
}

/// [`normalize_word`] borrowing when the token is already plain lowercase ASCII.
pub(crate) fn normalize_cow(raw: &str) -> Cow<'_, str> {
    let trimmed = raw.trim_matches(is_punct);
    if trimmed
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(trimmed)
    } else {
        Cow::Owned(normalize_word(trimmed).into_string())
    }
}

fn is_abbreviation(word: &str) -> bool {
    matches!(
        word,
        "mr" | "mrs" | "ms" | "dr" | "e.g" | "i.e" | "etc" | "vs" | "st"
    )
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{2018}'
                | '\u{2019}'
                | '\u{201c}'
                | '\u{201d}'
                | '\u{2026}'
                | '\u{2013}'
                | '\u{2014}'
                | '\u{ab}'
                | '\u{bb}'
                | '\u{bf}'
                | '\u{a1}'
        )
}

/// Lowercase, strip surrounding punctuation, straighten apostrophes.
pub(crate) fn normalize_word(raw: &str) -> Box<str> {
    let trimmed = raw.trim_matches(is_punct);
    let mut out = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '\u{2019}' | '\u{2018}' => out.push('\''),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    out.into_boxed_str()
}

/// Digits with optional thousands separators or decimals ("45", "1,200", "2.5").
fn parse_number(word: &str) -> Option<f64> {
    if word.len() > 12
        || !word
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || b == b'.')
    {
        return None;
    }
    word.replace(',', "").parse().ok()
}

/// Number words the duration and repeat rules understand.
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("fifteen", 15.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("forty-five", 45.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("ninety", 90.0),
    ("hundred", 100.0),
];

fn word_list(field: &str) -> Result<Vec<Box<str>>, String> {
    let words: Vec<Box<str>> = field.split('|').map(|w| normalize_word(w.trim())).collect();
    if words.iter().any(|w| w.is_empty()) {
        return Err(format!("empty word in {field:?}"));
    }
    Ok(words)
}

fn parse_valence(field: &str) -> Result<f64, String> {
    field
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (-4.0..=4.0).contains(v))
        .ok_or_else(|| format!("valence {field:?} must be a number in [-4, 4] like VADER's"))
}

#[cfg(test)]
mod tests {
    use super::super::vader::Vader;
    use super::*;

    /// The pre-check may let through messages no rule fires on, never the other way round.
    #[test]
    fn can_fire_never_hides_a_rule() {
        let vader = Vader::embedded();
        let domain = DomainLexicon::builtin();
        let words = vader.words_with_domain(domain.words(), std::iter::empty());
        let mut texts: Vec<String> = [
            include_str!("../../data/sentiment/service_messages.tsv"),
            include_str!("../../data/sentiment/service_messages_dev.tsv"),
            include_str!("../../data/sentiment/service_messages_heldout.tsv"),
        ]
        .iter()
        .flat_map(|f| f.lines())
        .filter_map(|l| l.split_once('\t').map(|(_, t)| t.to_string()))
        .collect();
        texts.extend(
            BUILTIN
                .lines()
                .filter(|l| l.starts_with("phrase\t"))
                .filter_map(|l| l.split('\t').nth(3).map(str::to_string)),
        );
        // Variations: capitals, punctuation, curly apostrophes, the words alone.
        let variants: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                [
                    t.to_uppercase(),
                    t.replace('\'', "\u{2019}"),
                    t.replace(' ', ", "),
                    t.replace(['?', '.', '!'], ""),
                    t.replace('?', "."),
                ]
            })
            .collect();
        texts.extend(variants);
        let (mut fired, mut checked) = (0, 0);
        for text in &texts {
            let text = vader.demojize(text);
            let tokens = vader.tokenize(&text, &words);
            let mut sentiments = vader.valences(&tokens);
            let rules = domain.apply_rules(&tokens, Some(&words), &mut sentiments, false);
            if rules.count > 0 {
                fired += 1;
                assert!(
                    domain.can_fire(Marks::of(&text), &tokens, Some(&words)),
                    "{text}"
                );
            }
            checked += 1;
        }
        assert!(fired > checked / 3, "{fired} of {checked}");
    }
}
