//! Ordinary workflows that once lost work or did the opposite of what was asked (issue 17):
//! a glossary moving word times, a re-run deleting files it did not rewrite, `batch --resume`
//! undoing `relabel`, two ids given one name, machine-readable output that was not, and the
//! leftovers and surprises of `-o`, `-` and `analyze`. Each test is named after the behaviour
//! it holds; each failed on the binary before the fix.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::*;
use rapporteur::transcript::Transcript;

fn jfk() -> PathBuf {
    shared("A_wer/jfk/jfk.wav")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "exit {:?}: {err}", o.status.code());
    err
}

fn transcript(dir: &Path) -> Transcript {
    serde_json::from_str(&std::fs::read_to_string(dir.join("transcript.json")).unwrap()).unwrap()
}

fn run(input: &Path, out: &Path, args: &[&str]) -> Output {
    rapporteur()
        .arg("run")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn words(t: &Transcript) -> Vec<(String, f64)> {
    t.segments
        .iter()
        .flat_map(|s| &s.words)
        .map(|w| {
            let key: String = w
                .text
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            (key, w.start)
        })
        .collect()
}

#[test]
fn a_glossary_keeps_every_word_at_its_time() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let glossary = dir.path().join("g.txt");
    std::fs::write(&glossary, "Americans\n").unwrap();
    let fast = ["-f", "json,srt", "--no-diarize", "--no-positions", "-q"];
    ok(&run(&jfk(), &dir.path().join("plain"), &fast));
    let mut prompted = fast.to_vec();
    prompted.extend(["--glossary", glossary.to_str().unwrap()]);
    ok(&run(&jfk(), &dir.path().join("glossary"), &prompted));
    let plain = words(&transcript(&dir.path().join("plain/jfk")));
    let with = transcript(&dir.path().join("glossary/jfk"));
    // Every word of the prompted transcript lies within 0.5 s of the same word unprompted
    // (matched in order), and the second sentence starts where it is spoken (8.2 s), not in
    // the last 10 ms of the recording.
    let mut next = 0;
    let mut matched = 0;
    for (key, start) in words(&with) {
        if let Some(k) = plain[next..].iter().position(|(p, _)| *p == key) {
            let (_, plain_start) = &plain[next + k];
            assert!(
                (start - plain_start).abs() <= 0.5,
                "{key:?} at {start} s with the glossary, {plain_start} s without"
            );
            next += k + 1;
            matched += 1;
        }
    }
    assert!(matched >= 18, "only {matched} words matched");
    let srt = std::fs::read_to_string(dir.path().join("glossary/jfk/transcript.srt")).unwrap();
    let ask = with
        .segments
        .iter()
        .find(|s| s.text.to_lowercase().starts_with("ask what"))
        .unwrap_or_else(|| panic!("no cue 'Ask what...': {srt}"));
    assert!(
        ask.start > 7.5 && ask.start < 9.0 && ask.end - ask.start > 1.5,
        "{:.2}-{:.2}: {srt}",
        ask.start,
        ask.end
    );
}

#[test]
fn a_rerun_with_fewer_formats_keeps_the_files_it_does_not_rewrite() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    ok(&run(&jfk(), out.path(), &["-q"]));
    let folder = out.path().join("jfk");
    let before = tree(&folder);
    assert!(before.len() >= 8, "{before:?}");
    // A person's own notes in the folder are kept too.
    std::fs::write(folder.join("notes.md"), "checked by the rapporteur\n").unwrap();
    let report = std::fs::read(folder.join("report.html")).unwrap();
    let err = ok(&run(&jfk(), out.path(), &["-f", "txt"]));
    let after = tree(&folder);
    for f in &before {
        assert!(
            after.contains(f),
            "{f} was deleted by the re-run: {after:?}"
        );
    }
    assert!(after.contains(&"notes.md".to_string()));
    assert_eq!(std::fs::read(folder.join("report.html")).unwrap(), report);
    assert!(
        err.contains("replaced transcript.txt")
            && err.contains("kept from the earlier run")
            && err.contains("report.html"),
        "{err}"
    );
    assert!(leftovers(out.path()).is_empty());
}

fn batch(source: &Path, out: &Path, args: &[&str]) -> Output {
    rapporteur()
        .arg("batch")
        .arg(source)
        .arg("-o")
        .arg(out)
        .args(["--no-positions", "--format", "json,txt,summary,md,rttm"])
        .args(args)
        .output()
        .unwrap()
}

