//! Calibration of voice matching: how similar is a speaker's voiceprint from one recording to
//! the same speaker's, and to other speakers', from another? Uses the reference turns of the
//! shared multi-speaker recordings (AMI far-field clips share speakers across clips; the
//! pyannote sample's two speakers are split into first and second halves). Each voiceprint is
//! made as the diarizer makes them: CAM++ over that speaker's solo speech (no overlap, at least
//! 2 s of it) in pieces of at most 10 s, averaged by length.
//!
//! `cargo bench --bench voices` prints both distributions and the error rates of thresholds.

use std::collections::BTreeMap;
use std::path::Path;

use rapporteur::audio::{decode_file, DecodeOptions};
use rapporteur::speakers::campplus::{fbank, FBANK_BINS};
use rapporteur::speakers::cluster::{normalise, weighted_mean};
use rapporteur::speakers::diarize::PIECE_S;
use rapporteur::speakers::SpeakerModels;

const MIN_SOLO_S: f64 = 2.0;

fn main() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/B_der");
    let model = SpeakerModels::load().expect("speaker models installed (rapporteur models fetch)");
    // (recording, speaker) -> voiceprint
    let mut prints: Vec<(String, String, Vec<f32>)> = Vec::new();
    let ami = shared.join("ami_farfield_train");
    let rttm = std::fs::read_to_string(ami.join("debug.train.rttm")).expect("shared AMI RTTM");
    let turns = parse(&rttm);
    for i in 0..10 {
        let file = format!("trn{i:02}");
        let audio =
            decode_file(&ami.join(format!("{file}.wav")), &DecodeOptions::default()).unwrap();
        let t = &turns[&file];
        for speaker in t
            .iter()
            .map(|x| x.2.clone())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let solo = solo_spans(t, &speaker, 0.0, f64::MAX);
            if let Some(v) = voiceprint(&model, &audio.samples, &solo) {
                prints.push((file.clone(), speaker, v));
            }
        }
    }
    let py = shared.join("pyannote_sample");
    let t = parse(&std::fs::read_to_string(py.join("sample.rttm")).unwrap());
    let audio = decode_file(&py.join("sample.wav"), &DecodeOptions::default()).unwrap();
    let t = &t["sample"];
    for speaker in ["speaker90", "speaker91"] {
        for (half, lo, hi) in [("a", 0.0, 18.0), ("b", 18.0, 31.0)] {
            let solo = solo_spans(t, speaker, lo, hi);
            if let Some(v) = voiceprint(&model, &audio.samples, &solo) {
                prints.push((format!("sample-{half}"), speaker.to_string(), v));
            }
        }
    }
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for (i, a) in prints.iter().enumerate() {
        for b in &prints[i + 1..] {
            if a.0 == b.0 {
                continue; // Only across recordings: enrolment never comes from the session itself.
            }
            let sim: f32 = a.2.iter().zip(&b.2).map(|(x, y)| x * y).sum();
            if a.1 == b.1 {
                same.push(sim);
            } else {
                different.push(sim);
            }
        }
    }
    same.sort_by(f32::total_cmp);
    different.sort_by(f32::total_cmp);
    println!(
        "{} voiceprints; {} same-speaker and {} different-speaker pairs across recordings",
        prints.len(),
        same.len(),
        different.len()
    );
    println!(
        "same speaker:      min {:.3} median {:.3} max {:.3}",
        same[0],
        same[same.len() / 2],
        same[same.len() - 1]
    );
    println!(
        "different speaker: min {:.3} median {:.3} max {:.3}",
        different[0],
        different[different.len() / 2],
        different[different.len() - 1]
    );
    for th in [0.40f32, 0.45, 0.48, 0.50, 0.52, 0.55, 0.60, 0.65, 0.70] {
        let missed = same.iter().filter(|&&s| s < th).count();
        let wrong = different.iter().filter(|&&s| s >= th).count();
        println!(
            "threshold {th:.2}: same speaker not named {:5.1} %, other speaker wrongly named {:5.1} %",
            100.0 * missed as f64 / same.len() as f64,
            100.0 * wrong as f64 / different.len() as f64
        );
    }
}

type Turns = BTreeMap<String, Vec<(f64, f64, String)>>;

fn parse(text: &str) -> Turns {
    let mut out: Turns = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 8 && f[0] == "SPEAKER" {
            let start: f64 = f[3].parse().unwrap();
            let dur: f64 = f[4].parse().unwrap();
            out.entry(f[1].to_string())
                .or_default()
                .push((start, start + dur, f[7].to_string()));
        }
    }
    out
}

/// Stretches where `speaker` talks and nobody else does, within [lo, hi).
fn solo_spans(turns: &[(f64, f64, String)], speaker: &str, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let mut spans = Vec::new();
    for (s, e, who) in turns.iter().filter(|t| t.2 == speaker) {
        let (mut s, e) = (s.max(lo), e.min(hi));
        // Cut out every other speaker's turns.
        let mut others: Vec<(f64, f64)> = turns
            .iter()
            .filter(|t| &t.2 != who && t.1 > s && t.0 < e)
            .map(|t| (t.0, t.1))
            .collect();
        others.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (os, oe) in others {
            if os > s {
                spans.push((s, os.min(e)));
            }
            s = s.max(oe);
        }
        if e > s {
            spans.push((s, e));
        }
    }
    spans.retain(|(s, e)| e - s >= 0.3);
    spans
}

fn voiceprint(model: &SpeakerModels, samples: &[f32], spans: &[(f64, f64)]) -> Option<Vec<f32>> {
    if spans.iter().map(|(s, e)| e - s).sum::<f64>() < MIN_SOLO_S {
        return None;
    }
    let mut frames: Vec<[f32; FBANK_BINS]> = Vec::new();
    for (s, e) in spans {
        let (a, b) = (
            (s * 16_000.0) as usize,
            ((e * 16_000.0) as usize).min(samples.len()),
        );
        if a < b {
            frames.extend(fbank(&samples[a..b]));
        }
    }
    let pieces: Vec<&[[f32; FBANK_BINS]]> = frames.chunks((PIECE_S * 100.0) as usize).collect();
    let prints = model.voiceprints.embed(&pieces).unwrap();
    let prints: Vec<(Vec<f32>, f32)> = pieces
        .iter()
        .zip(prints)
        .filter_map(|(piece, print)| Some((normalise(print?), piece.len() as f32)))
        .collect();
    weighted_mean(prints.iter().map(|(v, w)| (v.as_slice(), *w)))
}
