//! Text analysis shared by the index and the model: tokenising, stemming per language and the
//! hashed features (stemmed words, word bigrams, character n-grams) the classifier learns from.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, NgramTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, TokenStream,
};

use crate::Language;

/// Name of the stemming analyzer registered on the index.
pub(crate) const STEM_ANALYZER: &str = "kb_stem";
/// Name of the character-trigram analyzer registered on the index (typo tolerance).
pub(crate) const GRAM_ANALYZER: &str = "kb_gram";

/// Smallest and largest character n-gram the model uses; words are padded with spaces first, so
/// " de" and "ry " mark word starts and ends.
const CHAR_GRAMS: std::ops::RangeInclusive<usize> = 2..=5;

pub(crate) fn stem_analyzer(lang: Language) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(lang.stemmer()))
        .build()
}

pub(crate) fn gram_analyzer() -> tantivy::Result<TextAnalyzer> {
    Ok(TextAnalyzer::builder(NgramTokenizer::all_ngrams(3, 3)?)
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build())
}

fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build()
}

/// Collects the tokens an analyzer produces.
pub(crate) fn tokens(analyzer: &TextAnalyzer, text: &str) -> Vec<String> {
    // TextAnalyzer needs `&mut` to stream; a clone is a few pointer copies.
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// A hashed feature. 32 bits: a knowledge base has at most a few hundred thousand distinct
/// features, so collisions are a handful, and features are the bulk of rebuild memory.
pub(crate) type Key = u32;

/// Hashed features of one text, before weighting: one key per occurrence.
#[derive(Debug, Default)]
pub(crate) struct Features {
    pub words: Vec<Key>,
    pub chars: Vec<Key>,
}

/// Turns text into feature keys. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub(crate) struct Featurizer {
    stem: TextAnalyzer,
    plain: TextAnalyzer,
}

impl Featurizer {
    pub(crate) fn new(lang: Language) -> Self {
        Featurizer {
            stem: stem_analyzer(lang),
            plain: plain_analyzer(),
        }
    }

    pub(crate) fn features(&self, text: &str) -> Features {
        self.analyze(text).features
    }

    /// Stems, plain lowercased words (aligned with the stems) and the model's features.
    pub(crate) fn analyze(&self, text: &str) -> Analyzed {
        let stems = tokens(&self.stem, text);
        let plain = tokens(&self.plain, text);
        let mut words = Vec::with_capacity(stems.len() * 2 + 1);
        let mut prev = hash_str(1, "^");
        for stem in &stems {
            let h = hash_str(2, stem);
            words.push(h as Key);
            words.push(mix(prev ^ h.rotate_left(17)) as Key);
            prev = h;
        }
        if !stems.is_empty() {
            words.push(mix(prev ^ hash_str(1, "$").rotate_left(17)) as Key);
        }

        let mut chars = Vec::new();
        let mut buf: Vec<char> = Vec::with_capacity(48);
        for word in &plain {
            buf.clear();
            buf.push(' ');
            buf.extend(word.chars());
            buf.push(' ');
            for n in CHAR_GRAMS.clone() {
                if n > buf.len() {
                    break;
                }
                for gram in buf.windows(n) {
                    // A lone space-padded single letter (" a ") is a word feature, not a gram.
                    if n == 2 && gram.iter().all(|c| *c == ' ') {
                        continue;
                    }
                    let mut h = 0x9e37_79b9_7f4a_7c15_u64 ^ n as u64;
                    for c in gram {
                        h = (h ^ u64::from(*c)).wrapping_mul(0x0100_0000_01b3);
                    }
                    chars.push(mix(h) as Key);
                }
            }
        }
        Analyzed {
            stems,
            plain,
            features: Features { words, chars },
        }
    }
}

/// A query taken apart once, for both the model and the index.
#[derive(Debug, Default)]
pub(crate) struct Analyzed {
    pub stems: Vec<String>,
    /// Lowercased words, one per stem (the stemmer never drops a token).
    pub plain: Vec<String>,
    pub features: Features,
}

/// The model's feature key for a stemmed word.
pub(crate) fn stem_key(stem: &str) -> Key {
    hash_str(2, stem) as Key
}

fn hash_str(namespace: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ namespace;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64 finaliser: spreads FNV's weak low bits before the keys go into hash maps.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A tiny deterministic PRNG (splitmix64) for shuffles and fold assignment, so results repeat
/// for a seed without pulling in `rand`.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at our sizes.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemming_follows_the_language() {
        let en = stem_analyzer(Language::English);
        assert_eq!(tokens(&en, "Deliveries delivered"), ["deliveri", "deliv"]);
        assert_eq!(tokens(&en, "running runs"), ["run", "run"]);
        let de = stem_analyzer(Language::German);
        assert_eq!(tokens(&de, "Lieferungen Lieferung"), ["liefer", "liefer"]);
        let es = stem_analyzer(Language::Spanish);
        assert_eq!(tokens(&es, "devoluciones devolución"), ["devolu", "devolu"]);
    }

    #[test]
    fn features_are_stable_and_share_grams_across_typos() {
        let f = Featurizer::new(Language::English);
        let a = f.features("delivery");
        let b = f.features("delivery");
        assert_eq!(a.chars, b.chars);
        let typo = f.features("delivry");
        let shared = typo.chars.iter().filter(|g| a.chars.contains(g)).count();
        assert!(shared >= 6, "only {shared} grams shared");
    }
}
