//! A faithful port of VADER (Hutto & Gilbert 2014) as shipped in Python `vaderSentiment` 3.3.2.
//!
//! *Faithfulness invariant*: for any text, [`Vader::valences`] followed by [`but_check`] and
//! [`score_valence`] reproduce the reference's per-token valences and its rounded scores, including
//! the reference's quirks (the `but` rule that rescales the *first* equal valence, `no` handling,
//! ALL-CAPS on zero valences). Every rule names the reference function it mirrors, so a reader
//! can check them side by side.
//!
//! Unlike the reference, everything here is linear (or `n log n`) in the message length: the
//! reference's `but` rule calls `list.index` inside a loop and its idiom checks rebuild the
//! lowercased word list for every word.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// The rows of vaderSentiment 3.3.2's lexicon that the `vader_sentiment` crate (which ships the
/// rest of the lexicon and the emoji lexicon under MIT) cannot supply; see the file's header.
const LEXICON_OVERLAY: &str = include_str!("../../data/sentiment/vader_lexicon_overlay.tsv");

/// Empirically derived mean rating increase for booster words (reference `B_INCR`).
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Rating increase for an ALL-CAPS word among mixed-case text (reference `C_INCR`).
const C_INCR: f64 = 0.733;
/// Scalar applied to a negated valence (reference `N_SCALAR`).
pub(crate) const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Single-word boosters and dampeners (reference `BOOSTER_DICT`); the multi-word entries are
/// handled in [`Vader::special_idioms`].
const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// Words the rules compare tokens with, interned: comparing a token's symbol is an integer test,
/// where comparing strings costs a `memcmp` per check.
mod sym {
    pub const NONE: u8 = 0;
    pub const WORDS: &[&str] = &[
        "no", "kind", "of", "but", "least", "at", "very", "never", "so", "this", "without",
        "doubt", "or", "nor", "the", "shit", "bomb", "bad", "ass", "bus", "stop", "yeah", "right",
        "beating", "heart", "kiss", "death", "to", "die", "for", "just", "enough", "sort",
    ];
    pub const NO: u8 = 1;
    pub const KIND: u8 = 2;
    pub const OF: u8 = 3;
    pub const BUT: u8 = 4;
    pub const LEAST: u8 = 5;
    pub const AT: u8 = 6;
    pub const VERY: u8 = 7;
    pub const NEVER: u8 = 8;
    pub const SO: u8 = 9;
    pub const THIS: u8 = 10;
    pub const WITHOUT: u8 = 11;
    pub const DOUBT: u8 = 12;
    pub const OR: u8 = 13;
    pub const NOR: u8 = 14;
    pub const THE: u8 = 15;
    pub const SHIT: u8 = 16;
    pub const BOMB: u8 = 17;
    pub const BAD: u8 = 18;
    pub const ASS: u8 = 19;
    pub const BUS: u8 = 20;
    pub const STOP: u8 = 21;
    pub const YEAH: u8 = 22;
    pub const RIGHT: u8 = 23;
    pub const BEATING: u8 = 24;
    pub const HEART: u8 = 25;
    pub const KISS: u8 = 26;
    pub const DEATH: u8 = 27;
    pub const TO: u8 = 28;
    pub const DIE: u8 = 29;
    pub const FOR: u8 = 30;
    pub const JUST: u8 = 31;
    pub const ENOUGH: u8 = 32;
    pub const SORT: u8 = 33;
}

/// Two-word boosters from the reference `BOOSTER_DICT` (only reachable as n-grams).
const BIGRAM_BOOSTERS: &[([u8; 2], f64)] = &[
    ([sym::JUST, sym::ENOUGH], B_DECR),
    ([sym::KIND, sym::OF], B_DECR),
    ([sym::SORT, sym::OF], B_DECR),
];

/// Reference `SPECIAL_CASES` with two words (`badass` can never match a multi-word sequence).
const SPECIAL_BIGRAMS: &[([u8; 2], f64)] = &[
    ([sym::THE, sym::SHIT], 3.0),
    ([sym::THE, sym::BOMB], 3.0),
    ([sym::BAD, sym::ASS], 1.5),
    ([sym::BUS, sym::STOP], 0.0),
    ([sym::YEAH, sym::RIGHT], -2.0),
    ([sym::BEATING, sym::HEART], 3.5),
];
/// Reference `SPECIAL_CASES` with three words.
const SPECIAL_TRIGRAMS: &[([u8; 3], f64)] = &[
    ([sym::KISS, sym::OF, sym::DEATH], -1.5),
    ([sym::TO, sym::DIE, sym::FOR], 3.0),
];

