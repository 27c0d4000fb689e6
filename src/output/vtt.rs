use std::fmt::Write;

use super::cues::{cues, Layout};
use super::{timestamp, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// WebVTT: cues with `<v Speaker>` voice tags when speakers are known; text escaped. The English
/// rendering of a segment spoken in another language comes under its text, in a `<lang en>`
/// span, starting with `[en] `.
#[derive(Debug, Clone, Copy, Default)]
pub struct VttExporter {
    pub layout: Layout,
}

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
        // The voice tag is markup, not text on the screen: it takes no room on the line.
        for cue in cues(t, &self.layout, |_| 0) {
            let lines: Vec<String> = cue.lines.iter().map(|l| escape(l)).collect();
            let mut text = lines.join("\n");
            if !cue.translation.is_empty() {
                let english: Vec<String> = cue.translation.iter().map(|l| escape(l)).collect();
                text.push_str(&format!("\n<lang en>{}</lang>", english.join("\n")));
            }
            let text = match cue.speaker {
                Some(sp) => format!("<v {}>{text}", escape(sp)),
                None => text,
            };
            let _ = write!(
                out,
                "{} --> {}\n{}\n\n",
                timestamp(cue.start, '.'),
                timestamp(cue.end, '.'),
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
        let s = VttExporter::default().render(
            &crate::output::fixture::transcript(),
            &crate::output::fixture::summary(),
        );
        assert!(
            s.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nWe support paragraph 3.\n\n")
        );
        assert!(s.contains("Is &lt;this&gt; A &amp; B?"));
    }

    #[test]
    fn wraps_by_visible_characters() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("S1".into());
        // "A & B" is five characters on screen, though "&amp;" is written.
        t.segments[1].text = "Is A & B here?".into();
        let layout = Layout::new(Some(10), None, false).unwrap();
        let s = VttExporter { layout }.render(&t, &crate::output::fixture::summary());
        assert!(s.contains("<v S1>We support\nparagraph\n3.\n\n"), "{s}");
        assert!(s.contains("\nIs A &amp; B\nhere?\n\n"), "{s}");
    }

    #[test]
    fn a_translation_is_a_lang_span_under_the_text() {
        let mut t = crate::output::fixture::transcript();
        t.segments[0].speaker = Some("France".into());
        t.segments[0].text = "Nous appuyons le paragraphe 3.".into();
        t.segments[0].translation = Some("We support <3> & more.".into());
        let s = VttExporter::default().render(&t, &crate::output::fixture::summary());
        assert!(
            s.contains(
                "<v France>Nous appuyons le paragraphe 3.\n\
                 <lang en>[en] We support &lt;3&gt; &amp; more.</lang>\n\n"
            ),
            "{s}"
        );
    }
}
