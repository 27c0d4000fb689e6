//! Offline proof: `run` and `batch` succeed in a network namespace with no interface but
//! loopback, so nothing they do needs, or could use, the network.

mod common;

use std::process::Command;

use common::{require_default_model, root};

/// `unshare` arguments that give a command an empty network namespace here, or why not.
fn network_namespace() -> Result<Vec<&'static str>, String> {
    // As root `-n` alone works; otherwise a user namespace is needed to make one.
    for args in [&["-n"][..], &["-r", "-n"][..]] {
        let probe = Command::new("unshare").args(args).arg("true").output();
        match probe {
            Ok(o) if o.status.success() => return Ok(args.to_vec()),
            Ok(_) | Err(_) => continue,
        }
    }
    let why = Command::new("unshare")
        .args(["-r", "-n", "true"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_else(|e| format!("cannot run unshare: {e}"));
    Err(why)
}

#[test]
fn run_and_batch_work_without_any_network() {
    require_default_model();
    let unshare = match network_namespace() {
        Ok(a) => a,
        Err(why) => {
            // Containers often forbid new namespaces; the proof then cannot be made here.
            println!("SKIPPED: cannot make an empty network namespace here: {why}");
            return;
        }
    };
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/negotiation.opus");
    let in_namespace = |args: &[&str]| {
        let out = Command::new("unshare")
            .args(&unshare)
            .arg(&bin)
            .args(args)
            .env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The namespace really has no network: only a loopback that is down.
    let interfaces = Command::new("unshare")
        .args(&unshare)
        .args(["cat", "/proc/net/dev"])
        .output()
        .unwrap();
    let devices = String::from_utf8_lossy(&interfaces.stdout);
    let names: Vec<&str> = devices
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"], "{devices}");

    let out = dir.path().join("run");
    let (code, stderr) =
        in_namespace(&["run", sample.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let transcript = std::fs::read_to_string(out.join("negotiation/transcript.json")).unwrap();
    assert!(
        transcript.contains("paragraph"),
        "the sample was transcribed"
    );
    assert!(out.join("negotiation/report.html").exists());

    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::copy(&sample, archive.join("session.opus")).unwrap();
    let out = dir.path().join("batch");
    let (code, stderr) = in_namespace(&[
        "batch",
        archive.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(std::fs::read_to_string(out.join("index.jsonl"))
        .unwrap()
        .contains("\"status\":\"ok\""));
}
