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
        super::pretty_json(transcript)
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
