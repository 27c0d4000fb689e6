//! A corpus of malformed recordings, generated here from a few good seeds (nothing binary is
//! committed): truncations at many offsets, wrong magic, absurd WAV headers, NaN and infinite
//! samples, huge metadata, a non-UTF-8 name, and folders with link loops and unreadable files.
//!
//! Every input must end clearly: exit 0 with a complete output folder, or exit 3 with one line
//! `rapporteur: <path>: <cause>` and nothing left behind. Never a panic, a signal death, a hang
//! or a runaway allocation: each run has a time limit and a virtual-memory limit.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{leftovers, require_default_model, root, shared, tree};
use serde_json::Value;

/// Each run must end within this.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Virtual-memory limit of each run, in KiB (`ulimit -v`).
const MEMORY_LIMIT_KIB: u64 = 6_000_000;
/// Quick settings for cases where the full pipeline is not the point.
/// One thread each: several runs at once on 2 cores, and whisper's threads spin while they wait.
const QUICK: [&str; 6] = [
    "--format",
    "json",
    "--no-positions",
    "--no-diarize",
    "--threads",
    "1",
];
/// The same for `batch`.
const QUICK_BATCH: [&str; 6] = [
    "--format",
    "json",
    "--no-positions",
    "--no-diarize",
    "--threads-per-job",
    "1",
];
/// What a complete quick result holds.
const QUICK_FILES: [&str; 2] = [".source", "transcript.json"];
/// What a complete default result holds.
const DEFAULT_FILES: [&str; 9] = [
    ".source",
    "report.html",
    "report.md",
    "speakers.rttm",
    "summary.json",
    "transcript.json",
    "transcript.srt",
    "transcript.txt",
    "transcript.vtt",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Exit 0 with a complete folder.
    Ok,
    /// Exit 3 with one line naming the file.
    Fail,
    /// Either, as long as it is clear.
    Either,
}

struct Case {
    /// File name (with its extension) in the corpus.
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Run with default settings rather than the quick ones.
    full: bool,
    /// When it fails, its message must say this.
    cause: Option<&'static str>,
}

fn case(name: &str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        bytes,
        expect,
        full: false,
        cause: None,
    }
}

// ---------------------------------------------------------------------------------------------
// WAV writing by hand.

fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}
fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A `fmt ` chunk body: format tag (1 PCM, 3 float), channels, rate, bits per sample. Byte rate
/// and block align follow from them (wrapping, as an absurd header would).
fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = (channels as u32).wrapping_mul(bits as u32).div_ceil(8);
    let mut b = Vec::new();
    b.extend(le16(tag));
    b.extend(le16(channels));
    b.extend(le32(rate));
    b.extend(le32(rate.wrapping_mul(align)));
    b.extend(le16(align as u16));
    b.extend(le16(bits));
    b
}

/// A chunk whose size field says `claimed` (the body as written may be shorter or longer).
fn chunk_claiming(id: &[u8; 4], claimed: u32, body: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(8 + body.len() + 1);
    c.extend(id);
    c.extend(le32(claimed));
    c.extend(body);
    if body.len() % 2 == 1 && claimed as usize == body.len() {
        c.push(0);
    }
    c
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    chunk_claiming(id, body.len() as u32, body)
}

/// `RIFF....WAVE` around `chunks`, with the right RIFF size.
fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut w = Vec::with_capacity(12 + body.len());
    w.extend(b"RIFF");
    w.extend(le32((4 + body.len()) as u32));
    w.extend(b"WAVE");
    w.extend(body);
    w
}

