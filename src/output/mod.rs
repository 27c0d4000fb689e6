//! Writers for every output format: one `Exporter` per format, all rendering the same
//! [`Transcript`]. Adding a format means adding one file here. Subtitle and text cues are laid
//! out by [`cues`], following the [`Layout`] asked for.

mod cues;
mod html;
mod json;
mod markdown;
mod rttm;
mod srt;
mod summary_json;
mod txt;
mod vtt;

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fsutil;
use crate::summary::Summary;
use crate::transcript::Transcript;

pub use cues::Layout;
pub use html::HtmlExporter;
pub use json::JsonExporter;
pub use markdown::MarkdownExporter;
pub use rttm::RttmExporter;
pub use srt::SrtExporter;
pub use summary_json::SummaryExporter;
pub use txt::TxtExporter;
pub use vtt::VttExporter;

/// Renders a transcript, or its summary, in one format.
pub trait Exporter {
    /// File name the output is written under, e.g. `transcript.srt`.
    fn file_name(&self) -> &'static str;
    fn render(&self, transcript: &Transcript, summary: &Summary) -> String;
}

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Srt,
    Vtt,
    Txt,
    Rttm,
    /// summary.json: speakers, positions, issues, agreements, decisions (see
    /// docs/summary.md).
    Summary,
    /// report.md: the rapporteur's summary in Markdown.
    Md,
    /// report.html: one self-contained page with a timeline, a stance matrix and the
    /// transcript.
    Html,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Json,
        Format::Srt,
        Format::Vtt,
        Format::Txt,
        Format::Rttm,
        Format::Summary,
        Format::Md,
        Format::Html,
    ];

    /// What `run` writes unless told otherwise (and `rttm` when diarizing).
    pub const DEFAULT: [Format; 7] = [
        Format::Json,
        Format::Srt,
        Format::Vtt,
        Format::Txt,
        Format::Summary,
        Format::Md,
        Format::Html,
    ];

    /// What `analyze` writes unless told otherwise.
    pub const REPORTS: [Format; 3] = [Format::Summary, Format::Md, Format::Html];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Txt => "txt",
            Format::Rttm => "rttm",
            Format::Summary => "summary",
            Format::Md => "md",
            Format::Html => "html",
        }
    }

    /// Whether the format shows words (so the recording must be transcribed).
    pub fn needs_text(self) -> bool {
        !matches!(self, Format::Rttm)
    }

    /// Whether the format only makes sense with speakers.
    pub fn needs_speakers(self) -> bool {
        matches!(self, Format::Rttm)
    }

    /// The exporter with the default layout (also what gives a format's file name).
    pub fn exporter(self) -> Box<dyn Exporter> {
        self.exporter_with(&Layout::default())
    }

    /// The exporter, laying out cues as `layout` says (only srt, vtt and txt have cues).
    pub fn exporter_with(self, layout: &Layout) -> Box<dyn Exporter> {
        let layout = *layout;
        match self {
            Format::Json => Box::new(JsonExporter),
            Format::Srt => Box::new(SrtExporter { layout }),
            Format::Vtt => Box::new(VttExporter { layout }),
            Format::Txt => Box::new(TxtExporter { layout }),
            Format::Rttm => Box::new(RttmExporter),
            Format::Summary => Box::new(SummaryExporter),
            Format::Md => Box::new(MarkdownExporter),
            Format::Html => Box::new(HtmlExporter),
        }
    }
}

