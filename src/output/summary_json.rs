//! summary.json: the [`Summary`], pretty-printed (its schema is schema/summary.schema.json).

use super::Exporter;
use crate::summary::Summary;
use crate::transcript::Transcript;

pub struct SummaryExporter;

impl Exporter for SummaryExporter {
    fn file_name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, _transcript: &Transcript, summary: &Summary) -> String {
        let mut s = serde_json::to_string_pretty(summary).expect("a summary serialises");
        s.push('\n');
        s
    }
}