/// 16-bit PCM of the JFK speech (the seed WAV is 16 kHz mono 16-bit), `seconds` long.
fn jfk_pcm16(seconds: f64) -> Vec<i16> {
    let mut r = hound::WavReader::open(shared("A_wer/jfk/jfk.wav")).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate), (1, 16_000), "{spec:?}");
    r.samples::<i16>()
        .take((seconds * 16_000.0) as usize)
        .map(Result::unwrap)
        .collect()
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A well-formed 16 kHz mono 16-bit WAV of `samples`, with `extra` chunks before `data`.
fn wav16(samples: &[i16], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut chunks = vec![chunk(b"fmt ", &fmt_body(1, 1, 16_000, 16))];
    chunks.extend(extra.iter().cloned());
    chunks.push(chunk(b"data", &pcm_bytes(samples)));
    riff(&chunks)
}

/// A 32-bit float 16 kHz mono WAV of `samples` (written by hand: NaN and infinities included).
fn wav_f32(samples: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    riff(&[
        chunk(b"fmt ", &fmt_body(3, 1, 16_000, 32)),
        chunk(b"data", &data),
    ])
}

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// An ID3v2.3 tag of about `len` bytes (one padding-filled TXXX frame), to put before an MP3.
fn id3_tag(len: usize) -> Vec<u8> {
    let payload = len;
    let mut frame = Vec::new();
    frame.extend(b"TXXX");
    frame.extend((payload as u32).to_be_bytes());
    frame.extend([0, 0]);
    frame.push(0); // ISO-8859-1
    frame.extend(b"padding\0");
    frame.resize(10 + payload, b'x');
    let size = frame.len() as u32;
    let syncsafe = [
        ((size >> 21) & 0x7f) as u8,
        ((size >> 14) & 0x7f) as u8,
        ((size >> 7) & 0x7f) as u8,
        (size & 0x7f) as u8,
    ];
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend(syncsafe);
    tag.extend(frame);
    tag
}

