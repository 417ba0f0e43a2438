//! hark feedback: what customers tell us and what they are worth.
pub mod sentiment;
pub mod stats;
pub mod value;
