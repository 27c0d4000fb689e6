use super::cues::{cues, Layout};
use super::{one_line, timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// Plain text: one line per segment, with a speaker prefix when known; with `--txt-timestamps`,
/// one `[start --> end] Speaker: text` line per cue (whisper.cpp's style), the cues of the
/// subtitles. The English rendering of a segment spoken in another language follows on a line
/// of its own, indented: `  [en] ...` (under each cue's line with `--txt-timestamps`, its share
/// of the translation).
#[derive(Debug, Clone, Copy, Default)]
pub struct TxtExporter {
    pub layout: Layout,
}

impl Exporter for TxtExporter {
    fn file_name(&self) -> &'static str {
        "transcript.txt"
    }
    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let mut out = String::new();
        let line =
            |out: &mut String, speaker: Option<&str>, text: &str, english: Option<String>| {
                if let Some(sp) = speaker {
                    out.push_str(sp);
                    out.push_str(": ");
                }
                out.push_str(text);
                out.push('\n');
                if let Some(english) = english {
                    out.push_str("  ");
                    out.push_str(&english);
                    out.push('\n');
                }
            };
        if self.layout.txt_timestamps {
            // Cut as the SRT cues are, whose speaker prefix is written the same way.
            for cue in cues(t, &self.layout, super::srt::prefix_width) {
                let text = cue.text();
                if text.is_empty() {
                    continue;
                }
                out.push_str(&format!(
                    "[{} --> {}] ",
                    timestamp(cue.start, '.'),
                    timestamp(cue.end, '.')
                ));
                line(&mut out, cue.speaker, &text, cue.translation_line());
            }
            return out;
        }
        // One cue per segment, on one line: the default layout.
        for cue in cues(t, &Layout::default(), |_| 0) {
            let text = one_line(&cue.text());
            if text.is_empty() {
                continue;
            }
            line(&mut out, cue.speaker, &text, cue.translation_line());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_prefix_every_line() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("S1".into());
        let summary = crate::output::fixture::summary();
        assert_eq!(
            TxtExporter::default().render(&t, &summary),
            "S1: We support paragraph 3.\nIs <this> A & B?\n"
        );
        let layout = Layout::new(None, None, true).unwrap();
        assert_eq!(
            TxtExporter { layout }.render(&t, &summary),
            "[00:00:00.000 --> 00:00:02.500] S1: We support paragraph 3.\n\
             [01:02:03.250 --> 01:02:05.500] Is <this> A & B?\n"
        );
    }

    #[test]
    fn a_translation_is_an_indented_line_under_its_text() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("France".into());
        t.segments[0].text = "Nous appuyons le paragraphe 3.".into();
        t.segments[0].translation = Some("We support paragraph 3.".into());
        let summary = crate::output::fixture::summary();
        assert_eq!(
            TxtExporter::default().render(&t, &summary),
            "France: Nous appuyons le paragraphe 3.\n  [en] We support paragraph 3.\n\
             Is <this> A & B?\n"
        );
        let layout = Layout::new(None, None, true).unwrap();
        assert_eq!(
            TxtExporter { layout }.render(&t, &summary),
            "[00:00:00.000 --> 00:00:02.500] France: Nous appuyons le paragraphe 3.\n\
             \x20 [en] We support paragraph 3.\n\
             [01:02:03.250 --> 01:02:05.500] Is <this> A & B?\n"
        );
    }
}
