//! Progress reporting: machine-readable lines with `--progress json`, nothing but messages when
//! stderr is not a terminal.

mod common;

use common::*;

#[test]
fn json_progress_lines_describe_every_stage() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let run = rapporteur()
        .arg("run")
        .arg(root().join("samples/negotiation.opus"))
        .args(["--progress", "json", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Every line is JSON: the human summary line too, as a "message" event.
    let (messages, events): (Vec<serde_json::Value>, Vec<serde_json::Value>) = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .partition(|e: &serde_json::Value| e["event"] == "message");
    assert!(
        messages
            .iter()
            .any(|m| m["text"].as_str().unwrap().contains("negotiation.opus -> ")),
        "{stderr}"
    );
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"));
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(events.last().unwrap()["ok"], true);
    // The Opus header announces the length, so every line knows the total.
    assert!((events[0]["total_s"].as_f64().unwrap() - 65.5).abs() < 0.1);
    for stage in ["decode", "vad", "transcribe"] {
        let done: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["event"] == "stage_done" && e["stage"] == stage)
            .collect();
        assert_eq!(done.len(), 1, "{stage}: {stderr}");
        assert!((done[0]["total_s"].as_f64().unwrap() - 65.5).abs() < 0.1);
    }
    let transcribe: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "progress" && e["stage"] == "transcribe")
        .map(|e| e["done_s"].as_f64().unwrap())
        .collect();
    assert!(!transcribe.is_empty(), "{stderr}");
    assert!(
        transcribe.windows(2).all(|w| w[0] <= w[1]),
        "{transcribe:?}"
    );
    for e in events.iter().filter(|e| e["event"] == "progress") {
        assert!(e["speed"].as_f64().unwrap() >= 0.0);
        assert!(e.get("eta_s").is_some());
    }
    // Every other stderr line is a normal message.
    for line in stderr.lines().filter(|l| !l.starts_with('{')) {
        assert!(line.starts_with("rapporteur: "), "{line:?}");
    }
}

#[test]
fn no_bars_when_stderr_is_not_a_terminal() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let run = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("rapporteur: ") && !stderr.contains('\r'),
        "{stderr}"
    );
}

#[test]
fn bad_progress_mode_and_vad_settings_are_usage_errors() {
    for args in [
        vec!["--progress", "fancy"],
        vec!["--vad-threshold", "1.5"],
        vec!["--vad-pad-ms", "900"],
        vec!["--vad-max-speech", "45"],
    ] {
        let out = tempfile::tempdir().unwrap();
        let run = rapporteur()
            .arg("run")
            .arg(fixture("clip.opus"))
            .args(&args)
            .arg("-o")
            .arg(out.path())
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        let flag = args[0].trim_start_matches('-');
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
    }
}
