//! Grouping similar questions, for the unanswered-questions report: owners see which topics
//! the knowledge base is missing, biggest group first, instead of a flat list.

use std::collections::HashMap;

use serde::Serialize;

use crate::Language;
use crate::model::{SparseVec, Vocab};
use crate::text::{Features, Featurizer};

/// Questions this similar (cosine of TF-IDF word and character n-grams) to a group's centroid
/// join it. Lower merges different topics; higher splits paraphrases.
const JOIN_AT: f32 = 0.3;

/// Similar questions, as indexes into the input, the most typical first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionGroup {
    pub members: Vec<usize>,
}

/// Groups questions by similarity: biggest group first, singletons last. Deterministic for a
/// given input order. Quadratic in the number of groups, fine for the few thousand questions a
/// report covers.
pub fn group_similar(questions: &[String], lang: Language) -> Vec<QuestionGroup> {
    let featurizer = Featurizer::new(lang);
    let features: Vec<Features> = questions.iter().map(|q| featurizer.features(q)).collect();
    let refs: Vec<&Features> = features.iter().collect();
    let vocab = Vocab::build(&refs, usize::MAX);
    let vectors: Vec<SparseVec> = features.iter().map(|f| vocab.vectorize(f)).collect();

    // Centroids are sparse: a dense vector per group would cost the whole vocabulary (every
    // word and character n-gram seen) for every group, quadratic memory in distinct questions.
    let mut centroids: Vec<Centroid> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, x) in vectors.iter().enumerate() {
        if x.is_empty() {
            groups.push(vec![i]);
            centroids.push(Centroid::default());
            continue;
        }
        let best = centroids
            .iter()
            .enumerate()
            .map(|(g, c)| (g, c.cosine(x)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((g, sim)) if sim >= JOIN_AT => {
                groups[g].push(i);
                centroids[g].add(x);
            }
            _ => {
                let mut c = Centroid::default();
                c.add(x);
                groups.push(vec![i]);
                centroids.push(c);
            }
        }
    }
    let mut out: Vec<QuestionGroup> = groups
        .into_iter()
        .zip(&centroids)
        .map(|(mut members, c)| {
            // Most typical first: closest to the group's centroid.
            members.sort_by(|&a, &b| c.cosine(&vectors[b]).total_cmp(&c.cosine(&vectors[a])));
            QuestionGroup { members }
        })
        .collect();
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.members[0].cmp(&b.members[0]))
    });
    out
}

/// The sum of a group's question vectors, with its norm kept up to date.
#[derive(Default)]
struct Centroid {
    weights: HashMap<u32, f32>,
    /// Kept incrementally in the order of `x`'s features (not the map's, which varies between
    /// runs), so grouping stays deterministic.
    squares: f32,
    norm: f32,
}

impl Centroid {
    fn add(&mut self, x: &SparseVec) {
        for &(f, v) in x {
            let w = self.weights.entry(f).or_insert(0.0);
            self.squares += (*w + v) * (*w + v) - *w * *w;
            *w += v;
        }
        self.norm = self.squares.max(0.0).sqrt();
    }

    /// Cosine between `x` (unit length) and the centroid's direction.
    fn cosine(&self, x: &SparseVec) -> f32 {
        if self.norm == 0.0 {
            return 0.0;
        }
        x.iter()
            .map(|&(f, v)| v * self.weights.get(&f).copied().unwrap_or(0.0))
            .sum::<f32>()
            / self.norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paraphrases_group_together_and_topics_apart() {
        let questions: Vec<String> = [
            "do you ship to canada",
            "can you deliver to canada?",
            "shipping to Canada possible?",
            "is there vegan tea",
            "do you sell vegan tea?",
            "what are your opening hours",
        ]
        .iter()
        .map(|q| (*q).to_owned())
        .collect();
        let groups = group_similar(&questions, Language::English);
        let canada = groups
            .iter()
            .find(|g| g.members.contains(&0))
            .expect("question 0 is grouped");
        assert!(
            canada.members.contains(&1) && canada.members.contains(&2),
            "{groups:?}"
        );
        assert!(!canada.members.contains(&5) && !canada.members.contains(&3));
        let vegan = groups
            .iter()
            .find(|g| g.members.contains(&3))
            .expect("question 3 is grouped");
        assert!(vegan.members.contains(&4), "{groups:?}");
        assert_eq!(
            groups[0].members.len(),
            3,
            "biggest group first: {groups:?}"
        );
        let all: usize = groups.iter().map(|g| g.members.len()).sum();
        assert_eq!(all, questions.len());
        assert!(group_similar(&[], Language::English).is_empty());
    }

    #[test]
    fn many_questions_are_each_grouped_once() {
        let questions: Vec<String> = (0..600)
            .map(|i| {
                format!(
                    "question {i} about item{} in colour{}",
                    i * 7919 % 601,
                    i % 7
                )
            })
            .collect();
        let groups = group_similar(&questions, Language::English);
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.members.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..questions.len()).collect::<Vec<_>>());
    }
}
