//! The session summary: who spoke how much, where each speaker stands on each issue, who
//! aligns or clashes with whom, what was decided and who will do what. It is built from a
//! [`Transcript`] alone (speakers and positions are used when present), and every claim
//! carries the [`Evidence`] behind it: the quoted words, their segment and their times.
//!
//! The types here are the `summary.json` format; `schema/summary.schema.json` is generated
//! from them (`rapporteur schema`) and documented in docs/summary.md.

mod events;
mod evidence;
mod issues;
mod languages;
mod relations;
mod stats;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::transcript::{ModelRef, Move, Target, Transcript};

/// Identifies the summary.json format; bumped on incompatible changes.
pub const SUMMARY_SCHEMA: &str = "rapporteur.summary/1";

/// A recorded negotiation session, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "rapporteur summary")]
pub struct Summary {
    /// Always `rapporteur.summary/1` in this version of the format.
    pub schema: String,
    pub source: SummarySource,
    /// Every model whose output the summary rests on.
    pub models: Vec<ModelUse>,
    pub language: LanguageInfo,
    /// Speakers in order of first appearance. Empty when nobody was told apart (no
    /// diarization and no speaker names in the analysed transcript).
    pub speakers: Vec<SpeakerStats>,
    /// Every utterance with a tagged negotiation move, in order. Empty when positions were
    /// not tagged.
    pub positions: Vec<PositionClaim>,
    /// What was negotiated: the paragraphs, articles, amendments and proposals named in the
    /// session, in order of first mention.
    pub issues: Vec<Issue>,
    /// Speakers whose latest stances on an issue align.
    pub agreements: Vec<Agreement>,
    /// Speakers whose latest stances on an issue clash.
    pub divergences: Vec<Divergence>,
    /// Decisions announced in the session ("paragraph 3 is agreed", "the text is adopted").
    pub decisions: Vec<Decision>,
    /// Undertakings to act ("the secretariat will circulate a revised text").
    pub action_items: Vec<ActionItem>,
    /// Between delegations: who criticised, opposed or supported whom, and who aligned with
    /// whose statement, in order of first mention. The chair's words are not counted.
    #[serde(default)]
    pub relations: Vec<Relation>,
    pub processing: Processing,
}

/// One delegation's stance towards another, with the sentences that show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Relation {
    /// The speaker, as segments call them.
    pub from: String,
    /// The delegation the speaker speaks for, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_delegation: Option<String>,
    pub kind: RelationKind,
    /// The party it is aimed at, in English ("Russian Federation").
    pub to: String,
    /// Its key, the same however it was named ("Russia", "Moscow" -> "russian federation").
    pub to_key: String,
    /// Sentences that say so.
    pub count: usize,
    /// The first few of them.
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// A negative judgement of the other's conduct, claims or text.
    Criticises,
    /// Rejects what the other put forward or did.
    Opposes,
    /// Agrees with, welcomes or endorses the other's proposal, statement or conduct.
    Supports,
    /// Aligns itself with the other's statement (a group's, usually).
    AlignsWith,
}

impl RelationKind {
    /// As the reports say it: "Ukraine criticised Russian Federation".
    pub fn verb(self) -> &'static str {
        match self {
            RelationKind::Criticises => "criticised",
            RelationKind::Opposes => "opposed",
            RelationKind::Supports => "supported",
            RelationKind::AlignsWith => "aligned with",
        }
    }
}

/// The recording (or the transcript file) the summary was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummarySource {
    /// The recording, or the analysed text when no recording is known.
    pub path: String,
    pub sha256: String,
    /// Seconds of audio; for a text without times, absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Container of the recording, e.g. "ogg", "wav".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Codec of its audio track, e.g. "opus".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    /// Set by `rapporteur analyze`: the transcript file the summary was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<TranscriptFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptFile {
    pub path: String,
    pub sha256: String,
    /// "transcript" (a rapporteur transcript.json), "vtt", "srt", "jsonl" or "lines".
    pub format: String,
}

/// A model and what it was used for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelUse {
    /// "speech recognition", "voice activity", "speaker embedding", "text encoder" or
    /// "position head".
    pub role: String,
    pub name: String,
    pub sha256: String,
}

/// The session's languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LanguageInfo {
    /// The main language: ISO 639-1 code, or "und" when unknown. The transcript's language;
    /// when that is unknown but its segments say theirs, the one with most speech.
    pub code: String,
    /// Probability the recogniser gave the language (1 when given, 0 when unknown).
    pub probability: f32,
    /// Whether the language was detected rather than given.
    pub detected: bool,
    /// Every language the segments were spoken in, most speech first (a segment that does
    /// not say counts in the main language). Empty when no language is known.
    #[serde(default)]
    pub heard: Vec<SpokenLanguage>,
    /// A doubt about the language worth a reader's attention, e.g. an English-only model
    /// transcribing speech that does not sound English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// One language spoken in the session, and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpokenLanguage {
    /// ISO 639-1 code.
    pub code: String,
    /// Seconds of segments in this language; absent when the source had no times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_s: Option<f64>,
    /// Words of segments in this language.
    pub words: usize,
    /// Fraction of all speech in this language (of all words when there are no times).
    pub share: f64,
}

