use std::fmt::Write;

use super::cues::{cues, Layout};
use super::{timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// SubRip subtitles: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a speaker prefix when
/// known, and under the text the English rendering of a segment spoken in another language
/// (`[en] ...`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SrtExporter {
    pub layout: Layout,
}

/// SRT shows the speaker as a `Name: ` prefix on the first line of a cue, which takes room.
pub(crate) fn prefix_width(speaker: &str) -> usize {
    speaker.chars().count() + 2
}

impl Exporter for SrtExporter {
    fn file_name(&self) -> &'static str {
        "transcript.srt"
    }
    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let mut out = String::new();
        for (i, cue) in cues(t, &self.layout, prefix_width).into_iter().enumerate() {
            let text = cue.lines.join("\n");
            let mut text = match cue.speaker {
                Some(sp) => format!("{sp}: {text}"),
                None => text,
            };
            for line in &cue.translation {
                text.push('\n');
                text.push_str(line);
            }
            let _ = write!(
                out,
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                timestamp(cue.start, ','),
                timestamp(cue.end, ','),
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
        let s = SrtExporter::default().render(
            &crate::output::fixture::transcript(),
            &crate::output::fixture::summary(),
        );
        assert!(s.starts_with("1\n00:00:00,000 --> 00:00:02,500\nWe support paragraph 3.\n\n2\n01:02:03,250 --> 01:02:05,500\n"));
    }

    #[test]
    fn wraps_and_splits_long_cues() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("S1".into());
        let layout = Layout::new(Some(16), Some(1), false).unwrap();
        let s = SrtExporter { layout }.render(&t, &crate::output::fixture::summary());
        assert!(
            s.starts_with(
                "1\n00:00:00,000 --> 00:00:01,000\nS1: We support\n\n\
                 2\n00:00:01,000 --> 00:00:02,500\nS1: paragraph 3.\n\n\
                 3\n01:02:03,250 --> "
            ),
            "{s}"
        );
    }

    #[test]
    fn a_translation_is_the_cues_next_line() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("France".into());
        t.segments[0].text = "Nous appuyons le paragraphe 3.".into();
        t.segments[0].translation = Some("We support paragraph 3.".into());
        let summary = crate::output::fixture::summary();
        let s = SrtExporter::default().render(&t, &summary);
        assert!(
            s.starts_with(
                "1\n00:00:00,000 --> 00:00:02,500\nFrance: Nous appuyons le paragraphe 3.\n\
                 [en] We support paragraph 3.\n\n2\n"
            ),
            "{s}"
        );
        // A segment split into cues shares its English among them.
        let layout = Layout::new(Some(30), Some(1), false).unwrap();
        let s = SrtExporter { layout }.render(&t, &summary);
        assert!(
            s.starts_with(
                "1\n00:00:00,000 --> 00:00:01,333\nFrance: Nous appuyons le\n[en] We support\n\n\
                 2\n00:00:01,417 --> 00:00:02,500\nFrance: paragraphe 3.\n[en] paragraph 3.\n\n"
            ),
            "{s}"
        );
    }
}