fn relabel(dir: &Path, names: &str) -> Output {
    let file = dir.with_extension("names.toml");
    std::fs::write(&file, names).unwrap();
    rapporteur()
        .arg("relabel")
        .arg(dir)
        .arg("--names")
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn batch_resume_keeps_a_relabelled_folder_and_a_redo_keeps_its_names() {
    require_default_model();
    let archive = tempfile::tempdir().unwrap();
    std::fs::copy(jfk(), archive.path().join("jfk.wav")).unwrap();
    let out = tempfile::tempdir().unwrap();
    ok(&batch(archive.path(), out.path(), &["-q"]));
    let folder = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("jfk-"))
        .expect("the recording's folder");
    let err = ok(&relabel(&folder, "S1 = \"Diane\"\n"));
    assert!(err.contains("done marker was updated"), "{err}");

    let o = batch(archive.path(), out.path(), &["--resume", "--json"]);
    ok(&o);
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["status"], "ok");
    assert_eq!(line["resumed"], true, "{line}");
    let t = transcript(&folder);
    assert_eq!(t.diarization.unwrap().speakers[0].label, "Diane");
    assert!(std::fs::read_to_string(folder.join("transcript.txt"))
        .unwrap()
        .starts_with("Diane: "));

    // Under --progress json a batch's stderr, tables included, is JSON too.
    let o = batch(
        archive.path(),
        out.path(),
        &["--resume", "--progress", "json"],
    );
    let err = ok(&o);
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{err}"));
        assert!(v["event"].is_string(), "{line}");
    }

    // Without --resume the folder is redone: the run says so, and the name stays on its voice.
    let o = batch(archive.path(), out.path(), &[]);
    let err = ok(&o);
    assert!(
        err.contains("the names relabel gave it") && err.contains("S1 = \"Diane\""),
        "{err}"
    );
    let t = transcript(&folder);
    assert_eq!(t.diarization.unwrap().speakers[0].label, "Diane", "{err}");
}

#[test]
fn relabel_of_two_ids_to_one_name_merges_the_speakers() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &root().join("samples/negotiation.opus"),
        out.path(),
        &["-f", "json,summary,md,rttm", "-q", "--no-positions"],
    );
    ok(&o);
    let folder = out.path().join("negotiation");
    let before = transcript(&folder).diarization.unwrap();
    assert!(before.speakers.len() >= 3, "{:?}", before.speakers);
    let (s1, s2) = (&before.speakers[0], &before.speakers[1]);
    let err = ok(&relabel(&folder, "S1 = \"Chair\"\nS2 = \"Chair\"\n"));
    assert!(err.contains("merged into one speaker"), "{err}");
    let after = transcript(&folder).diarization.unwrap();
    assert_eq!(after.speakers.len(), before.speakers.len() - 1);
    let chair: Vec<_> = after
        .speakers
        .iter()
        .filter(|s| s.label == "Chair")
        .collect();
    assert_eq!(chair.len(), 1, "{:?}", after.speakers);
    // S1 and S2 do not speak at once here: talk time adds up; touching turns may join.
    assert!((chair[0].speech_s - (s1.speech_s + s2.speech_s)).abs() < 0.05);
    assert!(chair[0].turns >= 1 && chair[0].turns <= s1.turns + s2.turns);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap())
            .unwrap();
    let rows: Vec<&serde_json::Value> = summary["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "Chair")
        .collect();
    assert_eq!(rows.len(), 1, "{}", summary["speakers"]);
    let md = std::fs::read_to_string(folder.join("report.md")).unwrap();
    let participants = md.split("## Participants").nth(1).unwrap();
    let participants = participants.split("\n## ").next().unwrap();
    let chair_rows = participants
        .lines()
        .filter(|l| l.starts_with("| Chair |"))
        .count();
    assert_eq!(chair_rows, 1, "{participants}");
    let rttm = std::fs::read_to_string(folder.join("speakers.rttm")).unwrap();
    assert!(rttm.contains(" Chair ") && !rttm.contains(" S1 ") && !rttm.contains(" S2 "));
}

#[test]
fn progress_json_puts_only_json_on_stderr_and_bars_off_a_terminal_keep_the_summary() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let fast = ["-f", "json", "--no-diarize", "--no-positions"];
    let mut args = fast.to_vec();
    args.extend(["--progress", "json"]);
    let err = ok(&run(&jfk(), out.path(), &args));
    let mut events = Vec::new();
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{err}"));
        events.push(v["event"].as_str().unwrap_or_default().to_string());
    }
    assert!(events.contains(&"message".to_string()), "{events:?}");
    assert!(events.contains(&"done".to_string()), "{events:?}");
    // A failure is one JSON line too.
    let o = run(
        Path::new("no-such.wav"),
        out.path(),
        &["--progress", "json"],
    );
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    let errors: Vec<_> = lines.iter().filter(|v| v["event"] == "error").collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(errors[0]["exit_code"], 3);
    assert!(errors[0]["text"].as_str().unwrap().contains("no-such.wav"));

    // --progress bars with stderr not a terminal (as here): the summary line still appears.
    let mut args = fast.to_vec();
    args.extend(["--progress", "bars"]);
    let err = ok(&run(&jfk(), out.path(), &args));
    assert!(err.contains("jfk.wav -> "), "{err:?}");
}

