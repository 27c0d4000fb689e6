//! summary.json and report.md: the published schema matches the types, every summary written
//! validates against it, a fixed transcript gives a fixed summary (golden files), and
//! `analyze` reads every transcript format and refuses bad input cleanly.

mod common;

use std::path::Path;

use common::{analyze, fixture, rapporteur, root};
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schema/summary.schema.json"))
        .expect("schema/summary.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// Parse a summary.json and check it against the published schema.
fn valid_summary(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let summary: Value = serde_json::from_str(&text).expect("summary.json is JSON");
    let errors: Vec<String> = schema()
        .iter_errors(&summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    assert_eq!(summary["schema"], "rapporteur.summary/1");
    summary
}

#[test]
fn the_published_schema_is_the_one_the_types_give() {
    let o = rapporteur().arg("schema").output().unwrap();
    assert!(o.status.success());
    let committed = std::fs::read_to_string(root().join("schema/summary.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        committed,
        "schema/summary.schema.json is stale: run `rapporteur schema > schema/summary.schema.json`"
    );
}

#[test]
fn the_schema_rejects_what_is_not_a_summary() {
    // The validation below would be worthless if the schema accepted anything.
    let dir = tempfile::tempdir().unwrap();
    analyze(
        &fixture("summary/session.transcript.json"),
        dir.path(),
        &["--format", "summary"],
    );
    let good = valid_summary(&dir.path().join("summary.json"));
    let validator = schema();
    for (pointer, bad) in [
        ("/issues/0/status", Value::from("settled")),
        ("/positions/0/label", Value::from("threat")),
        ("/speakers/0/words", Value::from(-3)),
        ("/decisions/0/evidence", Value::from("somewhere")),
    ] {
        let mut broken = good.clone();
        *broken.pointer_mut(pointer).expect(pointer) = bad;
        assert!(!validator.is_valid(&broken), "{pointer} accepted");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("issues");
    assert!(
        !validator.is_valid(&missing),
        "a summary without issues accepted"
    );
}

/// The golden files: a fixed, already tagged transcript always gives the same summary and
/// report. Timings are the only thing that varies and are blanked.
#[test]
fn a_fixed_transcript_gives_the_golden_summary_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = "tests/fixtures/summary/session.transcript.json";
    let o = rapporteur()
        .current_dir(root())
        .args(["analyze", input, "--format", "summary,md", "--json", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["tagged"], 0, "the fixture carries its positions");
    let mut summary = valid_summary(&dir.path().join("summary.json"));
    for stage in summary["processing"]["stages"].as_array_mut().unwrap() {
        stage["seconds"] = 0.into();
    }
    summary["processing"]["total_s"] = 0.into();
    insta::assert_json_snapshot!("session_summary", summary);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    insta::assert_snapshot!("session_report_md", md);

    // What a reader checks first, spelled out (the snapshots hold the rest).
    let status = |key: &str| {
        summary["issues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == key)
            .unwrap_or_else(|| panic!("no issue {key}"))["status"]
            .clone()
    };
    assert_eq!(status("paragraph 5"), "contested");
    assert_eq!(status("article 7"), "agreed");
    assert_eq!(status("paragraph 9"), "open");
    let decisions: Vec<(&str, &str)> = summary["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["issue"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("agreed", "article 7"),
            ("deferred", "paragraph 9"),
            ("deferred", "paragraph 5"),
            ("procedural", "")
        ]
    );
    let owners: Vec<&str> = summary["action_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["owner"].as_str().unwrap())
        .collect();
    assert_eq!(
        owners,
        ["The secretariat", "the co-facilitators", "European Union"]
    );
}

/// Every claim's quote is in the transcript, in the segment it names, said by the speaker it
/// names, at times inside that segment.
#[test]
fn every_claim_points_at_words_that_were_said() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("summary/session.transcript.json");
    analyze(&input, dir.path(), &["--format", "summary"]);
    let summary = valid_summary(&dir.path().join("summary.json"));
    let transcript: Value =
        serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let segments = transcript["segments"].as_array().unwrap();
    let mut evidence = Vec::new();
    fn collect<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(o) => {
                if let Some(e) = o.get("evidence").filter(|e| e.is_object()) {
                    out.push(e);
                }
                o.values().for_each(|v| collect(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&summary, &mut evidence);
    assert!(evidence.len() > 30, "only {} claims", evidence.len());
    for e in evidence {
        let seg = segments
            .iter()
            .find(|s| s["id"] == e["segment"])
            .unwrap_or_else(|| panic!("no segment for {e}"));
        let quote = e["quote"].as_str().unwrap();
        assert!(
            seg["text"].as_str().unwrap().contains(quote),
            "{quote:?} is not in segment {}",
            seg["id"]
        );
        assert_eq!(e["speaker"], seg["speaker"]);
        let (start, end) = (e["start"].as_f64().unwrap(), e["end"].as_f64().unwrap());
        assert!(start >= seg["start"].as_f64().unwrap() && end <= seg["end"].as_f64().unwrap());
    }
}

/// The same session as WebVTT, SRT, JSON Lines and plain text: each is read, tagged and
/// summarised; without times there are no timestamps and no talk times, never invented ones.
#[test]
fn analyze_reads_every_transcript_format() {
    let dir = tempfile::tempdir().unwrap();
    let vtt = fixture("summary/session.vtt");
    let text = std::fs::read_to_string(&vtt).unwrap();
    // Plain "Speaker: text" lines, from the VTT's voice tags.
    let lines: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("<v "))
        .map(|l| l.replacen('>', ": ", 1) + "\n")
        .collect();
    let srt: String = text
        .split("\n\n")
        .filter(|cue| cue.contains("-->"))
        .enumerate()
        .map(|(i, cue)| {
            let (timing, body) = cue.split_once('\n').unwrap();
            let body = body.strip_prefix("<v ").unwrap().replacen('>', ": ", 1);
            format!("{}\n{}\n{body}\n\n", i + 1, timing.replace('.', ","))
        })
        .collect();
    let jsonl: String = lines
        .lines()
        .map(|l| {
            let (who, said) = l.split_once(": ").unwrap();
            serde_json::json!({"speaker": who, "text": said}).to_string() + "\n"
        })
        .collect();
    for (name, content, timed) in [
        ("session.srt", srt.as_str(), true),
        ("session.txt", lines.as_str(), false),
        ("session.jsonl", jsonl.as_str(), false),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, content).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let rep = analyze(&input, &out, &[]);
        assert_eq!(rep["utterances"], 18, "{name}");
        assert_eq!(rep["tagged"], 18, "{name}");
        for file in ["summary.json", "report.md", "report.html"] {
            assert!(out.join(file).is_file(), "{name}: no {file}");
        }
        let s = valid_summary(&out.join("summary.json"));
        assert_eq!(s["speakers"].as_array().unwrap().len(), 7, "{name}");
        assert_eq!(
            s["source"]["transcript"]["format"],
            name.rsplit('.').next().unwrap().replace("txt", "lines")
        );
        let first = &s["positions"][0]["evidence"];
        assert_eq!(first["start"].is_number(), timed, "{name}: {first}");
        assert_eq!(s["speakers"][0]["talk_time_s"].is_number(), timed, "{name}");
        let issue = |key: &str| {
            s["issues"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["key"] == key)
        };
        assert!(issue("paragraph 5") && issue("article 7"), "{name}");
    }
    // The default folder: rapporteur-out/<name> where the command runs, as for `run`; never
    // beside the input (which may be a source tree or a read-only share).
    let input = dir.path().join("session.txt");
    let cwd = tempfile::tempdir().unwrap();
    rapporteur()
        .current_dir(cwd.path())
        .arg("analyze")
        .arg(&input)
        .arg("-q")
        .assert()
        .success();
    assert!(cwd
        .path()
        .join("rapporteur-out/session/summary.json")
        .is_file());
    assert!(!dir.path().join("session").exists());
}

/// Text without speaker names still gives a valid summary: no speakers, no agreements.
#[test]
fn a_record_without_speakers_is_still_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("minutes.txt");
    std::fs::write(
        &input,
        "We support paragraph 3.\nWe cannot accept paragraph 3.\nThe secretariat will circulate a revised text.\n",
    )
    .unwrap();
    analyze(&input, &dir.path().join("out"), &[]);
    let s = valid_summary(&dir.path().join("out/summary.json"));
    assert_eq!(s["speakers"].as_array().unwrap().len(), 0);
    assert_eq!(s["agreements"].as_array().unwrap().len(), 0);
    assert_eq!(s["issues"][0]["key"], "paragraph 3");
    assert_eq!(s["action_items"][0]["owner"], "The secretariat");
}

#[test]
fn bad_transcripts_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.txt", b"\n\n", "no utterances"),
        ("latin1.txt", b"Chair: d\xe9l\xe9gation\n", "not UTF-8"),
        (
            "broken.json",
            b"{\"segments\": [",
            "not a rapporteur transcript.json",
        ),
        (
            "broken.vtt",
            b"WEBVTT\n\n00:00:01.000 --> soon\nhello\n",
            "no utterances",
        ),
        (
            "other.json",
            b"{\"schema\": \"x/1\", \"segments\": []}",
            "transcript",
        ),
    ];
    for (name, content, cause) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, content).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let o = rapporteur()
            .arg("analyze")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(name) && err.contains(cause), "{name}: {err}");
        assert!(!out.exists(), "{name}: output written");
    }
    let o = rapporteur()
        .args(["analyze", "no-such-file.vtt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    // rttm needs speaker turns a text transcript does not have.
    let input = fixture("summary/session.vtt");
    let o = rapporteur()
        .arg("analyze")
        .arg(&input)
        .args(["--format", "rttm", "-o"])
        .arg(dir.path().join("rttm"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The whole job on the bundled sample, as the demo does it: voices enrolled, `run` with the
/// default formats, and a summary that says who stood where on paragraph 3, with the quotes.
#[test]
fn run_on_the_sample_summarises_the_session() {
    common::require_default_model();
    let work = tempfile::tempdir().unwrap();
    let voices = work.path().join("voices");
    for name in ["Chair", "France", "Brazil", "Kenya", "Japan"] {
        rapporteur()
            .args(["voices", "add", name, "--delegation", name, "--voices"])
            .arg(&voices)
            .arg(root().join(format!("samples/voices/{name}.opus")))
            .assert()
            .success();
    }
    let out = work.path().join("out");
    let o = rapporteur()
        .arg("run")
        .arg(root().join("samples/negotiation.opus"))
        .arg("-o")
        .arg(&out)
        .arg("--voices")
        .arg(&voices)
        .args(["-q", "--progress", "off"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.join("negotiation");
    for f in [
        "summary.json",
        "report.md",
        "report.html",
        "transcript.json",
    ] {
        assert!(dir.join(f).is_file(), "no {f}");
    }
    let s = valid_summary(&dir.join("summary.json"));
    assert_eq!(s["source"]["codec"], "opus");
    assert_eq!(s["source"]["sample_rate"], 48000);
    let roles: Vec<&str> = s["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "speech recognition",
            "voice activity",
            "speaker embedding",
            "text encoder",
            "position head"
        ]
    );
    let names: Vec<&str> = s["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Chair", "France", "Brazil", "Kenya", "Japan"]);
    let p3 = s["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "paragraph 3")
        .expect("paragraph 3 is an issue");
    assert_eq!(p3["status"], "agreed", "{p3}");
    let stance = |who: &str| {
        p3["stances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["speaker"] == who)
            .unwrap_or_else(|| panic!("no stance of {who} on paragraph 3: {p3}"))
    };
    assert_eq!(stance("France")["stance"], "proposal");
    assert!(stance("France")["evidence"]["quote"]
        .as_str()
        .unwrap()
        .contains("proposes to amend paragraph"));
    // Brazil named "the amendment proposed by France": the issue France proposed on.
    assert!(
        p3["evolution"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["speaker"] == "Brazil" && e["stance"] == "support" && e["link"] == "owner"),
        "{p3}"
    );
    let decision = &s["decisions"][0];
    assert_eq!(decision["kind"], "agreed");
    assert_eq!(decision["issue"], "paragraph 3");
    assert_eq!(decision["evidence"]["speaker"], "Chair");
    let at = decision["evidence"]["start"].as_f64().unwrap();
    assert!((55.0..62.0).contains(&at), "decision at {at} s");
    let stages: Vec<&str> = s["processing"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "decode",
            "voice activity",
            "transcribe",
            "speakers",
            "positions",
            "summary"
        ]
    );
    assert!(s["processing"]["real_time_factor"].as_f64().unwrap() > 0.0);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("### paragraph 3 — agreed"), "{md}");
}