/// Write every requested format into `dir` (which must exist), cues laid out as `layout` says;
/// each file appears complete or not at all. Returns the paths written.
pub fn write_formats(
    transcript: &Transcript,
    summary: &Summary,
    dir: &Path,
    formats: &[Format],
    layout: &Layout,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for format in formats {
        let exporter = format.exporter_with(layout);
        let path = dir.join(exporter.file_name());
        fsutil::write_atomic(&path, exporter.render(transcript, summary).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// `HH:MM:SS<sep>mmm`, the timestamp of SRT (`,`) and WebVTT (`.`).
pub(crate) fn timestamp(seconds: f64, sep: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

/// Cue times for subtitle formats: never going backwards, never empty.
pub(crate) fn cue_times(transcript: &Transcript) -> Vec<(f64, f64)> {
    let mut last_start = 0.0f64;
    transcript
        .segments
        .iter()
        .map(|s| {
            let start = s.start.max(last_start);
            let end = s.end.max(start + 0.01);
            last_start = start;
            (start, end)
        })
        .collect()
}

/// Indented JSON ending in a newline, as transcript.json and summary.json are written (their
/// types hold nothing that can fail to serialise).
pub(crate) fn pretty_json(value: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("plain data serialises");
    s.push('\n');
    s
}

/// One line of text: subtitle and text formats break on blank lines.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `0:00:00`-style clock time for reports (hours always shown, no milliseconds).
pub(crate) fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
pub(crate) mod fixture {
    use crate::summary::{self, Context, Processing, Summary};
    use crate::transcript::*;

    /// The summary of [`transcript`].
    pub fn summary() -> Summary {
        summary::build(
            &transcript(),
            Context {
                timed: true,
                recording_known: true,
                analysed_from: None,
                processing: Processing::new("run"),
            },
        )
    }

    /// Two languages: France speaks French (translated), Brazil English; the model warned.
    pub fn bilingual() -> (Transcript, Summary) {
        let mut t = transcript();
        t.language.warning = Some("speech that may not be English".into());
        let target = Target {
            text: "paragraph 3".into(),
            key: "paragraph 3".into(),
            kind: "paragraph".into(),
        };
        let position = |label: Move| Position {
            label,
            confidence: 0.9,
            scores: Move::ALL
                .iter()
                .map(|&m| (m, if m == label { 0.9 } else { 0.0 }))
                .collect(),
            target: Some(target.clone()),
            sentences: Vec::new(),
        };
        t.segments[0].speaker = Some("Brazil".into());
        t.segments[0].language = Some("en".into());
        t.segments[0].position = Some(position(Move::Support));
        let s = &mut t.segments[1];
        s.speaker = Some("France".into());
        s.text = "Nous ne pouvons pas accepter le paragraphe 3.".into();
        s.language = Some("fr".into());
        s.translation = Some("We cannot accept paragraph 3.".into());
        s.position = Some(position(Move::Opposition));
        let summary = summary::build(
            &t,
            Context {
                timed: true,
                recording_known: true,
                analysed_from: None,
                processing: Processing::new("run"),
            },
        );
        (t, summary)
    }

    pub fn transcript() -> Transcript {
        let word = |t: &str, s: f64, e: f64| Word {
            start: s,
            end: e,
            text: t.into(),
            probability: 0.9,
            speaker: None,
        };
        Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            source: Source {
                path: "session.wav".into(),
                sha256: "00".repeat(32),
                duration: 3725.5,
                container: "wav".into(),
                codec: "pcm_s16le".into(),
                sample_rate: 16000,
                channels: 1,
            },
            language: Language::given("en"),
            model: ModelRef {
                name: "tiny.en".into(),
                sha256: "11".repeat(32),
            },
            speech: None,
            diarization: None,
            positions: None,
            floor: Vec::new(),
            segments: vec![
                Segment {
                    id: 0,
                    start: 0.0,
                    end: 2.5,
                    text: "We support paragraph 3.".into(),
                    words: vec![
                        word("We", 0.0, 0.4),
                        word("support", 0.4, 1.0),
                        word("paragraph", 1.0, 1.8),
                        word("3.", 1.8, 2.5),
                    ],
                    avg_logprob: -0.2,
                    no_speech_prob: 0.01,
                    speaker: None,
                    position: None,
                    language: None,
                    translation: None,
                },
                Segment {
                    id: 1,
                    start: 3723.25,
                    end: 3725.5,
                    text: "Is <this> A & B?".into(),
                    words: vec![],
                    avg_logprob: -0.3,
                    no_speech_prob: 0.02,
                    speaker: None,
                    position: None,
                    language: None,
                    translation: None,
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(3723.25, ','), "01:02:03,250");
        assert_eq!(timestamp(0.0004, '.'), "00:00:00.000");
        assert_eq!(timestamp(-1.0, '.'), "00:00:00.000");
    }
}
