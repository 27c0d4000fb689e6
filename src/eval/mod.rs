//! Evaluation measures used by `rapporteur eval`, the tests and the benchmarks.

pub mod der;
pub mod positions;
pub mod wer;
