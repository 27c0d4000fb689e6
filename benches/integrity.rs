//! What the model checks cost on every load: the sha256 of each installed model file, and the
//! structural walk of a GGML Whisper file (`whisper_ggml::check`) that keeps damaged files away
//! from whisper.cpp. Files are read once first, so the figures are for a warm page cache, the
//! usual case for a second and later run.
//!
//! `cargo bench --bench integrity` prints milliseconds per check (median of 7).

use std::path::Path;
use std::time::Instant;

use rapporteur::fsutil::sha256_file;
use rapporteur::models::{self, whisper_ggml};

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[3]
}

fn main() {
    let whisper = models::models_dir().join("whisper");
    let mut files: Vec<_> = std::fs::read_dir(&whisper)
        .unwrap_or_else(|e| panic!("{}: {e} (run `rapporteur models fetch`)", whisper.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    println!(
        "{:<28} {:>8} {:>12} {:>14}",
        "file", "MB", "sha256 ms", "structure ms"
    );
    for path in &files {
        let mb = std::fs::metadata(path).unwrap().len() as f64 / 1e6;
        let sha = median_ms(|| {
            sha256_file(path).unwrap();
        });
        let walk = median_ms(|| {
            whisper_ggml::check(path).unwrap();
        });
        let name = path.file_name().unwrap().to_string_lossy();
        println!("{name:<28} {mb:>8.1} {sha:>12.1} {walk:>14.2}");
    }
    for name in [
        models::DEFAULT_VAD,
        models::DEFAULT_SPEAKER,
        models::DEFAULT_TEXT,
    ] {
        let ms = median_ms(|| {
            models::resolve_packaged(name).unwrap();
        });
        let dir = models::resolve_packaged(name).unwrap().dir;
        let mb = dir_size(&dir) as f64 / 1e6;
        println!("{name:<28} {mb:>8.1} {ms:>12.1} {:>14}", "-");
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
