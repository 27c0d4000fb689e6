//! `rapporteur eval der` against a published figure: speechbrain's doctest states that md-eval
//! (collar 0.25, overlap ignored) scores its ES2014c system output at DER 7.169 %
//! (missed 0, false alarm 0, confusion 7.169).

mod common;

use common::*;

#[test]
fn reproduces_the_published_md_eval_figure() {
    let dir = shared("B_der/speechbrain_ami_ES2014c_rttm_only");
    let out = rapporteur()
        .args([
            "eval",
            "der",
            "--collar",
            "0.25",
            "--ignore-overlap",
            "--json",
            "--ref",
        ])
        .arg(dir.join("ref_ES2014c.rttm"))
        .arg("--hyp")
        .arg(dir.join("sys_ES2014c.rttm"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pct = |k: &str| v[k].as_f64().unwrap() / v["scored_speech"].as_f64().unwrap() * 100.0;
    assert!(
        (v["der"].as_f64().unwrap() * 100.0 - 7.169).abs() < 0.0005,
        "{v}"
    );
    assert!(pct("missed") < 1e-9 && pct("false_alarm") < 1e-9, "{v}");
    assert!((pct("confusion") - 7.169).abs() < 0.0005, "{v}");
}

#[test]
fn a_reference_scores_zero_against_itself_and_bad_files_are_named() {
    let reference = shared("B_der/pyannote_sample/sample.rttm");
    let out = rapporteur()
        .args(["eval", "der", "--ref"])
        .arg(&reference)
        .arg("--hyp")
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("DER 0.000 %"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.rttm");
    std::fs::write(&bad, "SPEAKER x 1 zero 1.0 <NA> <NA> A <NA> <NA>\n").unwrap();
    let out = rapporteur()
        .args(["eval", "der", "--ref"])
        .arg(&reference)
        .arg("--hyp")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rttm") && err.contains("line 1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
