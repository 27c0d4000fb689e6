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
    /// Speakers named from what the chair said ("France, you have the floor"), with the cues
    /// that named them; empty when no cue was heard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floor: Vec<FloorNaming>,
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
    Criticism,
    Reservation,
    Concession,
    Question,
    Procedural,
    Statement,
}

impl Move {
    /// Every move, in the order of the classifier's outputs.
    pub const ALL: [Move; 9] = [
        Move::Proposal,
        Move::Support,
        Move::Opposition,
        Move::Criticism,
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
            Move::Criticism => "criticism",
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

    /// Moves that set a speaker against another party or its text: criticism, opposition and
    /// reservation.
    pub fn is_conflict(self) -> bool {
        matches!(self, Move::Criticism | Move::Opposition | Move::Reservation)
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
    /// "paragraph", "article", "amendment", "proposal", "document", "delegation", "agenda", or
    /// "party" (a delegation or group the move is aimed at; `key` is then the same however it
    /// is named: "Russia", "Moscow", "the Russian Federation" -> "russian federation").
    pub kind: String,
}

/// The speakers found in a recording and their turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diarization {
    /// The speaker embedding model.
    pub model: ModelRef,
    /// The model that found local speakers and overlap (absent in transcripts of earlier
    /// versions, which had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<ModelRef>,
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

/// A speaker named from the floor: the chair, or the delegation the chair gave the floor to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FloorNaming {
    /// The speaker's label: what turns, segments and words call them.
    pub speaker: String,
    /// Their label before floor naming gave them `name` ("S2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    pub role: FloorRole,
    /// What the floor calls them: "Ukraine", or "Chair" / "President" as the room addressed
    /// the chair.
    pub name: String,
    /// The delegation's key, the same however it was named ("russian federation").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether `name` became the speaker's label; false when an enrolled voice or a names file
    /// gave a better one, or another speaker already carries it.
    pub applied: bool,
    /// The cues that named them (for the chair: the first cues they gave).
    pub cues: Vec<FloorCue>,
    /// How many cues in all (the chair gives many; only the first few are kept as evidence).
    pub cue_count: usize,
    /// Cues that gave this speaker another delegation; the most frequent delegation won.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreements: Vec<FloorCue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloorRole {
    /// Runs the meeting: gave the floor to others.
    Chair,
    /// Was given the floor.
    Delegation,
}

/// What the chair said to give the floor: "I now give the floor to the representative of
/// Ukraine."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FloorCue {
    /// The segment the cue is in (its `id`) and when it began (0 without times).
    pub segment: usize,
    pub start: f64,
    /// The sentence, as said.
    pub quote: String,
    /// The delegation it names, in English.
    pub delegation: String,
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
    /// Every language heard, most speech first, when the language was detected per chunk
    /// (`code` is the first of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<HeardLanguage>,
    /// A doubt about the language worth a reader's attention, such as an English-only model
    /// transcribing speech that does not sound English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// One language heard in a recording, and how much speech was in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeardLanguage {
    /// ISO 639-1 code.
    pub code: String,
    /// Seconds of transcribed speech (segment time) in this language.
    pub speech_s: f64,
}

impl Language {
    /// A language given by the user or implied by the model, not detected.
    pub fn given(code: &str) -> Language {
        Language {
            code: code.to_string(),
            probability: if code == "und" { 0.0 } else { 1.0 },
            detected: false,
            heard: Vec::new(),
            warning: None,
        }
    }
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
    /// ISO 639-1 code of the language the segment was transcribed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// English rendering of a segment spoken in another language (`--translate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
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

/// What reads English (the position tagger, the decision and action patterns) reads: the
/// English rendering when there is one, else the text as spoken. The one place for that rule.
pub fn english_text<'a>(text: &'a str, translation: Option<&'a str>) -> &'a str {
    translation.filter(|t| !t.trim().is_empty()).unwrap_or(text)
}

impl Segment {
    /// The segment's English: its `translation` when it has one, else its `text`.
    pub fn english_text(&self) -> &str {
        english_text(&self.text, self.translation.as_deref())
    }

