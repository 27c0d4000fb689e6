//! Silero VAD in candle against the package's own Python implementation, and the voice
//! activity detector's place in `run`: no invented text on silence, noise or tones, and
//! timestamps that stay on the recording's clock across chunks.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use rapporteur::audio::vad::{speech_probabilities, SileroVad};

fn vad_model() -> SileroVad {
    let model = rapporteur::models::resolve_packaged("silero-vad").unwrap_or_else(|e| {
        panic!("{e} (./scripts/test fetches it; or `rapporteur models fetch silero-vad`)")
    });
    SileroVad::load(&model.file("silero_vad_16k.safetensors")).expect("loads")
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap();
    r.samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

#[test]
fn candle_port_matches_the_reference_probabilities() {
    let samples = read_wav(&fixture("vad/speech.wav"));
    let ours = speech_probabilities(&vad_model(), &samples).unwrap();
    if let Ok(dump) = std::env::var("RAPPORTEUR_DUMP_VAD") {
        std::fs::write(dump, serde_json::to_string(&ours).unwrap()).unwrap();
    }
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("vad/speech.probs.json")).unwrap())
            .unwrap();
    let reference: Vec<f32> = reference["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(ours.len(), reference.len());
    let worst = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // The fixture rounds to 6 decimals; measured difference 6e-7.
    assert!(worst < 1e-4, "largest difference {worst}");
    // The fixture holds speech, a pause and noise: the decisions must agree everywhere.
    let speech = |p: &[f32]| p.iter().map(|&x| x >= 0.5).collect::<Vec<_>>();
    assert_eq!(speech(&ours), speech(&reference));
    assert!(reference.iter().any(|&p| p > 0.9) && reference.iter().any(|&p| p < 0.1));
}

fn write_wav(path: &Path, samples: &[f32]) {
    rapporteur::audio::write_wav(path, samples).unwrap();
}

/// A deterministic pseudo-random source (xorshift), uniform in [-1, 1].
fn noise_source(seed: u32) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s as f32 / u32::MAX as f32 * 2.0 - 1.0
    }
}

fn white_noise(seconds: usize, amplitude: f32) -> Vec<f32> {
    let mut next = noise_source(7);
    (0..seconds * 16_000).map(|_| next() * amplitude).collect()
}

/// Pink (1/f) noise by Paul Kellet's filter over white noise.
fn pink_noise(seconds: usize, amplitude: f32) -> Vec<f32> {
    let mut next = noise_source(11);
    let mut b = [0f32; 7];
    let raw: Vec<f32> = (0..seconds * 16_000)
        .map(|_| {
            let w = next();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b.iter().sum::<f32>() + w * 0.5362;
            b[6] = w * 0.115926;
            out
        })
        .collect();
    let peak = raw.iter().fold(0f32, |m, v| m.max(v.abs()));
    raw.iter().map(|v| v / peak * amplitude).collect()
}

/// Something like music: a melody of harmonic notes over sustained chords, changing every
/// 400 ms, with attack and decay, plus a little noise.
fn music_tones(seconds: usize) -> Vec<f32> {
    let sr = 16_000f32;
    let scale = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16];
    let melody = [0, 4, 7, 9, 7, 4, 5, 2, 0, 9, 8, 7, 4, 2, 1, 0];
    let chords = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7]];
    let hz = |semi: i32| 220.0 * 2f32.powf(semi as f32 / 12.0);
    let mut next = noise_source(3);
    (0..seconds * 16_000)
        .map(|n| {
            let t = n as f32 / sr;
            let note = (t / 0.4) as usize;
            let in_note = t - note as f32 * 0.4;
            let env = (in_note / 0.02).min(1.0) * (-in_note * 4.0).exp();
            let f = hz(scale[melody[note % melody.len()] % scale.len()] + 12);
            let lead: f32 = (1..=4)
                .map(|h| (2.0 * std::f32::consts::PI * f * h as f32 * t).sin() / h as f32)
                .sum();
            let chord = chords[(t / 3.2) as usize % chords.len()];
            let pad: f32 = chord
                .iter()
                .map(|&s| (2.0 * std::f32::consts::PI * hz(s) * t).sin())
                .sum();
            0.25 * env * lead + 0.08 * pad + 0.005 * next()
        })
        .collect()
}

