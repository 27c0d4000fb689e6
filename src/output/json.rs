use super::Exporter;
use crate::summary::Summary;
use crate::transcript::Transcript;

/// `transcript.json`: the transcript data model itself (see `transcript.rs`).
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "transcript.json"
    }
    fn render(&self, transcript: &Transcript, _summary: &Summary) -> String {
        let mut s = serde_json::to_string_pretty(transcript).expect("transcripts always serialize");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = crate::output::fixture::transcript();
        let back: Transcript =
            serde_json::from_str(&JsonExporter.render(&t, &crate::output::fixture::summary()))
                .unwrap();
        assert_eq!(back, t);
    }
}
