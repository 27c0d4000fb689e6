use std::fmt::Write;

use super::{cue_times, one_line, timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// SubRip subtitles: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a speaker prefix when known.
pub struct SrtExporter;

impl Exporter for SrtExporter {
    fn file_name(&self) -> &'static str {
        "transcript.srt"
    }
    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let mut out = String::new();
        for (i, (seg, (start, end))) in t.segments.iter().zip(cue_times(t)).enumerate() {
            let text = one_line(&seg.text);
            let text = match &seg.speaker {
                Some(sp) => format!("{sp}: {text}"),
                None => text,
            };
            let _ = write!(
                out,
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                timestamp(start, ','),
                timestamp(end, ','),
                text
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cues() {
        let s = SrtExporter.render(
            &crate::output::fixture::transcript(),
            &crate::output::fixture::summary(),
        );
        assert!(s.starts_with("1\n00:00:00,000 --> 00:00:02,500\nWe support paragraph 3.\n\n2\n01:02:03,250 --> 01:02:05,500\n"));
    }
}
