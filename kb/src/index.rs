//! The tantivy side: schema, writing articles and BM25 retrieval of candidate articles.

use std::collections::HashMap;
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use crate::text::{GRAM_ANALYZER, STEM_ANALYZER, gram_analyzer, stem_analyzer, tokens};
use crate::{Article, KbError, Language};

/// Field boosts: customers' words look most like other customers' questions and the title.
const BOOST_QUESTIONS: f32 = 2.0;
const BOOST_TITLE: f32 = 2.0;
const BOOST_TAGS: f32 = 1.0;
const BOOST_ANSWER: f32 = 0.5;
/// Trigram matches are many and weak each; they decide only when words do not match (typos).
const BOOST_GRAMS: f32 = 0.15;
/// Beside tantivy's files: the language whose stemmer wrote the terms. Terms stemmed for
/// one language do not match queries stemmed for another, so a change means a rewrite.
const LANGUAGE_FILE: &str = "hark-kb-language";
/// Caps on query clauses, which bound retrieval time for long messages.
const MAX_QUERY_STEMS: usize = 32;
const MAX_QUERY_GRAMS: usize = 48;
/// The writer's indexing arena; articles are small, tantivy's minimum (15 MB) is plenty.
const WRITER_MEMORY: usize = 15_000_000;

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    id: Field,
    key: Field,
    title: Field,
    questions: Field,
    answer: Field,
    tags: Field,
    grams: Field,
    stored: Field,
}

/// The index, its single reader and the analyzers used to build queries.
pub(crate) struct KbIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    gram: tantivy::tokenizer::TextAnalyzer,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |analyzer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        key: b.add_u64_field("key", INDEXED | FAST),
        title: b.add_text_field("title", text(STEM_ANALYZER)),
        questions: b.add_text_field("questions", text(STEM_ANALYZER)),
        answer: b.add_text_field("answer", text(STEM_ANALYZER)),
        tags: b.add_text_field("tags", text(STEM_ANALYZER)),
        grams: b.add_text_field("grams", text(GRAM_ANALYZER)),
        // The whole article as JSON, so `open` can restore the knowledge base from disk.
        stored: b.add_text_field("article", STORED),
    };
    (b.build(), fields)
}

/// A stable 64-bit key per article id; tantivy hits carry it as a fast field, cheaper to read
/// than a stored document.
pub(crate) fn article_key(id: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    crate::text::mix(h)
}

impl KbIndex {
    pub(crate) fn in_ram(lang: Language) -> Result<Self, KbError> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields, lang)
    }

    /// Opens or creates the index in `dir`. The flag says whether the index was written with
    /// another language's stemmer (or by an unknown version) and must be rewritten.
    pub(crate) fn open(dir: &Path, lang: Language) -> Result<(Self, bool), KbError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(MmapDirectory::open(dir)?, schema)?;
        let marker = dir.join(LANGUAGE_FILE);
        let stale = match std::fs::read_to_string(&marker) {
            Ok(written) => written.trim() != lang.to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(e.into()),
        };
        Ok((Self::with_index(index, fields, lang)?, stale))
    }

    /// Records which stemmer the index in `dir` was written with (after a successful rewrite).
    pub(crate) fn mark_language(dir: &Path, lang: Language) -> Result<(), KbError> {
        std::fs::write(dir.join(LANGUAGE_FILE), lang.to_string())?;
        Ok(())
    }

    fn with_index(index: Index, fields: Fields, lang: Language) -> Result<Self, KbError> {
        index
            .tokenizers()
            .register(STEM_ANALYZER, stem_analyzer(lang));
        let gram = gram_analyzer()?;
        index.tokenizers().register(GRAM_ANALYZER, gram.clone());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(KbIndex {
            index,
            reader,
            fields,
            gram,
        })
    }

    pub(crate) fn writer(&self) -> Result<IndexWriter, KbError> {
        Ok(self.index.writer_with_num_threads(1, WRITER_MEMORY)?)
    }

    pub(crate) fn add(&self, writer: &IndexWriter, article: &Article) -> Result<(), KbError> {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &article.id);
        doc.add_u64(f.key, article_key(&article.id));
        doc.add_text(f.title, &article.title);
        doc.add_text(f.grams, &article.title);
        for q in &article.questions {
            doc.add_text(f.questions, q);
            doc.add_text(f.grams, q);
        }
        doc.add_text(f.answer, &article.answer);
        for t in &article.tags {
            doc.add_text(f.tags, t);
        }
        let json = serde_json::to_string(article).map_err(|e| KbError::Corrupt(e.to_string()))?;
        doc.add_text(f.stored, json);
        writer.add_document(doc)?;
        Ok(())
    }

    pub(crate) fn delete(&self, writer: &IndexWriter, id: &str) {
        writer.delete_term(Term::from_field_text(self.fields.id, id));
    }

    /// Makes committed changes visible and returns a searcher on that generation.
    pub(crate) fn refreshed_searcher(&self) -> Result<Searcher, KbError> {
        self.reader.reload()?;
        Ok(self.reader.searcher())
    }

    /// Every article stored in the index (for `open`).
    pub(crate) fn stored_articles(&self, searcher: &Searcher) -> Result<Vec<Article>, KbError> {
        let mut out = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc in segment.doc_ids_alive() {
                let doc: TantivyDocument = searcher.doc(DocAddress::new(ord as u32, doc))?;
                let json = doc
                    .get_first(self.fields.stored)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| KbError::Corrupt("missing article field".into()))?;
                let article: Article =
                    serde_json::from_str(json).map_err(|e| KbError::Corrupt(e.to_string()))?;
                out.push(article);
            }
        }
        Ok(out)
    }

    /// BM25 over the text fields: up to `limit` (article key, score) pairs, best first.
    /// `stems` come from the stemming analyzer; `unknown` are words the knowledge base does not
    /// contain, searched by trigrams (typos). Known words skip trigrams: every clause costs
    /// time and their exact stems already match.
    pub(crate) fn retrieve(
        &self,
        searcher: &Searcher,
        stems: &[String],
        unknown: &[&str],
        limit: usize,
    ) -> Result<Vec<(u64, f32)>, KbError> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut stems: Vec<&str> = stems.iter().map(String::as_str).collect();
        stems.sort_unstable();
        stems.dedup();
        stems.truncate(MAX_QUERY_STEMS);
        for stem in stems {
            for (field, boost) in [
                (f.questions, BOOST_QUESTIONS),
                (f.title, BOOST_TITLE),
                (f.tags, BOOST_TAGS),
                (f.answer, BOOST_ANSWER),
            ] {
                let term = TermQuery::new(
                    Term::from_field_text(field, stem),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term), boost)),
                ));
            }
        }
        let mut grams: Vec<String> = unknown
            .iter()
            .flat_map(|word| tokens(&self.gram, word))
            .collect();
        grams.sort_unstable();
        grams.dedup();
        grams.truncate(MAX_QUERY_GRAMS);
        for gram in &grams {
            let term = TermQuery::new(
                Term::from_field_text(f.grams, gram),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(term), BOOST_GRAMS)),
            ));
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(clauses);
        let hits = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64("key")?,
                ),
            };
            if let Some(key) = column.first(address.doc_id) {
                out.push((key, score));
            }
        }
        Ok(out)
    }
}
