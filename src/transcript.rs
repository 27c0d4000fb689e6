//! The shared data model every stage reads and writes: a recording's transcript with its
//! segments and words. Later stages (speakers, positions) fill in optional fields; writers
//! render it. Times are seconds from the start of the recording.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Identifies the transcript.json format; bumped on incompatible changes.
pub const TRANSCRIPT_SCHEMA: &str = "rapporteur.transcript/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub schema: String,
    pub source: Source,
    pub language: Language,
    pub model: ModelRef,
    /// How speech was found and how often the recogniser had to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<SpeechReport>,
    /// Who spoke when; absent when diarization was not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diarization: Option<Diarization>,
    /// The models that tagged negotiation positions; absent when tagging was not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<PositionModels>,
    pub segments: Vec<Segment>,
}

/// The models behind every segment's `position`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionModels {
    /// The sentence encoder (all-MiniLM-L6-v2).
    pub encoder: ModelRef,
    /// The trained classifier head (`models/positions/head.safetensors`).
    pub head: ModelRef,
}

/// A negotiation move (see docs/positions.md for definitions and boundaries).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Move {
    Proposal,
    Support,
    Opposition,
    Reservation,
    Concession,
    Question,
    Procedural,
    Statement,
}

impl Move {
    /// Every move, in the order of the classifier's outputs.
    pub const ALL: [Move; 8] = [
        Move::Proposal,
        Move::Support,
        Move::Opposition,
        Move::Reservation,
        Move::Concession,
        Move::Question,
        Move::Procedural,
        Move::Statement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Move::Proposal => "proposal",
            Move::Support => "support",
            Move::Opposition => "opposition",
            Move::Reservation => "reservation",
            Move::Concession => "concession",
            Move::Question => "question",
            Move::Procedural => "procedural",
            Move::Statement => "statement",
        }
    }

    pub fn index(self) -> usize {
        Move::ALL.iter().position(|&m| m == self).unwrap_or(0)
    }

    pub fn parse(name: &str) -> Option<Move> {
        Move::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl std::fmt::Display for Move {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an utterance does in the negotiation, and on what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub label: Move,
    /// Calibrated probability of `label`.
    pub confidence: f32,
    /// Calibrated probability of every move (they sum to 1).
    pub scores: std::collections::BTreeMap<Move, f32>,
    /// What the move is about, when the text names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// For utterances of several sentences: each sentence's own move, the evidence behind
    /// `label`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentences: Vec<SentencePosition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentencePosition {
    pub text: String,
    pub label: Move,
    pub confidence: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// A paragraph, article, amendment, proposal, delegation or agenda item a move is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The words as they appear in the text.
    pub text: String,
    /// Normalised so the same target groups across speakers, e.g. "paragraph 3",
    /// "article 6.4", "amendment by brazil", "proposal by eu", "agenda item 4".
    pub key: String,
    /// "paragraph", "article", "amendment", "proposal", "document", "delegation" or "agenda".
    pub kind: String,
}

/// The speakers found in a recording and their turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diarization {
    /// The speaker embedding model.
    pub model: ModelRef,
    /// Cosine distance under which voices were taken to be the same speaker.
    pub threshold: f32,
    /// Seconds of speech the turns cover (overlapped speech counted once).
    pub speech_s: f64,
    /// Seconds where two speakers were judged to speak at once.
    pub overlap_s: f64,
    pub speakers: Vec<Speaker>,
    /// Turns in order of start; during overlapped speech two turns cover the same time.
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// Cluster id in order of first appearance: S1, S2, ...
    pub id: String,
    /// What turns, segments and words call this speaker: the enrolled or given name, or `id`.
    pub label: String,
    /// Delegation, when the enrolled voice or the names file gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// The enrolled voice this speaker matched, with its cosine similarity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<VoiceMatch>,
    /// Seconds of speech attributed to this speaker.
    pub speech_s: f64,
    pub turns: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceMatch {
    pub name: String,
    pub similarity: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub start: f64,
    pub end: f64,
    /// The speaker's label.
    pub speaker: String,
}

/// Where the recogniser listened: the voice activity detector and what it kept, and what the
/// safeguards against invented text did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechReport {
    /// "silero-vad", or "none" when every second was transcribed (`--no-vad`).
    pub detector: String,
    /// sha256 of the detector's weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_sha256: Option<String>,
    /// Seconds of the recording judged to be speech (and transcribed).
    pub speech_s: f64,
    /// Chunks of at most 30 s handed to the recogniser.
    pub chunks: usize,
    /// Chunks decoded again at a higher temperature (loop or low confidence).
    pub retried_chunks: usize,
    /// Chunks every attempt failed; the least doubtful text was kept, or none if all looped.
    pub unresolved_chunks: usize,
    /// Chunks the recogniser judged silent: nothing kept.
    pub silent_chunks: usize,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Negotiation move and target, filled by position tagging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    /// The word as spoken, with its attached punctuation, without surrounding spaces.
    pub text: String,
    /// Mean probability of the word's tokens.
    pub probability: f32,
    /// Speaker label, filled by diarization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

impl Segment {
    /// Move every time of the segment and its words through `map(t, is_end)`.
    pub fn map_times(&mut self, map: impl Fn(f64, bool) -> f64) {
        self.start = map(self.start, false);
        self.end = map(self.end, true).max(self.start);
        for w in &mut self.words {
            w.start = map(w.start, false);
            w.end = map(w.end, true).max(w.start);
        }
    }
}

/// Adjectives of delegations that name a proposal ("the Brazilian amendment").
const DEMONYMS: [(&str, &str); 40] = [
    ("african", "african group"),
    ("american", "united states"),
    ("argentinian", "argentina"),
    ("australian", "australia"),
    ("austrian", "austria"),
    ("belgian", "belgium"),
    ("brazilian", "brazil"),
    ("british", "united kingdom"),
    ("canadian", "canada"),
    ("chilean", "chile"),
    ("chinese", "china"),
    ("colombian", "colombia"),
    ("cuban", "cuba"),
    ("danish", "denmark"),
    ("dutch", "netherlands"),
    ("egyptian", "egypt"),
    ("european", "eu"),
    ("french", "france"),
    ("german", "germany"),
    ("indian", "india"),
    ("indonesian", "indonesia"),
    ("irish", "ireland"),
    ("italian", "italy"),
    ("japanese", "japan"),
    ("kenyan", "kenya"),
    ("korean", "korea"),
    ("mexican", "mexico"),
    ("nigerian", "nigeria"),
    ("norwegian", "norway"),
    ("pakistani", "pakistan"),
    ("polish", "poland"),
    ("russian", "russian federation"),
    ("saudi", "saudi arabia"),
    ("spanish", "spain"),
    ("swedish", "sweden"),
    ("swiss", "switzerland"),
    ("turkish", "turkey"),
    ("ghanaian", "ghana"),
    ("philippine", "philippines"),
    ("south african", "south africa"),
];

/// Seconds rounded to whole milliseconds, the precision every time in a transcript has: finer
/// digits are noise, and they make the JSON hard to read.
pub fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// `from..to` cut into consecutive spans in proportion to `weights` (words without times of
/// their own share the time their neighbours leave them this way).
pub fn share_span(from: f64, to: f64, weights: &[f64]) -> Vec<(f64, f64)> {
    let total: f64 = weights.iter().sum();
    let mut t = from;
    weights
        .iter()
        .map(|w| {
            let start = t;
            t += if total > 0.0 {
                (to - from) * w / total
            } else {
                0.0
            };
            (start, t)
        })
        .collect()
}

/// The owner part of a target key ("amendment by <owner>"), so that a proposal groups
/// however its owner is named: "the Distinguished Delegation of Brazil" -> "brazil";
/// "European Union" -> "eu"; "Brazilian" -> "brazil".
pub fn owner_key(owner: &str) -> String {
    let lower = owner.trim().to_lowercase();
    let lower = lower
        .strip_prefix("the ")
        .unwrap_or(&lower)
        .trim()
        .to_string();
    let lower = lower.replace('-', " ").replace("  ", " ");
    match lower.as_str() {
        "european union" | "eu" => return "eu".into(),
        "united states of america" | "united states" | "us" | "usa" => {
            return "united states".into()
        }
        "g 77" | "g77" | "g 77 and china" | "g77 and china" | "group of 77 and china" => {
            return "g77 and china".into()
        }
        "chair" | "chairman" | "chairperson" | "president" | "co chairs" | "co chair"
        | "facilitator" | "co facilitators" | "co facilitator" | "presidency" => {
            return "chair".into()
        }
        _ => {}
    }
    if let Some((_, country)) = DEMONYMS.iter().find(|(adj, _)| *adj == lower) {
        return (*country).into();
    }
    lower
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_their_weights_and_cover_the_range() {
        assert_eq!(
            share_span(2.0, 5.0, &[1.0, 2.0]),
            vec![(2.0, 3.0), (3.0, 5.0)]
        );
        assert_eq!(
            share_span(1.0, 1.0, &[1.0, 1.0]),
            vec![(1.0, 1.0), (1.0, 1.0)]
        );
        assert_eq!(round_ms(1.23456), 1.235);
    }
}
