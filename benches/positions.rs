//! Position tagging speed: 1,000 utterances of the project's own labelled data (the issue's
//! target is at most 5 s on 2 cores), 1,000 utterances of real statements (UN General Debate
//! and parliamentary sentences of data/positions/real, consecutive sentences of one speech
//! joined in twos and threes; target at most 10 s on 2 cores), and the raw encoder's tokens
//! per second.
//!
//!     cargo bench --bench positions

use std::time::Instant;

use rapporteur::positions::PositionTagger;

fn main() {
    // As `rapporteur tag` does: one encoder batch per core, single-threaded products.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
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
    // Transcript segments are shorter than the labelled turns: time 1,000 of the shortest
    // half (one sentence each, like most Whisper segments).
    let mut short: Vec<&str> = texts.iter().map(String::as_str).collect();
    short.sort_by_key(|t| t.len());
    let short: Vec<&str> = short[..texts.len() / 2]
        .iter()
        .cycle()
        .take(1000)
        .copied()
        .collect();
    let short_words: usize = short.iter().map(|t| t.split_whitespace().count()).sum();
    let t = Instant::now();
    tagger.tag(&short).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "tag: 1000 short utterances ({:.1} words on average) in {:.2} s ({:.0} per second)",
        short_words as f64 / 1000.0,
        s,
        1000.0 / s
    );
    // Real statements: consecutive sentences of one speech, two or three to an utterance.
    let mut real: Vec<String> = Vec::new();
    for source in ["ungd", "parl"] {
        let text =
            std::fs::read_to_string(root.join(format!("data/positions/real/{source}.jsonl")))
                .expect("data/positions/real");
        let mut run: Vec<String> = Vec::new();
        let mut dialogue = String::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let d = v["dialogue"].as_str().unwrap_or("").to_string();
            if d != dialogue || run.len() == 2 + real.len() % 2 {
                if !run.is_empty() {
                    real.push(run.join(" "));
                }
                run.clear();
                dialogue = d;
            }
            run.push(v["text"].as_str().unwrap().to_string());
        }
        if !run.is_empty() {
            real.push(run.join(" "));
        }
    }
    // First, the sentences one by one (1,934 of them: the first 1,000).
    let mut sentences: Vec<String> = Vec::new();
    for source in ["ungd", "parl"] {
        let text =
            std::fs::read_to_string(root.join(format!("data/positions/real/{source}.jsonl")))
                .expect("data/positions/real");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            sentences.push(v["text"].as_str().unwrap().to_string());
        }
    }
    let one: Vec<&str> = sentences.iter().map(String::as_str).take(1000).collect();
    let one_words: usize = one.iter().map(|t| t.split_whitespace().count()).sum();
    let t = Instant::now();
    tagger.tag(&one).unwrap();
    let s1 = t.elapsed().as_secs_f64();
    println!(
        "tag: 1000 real sentences ({:.1} words on average) in {s1:.2} s ({:.0} per second; target <= 10 s)",
        one_words as f64 / 1000.0,
        1000.0 / s1
    );
    let real: Vec<&str> = real.iter().map(String::as_str).cycle().take(1000).collect();
    let real_words: usize = real.iter().map(|t| t.split_whitespace().count()).sum();
    let mut best_real = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        tagger.tag(&real).unwrap();
        best_real = best_real.min(t.elapsed().as_secs_f64());
    }
    println!(
        "tag: 1000 utterances of real statements ({:.1} words on average) in {:.2} s on {threads} threads, best of 3 ({:.0} per second; target <= 10 s)",
        real_words as f64 / 1000.0,
        best_real,
        1000.0 / best_real
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