/// FxHash (as in rustc): the lexicon is trusted static data, so a fast non-keyed hash is fine
/// and roughly halves lookup time compared with SipHash.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
        // Most words are shorter than 8 bytes: one multiply for the tail, not one per byte.
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut buf = [0u8; 8];
            buf[..tail.len()].copy_from_slice(tail);
            self.add(u64::from_le_bytes(buf) ^ ((tail.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;

/// [`BYTE_CLASS`] bits. `CAPITAL` is the bit that lowercases an ASCII capital.
const CAPITAL: u8 = 0x20;
const SMALL: u8 = 0x01;
const APOSTROPHE: u8 = 0x02;
/// `u8::is_ascii_punctuation` (the apostrophe is punctuation too: it has both bits).
const PUNCT: u8 = 0x04;
const DIGIT: u8 = 0x08;

/// [`BYTE_CLASS`] of a byte.
#[inline]
fn class(b: u8) -> u8 {
    BYTE_CLASS[usize::from(b)]
}

/// ASCII letter case, apostrophes, punctuation and digits, one table lookup per byte.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_uppercase() {
            CAPITAL
        } else if c.is_ascii_lowercase() {
            SMALL
        } else if c == b'\'' {
            APOSTROPHE | PUNCT
        } else if c.is_ascii_punctuation() {
            PUNCT
        } else if c.is_ascii_digit() {
            DIGIT
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Python's `str.isspace` (used by `str.split()` and `str.strip()`): Unicode `White_Space` plus
/// the ASCII information separators U+001C..U+001F, which Rust's `char::is_whitespace` omits.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.isupper`: at least one cased character and no lowercase or titlecase one.
pub(crate) fn py_isupper(s: &str) -> bool {
    if s.is_ascii() {
        let b = s.as_bytes();
        return b.iter().any(u8::is_ascii_uppercase) && !b.iter().any(u8::is_ascii_lowercase);
    }
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        if c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{01C5}' | '\u{01C8}' | '\u{01CB}' | '\u{01F2}' | '\u{1F88}'..='\u{1F8F}'
        | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}' | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Python's `str.lower`, borrowing when nothing changes (the common case).
pub(crate) fn py_lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else if s.chars().any(|c| c.is_uppercase() || is_titlecase(c)) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `token.strip(string.punctuation)` as the reference's `_strip_punc_if_word` uses it: strip ASCII
/// punctuation at both ends unless two or fewer characters would remain (likely an emoticon).
#[inline]
fn strip_punc_if_word(token: &str) -> &str {
    let b = token.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return token;
    };
    if (class(*first) | class(*last)) & PUNCT == 0 {
        // Nothing to strip: the reference returns the token whatever its length.
        return token;
    }
    // ASCII punctuation is one byte and never inside a longer character: trim bytes.
    let start = b
        .iter()
        .position(|c| !c.is_ascii_punctuation())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_punctuation())
        .map_or(start, |e| e + 1);
    let stripped = &token[start..end];
    if stripped.len() <= 2 || stripped.chars().take(3).count() <= 2 {
        token
    } else {
        stripped
    }
}

/// Python's ASCII whitespace: \t \n \v \f \r, the separators 0x1c..0x1f, space.
#[inline]
fn is_ascii_py_space(b: u8) -> bool {
    b <= b' ' && (b == b' ' || (b'\t'..=b'\r').contains(&b) || b >= 0x1c)
}

/// The index of the first whitespace byte at or after `k` in ASCII text, or `bytes.len()`.
/// Eight bytes at a time: every whitespace byte is below 0x21, and in ASCII (no byte above
/// 0x7f) the classic `(x - 0x21…) & !x & 0x80…` flags the lowest such byte exactly (higher flags
/// may be borrows, so only the lowest is trusted, then checked: control bytes are below 0x21 too).
#[inline]
fn next_ascii_space(bytes: &[u8], mut k: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(k..k + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        if below == 0 {
            k += 8;
            continue;
        }
        let j = k + (below.trailing_zeros() / 8) as usize;
        if is_ascii_py_space(bytes[j]) {
            return j;
        }
        k = j + 1;
    }
    while k < bytes.len() && !is_ascii_py_space(bytes[k]) {
        k += 1;
    }
    k
}

/// One whitespace-separated token of a message.
#[derive(Debug, Clone)]
pub(crate) struct Token<'t> {
    /// The token as split on whitespace, punctuation included (sentence boundaries need it).
    pub raw: &'t str,
    /// `word.lower()`, unless the word has capitals: then the word as written (VADER looked up
    /// its lowercase on the stack; whoever needs the lowercase text makes it, see `plain`).
    pub lower: &'t str,
    /// An ASCII token whose `lower` starts and ends with a letter or digit and has no capitals:
    /// the customer-service layer can use `lower` (and its lookup) as is.
    pub plain: bool,
    /// Valence of `lower` in the lexicon, NaN when it is not there (see [`Token::lex`]; an
    /// `f64` rather than an `Option` keeps the token small: tokens are written once per word).
    lex_or_nan: f64,
    /// +1 for an intensifier, -1 for a dampener, 0 otherwise (see [`Token::booster`]).
    booster_sign: i8,
    /// `lower` is a negation word or contains "n't" (reference `negated`).
    pub negation: bool,
    /// Slot in the analyzer's customer-service layer (`u32::MAX`: no rule uses it) of the
    /// layer's normalised word (lowercase, punctuation trimmed), which is `lower` unless VADER
    /// kept the punctuation of a short token ("ok."); [`DOMAIN_UNKNOWN`] for a token that is not
    /// ASCII (the layer normalises those itself).
    pub domain: u32,
    /// The service model's word id of the same normalised word (`u32::MAX`: a word it never
    /// saw; [`DOMAIN_UNKNOWN`] for a token that is not ASCII, as for `domain`).
    pub model: u32,
    /// The layer's normalised word starts with an ASCII digit (ASCII tokens of an analyzer
    /// with a domain layer only).
    pub digit: bool,
    /// `lower` as a [`sym`] symbol, or `sym::NONE`.
    pub sym: u8,
    /// `word.isupper()`.
    pub upper: bool,
}