/// The whole corpus.
fn corpus() -> Vec<Case> {
    use Expect::*;
    let seeds: [(&str, PathBuf); 5] = [
        ("wav", shared("A_wer/jfk/jfk.wav")),
        ("flac", shared("A_wer/jfk/jfk.flac")),
        ("mp3", shared("A_wer/jfk/jfk.mp3")),
        ("opus", root().join("samples/negotiation.opus")),
        ("wav", shared("B_der/ami_farfield_train/trn00.wav")),
    ];
    let mut cases = Vec::new();

    // Truncated at many offsets (offset 0 is the empty file, below).
    for (i, (ext, path)) in seeds.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let len = bytes.len();
        let offsets: Vec<usize> = if i == 4 {
            vec![60, len / 2] // the float WAV: inside its header, and mid-data
        } else {
            vec![1, 4, 12, 44, 100, 1000, len / 2, len - 1]
        };
        for at in offsets {
            // A cut inside the data of a WAV whose header states its length is a truncation;
            // the last byte of a compressed stream may or may not matter.
            cases.push(case(
                &format!("cut-{i}-{at}.{ext}"),
                bytes[..at].to_vec(),
                Either,
            ));
        }
    }
    let wav = std::fs::read(shared("A_wer/jfk/jfk.wav")).unwrap();
    let mp3 = std::fs::read(shared("A_wer/jfk/jfk.mp3")).unwrap();
    let flac = std::fs::read(shared("A_wer/jfk/jfk.flac")).unwrap();

    // Nothing, zeros, wrong magic, random bytes.
    cases.push(case("empty.wav", Vec::new(), Fail));
    cases.push(case("zeros.wav", vec![0; 65_536], Fail));
    cases.push(case("zeros.mp3", vec![0; 65_537], Fail));
    cases.push(case("zeros.flac", vec![0; 65_538], Fail));
    cases.push(case("zeros.opus", vec![0; 65_539], Fail));
    let mut rifx = wav.clone();
    rifx[..4].copy_from_slice(b"XIFF");
    cases.push(case("no-riff.wav", rifx, Fail));
    let mut no_wave = wav.clone();
    no_wave[8..12].copy_from_slice(b"AVI ");
    cases.push(case("riff-avi.wav", no_wave, Fail));
    // Content decides, not the name: an MP3 named .flac, a FLAC named .wav.
    cases.push(case("mp3-named.flac", mp3.clone(), Ok));
    cases.push(case("flac-named.wav", flac.clone(), Ok));
    cases.push(case("noise.wav", noise(50_000, 1), Fail));
    cases.push(case("noise.opus", noise(50_001, 2), Fail));
    cases.push(case("noise.flac", noise(50_002, 3), Fail));
    let mut riff_noise = b"RIFF\x00\x00\x01\x00WAVE".to_vec();
    riff_noise.extend(noise(65_536, 4));
    cases.push(case("riff-noise.wav", riff_noise, Fail));

    // Absurd WAV headers.
    let speech = jfk_pcm16(3.0);
    let data = pcm_bytes(&speech);
    let with_fmt = |fmt: Vec<u8>, data_chunk: Vec<u8>| riff(&[chunk(b"fmt ", &fmt), data_chunk]);
    cases.push(case(
        "rate-0.wav",
        with_fmt(fmt_body(1, 1, 0, 16), chunk(b"data", &data)),
        Fail,
    ));
    cases.push(case(
        "rate-4e9.wav",
        with_fmt(fmt_body(1, 1, 4_000_000_000, 16), chunk(b"data", &data)),
        Fail,
    ));
    cases.push(case(
        "rate-1.wav",
        with_fmt(fmt_body(1, 1, 1, 16), chunk(b"data", &data)),
        Either,
    ));
    cases.push(case(
        "channels-0.wav",
        with_fmt(fmt_body(1, 0, 16_000, 16), chunk(b"data", &data)),
        Fail,
    ));
    cases.push(case(
        "channels-65535.wav",
        with_fmt(fmt_body(1, 65_535, 16_000, 16), chunk(b"data", &data)),
        Either,
    ));
    for bits in [0u16, 7, 64] {
        cases.push(case(
            &format!("bits-{bits}.wav"),
            with_fmt(fmt_body(1, 1, 16_000, bits), chunk(b"data", &data)),
            Either,
        ));
    }
    cases.push(case(
        "float-bits-16.wav",
        with_fmt(fmt_body(3, 1, 16_000, 16), chunk(b"data", &data)),
        Either,
    ));
    cases.push(case(
        "format-tag-0x1234.wav",
        with_fmt(fmt_body(0x1234, 1, 16_000, 16), chunk(b"data", &data)),
        Fail,
    ));
    cases.push(case(
        "data-len-ffffffff.wav",
        with_fmt(
            fmt_body(1, 1, 16_000, 16),
            chunk_claiming(b"data", u32::MAX, &data[..2000]),
        ),
        Either,
    ));
    cases.push(case(
        "data-len-0.wav",
        with_fmt(fmt_body(1, 1, 16_000, 16), chunk(b"data", &[])),
        Fail,
    ));
    cases.push(case(
        "data-len-0-then-audio.wav",
        with_fmt(
            fmt_body(1, 1, 16_000, 16),
            chunk_claiming(b"data", 0, &data),
        ),
        Either,
    ));
    cases.push(case("no-fmt.wav", riff(&[chunk(b"data", &data)]), Fail));
    cases.push(case(
        "no-data.wav",
        riff(&[chunk(b"fmt ", &fmt_body(1, 1, 16_000, 16))]),
        Fail,
    ));
    cases.push(case(
        "fmt-short.wav",
        riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 16_000, 16)[..6]),
            chunk(b"data", &data),
        ]),
        Fail,
    ));
    cases.push(case(
        "fmt-past-eof.wav",
        riff(&[chunk_claiming(
            b"fmt ",
            1_000_000,
            &fmt_body(1, 1, 16_000, 16),
        )]),
        Fail,
    ));
    cases.push(case(
        "list-past-eof.wav",
        riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 16_000, 16)),
            chunk_claiming(b"LIST", 1_000_000, b"INFOjunk"),
            chunk(b"data", &data),
        ]),
        Fail,
    ));
    cases.push(case(
        "junk-claims-3gb.wav",
        riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 16_000, 16)),
            chunk_claiming(b"junk", 3_000_000_000, &[0; 64]),
            chunk(b"data", &data),
        ]),
        Fail,
    ));
    let mut riff_huge = wav16(&speech, &[]);
    riff_huge[4..8].copy_from_slice(&le32(u32::MAX));
    cases.push(case("riff-size-ffffffff.wav", riff_huge, Ok));

    // Non-finite and out-of-range float samples: silence where they are, the speech around them
    // still transcribed.
    let mut floats: Vec<f32> = jfk_pcm16(6.0).iter().map(|&s| s as f32 / 32768.0).collect();
    for (i, v) in floats.iter_mut().enumerate() {
        match i % 997 {
            0 => *v = f32::NAN,
            1 => *v = f32::INFINITY,
            2 => *v = f32::NEG_INFINITY,
            _ => {}
        }
    }
    cases.push(case("nan-inf.wav", wav_f32(&floats), Ok));
    let mut all_bad = vec![f32::NAN; 16_000];
    all_bad.extend(vec![f32::INFINITY; 16_000]);
    all_bad.extend(vec![f32::NEG_INFINITY; 16_000]);
    cases.push(case("all-nan-inf.wav", wav_f32(&all_bad), Either));
    let loud: Vec<f32> = floats
        .iter()
        .enumerate()
        .map(|(i, _)| if i % 2 == 0 { f32::MAX } else { -f32::MAX })
        .take(32_000)
        .collect();
    cases.push(case("float-max.wav", wav_f32(&loud), Either));

    // Huge metadata.
    let mut list = b"INFO".to_vec();
    list.extend(chunk(b"ICMT", &vec![b' '; 20 * 1024 * 1024]));
    cases.push(case(
        "list-20mb.wav",
        wav16(&speech, &[chunk(b"LIST", &list)]),
        Ok,
    ));
    cases.push(case(
        "junk-20mb.wav",
        wav16(&speech, &[chunk(b"JUNK", &vec![0; 20 * 1024 * 1024 + 1])]),
        Ok,
    ));
    // A WAV written to a pipe (ffmpeg, sox): both sizes left at 0xFFFFFFFF; the audio runs to
    // the end of the file.
    let mut streamed = wav16(&jfk_pcm16(11.0), &[]);
    let at = 40;
    assert_eq!(&streamed[at - 4..at], b"data");
    streamed[4..8].copy_from_slice(&le32(u32::MAX));
    streamed[at..at + 4].copy_from_slice(&le32(u32::MAX));
    cases.push(case("streamed.wav", streamed, Ok));
    let mut tagged = id3_tag(16 * 1024 * 1024);
    tagged.extend(&mp3);
    cases.push(case("id3-16mb.mp3", tagged, Ok));

    // A few through the whole pipeline, default settings.
    for name in [
        "nan-inf.wav",
        "list-20mb.wav",
        "cut-2-38223.mp3",
        "rate-0.wav",
    ] {
        if let Some(c) = cases.iter_mut().find(|c| c.name == name) {
            c.full = true;
        }
    }
    // Failures whose message matters (regressions of earlier, misleading ones).
    for (name, cause) in [
        ("empty.wav", "is empty"),
        ("cut-0-4.wav", "truncated"),
        ("cut-0-12.wav", "truncated"),
        ("cut-1-4.flac", "truncated"),
        ("cut-3-4.opus", "truncated"),
        ("cut-0-176039.wav", "truncated"),
        ("cut-2-38223.mp3", "truncated"),
        ("rate-0.wav", "0 Hz"),
        ("rate-4e9.wav", "4000000000 Hz"),
        (
            "format-tag-0x1234.wav",
            "unsupported WAV audio encoding (format tag 0x1234)",
        ),
        ("noise.wav", "not a recognised audio or video container"),
    ] {
        let c = cases.iter_mut().find(|c| c.name == name).unwrap();
        c.cause = Some(cause);
    }
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names must be distinct");
    cases
}

