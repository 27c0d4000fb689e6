//! Position tagging speed: 1,000 utterances of the project's own labelled data (the issue's
//! target is at most 5 s on 2 cores), and the raw encoder's tokens per second.
//!
//!     cargo bench --bench positions

use std::time::Instant;

use rapporteur::positions::PositionTagger;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<String> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("data/positions/own"))
        .expect("data/positions/own")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.push(v["text"].as_str().unwrap().to_string());
        }
    }
    texts.truncate(1000);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let words: usize = refs.iter().map(|t| t.split_whitespace().count()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tagger = PositionTagger::load(None).expect("built-in head and minilm installed");
    // Warm up (allocations, first-touch of the weights).
    tagger.tag(&refs[..32]).unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let out = tagger.tag(&refs).unwrap();
        assert_eq!(out.len(), refs.len());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "tag: {} utterances ({:.1} words on average) in {:.2} s on {threads} threads, best of 3 ({:.0} per second; target <= 5 s)",
        refs.len(),
        words as f64 / refs.len() as f64,
        best,
        refs.len() as f64 / best
    );
    let t = Instant::now();
    tagger.encoder().embed(&refs).unwrap();
    let e = t.elapsed().as_secs_f64();
    println!(
        "encoder alone: {:.2} s for the same 1,000 texts, whole ({:.0} words per second)",
        e,
        words as f64 / e
    );
}
