//! The shared data model every stage reads and writes: a recording's transcript with its
//! segments and words. Later stages (speakers, positions) fill in optional fields; writers
//! render it. Times are seconds from the start of the recording.

use serde::{Deserialize, Serialize};

/// Identifies the transcript.json format; bumped on incompatible changes.
pub const TRANSCRIPT_SCHEMA: &str = "rapporteur.transcript/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub schema: String,
    pub source: Source,
    pub language: Language,
    pub model: ModelRef,
    pub segments: Vec<Segment>,
}

/// The recording a transcript was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub path: String,
    pub sha256: String,
    /// Seconds of audio decoded.
    pub duration: f64,
    /// Container format, e.g. "ogg", "wav", "isomp4".
    pub container: String,
    /// Codec of the audio track, e.g. "opus", "mp3", "pcm_s16le".
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Language {
    /// ISO 639-1 code, e.g. "en".
    pub code: String,
    /// Probability the model gave this language (1.0 when it was given, or the model is
    /// English-only).
    pub probability: f32,
    /// Whether the language was detected (true) or given with `--language` / implied by the model.
    pub detected: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: usize,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub words: Vec<Word>,
    /// Mean log-probability of the segment's tokens.
    pub avg_logprob: f32,
    /// Probability that the window holding this segment had no speech.
    pub no_speech_prob: f32,
    /// Speaker label, filled by diarization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    /// The word as spoken, with its attached punctuation, without surrounding spaces.
    pub text: String,
    /// Mean probability of the word's tokens.
    pub probability: f32,
}

impl Transcript {
    /// The whole text, segments joined by spaces.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
