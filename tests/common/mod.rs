//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// A file from the shared third-party data beside the checkout. Missing data is a failure, not
/// a skip: CI always has it.
pub fn shared(rel: &str) -> PathBuf {
    let base = root().join("../shared/data");
    let p = base.join(rel);
    assert!(
        p.exists(),
        "shared test data missing: {} (the tests need ../shared beside the checkout)",
        p.display()
    );
    p
}

/// The rapporteur binary, with the model folder the tests use.
pub fn rapporteur() -> Command {
    let mut cmd = Command::cargo_bin("rapporteur").expect("binary built");
    cmd.env_remove("NO_COLOR");
    // Never the developer's own enrolled voices: an empty store unless a test gives one.
    cmd.env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"));
    cmd
}

/// Fail with instructions when the default model is not installed.
pub fn require_default_model() {
    let out = rapporteur()
        .args(["models", "list", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("models list --json");
    let installed = rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "tiny.en" && r["installed"] == true);
    assert!(
        installed,
        "model tiny.en is not installed: run ./scripts/test (or `rapporteur models fetch tiny.en`) first"
    );
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every path under `dir` (files and folders, a temporary file or stage left behind) whose name starts with `.rapporteur-`.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(".rapporteur-") {
            found.push(p.clone());
        }
        if p.is_dir() {
            found.extend(leftovers(&p));
        }
    }
    found
}

/// `rapporteur analyze INPUT -o OUT ARGS... --json`, which must succeed; its JSON report.
pub fn analyze(input: &Path, out: &Path, args: &[&str]) -> serde_json::Value {
    let o = rapporteur()
        .arg("analyze")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "analyze {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("analyze --json")
}