impl Token<'_> {
    /// Valence of `lower` in the lexicon, if it is there.
    #[inline]
    pub(crate) fn lex(&self) -> Option<f64> {
        (!self.lex_or_nan.is_nan()).then_some(self.lex_or_nan)
    }

    /// Booster scalar of `lower` ("very" → 0.293), if it is a single-word booster.
    #[inline]
    pub(crate) fn booster(&self) -> Option<f64> {
        match self.booster_sign {
            1 => Some(B_INCR),
            -1 => Some(B_DECR),
            _ => None,
        }
    }
}

/// [`Token::domain`] (and [`Token::model`]) of a token that is not ASCII.
pub(crate) const DOMAIN_UNKNOWN: u32 = u32::MAX - 1;

/// Everything the scorer needs to know about one lowercased word, found with one lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WordInfo {
    /// Lexicon valence, NaN when the word is not in the lexicon (an `f64` rather than an
    /// `Option`, and 16-bit slots, keep this 16 bytes: the map is read once per token and
    /// must stay in cache).
    lex: f64,
    /// +1 for an intensifier (B_INCR), -1 for a dampener (B_DECR), 0 otherwise.
    booster: i8,
    negation: bool,
    /// The domain slot, in 16 bits ([`MAX_SLOTS`]).
    domain: u16,
    /// The service model's id of the word, in 16 bits ([`MAX_SLOTS`]).
    model: u16,
    sym: u8,
}

/// Domain slots and model ids are stored in 16 bits: `u16::MAX` is none (`u32::MAX` outside).
/// Neither the rules nor the model may use more than [`MAX_SLOTS`] words.
pub(crate) const MAX_SLOTS: usize = 65_000;

fn narrow(id: u32) -> u16 {
    u16::try_from(id).unwrap_or(u16::MAX)
}

fn widen(id: u16) -> u32 {
    if id == u16::MAX {
        u32::MAX
    } else {
        u32::from(id)
    }
}

impl WordInfo {
    fn domain(&self) -> u32 {
        widen(self.domain)
    }

    fn model(&self) -> u32 {
        widen(self.model)
    }
}

impl Default for WordInfo {
    fn default() -> Self {
        WordInfo {
            lex: f64::NAN,
            booster: 0,
            negation: false,
            domain: u16::MAX,
            model: u16::MAX,
            sym: sym::NONE,
        }
    }
}

/// A word of at most 23 bytes stored inline: its length and bytes packed into three
/// little-endian words. The lexicon lookup is the hottest path: the key is built in registers
/// straight from the token's bytes, and comparing it costs three integer compares instead of a
/// pointer chase and a `memcmp`; small keys also keep the table small enough for the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShortKey([u64; 3]);

impl ShortKey {
    /// The key from its bytes: the length, then the word, zero padded.
    #[inline]
    fn from_bytes(bytes: &[u8; 24]) -> ShortKey {
        let word = |k: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[8 * k..8 * k + 8]);
            u64::from_le_bytes(w)
        };
        ShortKey([word(0), word(1), word(2)])
    }

    #[inline]
    fn new(word: &str) -> Option<ShortKey> {
        let bytes = word.as_bytes();
        if bytes.len() > 23 {
            return None;
        }
        let pack = |chunk: &[u8]| {
            chunk
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
        };
        let (head, rest) = bytes.split_at(bytes.len().min(7));
        let mut key = [(pack(head) << 8) | bytes.len() as u64, 0, 0];
        for (slot, chunk) in key[1..].iter_mut().zip(rest.chunks(8)) {
            *slot = pack(chunk);
        }
        Some(ShortKey(key))
    }
}

impl std::hash::Hash for ShortKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_u64(word);
        }
    }
}

/// Lowercased word → what the scorer (and the analyzer's domain layer) know about it.
#[derive(Debug, Clone, Default)]
pub(crate) struct WordMap {
    short: FxMap<ShortKey, WordInfo>,
    /// Words longer than 23 bytes (none in VADER's lexicon; possible in domain files).
    long: FxMap<Box<str>, WordInfo>,
    /// Some word has a domain slot or a model id: tokenizing fills in [`Token::domain`] and
    /// [`Token::model`] exactly.
    has_domain: bool,
}

impl WordMap {
    /// Whether the words carry a domain layer's slots.
    pub(crate) fn has_domain(&self) -> bool {
        self.has_domain
    }

    /// The domain slot of `word` (`u32::MAX` when no domain rule uses it).
    pub(crate) fn domain_slot(&self, word: &str) -> u32 {
        self.get(word).map_or(u32::MAX, WordInfo::domain)
    }

    /// The service model's id of `word` (`u32::MAX` when it has none).
    pub(crate) fn model_id(&self, word: &str) -> u32 {
        self.get(word).map_or(u32::MAX, WordInfo::model)
    }

    #[inline]
    fn get_short(&self, key: &ShortKey) -> Option<&WordInfo> {
        self.short.get(key)
    }

    pub(crate) fn get(&self, word: &str) -> Option<&WordInfo> {
        match ShortKey::new(word) {
            Some(key) => self.short.get(&key),
            None => self.long.get(word),
        }
    }

