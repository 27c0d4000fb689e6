use std::fmt::Write;

use super::{cue_times, one_line, timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// WebVTT: cues with `<v Speaker>` voice tags when speakers are known; text escaped.
pub struct VttExporter;

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Exporter for VttExporter {
    fn file_name(&self) -> &'static str {
        "transcript.vtt"
    }
    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let mut out = String::from("WEBVTT\n\n");
        for (seg, (start, end)) in t.segments.iter().zip(cue_times(t)) {
            let text = escape(&one_line(&seg.text));
            let text = match &seg.speaker {
                Some(sp) => format!("<v {}>{text}", escape(sp)),
                None => text,
            };
            let _ = write!(
                out,
                "{} --> {}\n{}\n\n",
                timestamp(start, '.'),
                timestamp(end, '.'),
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
    fn renders_header_and_escapes() {
        let s = VttExporter.render(
            &crate::output::fixture::transcript(),
            &crate::output::fixture::summary(),
        );
        assert!(
            s.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nWe support paragraph 3.\n\n")
        );
        assert!(s.contains("Is &lt;this&gt; A &amp; B?"));
    }
}
