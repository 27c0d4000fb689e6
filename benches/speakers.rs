//! Speaker embedding speed: GE2E voiceprints of 1.6 s windows, batched as the diarizer batches them.
//! `cargo bench --bench speakers` (needs `rapporteur models fetch ge2e`).

use std::time::Instant;

use rapporteur::speakers::ge2e::{Ge2e, WINDOW_FRAMES};

fn main() {
    let model = rapporteur::models::resolve_packaged("ge2e").expect("ge2e installed");
    let ge2e = Ge2e::load(&model.file("pretrained.pt")).unwrap();
    // 60 s of a deterministic chirp-plus-noise signal.
    let mut seed = 1u32;
    let samples: Vec<f32> = (0..16_000 * 60)
        .map(|i| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 9) as f32 / (1u32 << 23) as f32 - 0.5;
            let t = i as f32 / 16_000.0;
            0.3 * (t * 2000.0 * (1.0 + t / 60.0)).sin() + 0.05 * noise
        })
        .collect();
    let t = Instant::now();
    let mel = ge2e.mel(&samples);
    let mel_s = t.elapsed().as_secs_f64();
    let windows: Vec<&[[f32; 40]]> = (0..256)
        .map(|i| &mel[(i * 20) % (mel.len() - WINDOW_FRAMES)..][..WINDOW_FRAMES])
        .collect();
    for batch in [64usize, 256] {
        let t = Instant::now();
        let n = ge2e.embed_windows(&windows[..batch]).unwrap().len();
        let s = t.elapsed().as_secs_f64();
        println!(
            "batch {batch}: {:.2} ms per window ({n} windows in {s:.2} s)",
            s * 1000.0 / n as f64
        );
    }
    println!("mel: {:.2} ms per second of audio", mel_s * 1000.0 / 60.0);
}