    fn entry(&mut self, word: &str) -> &mut WordInfo {
        match ShortKey::new(word) {
            Some(key) => self.short.entry(key).or_default(),
            None => self.long.entry(Box::from(word)).or_default(),
        }
    }

    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = &WordInfo> {
        self.short.values().chain(self.long.values())
    }
}

/// The loaded lexicons. Built once per process (see [`super::Analyzer`]) and shared.
#[derive(Debug)]
pub(crate) struct Vader {
    words: WordMap,
    emojis: FxMap<char, Box<str>>,
}

/// vaderSentiment 3.3.2's valence lexicon: the `vader_sentiment` crate's entries, except where
/// [`LEXICON_OVERLAY`] gives the exact 3.3.2 rows (the crate's map is case-insensitive and
/// predates two entries). Parsing mirrors `make_lex_dict`: stripped lines, tab-separated
/// fields, a later duplicate overriding an earlier one.
fn lexicon_3_3_2() -> FxMap<Box<str>, f64> {
    let overlay: Vec<(&str, f64)> = LEXICON_OVERLAY
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.trim_matches(py_isspace).split('\t');
            let word = fields.next()?;
            let valence = fields.next()?.parse::<f64>().ok()?;
            Some((word, valence))
        })
        .collect();
    let shadowed: BTreeSet<String> = overlay.iter().map(|(w, _)| w.to_lowercase()).collect();
    let mut lexicon = FxMap::default();
    for (word, &valence) in vader_sentiment::LEXICON.iter() {
        let word: &str = **word;
        if !shadowed.contains(&word.to_lowercase()) {
            lexicon.insert(Box::from(word), valence);
        }
    }
    for (word, valence) in overlay {
        lexicon.insert(Box::from(word), valence);
    }
    lexicon
}