// ---------------------------------------------------------------------------------------------
// Running with limits.

/// The tests of this file one at a time: each already keeps both cores busy.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Run the rapporteur binary with `args` under the memory limit, killing it at the time limit.
fn run_limited(args: &[&std::ffi::OsStr], scratch: &Path) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    std::fs::create_dir_all(scratch).unwrap();
    let err_path = scratch.join("stderr");
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KIB}; exec \"$0\" \"$@\""))
        .arg(bin)
        .args(args)
        .env_remove("NO_COLOR")
        .env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        signal: status.signal(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// `rapporteur run INPUT -o OUT` under the limits; return a problem description, or the outcome
/// ("ok" or "exit 3: <line>").
fn check_run(
    input: &Path,
    stem: &str,
    full: bool,
    expect: Expect,
    want_cause: Option<&str>,
    work: &Path,
) -> std::result::Result<String, String> {
    let out = work.join("out");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ];
    if !full {
        args.extend(QUICK.iter().map(std::ffi::OsStr::new));
    }
    let o = run_limited(&args, &work.join("scratch"));
    let name = input.display();
    if let Some(sig) = o.signal {
        return Err(format!(
            "{name}: killed by signal {sig}; stderr: {}",
            o.stderr
        ));
    }
    if o.code == Some(101) || o.stderr.contains("panicked") {
        return Err(format!("{name}: panicked: {}", o.stderr));
    }
    if o.elapsed > TIME_LIMIT {
        return Err(format!(
            "{name}: still running after {:?}; killed",
            o.elapsed
        ));
    }
    let left = leftovers(&out);
    if !left.is_empty() {
        return Err(format!("{name}: left {left:?}"));
    }
    let files = tree(&out);
    match o.code {
        Some(0) => {
            if expect == Expect::Fail {
                return Err(format!(
                    "{name}: expected a failure, got exit 0 ({files:?})"
                ));
            }
            let want: Vec<String> = if full {
                &DEFAULT_FILES[..]
            } else {
                &QUICK_FILES[..]
            }
            .iter()
            .map(|f| format!("{stem}/{f}"))
            .collect();
            if files != want {
                return Err(format!("{name}: exit 0 but the output is {files:?}"));
            }
            let t: Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(stem).join("transcript.json")).unwrap(),
            )
            .map_err(|e| format!("{name}: transcript.json: {e}"))?;
            if !t["segments"].is_array() {
                return Err(format!("{name}: transcript.json has no segments"));
            }
            Ok(format!("ok ({:.1} s)", o.elapsed.as_secs_f64()))
        }
        Some(code) => {
            if expect == Expect::Ok {
                return Err(format!(
                    "{name}: expected success, got exit {code}: {}",
                    o.stderr
                ));
            }
            let lines: Vec<&str> = o.stderr.lines().collect();
            if code != 3 {
                return Err(format!("{name}: exit {code}, not 3: {lines:?}"));
            }
            if lines.len() != 1 {
                return Err(format!("{name}: expected one stderr line, got {lines:?}"));
            }
            let prefix = format!("rapporteur: {}: ", input.display());
            let cause = lines[0].strip_prefix(&prefix).unwrap_or("");
            if cause.trim().is_empty() {
                return Err(format!("{name}: not `{prefix}<cause>`: {:?}", lines[0]));
            }
            if let Some(want) = want_cause {
                if !cause.contains(want) {
                    return Err(format!("{name}: {cause:?} should say {want:?}"));
                }
            }
            if cause.contains("internal error") {
                return Err(format!("{name}: {}", lines[0]));
            }
            if !files.is_empty() {
                return Err(format!("{name}: failed but left {files:?}"));
            }
            Ok(format!("exit 3: {cause}"))
        }
        None => Err(format!("{name}: no exit code")),
    }
}