#[test]
fn eval_refuses_files_it_cannot_score_and_ignores_speaker_names() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref.rttm");
    std::fs::write(
        &reference,
        "SPEAKER s 1 0.00 2.00 <NA> <NA> A <NA> <NA>\nSPEAKER s 1 2.00 2.00 <NA> <NA> B <NA> <NA>\n",
    )
    .unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "Minutes of the meeting\nFrance spoke first.\n").unwrap();
    let o = rapporteur()
        .args(["eval", "der", "--ref"])
        .arg(&reference)
        .arg("--hyp")
        .arg(&notes)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("notes.txt") && err.contains("not an RTTM"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    // The project's own `Speaker: text` lines: the names are not words anyone said.
    let txt = dir.path().join("transcript.txt");
    std::fs::write(
        &txt,
        "S1: Thank you, Chair.\nFrance: We support paragraph 3.\nS1: Kenya, you have the floor.\n",
    )
    .unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(
        &plain,
        "thank you chair we support paragraph three kenya you have the floor\n",
    )
    .unwrap();
    let o = rapporteur()
        .args(["eval", "wer", "--json", "--ref"])
        .arg(&txt)
        .arg("--hyp")
        .arg(&plain)
        .output()
        .unwrap();
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wer"], 0.0, "{v}");
    // A hypothesis with no words at all is refused, not scored as 100 %.
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let o = rapporteur()
        .args(["eval", "wer", "--ref"])
        .arg(&txt)
        .arg("--hyp")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn failed_runs_leave_no_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], i32); 3] = [
        (&["--max-duration", "-1"], 2),
        (&["--model", "no-such-model"], 5),
        (&[], 3),
    ];
    for (args, code) in cases {
        let out = dir.path().join(format!("out-{code}"));
        let o = rapporteur()
            .arg("run")
            .arg(if code == 3 {
                dir.path().join("missing.wav")
            } else {
                jfk()
            })
            .arg("-o")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }
    let out = dir.path().join("batch-out");
    let o = rapporteur()
        .arg("batch")
        .arg(jfk())
        .arg("-o")
        .arg(&out)
        .args(["--model", "no-such-model"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(!out.exists(), "batch left {}", out.display());
}

#[test]
fn decode_to_stdout_and_run_from_stdin() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let o = rapporteur()
        .arg("decode")
        .arg(shared("A_wer/jfk/jfk.mp3"))
        .args(["-o", "-"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&o);
    assert!(!dir.path().join("-").exists(), "wrote a file named -");
    assert_eq!(&o.stdout[..4], b"RIFF");
    assert_eq!(&o.stdout[8..12], b"WAVE");
    // 11 s of 16 kHz 16-bit mono after a 44-byte header.
    let seconds = (o.stdout.len() - 44) as f64 / 32_000.0;
    assert!((seconds - 11.0).abs() < 0.1, "{seconds} s");

    // ... and that stream, piped into `run -`.
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rapporteur"))
        .env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"))
        .args([
            "run",
            "-",
            "-f",
            "json",
            "--no-diarize",
            "--no-positions",
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let done = child.wait_with_output().unwrap();
    ok(&done);
    let t = transcript(&out.join("stdin"));
    assert_eq!(t.source.path, "-");
    assert!(
        t.text().to_lowercase().contains("your country"),
        "{}",
        t.text()
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_rerun_over_a_relabelled_folder_keeps_the_names_on_their_voices() {
    require_default_model();
    let out = tempfile::tempdir().unwrap();
    let sample = root().join("samples/negotiation.opus");
    let fast = ["-f", "json,txt,rttm", "--no-positions", "-q"];
    ok(&run(&sample, out.path(), &fast));
    let folder = out.path().join("negotiation");
    // A name for one voice, and one name for two voices (merged).
    ok(&relabel(
        &folder,
        "S1 = \"Chair\"\nS2 = \"France\"\nS3 = \"France\"\n",
    ));
    let before = transcript(&folder).diarization.unwrap();
    // Once with every format, once with a single one (the kept transcript.json holds the names).
    for formats in ["json,txt,rttm", "txt"] {
        let o = run(&sample, out.path(), &["-f", formats, "--no-positions"]);
        let err = ok(&o);
        assert!(err.contains("kept the names relabel gave"), "{err}");
        let txt = std::fs::read_to_string(folder.join("transcript.txt")).unwrap();
        assert!(txt.starts_with("Chair: "), "{txt}");
        assert!(txt.contains("\nFrance: "), "{txt}");
        assert!(
            !txt.contains("\nS1: ") && !txt.contains("\nS2: ") && !txt.contains("\nS3: "),
            "{txt}"
        );
    }
    let after = transcript(&folder).diarization.unwrap();
    let labels = |d: &rapporteur::transcript::Diarization| {
        d.speakers
            .iter()
            .map(|s| s.label.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&after), labels(&before));
}
