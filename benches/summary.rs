//! Summary and report speed on a long session: the golden test's tagged 18-utterance session
//! repeated to three hours (1,800 utterances, 7 speakers, hundreds of issues), as `run` and `analyze`
//! build and write it.
//!
//!     cargo bench --bench summary

use std::time::Instant;

use rapporteur::output::Format;
use rapporteur::summary::{self, Context, Processing};
use rapporteur::transcript::Transcript;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/fixtures/summary/session.transcript.json"))
        .expect("the golden test's transcript");
    let one: Transcript = serde_json::from_str(&text).unwrap();
    let mut long = one.clone();
    long.segments.clear();
    // Each repeat is a new stretch of the session about new paragraphs: "paragraph 5" in the
    // k-th copy becomes "paragraph 5k", so issues grow with the length as in a real session.
    let copies = 100;
    let span = 110.0;
    for k in 0..copies {
        for s in &one.segments {
            let mut s = s.clone();
            s.id = long.segments.len();
            s.map_times(|t, _| t + k as f64 * span);
            if let Some(p) = s.position.as_mut() {
                if let Some(t) = p.target.as_mut() {
                    t.key = format!("{}{k}", t.key);
                }
            }
            long.segments.push(s);
        }
    }
    long.source.duration = copies as f64 * span;
    let context = || Context {
        timed: true,
        recording_known: false,
        analysed_from: None,
        processing: Processing::new("bench"),
    };
    let mut best = f64::MAX;
    let mut built = None;
    for _ in 0..3 {
        let t = Instant::now();
        built = Some(summary::build(&long, context()));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let s = built.unwrap();
    println!(
        "summary of {} utterances ({:.1} h, {} issues, {} decisions, {} action items): {:.1} ms",
        long.segments.len(),
        long.source.duration / 3600.0,
        s.issues.len(),
        s.decisions.len(),
        s.action_items.len(),
        best * 1000.0
    );
    for f in [Format::Summary, Format::Md, Format::Html] {
        let e = f.exporter();
        let t = Instant::now();
        let out = e.render(&long, &s);
        println!(
            "{:<13} {:>8.1} ms, {:>6} kB",
            e.file_name(),
            t.elapsed().as_secs_f64() * 1000.0,
            out.len() / 1000
        );
    }
}
