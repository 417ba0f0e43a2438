//! The article, the unit the bot answers with, and the knowledge base's language.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::KbError;

/// Longest accepted article id, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// One knowledge-base article: an answer plus the ways customers ask for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub answer: String,
    /// Example questions customers ask; the answer engine learns from them.
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Article {
    /// Trims fields, drops empty questions and tags, and checks what the engine relies on.
    /// The error is a short reason such as "title is empty".
    pub(crate) fn normalized(mut self) -> Result<Self, String> {
        self.id = self.id.trim().to_owned();
        self.title = self.title.trim().to_owned();
        self.answer = self.answer.trim().to_owned();
        if self.id.is_empty() {
            return Err("id is empty".into());
        }
        if self.id.chars().count() > MAX_ID_CHARS {
            return Err(format!("id is longer than {MAX_ID_CHARS} characters"));
        }
        if self.id.chars().any(char::is_control) {
            return Err("id contains control characters".into());
        }
        if self.title.is_empty() {
            return Err("title is empty".into());
        }
        if self.answer.is_empty() {
            return Err("answer is empty".into());
        }
        self.questions = tidy(self.questions);
        self.tags = tidy(self.tags);
        Ok(self)
    }

    pub(crate) fn validated(self) -> Result<Self, KbError> {
        self.normalized().map_err(KbError::InvalidArticle)
    }
}

fn tidy(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim();
        if !item.is_empty() && !out.iter().any(|seen| seen == item) {
            out.push(item.to_owned());
        }
    }
    out
}

/// The knowledge base's language; it picks the stemmer for the index and the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    English,
    German,
    Spanish,
}

impl Language {
    pub(crate) fn stemmer(self) -> tantivy::tokenizer::Language {
        match self {
            Language::English => tantivy::tokenizer::Language::English,
            Language::German => tantivy::tokenizer::Language::German,
            Language::Spanish => tantivy::tokenizer::Language::Spanish,
        }
    }
}

impl FromStr for Language {
    type Err = KbError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Language::English),
            "de" | "german" | "deutsch" => Ok(Language::German),
            "es" | "spanish" | "español" | "espanol" => Ok(Language::Spanish),
            _ => Err(KbError::UnknownLanguage(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Language::English => "english",
            Language::German => "german",
            Language::Spanish => "spanish",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_parses_codes_and_names() {
        assert_eq!("en".parse::<Language>().ok(), Some(Language::English));
        assert_eq!("German".parse::<Language>().ok(), Some(Language::German));
        assert_eq!("es".parse::<Language>().ok(), Some(Language::Spanish));
        assert!("klingon".parse::<Language>().is_err());
    }

    #[test]
    fn normalizing_trims_and_rejects_empty_fields() {
        let article = Article {
            id: " a1 ".into(),
            title: " T ".into(),
            answer: "A".into(),
            questions: vec!["q".into(), " ".into(), "q".into()],
            tags: vec![],
        };
        let article = article.normalized().expect("valid");
        assert_eq!(article.id, "a1");
        assert_eq!(article.questions, vec!["q".to_owned()]);
        let empty = Article {
            answer: "  ".into(),
            ..article
        };
        assert_eq!(empty.normalized().err().as_deref(), Some("answer is empty"));
    }
}
