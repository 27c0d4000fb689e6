//! CAM++ speed: milliseconds per second of speech for utterances of 1.5 s, 5 s and 10 s, many
//! per call (as the diarizer hands them over) and one per call, plus the fbank front end.
//! `RAYON_NUM_THREADS=1 cargo bench --bench campplus` (and =2); needs
//! `rapporteur models fetch campplus`.

use std::time::Instant;

use rapporteur::speakers::campplus::{fbank, CamPlusPlus, FBANK_BINS};

/// Seconds of speech embedded per measurement at each length.
const SPEECH_S: f64 = 60.0;
/// Each figure is the fastest of this many runs: the machine is shared.
const REPEATS: usize = 3;

/// (wall s, process CPU s) of the fastest of `n` runs of `f`.
fn best_of(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    (0..n)
        .map(|_| {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            f();
            (t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        })
        .fold((f64::MAX, f64::MAX), |a, b| if b.0 < a.0 { b } else { a })
}

/// User + system time of this process, all threads, from /proc/self/stat (Linux, 100 ticks a
/// second); 0 elsewhere. On a shared machine it shows the work done when the wall time cannot.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command name (in parentheses) comes field 3 of proc(5); utime and stime are
    // fields 14 and 15.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let model = rapporteur::models::resolve_packaged("campplus").expect("campplus installed");
    let t = Instant::now();
    let cam = CamPlusPlus::load(&model.file("campplus_cn_en_common.pt")).unwrap();
    println!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    let threads = candle_core::utils::get_num_threads();
    println!("threads: {threads} (RAYON_NUM_THREADS or all cores)");
    // 70 s of a deterministic chirp-plus-noise signal.
    let mut seed = 1u32;
    let samples: Vec<f32> = (0..16_000 * 70)
        .map(|i| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 9) as f32 / (1u32 << 23) as f32 - 0.5;
            let t = i as f32 / 16_000.0;
            0.3 * (t * 2000.0 * (1.0 + t / 60.0)).sin() + 0.05 * noise
        })
        .collect();
    let t = Instant::now();
    let frames = fbank(&samples);
    let fbank_s = t.elapsed().as_secs_f64();
    println!(
        "fbank: {:.3} ms per second of audio",
        fbank_s * 1000.0 / (samples.len() as f64 / 16_000.0)
    );
    // Warm up (page in the weights, size the scratch buffers).
    cam.embed(&[&frames[..500]]).unwrap();
    for secs in [1.5f64, 5.0, 10.0] {
        // An utterance of n samples has 1 + (n - 400) / 160 frames.
        let len = 1 + ((secs * 16_000.0) as usize - 400) / 160;
        let count = (SPEECH_S / secs).round() as usize;
        let utts: Vec<&[[f32; FBANK_BINS]]> = (0..count)
            .map(|i| {
                let start = (i * 37) % (frames.len() - len);
                &frames[start..start + len]
            })
            .collect();
        let speech = count as f64 * secs;
        let batched = best_of(REPEATS, || {
            assert_eq!(cam.embed(&utts).unwrap().len(), count);
        });
        let single = best_of(REPEATS, || {
            for u in &utts {
                cam.embed(&[u]).unwrap();
            }
        });
        println!(
            "{secs:>4} s utterances ({len} frames): {count} per call {:.2} ms per second of speech \
             ({:.0} s per hour; CPU {:.2} ms), one per call {:.2} ms (CPU {:.2} ms)",
            batched.0 * 1000.0 / speech,
            batched.0 * 3600.0 / speech,
            batched.1 * 1000.0 / speech,
            single.0 * 1000.0 / speech,
            single.1 * 1000.0 / speech,
        );
    }
}
