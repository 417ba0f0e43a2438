//! Sentiment (filled by the sentiment work).
