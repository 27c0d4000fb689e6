use super::cues::{cues, Layout};
use super::{one_line, timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// Plain text: one line per segment, with a speaker prefix when known; with `--txt-timestamps`,
/// one `[start --> end] Speaker: text` line per cue (whisper.cpp's style), the cues of the
/// subtitles.
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
        let line = |out: &mut String, speaker: Option<&str>, text: &str| {
            if let Some(sp) = speaker {
                out.push_str(sp);
                out.push_str(": ");
            }
            out.push_str(text);
            out.push('\n');
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
                line(&mut out, cue.speaker, &text);
            }
            return out;
        }
        for seg in &t.segments {
            let text = one_line(&seg.text);
            if text.is_empty() {
                continue;
            }
            line(&mut out, seg.speaker.as_deref(), &text);
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
}