/// The words behind a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The segment's `id` in transcript.json (with `analyze` on other text: the utterance's
    /// 0-based position in the file).
    pub segment: usize,
    /// Who said it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// Seconds from the start of the recording; absent when the source had no times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// The words, verbatim: the sentence that carries the claim, or the whole segment.
    pub quote: String,
    /// The English rendering of the quoted segment, when it was spoken in another language
    /// and translated (`run --translate`). A translated segment is quoted whole: its claims
    /// were read from the English, whose sentences cannot be traced to the original's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
}

/// How much one speaker spoke, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpeakerStats {
    /// Cluster id from diarization (S1, S2, ...), or the name in the analysed transcript.
    pub id: String,
    /// The name segments carry: an enrolled or given name, or the id.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// How the chair's words named this speaker, with the cues as evidence ("France, you have
    /// the floor"); absent when no cue named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<crate::transcript::FloorNaming>,
    /// The languages this speaker spoke (ISO 639-1 codes), most speech first; empty when no
    /// language is known.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Seconds of speech; absent when the source had no times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk_time_s: Option<f64>,
    /// Fraction of all speakers' talk time (of all words when there are no times).
    pub share: f64,
    /// Uninterrupted stretches of this speaker's speech.
    pub turns: usize,
    pub words: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_per_minute: Option<f64>,
    /// Utterances tagged as questions (or, without positions, sentences ending in `?`).
    pub questions: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_turn: Option<LongestTurn>,
    /// Turns this speaker began while another speaker was still speaking.
    pub interruptions: usize,
    /// Turns of this speaker another speaker began to speak over.
    pub interrupted: usize,
    /// Seconds this speaker spoke at the same time as another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LongestTurn {
    pub start: f64,
    pub end: f64,
    pub duration_s: f64,
    pub words: usize,
}

/// One tagged utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PositionClaim {
    pub label: Move,
    /// Calibrated probability of `label`.
    pub confidence: f32,
    /// What the words name, as tagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The issue this move was counted under (see `link`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<IssueLink>,
    pub evidence: Evidence,
}

/// How an utterance was tied to its issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueLink {
    /// The utterance names the issue ("paragraph 3").
    Named,
    /// It names a delegation's proposal or amendment ("the amendment proposed by France"),
    /// which is the issue that delegation last put forward.
    Owner,
    /// It names nothing ("we cannot accept this"); it answers the issue named in the
    /// previous few utterances. An inference: check the quote.
    Context,
}

/// Where a negotiation stands on one thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Issue {
    /// Normalised name, e.g. "paragraph 3", "article 6.4", "amendment by brazil".
    pub key: String,
    /// "paragraph", "article", "amendment", "proposal", "document", "delegation" or "agenda".
    pub kind: String,
    /// The ways speakers referred to it, as spoken.
    pub mentions: Vec<String>,
    pub status: IssueStatus,
    /// Why the status was given, in one sentence.
    pub status_reason: String,
    /// Each speaker's latest stance on the issue.
    pub stances: Vec<Stance>,
    /// Every move on the issue, in order: how stances evolved.
    pub evolution: Vec<Stance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    /// Decided, or everyone who took a stance supports it (at least two speakers).
    Agreed,
    /// Nobody opposes it any longer, but reservations remain or someone moved towards it.
    Converging,
    /// Someone's latest stance opposes it.
    Contested,
    /// Raised, but not enough stances to tell (one speaker, or only questions).
    Open,
}

impl IssueStatus {
    pub fn name(self) -> &'static str {
        match self {
            IssueStatus::Agreed => "agreed",
            IssueStatus::Converging => "converging",
            IssueStatus::Contested => "contested",
            IssueStatus::Open => "open",
        }
    }
}

/// A speaker's move on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stance {
    pub speaker: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    pub stance: Move,
    pub confidence: f32,
    pub link: IssueLink,
    pub evidence: Evidence,
}

/// Speakers whose latest stances on an issue are all for it (proposal, support or
/// concession).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Agreement {
    pub issue: String,
    pub speakers: Vec<String>,
    /// Each speaker's latest stance, with its quote.
    pub evidence: Vec<Stance>,
}

/// Speakers for an issue against speakers who oppose it or hold a reservation on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Divergence {
    pub issue: String,
    /// "opposition" when someone opposes it, "reservation" when the other side only holds
    /// reservations.
    pub kind: String,
    /// Speakers whose latest stance is for the issue.
    pub in_favour: Vec<String>,
    /// Speakers whose latest stance opposes it or reserves on it.
    pub against: Vec<String>,
    pub evidence: Vec<Stance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// "adopted", "agreed", "approved", "deferred", "withdrawn", "rejected" or "procedural"
    /// (the meeting suspended, adjourned or closed).
    pub kind: String,
    /// The issue decided, when the sentence names one (or follows one just discussed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// A condition attached ("subject to confirmation from capitals").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionItem {
    /// Who will act: as named ("the secretariat", "Kenya"), or the speaker for "we"/"I".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// What they will do, as said.
    pub action: String,
    /// When, if said ("by Friday", "before the next session").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    pub evidence: Evidence,
}