fn transcribe_files(inputs: &[PathBuf], extra: &[&str]) -> Vec<serde_json::Value> {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = rapporteur();
    cmd.arg("run")
        .args(inputs)
        .arg("-o")
        .arg(out.path())
        .args(extra);
    cmd.assert().success();
    inputs
        .iter()
        .map(|i| {
            let stem = i.file_stem().unwrap().to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(out.path().join(stem).join("transcript.json")).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

fn words(t: &serde_json::Value) -> Vec<(f64, String)> {
    t["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["words"].as_array().unwrap().clone())
        .map(|w| {
            (
                w["start"].as_f64().unwrap(),
                w["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn silence_noise_and_tones_give_no_words() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("silence", vec![0.0; 60 * 16_000]),
        ("white", white_noise(60, 0.3)),
        ("pink", pink_noise(60, 0.5)),
        ("tones", music_tones(60)),
    ];
    let mut inputs = Vec::new();
    for (name, samples) in &cases {
        let path = dir.path().join(format!("{name}.wav"));
        write_wav(&path, samples);
        inputs.push(path);
    }
    for (input, t) in inputs.iter().zip(transcribe_files(&inputs, &[])) {
        let w = words(&t);
        assert!(w.is_empty(), "{}: invented {w:?}", input.display());
        assert!((t["source"]["duration"].as_f64().unwrap() - 60.0).abs() < 0.01);
    }
}

/// Speech onset of a LibriVox clip, from its reference speech/silence labels.
fn lab_onset(lab: &Path) -> f64 {
    let text = std::fs::read_to_string(lab).unwrap();
    text.lines()
        .find(|l| l.ends_with("speech"))
        .and_then(|l| l.split('\t').next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn word_times_stay_aligned_across_chunks() {
    let dir = shared("A_wer/pocketsphinx_librivox");
    let ids = std::fs::read_to_string(dir.join("fileids")).unwrap();
    let ids: Vec<&str> = ids
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // Gaps of silence, of quiet noise, short ones that the detector bridges and long ones
    // that it drops, so that clips land at seams inside chunks and at chunk starts.
    // Every clip twice: about 50 s of speech, so at least two chunks.
    let gaps: [(f64, bool); 10] = [
        (3.0, false),
        (7.5, true),
        (0.8, false),
        (12.0, false),
        (2.2, true),
        (1.2, false),
        (0.6, true),
        (30.0, false),
        (4.0, true),
        (1.5, false),
    ];
    let mut session: Vec<f32> = Vec::new();
    let mut placed = Vec::new();
    let mut noise = noise_source(5);
    for (id, (gap, noisy)) in ids.iter().cycle().zip(gaps) {
        for _ in 0..(gap * 16_000.0) as usize {
            session.push(if noisy { noise() * 0.01 } else { 0.0 });
        }
        let clip = read_wav(&dir.join(format!("{id}.wav")));
        let at = session.len() as f64 / 16_000.0;
        let onset = lab_onset(&dir.join(format!("{id}.lab")));
        placed.push((id, at, at + onset, at + clip.len() as f64 / 16_000.0));
        session.extend(clip);
    }
    session.extend(vec![0.0; 5 * 16_000]);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("session.wav");
    write_wav(&path, &session);
    let t = &transcribe_files(&[path], &[])[0];
    let w = words(t);
    let mut worst = 0f64;
    for (id, clip_start, speech_at, clip_end) in placed {
        // The earliest word after the previous clip's end (where this clip was placed).
        let first = w
            .iter()
            .find(|(start, _)| *start >= clip_start - 0.05 && *start < clip_end)
            .unwrap_or_else(|| panic!("{id}: no word near {speech_at:.2} s: {w:?}"));
        assert!(
            (first.0 - speech_at).abs() <= 0.5,
            "{id}: first word {:?} at {:.2} s, speech placed at {speech_at:.2} s",
            first.1,
            first.0
        );
        worst = worst.max((first.0 - speech_at).abs());
    }
    eprintln!("largest first-word offset: {worst:.3} s");
    assert!(
        t["speech"]["chunks"].as_u64().unwrap() >= 2,
        "{}",
        t["speech"]
    );
}
