use super::{one_line, Exporter};
use crate::summary::Summary;
use crate::transcript::Transcript;

/// Plain text: one line per segment, with a speaker prefix when known.
pub struct TxtExporter;

impl Exporter for TxtExporter {
    fn file_name(&self) -> &'static str {
        "transcript.txt"
    }
    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let mut out = String::new();
        for seg in &t.segments {
            let text = one_line(&seg.text);
            if text.is_empty() {
                continue;
            }
            if let Some(sp) = &seg.speaker {
                out.push_str(sp);
                out.push_str(": ");
            }
            out.push_str(&text);
            out.push('\n');
        }
        out
    }
}
