//! Errors of the customer-value module: one enum, short lowercase messages.

use std::fmt;
use std::path::PathBuf;

/// A problem with one input row, with its 1-based line number in the file.
///
/// Displays as `line 12: amount is not a number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the input file (the header is line 1).
    pub line: u64,
    /// What is wrong, in plain words.
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Every bad row of an import (the first [`RowErrors::KEPT`] are kept), so the
/// import can be fixed in one go; nothing is imported when there is any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowErrors {
    /// The first bad rows, in file order.
    pub rows: Vec<RowError>,
    /// How many bad rows there were in all.
    pub total: usize,
}

impl RowErrors {
    /// How many bad rows are kept for display.
    pub const KEPT: usize = 20;

    pub(crate) fn new() -> Self {
        Self {
            rows: Vec::new(),
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, line: u64, problem: impl Into<String>) {
        self.total += 1;
        if self.rows.len() < Self::KEPT {
            self.rows.push(RowError {
                line,
                problem: problem.into(),
            });
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for RowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{row}")?;
        }
        if self.total > self.rows.len() {
            write!(f, "; and {} more bad rows", self.total - self.rows.len())?;
        }
        Ok(())
    }
}

/// Errors of the customer-value module.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The input file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV reader failed before rows could be checked (for example a bad header).
    #[error("cannot read csv: {0}")]
    Csv(#[from] csv::Error),
    /// A required column is missing from the header.
    #[error("missing column {0}")]
    MissingColumn(&'static str),
    /// One or more rows are invalid; nothing was imported.
    #[error("{0}")]
    BadRows(RowErrors),
    /// There is nothing to fit or score.
    #[error("no customers to fit")]
    NoCustomers,
    /// An argument is out of range (dates in the wrong order, a share above 1, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The maximum-likelihood fit did not reach an optimum.
    #[error("the {model} fit did not converge after {iterations} iterations")]
    NotConverged {
        /// Which model.
        model: &'static str,
        /// Iterations used.
        iterations: usize,
    },
}

impl ValueError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
}
