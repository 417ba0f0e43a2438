//! Grouping similar questions, for the unanswered-questions report: owners see which topics
//! the knowledge base is missing, biggest group first, instead of a flat list.

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

    let mut centroids: Vec<Vec<f32>> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, x) in vectors.iter().enumerate() {
        if x.is_empty() {
            groups.push(vec![i]);
            centroids.push(Vec::new());
            continue;
        }
        let best = centroids
            .iter()
            .enumerate()
            .map(|(g, c)| (g, cosine(x, c)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((g, sim)) if sim >= JOIN_AT => {
                groups[g].push(i);
                let c = &mut centroids[g];
                for &(f, v) in x {
                    c[f as usize] += v;
                }
            }
            _ => {
                let mut c = vec![0.0; vocab.len()];
                for &(f, v) in x {
                    c[f as usize] = v;
                }
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
            members.sort_by(|&a, &b| cosine(&vectors[b], c).total_cmp(&cosine(&vectors[a], c)));
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

fn cosine(x: &SparseVec, centroid: &[f32]) -> f32 {
    if centroid.is_empty() {
        return 0.0;
    }
    let norm = centroid.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm == 0.0 {
        return 0.0;
    }
    x.iter()
        .map(|&(f, v)| v * centroid[f as usize])
        .sum::<f32>()
        / norm
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
}
