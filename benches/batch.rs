//! Batch throughput on this machine: the same archive processed one file at a time and with
//! the cores split between recordings, plus the baseline of one `rapporteur run` process per
//! file (models loaded every time). Prints seconds of audio per second and the ratios.
//!
//!     cargo bench --bench batch            (8 recordings of 20 s; BATCH_BENCH_FILES=N for more)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_rapporteur");
    let files: usize = std::env::var("BATCH_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let samples =
        rapporteur::audio::decode_file(&root.join("samples/negotiation.opus"), &Default::default())
            .expect("the sample decodes")
            .samples;
    // Distinct 20 s excerpts (a batch processes identical files once).
    let len = 20 * 16_000;
    let step = (samples.len() - len) / files.max(1);
    let mut inputs = Vec::new();
    for i in 0..files {
        let path = archive.join(format!("session{i:02}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &x in &samples[i * step..i * step + len] {
            w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        inputs.push(path);
    }
    let audio_s = (files * 20) as f64;
    println!("batch throughput: {files} recordings of 20 s ({audio_s:.0} s of audio), {cores} cores, default formats, speakers and positions on");

    let time = |label: &str, f: &dyn Fn()| -> f64 {
        let t = Instant::now();
        f();
        let s = t.elapsed().as_secs_f64();
        println!(
            "  {label:<44} {s:>6.1} s  {:>5.1} s of audio per second",
            audio_s / s
        );
        s
    };
    let run_each = time("one `run` process per file, all threads", &|| {
        for (i, input) in inputs.iter().enumerate() {
            let out = dir.path().join(format!("run-{i}"));
            let ok = Command::new(bin)
                .args([
                    "run",
                    input.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                    "-q",
                ])
                .env("RAPPORTEUR_VOICES", dir.path().join("no-voices"))
                .status()
                .unwrap()
                .success();
            assert!(ok, "run failed");
        }
    });
    let batch = |jobs: usize, threads: usize| {
        let out = dir.path().join(format!("batch-{jobs}x{threads}"));
        let ok = Command::new(bin)
            .args([
                "batch",
                archive.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "-q",
            ])
            .args([
                "--jobs",
                &jobs.to_string(),
                "--threads-per-job",
                &threads.to_string(),
            ])
            .env("RAPPORTEUR_VOICES", dir.path().join("no-voices"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "batch failed");
    };
    let one_at_a_time = time(
        &format!("batch, one file at a time ({cores} threads)"),
        &|| batch(1, cores),
    );
    let split = time(
        &format!("batch, {cores} files at once (1 thread each)"),
        &|| batch(cores, 1),
    );
    let halves = if cores >= 4 {
        Some(time(
            &format!("batch, {} files at once (2 threads each)", cores / 2),
            &|| batch(cores / 2, 2),
        ))
    } else {
        None
    };
    println!(
        "  ratio, {cores} at once vs one at a time:      {:.2}x",
        one_at_a_time / split
    );
    println!(
        "  ratio, {cores} at once vs a `run` per file:  {:.2}x",
        run_each / split
    );
    if let Some(h) = halves {
        println!(
            "  ratio, {} x 2 threads vs one at a time:    {:.2}x",
            cores / 2,
            one_at_a_time / h
        );
    }
}