/// How the summary was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Processing {
    pub program: String,
    pub version: String,
    /// "run" (from a recording) or "analyze" (from a transcript).
    pub command: String,
    /// Wall-clock seconds per stage, in the order they ran.
    pub stages: Vec<StageTime>,
    pub total_s: f64,
    /// Processing seconds per second of audio (absent without audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_time_factor: Option<f64>,
    /// The options that shaped the result.
    pub options: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageTime {
    pub stage: String,
    pub seconds: f64,
}

impl Processing {
    pub fn new(command: &str) -> Processing {
        Processing {
            program: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: command.into(),
            stages: Vec::new(),
            total_s: 0.0,
            real_time_factor: None,
            options: BTreeMap::new(),
        }
    }
}

impl Processing {
    /// Record the seconds each stage took, and their total.
    pub fn set_stages(&mut self, stages: &[(&str, f64)]) {
        self.stages = stages
            .iter()
            .map(|&(stage, seconds)| StageTime {
                stage: stage.into(),
                seconds: round3(seconds),
            })
            .collect();
        self.total_s = round3(stages.iter().map(|(_, s)| s).sum());
    }
}

/// What the transcript itself cannot say about where it came from.
#[derive(Debug, Clone)]
pub struct Context {
    /// Whether segment times are real (false for plain text: every time is 0).
    pub timed: bool,
    /// Whether `transcript.source` describes a real recording.
    pub recording_known: bool,
    /// The file `analyze` read, if any.
    pub analysed_from: Option<TranscriptFile>,
    pub processing: Processing,
}

/// The JSON Schema of summary.json, as published in `schema/summary.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Summary);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// Every language the segments of `t` were spoken in, most speech first (see
/// [`LanguageInfo::heard`]); `timed` says whether segment times are real.
pub fn languages_heard(t: &Transcript, timed: bool) -> Vec<SpokenLanguage> {
    languages::language(t, timed).heard
}

/// The speakers who run the meeting: named Chair by the floor, or called so ("Chair",
/// "President", "Facilitator", "Co-Chair").
fn chairs(t: &Transcript) -> Vec<String> {
    let mut out: Vec<String> = t
        .floor
        .iter()
        .filter(|n| n.role == crate::transcript::FloorRole::Chair)
        .map(|n| n.speaker.clone())
        .collect();
    for label in t.segments.iter().filter_map(|s| s.speaker.as_deref()) {
        if crate::transcript::owner_key(label) == "chair" && !out.iter().any(|o| o == label) {
            out.push(label.to_string());
        }
    }
    out
}

/// Summarise `transcript`.
pub fn build(transcript: &Transcript, context: Context) -> Summary {
    let source = &transcript.source;
    let recording = context.recording_known;
    let timed = context.timed;
    let summary_source = SummarySource {
        path: source.path.clone(),
        sha256: source.sha256.clone(),
        duration: timed.then_some(source.duration),
        container: recording.then(|| source.container.clone()),
        codec: recording.then(|| source.codec.clone()),
        sample_rate: recording.then_some(source.sample_rate),
        channels: recording.then_some(source.channels),
        transcript: context.analysed_from.clone(),
    };
    let mut models = Vec::new();
    let mut model = |role: &str, m: &ModelRef| {
        if !m.sha256.is_empty() {
            models.push(ModelUse {
                role: role.into(),
                name: m.name.clone(),
                sha256: m.sha256.clone(),
            });
        }
    };
    model("speech recognition", &transcript.model);
    if let Some(s) = &transcript.speech {
        if let Some(sha) = &s.detector_sha256 {
            model(
                "voice activity",
                &ModelRef {
                    name: s.detector.clone(),
                    sha256: sha.clone(),
                },
            );
        }
    }
    if let Some(d) = &transcript.diarization {
        model("speaker embedding", &d.model);
    }
    if let Some(p) = &transcript.positions {
        model("text encoder", &p.encoder);
        model("position head", &p.head);
    }
    let evidence = evidence::EvidenceMaker::new(transcript, timed);
    let speakers = stats::speakers(transcript, timed);
    let positions = issues::claims(transcript, &evidence);
    let decisions = events::decisions(transcript, &evidence, &positions);
    let action_items = events::action_items(transcript, &evidence);
    let chairs = chairs(transcript);
    let issues = issues::issues(&positions, &decisions, &speakers, &chairs);
    let (agreements, divergences) = issues::alignments(&issues);
    let relations = relations::relations(transcript, &evidence, &chairs);
    Summary {
        schema: SUMMARY_SCHEMA.into(),
        source: summary_source,
        models,
        language: languages::language(transcript, timed),
        speakers,
        positions,
        issues,
        agreements,
        divergences,
        decisions,
        action_items,
        relations,
        processing: context.processing,
    }
}

/// Round to whole milliseconds (times) or thousandths (shares, confidences).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