    /// The segment kept inside the speech `spans` (seconds, in order) of the audio it was
    /// transcribed from: each word moves into the span it overlaps most (or the nearest), and
    /// the segment is cut where consecutive words lie in different spans, so that no segment
    /// spans a pause between two of them. A translation stays with the piece holding most of
    /// the words.
    pub fn confine_to(mut self, spans: &[(f64, f64)]) -> Vec<Segment> {
        if spans.is_empty() {
            return vec![self];
        }
        let span_of = |start: f64, end: f64| -> usize {
            let overlap = |&(a, b): &(f64, f64)| (end.min(b) - start.max(a)).max(0.0);
            let distance = |&(a, b): &(f64, f64)| (a - end).max(start - b).max(0.0);
            (0..spans.len())
                .max_by(|&i, &j| {
                    overlap(&spans[i])
                        .total_cmp(&overlap(&spans[j]))
                        .then(distance(&spans[j]).total_cmp(&distance(&spans[i])))
                        // The earlier span when everything ties.
                        .then(j.cmp(&i))
                })
                .expect("spans is not empty")
        };
        let clip = |t: f64, (a, b): (f64, f64)| t.clamp(a, b);
        if self.words.is_empty() {
            let span = spans[span_of(self.start, self.end)];
            self.start = clip(self.start, span);
            self.end = clip(self.end, span).max(self.start);
            return vec![self];
        }
        let mut groups: Vec<(usize, Vec<Word>)> = Vec::new();
        for mut w in std::mem::take(&mut self.words) {
            let i = span_of(w.start, w.end);
            w.start = clip(w.start, spans[i]);
            w.end = clip(w.end, spans[i]).max(w.start);
            match groups.last_mut() {
                Some((j, words)) if *j == i => words.push(w),
                _ => groups.push((i, vec![w])),
            }
        }
        let n = groups.len();
        let most = (0..n).max_by_key(|&g| groups[g].1.len()).unwrap_or(0);
        let translation = self.translation.take();
        groups
            .into_iter()
            .enumerate()
            .map(|(g, (i, words))| {
                let span = spans[i];
                let first = words.first().expect("groups are never empty");
                let last = words.last().expect("groups are never empty");
                let start = if g == 0 {
                    clip(self.start, span).min(first.start)
                } else {
                    first.start
                };
                let end = if g + 1 == n {
                    clip(self.end, span).max(last.end)
                } else {
                    last.end
                };
                let text = if n == 1 {
                    self.text.clone()
                } else {
                    words
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                Segment {
                    start,
                    end,
                    text,
                    words,
                    translation: if g == most { translation.clone() } else { None },
                    ..self.clone()
                }
            })
            .collect()
    }

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
/// "European Union" and "EU" -> "european union"; "Brazilian" -> "brazil".
pub fn owner_key(owner: &str) -> String {
    let lower = owner.trim().to_lowercase();
    let lower = lower
        .strip_prefix("the ")
        .unwrap_or(&lower)
        .trim()
        .to_string();
    let lower = lower.replace('-', " ").replace("  ", " ");
    match lower.as_str() {
        "chair" | "chairman" | "chairperson" | "president" | "co chairs" | "co chair"
        | "facilitator" | "co facilitators" | "co facilitator" | "presidency" => {
            return "chair".into()
        }
        _ => {}
    }
    // Acronyms match only in capitals ("us" is a word): a short key of an earlier version
    // ("eu") is read as the acronym it was.
    let short = lower.len() <= 5 && lower.chars().all(|c| c.is_ascii_alphabetic());
    if let Some(p) = crate::parties::lookup(owner.trim()).or_else(|| {
        short
            .then(|| crate::parties::lookup(&lower.to_uppercase()))
            .flatten()
    }) {
        return p.key.into();
    }
    lower
}

impl Transcript {
    /// The delegation of the speaker segments call `label`: from an enrolled voice or a names
    /// file, else from the floor.
    pub fn delegation_of(&self, label: &str) -> Option<&str> {
        self.diarization
            .iter()
            .flat_map(|d| &d.speakers)
            .find(|s| s.label == label)
            .and_then(|s| s.delegation.as_deref())
            .or_else(|| {
                self.floor_of(label)
                    .filter(|n| n.role == FloorRole::Delegation)
                    .map(|n| n.name.as_str())
            })
    }

    /// How the floor named the speaker segments call `label`, if it did.
    pub fn floor_of(&self, label: &str) -> Option<&FloorNaming> {
        self.floor.iter().find(|n| n.speaker == label)
    }

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

/// Words and segments for the unit tests of every stage.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Segment, Word};

    pub fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            start,
            end,
            text: text.into(),
            probability: 0.9,
            speaker: None,
        }
    }

    /// A recogniser segment over `words`: their text joined, their first start and last end.
    pub fn segment(words: Vec<Word>) -> Segment {
        Segment {
            id: 0,
            start: words.first().map_or(0.0, |w| w.start),
            end: words.last().map_or(0.0, |w| w.end),
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words,
            avg_logprob: -0.2,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: None,
            translation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::word;
    use super::*;

    #[test]
    fn segments_stay_inside_speech_and_are_cut_at_pauses() {
        let seg = Segment {
            id: 0,
            start: 0.0,
            end: 30.0,
            text: "Thank you. Brazil supports it.".into(),
            words: vec![
                word("Thank", 0.0, 2.1),
                word("you.", 2.1, 2.6),
                word("Brazil", 6.5, 9.1),
                word("supports", 9.1, 9.6),
                word("it.", 9.6, 30.0),
            ],
            avg_logprob: -0.2,
            no_speech_prob: 0.0,
            speaker: None,
            position: None,
            language: Some("en".into()),
            translation: Some("Thanks. Brazil agrees.".into()),
        };
        let spans = [(1.0, 3.0), (7.0, 10.0)];
        let pieces = seg.clone().confine_to(&spans);
        let got: Vec<(f64, f64, &str)> = pieces
            .iter()
            .map(|p| (p.start, p.end, p.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![(1.0, 2.6, "Thank you."), (7.0, 10.0, "Brazil supports it.")]
        );
        assert_eq!(pieces[0].words[0].start, 1.0, "no word starts in silence");
        assert_eq!(pieces[1].words[0].start, 7.0);
        assert_eq!(pieces[1].words[2].end, 10.0);
        assert_eq!(pieces[0].translation, None);
        assert_eq!(
            pieces[1].translation.as_deref(),
            Some("Thanks. Brazil agrees.")
        );
        assert_eq!(pieces[1].language.as_deref(), Some("en"));
        // One span: the recogniser's text is kept, the times clipped.
        let one = seg.clone().confine_to(&[(0.5, 12.0)]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].text, seg.text);
        assert_eq!((one[0].start, one[0].end), (0.5, 12.0));
        // No spans: unchanged.
        assert_eq!(seg.clone().confine_to(&[]), vec![seg]);
    }

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