impl Vader {
    /// Loads the embedded lexicons. Parsing mirrors `make_lex_dict` / `make_emoji_dict`: lines
    /// are stripped, fields are tab separated, and a later duplicate overrides an earlier one.
    pub(crate) fn embedded() -> Self {
        let lexicon = lexicon_3_3_2();
        let mut emojis = FxMap::default();
        for (emoji, description) in vader_sentiment::EMOJI_LEXICON.iter() {
            // The reference looks emojis up one code point at a time, so multi-code-point
            // entries (flags, skin tones, ZWJ sequences) can never match; skip them.
            let mut chars = emoji.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emojis.insert(c, Box::from(description.trim_matches(py_isspace)));
            }
        }
        let mut words = WordMap::default();
        for (word, v) in lexicon {
            words.entry(&word).lex = v;
        }
        for &(word, b) in BOOSTERS {
            words.entry(word).booster = if b > 0.0 { 1 } else { -1 };
        }
        for &word in NEGATE {
            words.entry(word).negation = true;
        }
        for (k, &word) in sym::WORDS.iter().enumerate() {
            words.entry(word).sym = u8::try_from(k + 1).unwrap_or(sym::NONE);
        }
        Vader { words, emojis }
    }

    /// The words VADER knows, for analyzers without a domain layer.
    pub(crate) fn words(&self) -> &WordMap {
        &self.words
    }

    /// VADER's words plus a mark on each word a domain layer has rules about and on each
    /// word the service model knows, so that one lookup per token serves all three.
    pub(crate) fn words_with_domain<'a>(
        &self,
        domain_words: impl Iterator<Item = (&'a str, u32)>,
        model_words: impl Iterator<Item = (&'a str, u32)>,
    ) -> WordMap {
        let mut words = self.words.clone();
        for (w, slot) in domain_words {
            words.entry(w).domain = narrow(slot);
        }
        for (w, id) in model_words {
            words.entry(w).model = narrow(id);
        }
        words.has_domain = true;
        words
    }

    #[cfg(test)]
    pub(crate) fn lexicon_len(&self) -> usize {
        self.words.values().filter(|w| !w.lex.is_nan()).count()
    }

    /// The reference's emoji replacement followed by `str.strip()`: each emoji code point is
    /// replaced by its description, preceded by a space unless one precedes it already.
    pub(crate) fn demojize<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // Every emoji in the lexicon is outside ASCII (the lowest is U+00A9).
        let first = if text.is_ascii() {
            None
        } else {
            text.char_indices()
                .find(|(_, c)| !c.is_ascii() && self.emojis.contains_key(c))
        };
        let Some((start, _)) = first else {
            return Cow::Borrowed(text.trim_matches(py_isspace));
        };
        let mut out = String::with_capacity(text.len() + 32);
        out.push_str(&text[..start]);
        let mut prev_space = text[..start].chars().next_back().is_none_or(|c| c == ' ');
        for c in text[start..].chars() {
            if let Some(description) = (!c.is_ascii()).then(|| self.emojis.get(&c)).flatten() {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(description);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        let trimmed = out.trim_matches(py_isspace);
        if trimmed.len() == out.len() {
            Cow::Owned(out)
        } else {
            Cow::Owned(trimmed.to_owned())
        }
    }

    /// Splits a demojized text into tokens (reference `SentiText`).
    #[cfg(test)]
    pub(crate) fn tokenize<'t>(&self, text: &'t str, words: &WordMap) -> Vec<Token<'t>> {
        let mut tokens = Vec::new();
        self.tokenize_into(text, words, &mut tokens);
        tokens
    }

    /// [`Self::tokenize`] into a buffer the caller reuses (cleared first).
    pub(crate) fn tokenize_into<'t>(
        &self,
        text: &'t str,
        words: &WordMap,
        tokens: &mut Vec<Token<'t>>,
    ) {
        tokens.clear();
        tokens.reserve(text.len() / 5 + 1);
        let ascii_text = text.is_ascii();
        let make = |raw: &'t str| {
            let word = strip_punc_if_word(raw);
            let wb = word.as_bytes();
            // (lexicon entry, has capitals, ALL CAPS, negation) of the lowercased word.
            let (info, cased, upper, negation) =
                if wb.len() <= 23 && (ascii_text || word.is_ascii()) {
                    // The common case in one pass and without allocating: lowercase straight into
                    // the lookup key (see `ShortKey`), noting capitals and apostrophes on the way.
                    let mut key = [0u8; 24];
                    key[0] = wb.len() as u8;
                    let mut seen = 0u8;
                    for (k, &b) in key[1..].iter_mut().zip(wb) {
                        let class = BYTE_CLASS[usize::from(b)];
                        seen |= class;
                        // `CAPITAL` is 0x20: or-ing it in lowercases a capital.
                        *k = b | (class & CAPITAL);
                    }
                    let (has_upper, has_lower) = (seen & CAPITAL != 0, seen & SMALL != 0);
                    let apostrophe = seen & APOSTROPHE != 0;
                    let info = words
                        .get_short(&ShortKey::from_bytes(&key))
                        .copied()
                        .unwrap_or_default();
                    let negation = info.negation
                        || (apostrophe && key[1..=wb.len()].windows(3).any(|w| w == b"n't"));
                    (info, has_upper, has_upper && !has_lower, negation)
                } else {
                    // Long or non-ASCII words (rare): lowercase in a temporary String.
                    let owned: String;
                    let (key, cased, upper): (&str, bool, bool) = if word.is_ascii() {
                        let has_upper = wb.iter().any(u8::is_ascii_uppercase);
                        let upper = has_upper && !wb.iter().any(u8::is_ascii_lowercase);
                        if has_upper {
                            owned = word.to_ascii_lowercase();
                            (owned.as_str(), true, upper)
                        } else {
                            (word, false, upper)
                        }
                    } else {
                        match py_lower(word) {
                            Cow::Borrowed(w) => (w, false, py_isupper(word)),
                            Cow::Owned(l) => {
                                owned = l;
                                (owned.as_str(), true, py_isupper(word))
                            }
                        }
                    };
                    let info = words.get(key).copied().unwrap_or_default();
                    let negation =
                        info.negation || (key.bytes().any(|b| b == b'\'') && key.contains("n't"));
                    (info, cased, upper, negation)
                };
            let edge =
                |b: Option<&u8>| b.is_some_and(|&b| class(b) & (CAPITAL | SMALL | DIGIT) != 0);
            let ascii = ascii_text || raw.is_ascii();
            let plain =
                !cased && edge(word.as_bytes().first()) && edge(word.as_bytes().last()) && ascii;
            // The layer's word differs from VADER's only when VADER kept the punctuation of a
            // short token ("ok.", "I,"): then it is that token trimmed, at most two letters.
            let (domain, model, digit) = if !words.has_domain {
                (info.domain(), info.model(), false)
            } else if !ascii {
                (DOMAIN_UNKNOWN, DOMAIN_UNKNOWN, false)
            } else if word.len() == raw.len()
                // ASCII punctuation is one byte, never part of a longer character: test bytes.
                && (raw.as_bytes().first().is_some_and(|&b| class(b) & PUNCT != 0)
                    || raw.as_bytes().last().is_some_and(|&b| class(b) & PUNCT != 0))
            {
                let trimmed = raw.trim_matches(|c: char| c.is_ascii_punctuation());
                let digit = trimmed.as_bytes().first().is_some_and(u8::is_ascii_digit);
                let mut small = [0u8; 2];
                let lowered = &mut small[..trimmed.len().min(2)];
                lowered.copy_from_slice(&trimmed.as_bytes()[..lowered.len()]);
                lowered.make_ascii_lowercase();
                let found = match std::str::from_utf8(lowered) {
                    Ok(w) if trimmed.len() <= 2 => words.get(w),
                    _ => words.get(&trimmed.to_ascii_lowercase()),
                };
                (
                    found.map_or(u32::MAX, WordInfo::domain),
                    found.map_or(u32::MAX, WordInfo::model),
                    digit,
                )
            } else {
                let digit = word.as_bytes().first().is_some_and(u8::is_ascii_digit);
                (info.domain(), info.model(), digit)
            };
            Token {
                raw,
                lower: word,
                plain,
                lex_or_nan: info.lex,
                booster_sign: info.booster,
                domain,
                model,
                digit,
                sym: info.sym,
                negation,
                upper,
            }
        };
        if ascii_text {
            let bytes = text.as_bytes();
            let (mut k, n) = (0, bytes.len());
            while k < n {
                while k < n && is_ascii_py_space(bytes[k]) {
                    k += 1;
                }
                let start = k;
                k = next_ascii_space(bytes, k);
                if start < k {
                    tokens.push(make(&text[start..k]));
                }
            }
        } else {
            tokens.extend(
                text.split(py_isspace)
                    .filter(|raw| !raw.is_empty())
                    .map(make),
            );
        }
    }

    /// Per-token valences before the `but` rule (reference `polarity_scores` loop and
    /// `sentiment_valence`).
    #[cfg(test)]
    pub(crate) fn valences(&self, tokens: &[Token<'_>]) -> Vec<f64> {
        let mut sentiments = Vec::new();
        self.valences_into(tokens, &mut sentiments);
        sentiments
    }

    /// [`Self::valences`] into a buffer the caller reuses (cleared first).
    pub(crate) fn valences_into(&self, tokens: &[Token<'_>], sentiments: &mut Vec<f64>) {
        sentiments.clear();
        sentiments.reserve(tokens.len());
        let n = tokens.len();
        // Reference `allcap_differential`: some but not all tokens are ALL CAPS.
        let allcaps = tokens.iter().filter(|t| t.upper).count();
        let is_cap_diff = allcaps > 0 && allcaps < n;
        let low = |k: usize| tokens[k].sym;
        for (i, token) in tokens.iter().enumerate() {
            if token.booster_sign != 0
                || (i + 1 < n && low(i) == sym::KIND && low(i + 1) == sym::OF)
            {
                sentiments.push(0.0);
                continue;
            }
            let Some(lex_valence) = token.lex() else {
                sentiments.push(0.0);
                continue;
            };
            let mut valence = lex_valence;
            if low(i) == sym::NO && i != n - 1 && tokens[i + 1].lex().is_some() {
                // "no" negates the next lexicon word instead of carrying its own valence.
                valence = 0.0;
            }
            if (i > 0 && low(i - 1) == sym::NO)
                || (i > 1 && low(i - 2) == sym::NO)
                || (i > 2 && low(i - 3) == sym::NO && matches!(low(i - 1), sym::OR | sym::NOR))
            {
                valence = lex_valence * N_SCALAR;
            }
            if is_cap_diff && token.upper {
                if valence > 0.0 {
                    valence += C_INCR;
                } else {
                    valence -= C_INCR;
                }
            }
            for start_i in 0..3 {
                if i > start_i && tokens[i - (start_i + 1)].lex_or_nan.is_nan() {
                    let prev = &tokens[i - (start_i + 1)];
                    let mut s = scalar_inc_dec(prev, valence, is_cap_diff);
                    if start_i == 1 && s != 0.0 {
                        s *= 0.95;
                    }
                    if start_i == 2 && s != 0.0 {
                        s *= 0.9;
                    }
                    valence += s;
                    valence = negation_check(valence, tokens, start_i, i);
                    if start_i == 2 {
                        valence = special_idioms(valence, tokens, i);
                    }
                }
            }
            valence = least_check(valence, tokens, i);
            sentiments.push(valence);
        }
    }
}

/// Reference `scalar_inc_dec`.
fn scalar_inc_dec(prev: &Token<'_>, valence: f64, is_cap_diff: bool) -> f64 {
    let Some(b) = prev.booster() else {
        return 0.0;
    };
    let mut scalar = if valence < 0.0 { -b } else { b };
    if is_cap_diff && prev.upper {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

/// Reference `_negation_check`.
fn negation_check(valence: f64, tokens: &[Token<'_>], start_i: usize, i: usize) -> f64 {
    let low = |k: usize| tokens[k].sym;
    match start_i {
        0 if tokens[i - 1].negation => valence * N_SCALAR,
        1 => {
            if low(i - 2) == sym::NEVER && matches!(low(i - 1), sym::SO | sym::THIS) {
                valence * 1.25
            } else if low(i - 2) == sym::WITHOUT && low(i - 1) == sym::DOUBT {
                valence
            } else if tokens[i - 2].negation {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        2 => {
            if (low(i - 3) == sym::NEVER && matches!(low(i - 2), sym::SO | sym::THIS))
                || matches!(low(i - 1), sym::SO | sym::THIS)
            {
                valence * 1.25
            } else if low(i - 3) == sym::WITHOUT
                && (low(i - 2) == sym::DOUBT || low(i - 1) == sym::DOUBT)
            {
                valence
            } else if tokens[i - 3].negation {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        _ => valence,
    }
}

fn bigram_in(table: &[([u8; 2], f64)], a: u8, b: u8) -> Option<f64> {
    if a == sym::NONE || b == sym::NONE {
        return None;
    }
    table
        .iter()
        .find(|(k, _)| k[0] == a && k[1] == b)
        .map(|(_, v)| *v)
}

fn trigram_in(table: &[([u8; 3], f64)], a: u8, b: u8, c: u8) -> Option<f64> {
    if a == sym::NONE || b == sym::NONE || c == sym::NONE {
        return None;
    }
    table.iter().find(|(k, _)| k == &[a, b, c]).map(|(_, v)| *v)
}

/// Reference `_special_idioms_check`; only called with `i >= 3`.
fn special_idioms(mut valence: f64, tokens: &[Token<'_>], i: usize) -> f64 {
    let low = |k: usize| tokens[k].sym;
    let (w3, w2, w1, w0) = (low(i - 3), low(i - 2), low(i - 1), low(i));
    // Same order as the reference: onezero, twoonezero, twoone, threetwoone, threetwo.
    let first = bigram_in(SPECIAL_BIGRAMS, w1, w0)
        .or_else(|| trigram_in(SPECIAL_TRIGRAMS, w2, w1, w0))
        .or_else(|| bigram_in(SPECIAL_BIGRAMS, w2, w1))
        .or_else(|| trigram_in(SPECIAL_TRIGRAMS, w3, w2, w1))
        .or_else(|| bigram_in(SPECIAL_BIGRAMS, w3, w2));
    if let Some(v) = first {
        valence = v;
    }
    let n = tokens.len();
    if n - 1 > i
        && let Some(v) = bigram_in(SPECIAL_BIGRAMS, w0, low(i + 1))
    {
        valence = v;
    }
    if n - 1 > i + 1
        && let Some(v) = trigram_in(SPECIAL_TRIGRAMS, w0, low(i + 1), low(i + 2))
    {
        valence = v;
    }
    // Booster n-grams: threetwoone (never a bigram), threetwo, twoone.
    for (a, b) in [(w3, w2), (w2, w1)] {
        if let Some(v) = bigram_in(BIGRAM_BOOSTERS, a, b) {
            valence += v;
        }
    }
    valence
}

/// Reference `_least_check`.
fn least_check(valence: f64, tokens: &[Token<'_>], i: usize) -> f64 {
    if i > 0 && tokens[i - 1].lex_or_nan.is_nan() && tokens[i - 1].sym == sym::LEAST {
        if i > 1 {
            let before = tokens[i - 2].sym;
            if before != sym::AT && before != sym::VERY {
                return valence * N_SCALAR;
            }
            return valence;
        }
        return valence * N_SCALAR;
    }
    valence
}

/// Float key for the `but` rule (zeros never get here, so `-0.0 == 0.0` needs no care).
fn value_key(v: f64) -> u64 {
    v.to_bits()
}

/// Reference `_but_check`, including its quirk: for each valence in order it rescales the
/// *first* position holding an equal value (`list.index`), which is not always its own. A map
/// from value to the set of positions holding it makes this `n log n` instead of quadratic.
pub(crate) fn but_check(tokens: &[Token<'_>], sentiments: &mut [f64]) {
    let Some(bi) = tokens.iter().position(|t| t.sym == sym::BUT) else {
        return;
    };
    if sentiments.len() <= 64 {
        but_rescale_by_scan(bi, sentiments);
    } else {
        but_rescale_by_map(bi, sentiments);
    }
}

/// [`but_check`] for short texts (nearly all): scan for the first equal value as `list.index`
/// does, without building maps; quadratic, so only for a few dozen tokens.
fn but_rescale_by_scan(bi: usize, sentiments: &mut [f64]) {
    for p in 0..sentiments.len() {
        let v = sentiments[p];
        if v == 0.0 {
            continue;
        }
        let si = (0..p)
            .find(|&q| value_key(sentiments[q]) == value_key(v))
            .unwrap_or(p);
        let factor = match si.cmp(&bi) {
            std::cmp::Ordering::Less => 0.5,
            std::cmp::Ordering::Greater => 1.5,
            std::cmp::Ordering::Equal => continue,
        };
        sentiments[si] = v * factor;
    }
}

/// [`but_check`] for any length, `n log n`.
fn but_rescale_by_map(bi: usize, sentiments: &mut [f64]) {
    let mut positions: FxMap<u64, BTreeSet<usize>> = FxMap::default();
    for p in 0..sentiments.len() {
        // Entries at or after p still hold their original values (only earlier ones change).
        let v = sentiments[p];
        if v == 0.0 {
            // The first zero is rescaled to zero: a no-op, and no zero ever equals a non-zero.
            continue;
        }
        let set = positions.entry(value_key(v)).or_default();
        set.insert(p);
        let Some(&si) = set.first() else { continue };
        let factor = match si.cmp(&bi) {
            std::cmp::Ordering::Less => 0.5,
            std::cmp::Ordering::Greater => 1.5,
            std::cmp::Ordering::Equal => continue,
        };
        let new = v * factor;
        if value_key(new) != value_key(v) {
            set.remove(&si);
            positions.entry(value_key(new)).or_default().insert(si);
        }
        sentiments[si] = new;
    }
}

/// Python's `round(x, digits)`: the double nearest to the correctly rounded decimal, ties to
/// even. Scaling is exact enough unless the scaled value sits next to a tie; those rare cases
/// take the exact (slower) decimal formatting path.
pub(crate) fn py_round(x: f64, digits: i32) -> f64 {
    let scale = match digits {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(digits),
    };
    let y = x * scale;
    if y.is_finite() && y.abs() < 1e15 {
        // |y| < 2^50: integer conversions truncate exactly, and |y| + 0.5 is exact, so this is
        // `trunc` and (away from ties) `round` without libm calls; `copysign` keeps -0.0.
        let frac = (y - y as i64 as f64).abs();
        if (frac - 0.5).abs() > 1e-6 {
            return ((y.abs() + 0.5) as i64 as f64).copysign(y) / scale;
        }
    }
    let digits = usize::try_from(digits).unwrap_or(0);
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// Unrounded scores as the reference computes them (reference `score_valence`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RawScores {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// Reference `normalize` with `alpha = 15`.
fn normalize(score: f64) -> f64 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

/// How many `!` and `?` a text has: VADER's punctuation emphasis reads both, and the
/// customer-service layer's pre-check asks whether there is a question. One pass over the bytes
/// (which the compiler vectorises) instead of a `memchr` per mark per reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Marks {
    pub exclamations: usize,
    pub questions: usize,
}

impl Marks {
    #[inline]
    pub(crate) fn of(text: &str) -> Marks {
        // Count in u8 lanes over chunks small enough not to overflow, then widen.
        let (mut exclamations, mut questions) = (0usize, 0usize);
        for chunk in text.as_bytes().chunks(255) {
            let (mut e, mut q) = (0u8, 0u8);
            for &b in chunk {
                e += u8::from(b == b'!');
                q += u8::from(b == b'?');
            }
            exclamations += usize::from(e);
            questions += usize::from(q);
        }
        Marks {
            exclamations,
            questions,
        }
    }
}

/// Reference `score_valence`, with the demojized, stripped text's `!` and `?` already counted.
pub(crate) fn score_valence_marks(sentiments: &[f64], marks: Marks) -> RawScores {
    if sentiments.is_empty() {
        return RawScores {
            compound: 0.0,
            pos: 0.0,
            neu: 0.0,
            neg: 0.0,
        };
    }
    let mut sum_s: f64 = 0.0;
    for s in sentiments {
        sum_s += s;
    }
    let (ep, qm) = (marks.exclamations, marks.questions);
    let ep_amplifier = ep.min(4) as f64 * 0.292;
    let qm_amplifier = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f64 * 0.18,
        _ => 0.96,
    };
    let punct = ep_amplifier + qm_amplifier;
    if sum_s > 0.0 {
        sum_s += punct;
    } else if sum_s < 0.0 {
        sum_s -= punct;
    }
    let compound = normalize(sum_s);

    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0usize);
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += punct;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= punct;
    }
    let total = pos_sum + neg_sum.abs() + neu_count as f64;
    RawScores {
        compound,
        pos: (pos_sum / total).abs(),
        neu: (neu_count as f64 / total).abs(),
        neg: (neg_sum / total).abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes_match_the_std_predicates() {
        for b in 0..=255u8 {
            let c = class(b);
            assert_eq!(c & PUNCT != 0, b.is_ascii_punctuation(), "{b}");
            assert_eq!(c & DIGIT != 0, b.is_ascii_digit(), "{b}");
            assert_eq!(c & CAPITAL != 0, b.is_ascii_uppercase(), "{b}");
            assert_eq!(c & SMALL != 0, b.is_ascii_lowercase(), "{b}");
            assert_eq!(c & APOSTROPHE != 0, b == b'\'', "{b}");
        }
    }

    #[test]
    fn next_ascii_space_matches_a_byte_scan() {
        let slow = |b: &[u8], mut k: usize| {
            while k < b.len() && !is_ascii_py_space(b[k]) {
                k += 1;
            }
            k
        };
        // Every ASCII byte at every offset of words longer and shorter than a chunk.
        for c in 0u8..0x80 {
            for len in 0..20 {
                for at in 0..=len {
                    let mut text = vec![b'x'; len];
                    if at < len {
                        text[at] = c;
                    }
                    text.extend_from_slice(b"ab\x01c d");
                    for k in 0..text.len() {
                        assert_eq!(
                            next_ascii_space(&text, k),
                            slow(&text, k),
                            "{c:#x} {len} {at} {k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn python_string_semantics() {
        assert!(py_isupper("GREAT!"));
        assert!(!py_isupper("Great"));
        assert!(!py_isupper("123"));
        assert!(py_isspace('\u{1f}') && py_isspace('\u{a0}'));
        assert_eq!(strip_punc_if_word(":)"), ":)");
        assert_eq!(strip_punc_if_word("good!!!"), "good");
        assert_eq!(strip_punc_if_word("ok."), "ok.");
        assert_eq!(py_round(0.0625, 3), 0.062);
        assert_eq!(py_round(0.1875, 3), 0.188);
        assert!(py_round(-0.00003, 4).is_sign_negative());
        assert_eq!(py_round(-0.12345678, 4), -0.1235);
        assert_eq!(py_round(0.99996, 4), 1.0);
    }

    #[test]
    fn both_but_rescalings_agree() {
        // Few distinct values so that equal ones (the `list.index` quirk) are common.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize
        };
        for _ in 0..2000 {
            let n = 1 + next() % 64;
            let values = [0.0, 1.0, 2.0, 0.5, 1.5, -1.0, -0.5, 3.0, 0.75];
            let v: Vec<f64> = (0..n).map(|_| values[next() % values.len()]).collect();
            let bi = next() % n;
            let (mut a, mut b) = (v.clone(), v.clone());
            but_rescale_by_scan(bi, &mut a);
            but_rescale_by_map(bi, &mut b);
            assert_eq!(a, b, "{v:?} but at {bi}");
        }
    }

    #[test]
    fn but_check_rescales_the_first_equal_value_like_the_reference() {
        // Python: [2.0, 0(but), 1.0, 2.0] -> index(2.0)=0 halves it to 1.0; then 1.0 at
        // position 2 finds index 0 first and halves it again; the last 2.0 is itself.
        let v = Vader::embedded();
        let text = "x but y z";
        let tokens = v.tokenize(text, v.words());
        let mut s = vec![2.0, 0.0, 1.0, 2.0];
        but_check(&tokens, &mut s);
        assert_eq!(s, vec![0.5, 0.0, 1.0, 3.0]);
    }
}
