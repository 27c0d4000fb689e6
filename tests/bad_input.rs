//! Every kind of bad input gets one line `rapporteur: <path>: <cause>`, its documented exit code,
//! and leaves no partial output; other inputs of the same run still complete.

mod common;

use std::path::Path;

use common::{fixture, rapporteur, require_default_model, tree};

/// Run on `inputs`, return (exit code, stderr lines, files under the output folder).
fn run(inputs: &[&Path], out: &Path) -> (i32, Vec<String>, Vec<String>) {
    let output = rapporteur()
        .arg("run")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .arg("--quiet")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect();
    (output.status.code().unwrap_or(-1), stderr, tree(out))
}

fn assert_one_error(case: &str, path: &Path, cause: &str, code: i32) {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let (status, stderr, files) = run(&[path], out.path());
    assert_eq!(status, code, "{case}: exit code; stderr: {stderr:?}");
    assert_eq!(stderr.len(), 1, "{case}: expected one line, got {stderr:?}");
    let line = &stderr[0];
    assert!(
        line.starts_with(&format!("rapporteur: {}: ", path.display())),
        "{case}: {line}"
    );
    assert!(
        line.contains(cause),
        "{case}: {line:?} should mention {cause:?}"
    );
    assert!(files.is_empty(), "{case}: left files behind: {files:?}");
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_error("missing", &dir.path().join("nope.wav"), "no such file", 3);
}

#[test]
fn directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_error("directory", dir.path(), "is a directory", 3);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.wav");
    std::fs::write(&p, b"").unwrap();
    assert_one_error("empty", &p, "is empty", 3);
}

#[test]
fn text_named_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.wav");
    std::fs::write(
        &p,
        "Minutes of the meeting.\nFrance: we support paragraph 3.\n",
    )
    .unwrap();
    assert_one_error("text", &p, "looks like a text file", 3);
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.mp3");
    let bytes: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&p, bytes).unwrap();
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let (status, stderr, files) = run(&[&p], out.path());
    assert_eq!(status, 3, "{stderr:?}");
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(files.is_empty());
}

#[test]
fn truncated_mp3() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.mp3");
    let bytes = std::fs::read(fixture("clip.mp3")).unwrap();
    // Cut mid-frame, 60 % of the way in.
    std::fs::write(&p, &bytes[..bytes.len() * 6 / 10 + 7]).unwrap();
    assert_one_error("truncated mp3", &p, "truncated", 3);
}

#[test]
fn truncated_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for i in 0..48_000 {
        w.write_sample(((i as f32 * 0.05).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_error("truncated wav", &p, "truncated", 3);
}

#[test]
fn unsupported_codec() {
    assert_one_error(
        "ac3",
        &fixture("clip-ac3.mka"),
        "unsupported audio codec AC-3",
        3,
    );
}

#[test]
fn unwritable_output_folder() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    // A file where the output folder should be: fails even for root.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("out");
    let output = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "rapporteur: {}: cannot create output folder",
            out.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
}

#[test]
fn missing_model_is_a_model_error() {
    let models = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = rapporteur()
        .env("RAPPORTEUR_MODELS", models.path())
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("rapporteur: tiny.en: not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rapporteur models fetch tiny.en"),
        "{stderr}"
    );
}

#[test]
fn other_inputs_complete_and_the_exit_code_reports_the_failure() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    let out = tempfile::tempdir().unwrap();
    let good = fixture("clip.opus");
    let output = rapporteur()
        .arg("run")
        .arg(&empty)
        .arg(&good)
        .arg("-o")
        .arg(out.path())
        .arg("--json")
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], "error");
    assert_eq!(lines[0]["exit_code"], 3);
    assert_eq!(lines[1]["status"], "ok");
    let files = tree(out.path());
    assert_eq!(
        files,
        vec![
            "clip/.source",
            "clip/report.html",
            "clip/report.md",
            "clip/speakers.rttm",
            "clip/summary.json",
            "clip/transcript.json",
            "clip/transcript.srt",
            "clip/transcript.txt",
            "clip/transcript.vtt"
        ]
    );
}

#[test]
fn ctrl_c_stops_cleanly_with_130_and_leaves_nothing() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    let child = std::process::Command::new(bin)
        .arg("run")
        .arg(common::root().join("samples/negotiation.opus"))
        .arg(fixture("clip.opus"))
        .arg("-o")
        .arg(out.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-transcription of the first recording (which takes several seconds).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(
        sent.elapsed().as_secs_f64() < 5.0,
        "took {:?} to stop",
        sent.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "rapporteur: interrupted");
    // Neither the interrupted recording nor the next one left anything, staged or not.
    assert!(tree(out.path()).is_empty(), "{:?}", tree(out.path()));
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// Results are as private as the user's umask asks: a delegation working under `umask 077`
/// gets owner-only folders and files, not the 0644 a fixed mode would give every local user.
#[cfg(unix)]
#[test]
fn results_follow_a_private_umask() {
    use std::os::unix::fs::PermissionsExt;
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" run \"$1\" -o \"$2\" -q --no-positions")
        .arg(bin)
        .arg(fixture("clip.opus"))
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let result = out.path().join("clip");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&result), 0o700, "{}", result.display());
    let files = tree(out.path());
    assert!(files.len() > 3, "{files:?}");
    for f in files {
        assert_eq!(mode(&out.path().join(&f)), 0o600, "{f}");
    }
}
