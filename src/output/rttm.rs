use std::fmt::Write;

use super::Exporter;
use crate::summary::Summary;
use crate::transcript::Transcript;

/// NIST RTTM: one `SPEAKER` line per speaker turn (overlapped speech gives overlapping lines),
/// as md-eval, pyannote and `rapporteur eval der` read it. Fields are separated by spaces, so
/// spaces inside the file id and speaker names become `_`.
pub struct RttmExporter;

fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if t.is_empty() {
        "<NA>".into()
    } else {
        t
    }
}

impl Exporter for RttmExporter {
    fn file_name(&self) -> &'static str {
        "speakers.rttm"
    }

    fn render(&self, t: &Transcript, _summary: &Summary) -> String {
        let file = std::path::Path::new(&t.source.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = token(&file);
        let mut out = String::new();
        for turn in t.diarization.iter().flat_map(|d| &d.turns) {
            let _ = writeln!(
                out,
                "SPEAKER {file} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>",
                turn.start,
                (turn.end - turn.start).max(0.0),
                token(&turn.speaker)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Diarization, ModelRef, Turn};

    #[test]
    fn one_line_per_turn_with_safe_tokens() {
        let mut t = crate::output::fixture::transcript();
        t.source.path = "/rec/open session.wav".into();
        let turn = |start: f64, end: f64, speaker: &str| Turn {
            start,
            end,
            speaker: speaker.into(),
        };
        t.diarization = Some(Diarization {
            model: ModelRef {
                name: "campplus".into(),
                sha256: "22".repeat(32),
            },
            segmentation: None,
            threshold: 0.3,
            speech_s: 3.0,
            overlap_s: 0.5,
            speakers: vec![],
            turns: vec![turn(0.0, 2.5, "Côte d'Ivoire"), turn(2.0, 3.25, "S2")],
        });
        let s = RttmExporter.render(&t, &crate::output::fixture::summary());
        assert_eq!(
            s,
            "SPEAKER open_session 1 0.000 2.500 <NA> <NA> Côte_d'Ivoire <NA> <NA>\n\
             SPEAKER open_session 1 2.000 1.250 <NA> <NA> S2 <NA> <NA>\n"
        );
        // Our own DER scorer reads it back.
        let turns = crate::eval::der::parse_rttm(&s).unwrap();
        assert_eq!(turns.len(), 2);
    }
}
