//! rapporteur: offline transcription of recorded negotiation sessions.
//!
//! Stages never import each other; they meet in [`transcript`] and are sequenced by
//! [`pipeline`], so data flows one way: audio -> asr -> (later stages) -> output.

pub mod asr;
pub mod audio;
pub mod batch;
pub mod dsp;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod interrupt;
pub mod memory;
pub mod models;
pub mod output;
pub mod parties;
pub mod pipeline;
pub mod positions;
pub mod progress;
pub mod sentences;
pub mod speakers;
pub mod summary;
pub mod transcript;
pub mod utterances;

pub use error::{Error, ErrorKind, Result};