fn write_corpus(dir: &Path, cases: &[Case]) {
    std::fs::create_dir_all(dir).unwrap();
    for c in cases {
        std::fs::write(dir.join(&c.name), &c.bytes).unwrap();
    }
}

#[test]
fn the_memory_limit_leaves_the_normal_case_working() {
    require_default_model();
    let _one = one_at_a_time();
    let work = tempfile::tempdir().unwrap();
    let input = shared("A_wer/jfk/jfk.wav");
    let r = check_run(&input, "jfk", true, Expect::Ok, None, work.path());
    assert!(r.is_ok(), "{r:?}");
    let t = std::fs::read_to_string(work.path().join("out/jfk/transcript.txt")).unwrap();
    assert!(t.to_lowercase().contains("country"), "{t}");
}

#[test]
fn every_malformed_input_ends_clearly() {
    require_default_model();
    let _one = one_at_a_time();
    let cases = corpus();
    assert!(cases.len() >= 30, "{}", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let corpus_dir = dir.path().join("corpus");
    write_corpus(&corpus_dir, &cases);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, std::result::Result<String, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = cases.get(i) else { break };
                let input = corpus_dir.join(&c.name);
                let stem = Path::new(&c.name).file_stem().unwrap().to_str().unwrap();
                let work = dir.path().join(format!("work-{i}"));
                let r = check_run(&input, stem, c.full, c.expect, c.cause, &work);
                results.lock().unwrap().push((c.name.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort();
    let mut failures = Vec::new();
    for (name, r) in &results {
        match r {
            Ok(what) => println!("{name:28} {what}"),
            Err(e) => {
                println!("{name:28} PROBLEM {e}");
                failures.push(e.clone());
            }
        }
    }
    println!(
        "{} cases in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_as_one_batch() {
    require_default_model();
    let _one = one_at_a_time();
    let cases = corpus();
    let dir = tempfile::tempdir().unwrap();
    let corpus_dir = dir.path().join("corpus");
    write_corpus(&corpus_dir, &cases);
    let out = dir.path().join("out");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "batch".as_ref(),
        corpus_dir.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "--quiet".as_ref(),
    ];
    args.extend(QUICK_BATCH.iter().map(std::ffi::OsStr::new));
    let started = Instant::now();
    let o = run_limited(&args, &dir.path().join("scratch"));
    println!(
        "batch of {} in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(o.signal, None, "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(
        matches!(o.code, Some(0 | 6)),
        "exit {:?}: {}",
        o.code,
        o.stderr
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    let index: Vec<Value> = std::fs::read_to_string(out.join("index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: BTreeSet<String> = index
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    let names: BTreeSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    assert_eq!(index.len(), cases.len(), "one index line per file");
    assert_eq!(keys, names);
    let mut problems = Vec::new();
    for e in &index {
        let key = e["key"].as_str().unwrap();
        let expect = cases.iter().find(|c| c.name == key).unwrap().expect;
        match e["status"].as_str().unwrap() {
            "ok" => {
                let folder = out.join(e["output"].as_str().unwrap());
                let files: Vec<String> = tree(&folder);
                if !files.iter().any(|f| f == "transcript.json") {
                    problems.push(format!("{key}: ok but {files:?}"));
                }
                if expect == Expect::Fail {
                    problems.push(format!("{key}: expected to fail, ok"));
                }
            }
            "failed" => {
                let error = e["error"].as_str().unwrap_or("");
                let named = format!("{}: ", e["input"].as_str().unwrap());
                if !error.starts_with(&named) || error.lines().count() != 1 {
                    problems.push(format!("{key}: error {error:?}"));
                }
                if error.contains("internal error") {
                    problems.push(format!("{key}: {error}"));
                }
                if e["exit_code"] != 3 {
                    problems.push(format!("{key}: exit_code {} ({error})", e["exit_code"]));
                }
                if expect == Expect::Ok {
                    problems.push(format!("{key}: expected ok: {error}"));
                }
            }
            other => problems.push(format!("{key}: status {other}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_file_name_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    require_default_model();
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.wav");
    let input = dir.path().join(name);
    std::fs::write(&input, wav16(&jfk_pcm16(11.0), &[])).unwrap();
    let work = dir.path().join("work");
    let r = check_run(&input, "caf\u{fffd}", false, Expect::Ok, None, &work);
    if let Err(e) = &r {
        // The folder may be named from the lossy stem; accept any single complete folder.
        let files = tree(&work.join("out"));
        panic!("{e}; files {files:?}");
    }
    let out = work.join("out");
    let folder = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let t = std::fs::read_to_string(folder.join("transcript.json")).unwrap();
    assert!(t.to_lowercase().contains("country"), "{t}");
}

#[test]
fn a_folder_with_link_loops_dangling_links_and_an_unreadable_file() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    require_default_model();
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(archive.join("sub")).unwrap();
    let speech = jfk_pcm16(11.0);
    std::fs::write(archive.join("good.wav"), wav16(&speech, &[])).unwrap();
    std::fs::write(
        archive.join("sub/other.wav"),
        wav16(&speech[..120_000], &[]),
    )
    .unwrap();
    symlink("..", archive.join("sub/up")).unwrap();
    symlink(&archive, archive.join("sub/self")).unwrap();
    symlink("nowhere.wav", archive.join("dangling.wav")).unwrap();
    let secret = archive.join("secret.wav");
    std::fs::write(&secret, wav16(&speech[..100_000], &[])).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::read(&secret).is_ok();
    println!(
        "unreadable file: {}",
        if readable {
            "still readable (running as root): it must succeed"
        } else {
            "not readable: it must fail with permission denied"
        }
    );
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("out");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "batch".as_ref(),
        archive.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
        "--quiet".as_ref(),
    ];
    args.extend(QUICK_BATCH.iter().map(std::ffi::OsStr::new));
    let o = run_limited(&args, &dir.path().join("scratch"));
    println!("exit {:?}, stderr:\n{}", o.code, o.stderr);
    assert!(
        o.elapsed < TIME_LIMIT,
        "the batch did not end within {TIME_LIMIT:?}"
    );
    assert_eq!(o.signal, None, "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(leftovers(&out).is_empty());
    let index: Vec<Value> = std::fs::read_to_string(out.join("index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let entry = |key: &str| index.iter().find(|e| e["key"] == key).cloned();
    for e in &index {
        println!("{} {} {}", e["key"], e["status"], e["error"]);
        assert!(
            !e["error"].as_str().unwrap_or("").contains("internal error"),
            "{e}"
        );
        assert_ne!(e["status"], "pending", "{e}");
    }
    assert_eq!(entry("good.wav").expect("good.wav listed")["status"], "ok");
    assert_eq!(
        entry("sub/other.wav").expect("other listed")["status"],
        "ok"
    );
    // Each real file once (copies reached through links, if listed, are skipped).
    let ok: Vec<&Value> = index.iter().filter(|e| e["status"] == "ok").collect();
    let shas: BTreeSet<&str> = ok.iter().map(|e| e["sha256"].as_str().unwrap()).collect();
    assert_eq!(shas.len(), ok.len(), "a file processed twice: {index:?}");
    // A dangling link is listed and fails with its reason: nothing vanishes from the index.
    let d = entry("dangling.wav").expect("dangling.wav listed");
    assert_eq!(d["status"], "failed", "{d}");
    let error = d["error"].as_str().unwrap();
    assert!(
        error.contains("dangling.wav") && error.contains("dangling link"),
        "{d}"
    );
    let s = entry("secret.wav").expect("secret.wav listed");
    if readable {
        assert_eq!(s["status"], "ok", "{s}");
    } else {
        assert_eq!(s["status"], "failed", "{s}");
        let error = s["error"].as_str().unwrap();
        assert!(error.contains("secret.wav"), "{error}");
        assert!(
            error.to_lowercase().contains("permission denied"),
            "{error}"
        );
    }
    let failed = index.iter().any(|e| e["status"] == "failed");
    assert_eq!(o.code, Some(if failed { 6 } else { 0 }), "{}", o.stderr);
}
