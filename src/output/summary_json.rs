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
        super::pretty_json(summary)
    }
}
