//! Subtitles that players can show: `--max-line-width` and `--max-line-count` wrap and split
//! cues at word boundaries with their words' times, `--txt-timestamps` times transcript.txt,
//! `relabel` keeps the layout a folder was made with, and `analyze`/`tag` read WhisperX JSON.

mod common;

use std::path::{Path, PathBuf};

use common::{analyze, rapporteur, shared};
use serde_json::{json, Value};

/// A cue of an SRT file: start and end in seconds, and its lines.
#[derive(Debug, Clone, PartialEq)]
struct Cue {
    start: f64,
    end: f64,
    lines: Vec<String>,
}

fn seconds(stamp: &str) -> f64 {
    let stamp = stamp.replace(',', ".");
    let parts: Vec<f64> = stamp.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Parse SRT (numbered cues) or WebVTT (after its header) into cues.
fn parse_cues(text: &str) -> Vec<Cue> {
    let text = text.strip_prefix("WEBVTT\n\n").unwrap_or(text);
    let mut cues = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines();
        let mut timing = lines.next().unwrap();
        if !timing.contains("-->") {
            timing = lines.next().unwrap();
        }
        let (a, b) = timing.split_once(" --> ").expect("a timing line");
        cues.push(Cue {
            start: seconds(a),
            end: seconds(b),
            lines: lines.map(String::from).collect(),
        });
    }
    cues
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Long cues of two speakers, as another tool writes them.
const LONG_SRT: &str = "1
00:00:01,000 --> 00:00:13,000
Kenya: The delegation of Kenya cannot accept the amendment to operative paragraph three unless the reference to climate finance is kept in full.

2
00:00:14,000 --> 00:00:18,000
Chair: Thank you. Brazil, you have the floor.

3
00:00:18,500 --> 00:00:30,000
Brazil: We support the proposal made by France, and we would like to add a reference to the needs of small island developing states.
";

fn assert_ordered(cues: &[Cue]) {
    for c in cues {
        assert!(c.start < c.end, "empty or reversed cue {c:?}");
    }
    for pair in cues.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "cues overlap or go backwards: {pair:?}"
        );
    }
}

#[test]
fn long_segments_become_cues_within_max_line_width_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "long.srt", LONG_SRT);
    let out = dir.path().join("out");
    analyze(
        &input,
        &out,
        &[
            "--format",
            "srt,vtt",
            "--no-positions",
            "--max-line-width",
            "42",
            "--max-line-count",
            "2",
        ],
    );
    let srt = parse_cues(&read(out.join("transcript.srt")));
    assert!(
        srt.len() > 3,
        "the long cues are split: {} cues\n{srt:#?}",
        srt.len()
    );
    for c in &srt {
        assert!(
            (1..=2).contains(&c.lines.len()),
            "{} lines: {c:?}",
            c.lines.len()
        );
        for l in &c.lines {
            // The speaker prefix counts: it is on the screen.
            assert!(l.chars().count() <= 42, "{} characters: {l:?}", l.len());
        }
        assert!(
            ["Kenya: ", "Chair: ", "Brazil: "]
                .iter()
                .any(|p| c.lines[0].starts_with(p)),
            "every cue says who speaks: {c:?}"
        );
    }
    assert_ordered(&srt);
    // No word lost, added or cut: the cues of each speaker read as the original text.
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .filter(|w| !w.ends_with(':'))
            .map(String::from)
            .collect()
    };
    let original: Vec<String> = LONG_SRT
        .split("\n\n")
        .flat_map(|b| words(b.lines().nth(2).unwrap()))
        .collect();
    let shown: Vec<String> = srt.iter().flat_map(|c| words(&c.lines.join(" "))).collect();
    assert_eq!(shown, original);
    // The cues of a segment stay within its times.
    assert_eq!(srt[0].start, 1.0);
    let last_kenya = srt.iter().rposition(|c| c.lines[0].starts_with("Kenya: "));
    assert_eq!(srt[last_kenya.unwrap()].end, 13.0);

    // WebVTT: the voice tag is not on the screen, so it takes no room on the line.
    let vtt_text = read(out.join("transcript.vtt"));
    let vtt = parse_cues(&vtt_text);
    assert!(vtt.len() > 3);
    for c in &vtt {
        assert!(c.lines.len() <= 2, "{c:?}");
        let first = c.lines[0]
            .split_once('>')
            .map_or(&c.lines[0][..], |(_, t)| t);
        assert!(first.chars().count() <= 42, "{first:?}");
        assert!(
            c.lines[1..].iter().all(|l| l.chars().count() <= 42),
            "{c:?}"
        );
    }
    assert_ordered(&vtt);
    assert!(vtt_text.contains("<v Kenya>The delegation of Kenya cannot accept the\n"));
}

/// A WhisperX result of two speakers with word times (one word not aligned).
fn whisperx_json() -> Value {
    let words = |list: &[(&str, Option<(f64, f64)>)], speaker: &str| -> Value {
        list.iter()
            .map(|(w, t)| match t {
                Some((s, e)) => {
                    json!({"word": w, "start": s, "end": e, "score": 0.9, "speaker": speaker})
                }
                None => json!({"word": w}),
            })
            .collect()
    };
    json!({
        "segments": [
            {
                "start": 0.5, "end": 6.0, "speaker": "SPEAKER_00",
                "text": " We support the amendment to paragraph 3 as proposed by France.",
                "words": words(&[
                    ("We", Some((0.5, 0.7))), ("support", Some((0.8, 1.3))), ("the", Some((1.4, 1.5))),
                    ("amendment", Some((1.6, 2.4))), ("to", Some((2.5, 2.6))), ("paragraph", Some((2.7, 3.3))),
                    ("3", None), ("as", Some((3.9, 4.0))), ("proposed", Some((4.1, 4.8))),
                    ("by", Some((4.9, 5.0))), ("France.", Some((5.1, 5.9))),
                ], "SPEAKER_00"),
            },
            {
                "start": 6.5, "end": 8.0, "speaker": "SPEAKER_01",
                "text": " We cannot accept it.",
                "words": words(&[
                    ("We", Some((6.5, 6.7))), ("cannot", Some((6.8, 7.2))),
                    ("accept", Some((7.3, 7.6))), ("it.", Some((7.7, 7.9))),
                ], "SPEAKER_01"),
            },
            {"start": 9.0, "end": 10.0, "text": " Thank you."}
        ],
        "language": "en"
    })
}

#[test]
fn split_cues_are_timed_by_their_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "wx.json", &whisperx_json().to_string());
    let out = dir.path().join("out");
    analyze(
        &input,
        &out,
        &[
            "--format",
            "srt",
            "--no-positions",
            "--max-line-width",
            "28",
            "--max-line-count",
            "1",
        ],
    );
    let srt = parse_cues(&read(out.join("transcript.srt")));
    let got: Vec<(f64, f64, String)> = srt
        .iter()
        .map(|c| (c.start, c.end, c.lines.join("\n")))
        .collect();
    let expected = [
        // "SPEAKER_00: " takes 12 of the 28 characters of every (first) line.
        (0.5, 1.5, "SPEAKER_00: We support the"),
        (1.6, 2.6, "SPEAKER_00: amendment to"),
        // "3" was not aligned: it shares the time between "paragraph" and "as".
        (2.7, 4.0, "SPEAKER_00: paragraph 3 as"),
        (4.1, 5.0, "SPEAKER_00: proposed by"),
        (5.1, 6.0, "SPEAKER_00: France."),
        (6.5, 7.6, "SPEAKER_01: We cannot accept"),
        (7.7, 8.0, "SPEAKER_01: it."),
        (9.0, 10.0, "Thank you."),
    ]
    .map(|(s, e, t)| (s, e, t.to_string()));
    assert_eq!(got, expected);
}

#[test]
fn txt_timestamps_prefix_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "long.srt", LONG_SRT);
    let out = dir.path().join("out");
    analyze(
        &input,
        &out,
        &["--format", "txt", "--no-positions", "--txt-timestamps"],
    );
    let txt = read(out.join("transcript.txt"));
    let lines: Vec<&str> = txt.lines().collect();
    assert_eq!(
        lines,
        [
            "[00:00:01.000 --> 00:00:13.000] Kenya: The delegation of Kenya cannot accept the amendment to operative paragraph three unless the reference to climate finance is kept in full.",
            "[00:00:14.000 --> 00:00:18.000] Chair: Thank you. Brazil, you have the floor.",
            "[00:00:18.500 --> 00:00:30.000] Brazil: We support the proposal made by France, and we would like to add a reference to the needs of small island developing states.",
        ]
    );
    // With a layout, one line per cue: the cues of the subtitles.
    let out2 = dir.path().join("out2");
    analyze(
        &input,
        &out2,
        &[
            "--format",
            "txt,srt",
            "--no-positions",
            "--txt-timestamps",
            "--max-line-width",
            "42",
            "--max-line-count",
            "2",
        ],
    );
    let txt = read(out2.join("transcript.txt"));
    let srt = parse_cues(&read(out2.join("transcript.srt")));
    let stamp = |s: f64| {
        let ms = (s * 1000.0).round() as u64;
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let expected: Vec<String> = srt
        .iter()
        .map(|c| {
            format!(
                "[{} --> {}] {}",
                stamp(c.start),
                stamp(c.end),
                c.lines.join(" ")
            )
        })
        .collect();
    assert!(expected.len() > 3);
    assert_eq!(txt.lines().collect::<Vec<_>>(), expected);
    // Without the option transcript.txt is as it always was.
    let out3 = dir.path().join("out3");
    analyze(&input, &out3, &["--format", "txt", "--no-positions"]);
    assert!(read(out3.join("transcript.txt")).starts_with("Kenya: The delegation"));
}

#[test]
fn analyze_reads_whisperx_json_with_speakers() {
    let dir = tempfile::tempdir().unwrap();
    // WhisperX writes its JSON on one line, under any name.
    let input = write(dir.path(), "session.json", &whisperx_json().to_string());
    let out = dir.path().join("out");
    let rep = analyze(&input, &out, &["--format", "json,summary,txt"]);
    assert_eq!(rep["format"], "whisperx");
    assert_eq!(rep["utterances"], 3);
    assert_eq!(rep["tagged"], 3);
    assert_eq!(rep["speakers"], json!(["SPEAKER_00", "SPEAKER_01"]));
    let t: Value = serde_json::from_str(&read(out.join("transcript.json"))).unwrap();
    let segs = t["segments"].as_array().unwrap();
    assert_eq!(
        segs[0]["text"],
        "We support the amendment to paragraph 3 as proposed by France."
    );
    assert_eq!(segs[0]["speaker"], "SPEAKER_00");
    assert_eq!(
        (segs[1]["start"].as_f64(), segs[1]["end"].as_f64()),
        (Some(6.5), Some(8.0))
    );
    // Words keep their times; the one WhisperX did not align gets one between its neighbours.
    let words = segs[0]["words"].as_array().unwrap();
    assert_eq!(words.len(), 11);
    assert_eq!(words[3]["text"], "amendment");
    assert_eq!(
        (words[3]["start"].as_f64(), words[3]["end"].as_f64()),
        (Some(1.6), Some(2.4))
    );
    assert_eq!(
        (words[6]["start"].as_f64(), words[6]["end"].as_f64()),
        (Some(3.3), Some(3.9))
    );
    assert_eq!(segs[2].get("speaker"), None);
    assert!(segs[0]["position"]["label"].is_string(), "tagged");
    let txt = read(out.join("transcript.txt"));
    assert!(
        txt.starts_with("SPEAKER_00: We support the amendment"),
        "{txt}"
    );
    // `--from whisperx` says so when the name and content would not.
    let odd = write(dir.path(), "result.out", &whisperx_json().to_string());
    let rep = analyze(
        &odd,
        &dir.path().join("out2"),
        &["--from", "whisperx", "--no-positions"],
    );
    assert_eq!(rep["format"], "whisperx");
}

#[test]
fn tag_reads_whisperx_json_from_standard_input() {
    let o = rapporteur()
        .arg("tag")
        .write_stdin(whisperx_json().to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["speaker"], "SPEAKER_01");
    assert_eq!(rows[1]["text"], "We cannot accept it.");
    assert_eq!(
        (rows[1]["start"].as_f64(), rows[1]["end"].as_f64()),
        (Some(6.5), Some(8.0))
    );
    assert!(rows[1]["position"]["label"].is_string());
}

#[test]
fn bad_whisperx_json_is_refused_in_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"segments": [{"start": 0, "end": 1, "text": "a"}, {"start": 3, "text": "b"}]}"#,
            "segments[1]: no \"end\" time",
        ),
        (
            r#"{"segments": [{"start": 5, "end": 1, "text": "a"}]}"#,
            "segments[0]: ends (1) before it starts (5)",
        ),
        (
            r#"{"segments": [{"start": 0, "end": 1, "text": "a", "words": [{"start": 0}]}]}"#,
            "segments[0].words[0]: no \"word\" string",
        ),
    ];
    for (i, (content, cause)) in cases.iter().enumerate() {
        let input = write(dir.path(), &format!("wx{i}.json"), content);
        let out = dir.path().join(format!("out{i}"));
        for command in ["analyze", "tag"] {
            let mut cmd = rapporteur();
            cmd.arg(command).arg(&input);
            if command == "analyze" {
                cmd.arg("-o").arg(&out);
            }
            let o = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(3), "{command} {content}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(
                err.contains(&input.display().to_string()) && err.contains(cause),
                "{command}: {err}"
            );
        }
        assert!(!out.exists(), "nothing written for {content}");
    }
}

#[test]
fn zero_or_absurd_layout_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "long.srt", LONG_SRT);
    let cases: [(&[&str], &str); 5] = [
        (&["--max-line-width", "0"], "--max-line-width 0"),
        (&["--max-line-width", "100000"], "--max-line-width 100000"),
        (
            &["--max-line-width", "42", "--max-line-count", "0"],
            "--max-line-count 0",
        ),
        (
            &["--max-line-width", "42", "--max-line-count", "5000"],
            "--max-line-count 5000",
        ),
        (&["--max-line-count", "2"], "needs --max-line-width"),
    ];
    for (args, says) in cases {
        let out = dir.path().join("out");
        let o = rapporteur()
            .arg("analyze")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--format", "srt"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "analyze {args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!out.exists());
        // `run` refuses them before it loads a model or looks at a recording.
        let o = rapporteur()
            .args(["run", "no-such-recording.wav", "-o"])
            .arg(dir.path().join("run-out"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "run {args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// A transcript.json with speakers, as `run` writes it, with long segments and word times.
fn diarized_transcript() -> Value {
    let text_a = "The delegation of Kenya cannot accept the amendment to operative paragraph three unless the reference to climate finance is kept.";
    let text_b = "We support the proposal made by France and would add a reference to small island developing states.";
    let words = |text: &str, start: f64, speaker: &str| -> Vec<Value> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                let s = start + 0.5 * i as f64;
                json!({"start": s, "end": s + 0.4, "text": w, "probability": 0.9, "speaker": speaker})
            })
            .collect()
    };
    let wa = words(text_a, 1.0, "S1");
    let wb = words(text_b, 20.0, "S2");
    let end = |w: &[Value]| w.last().unwrap()["end"].as_f64().unwrap();
    let (end_a, end_b) = (end(&wa), end(&wb));
    json!({
        "schema": "rapporteur.transcript/1",
        "source": {"path": "session.wav", "sha256": "00".repeat(32), "duration": 40.0,
                   "container": "wav", "codec": "pcm_s16le", "sample_rate": 16000, "channels": 1},
        "language": {"code": "en", "probability": 1.0, "detected": false},
        "model": {"name": "tiny.en", "sha256": "11".repeat(32)},
        "diarization": {
            "model": {"name": "ge2e", "sha256": "22".repeat(32)},
            "threshold": 0.3, "speech_s": 30.0, "overlap_s": 0.0,
            "speakers": [
                {"id": "S1", "label": "S1", "speech_s": end_a - 1.0, "turns": 1},
                {"id": "S2", "label": "S2", "speech_s": end_b - 20.0, "turns": 1}
            ],
            "turns": [
                {"start": 1.0, "end": end_a, "speaker": "S1"},
                {"start": 20.0, "end": end_b, "speaker": "S2"}
            ]
        },
        "segments": [
            {"id": 0, "start": 1.0, "end": end_a, "text": text_a, "words": wa,
             "avg_logprob": -0.2, "no_speech_prob": 0.01, "speaker": "S1"},
            {"id": 1, "start": 20.0, "end": end_b, "text": text_b, "words": wb,
             "avg_logprob": -0.2, "no_speech_prob": 0.01, "speaker": "S2"}
        ]
    })
}

#[test]
fn relabel_keeps_the_subtitle_layout() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "session.json",
        &serde_json::to_string_pretty(&diarized_transcript()).unwrap(),
    );
    let layout = [
        "--max-line-width",
        "30",
        "--max-line-count",
        "2",
        "--txt-timestamps",
    ];
    let folder = dir.path().join("folder");
    let mut args = vec!["--format", "json,srt,vtt,txt,summary", "--no-positions"];
    args.extend(layout);
    analyze(&input, &folder, &args);
    let before = read(folder.join("transcript.srt"));
    assert!(parse_cues(&before).len() > 2, "{before}");

    let names = write(
        dir.path(),
        "names.toml",
        "S1 = \"Kenya\"\nS2 = \"Brazil\"\n",
    );
    let o = rapporteur()
        .arg("relabel")
        .arg(&folder)
        .arg("--names")
        .arg(&names)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // What relabel wrote is what the same layout gives the renamed transcript.
    let fresh = dir.path().join("fresh");
    let mut args = vec!["--format", "srt,vtt,txt", "--no-positions"];
    args.extend(layout);
    analyze(&folder.join("transcript.json"), &fresh, &args);
    for file in ["transcript.srt", "transcript.vtt", "transcript.txt"] {
        let relabelled = read(folder.join(file));
        assert_eq!(relabelled, read(fresh.join(file)), "{file}");
        assert!(relabelled.contains("Kenya"), "{file}: {relabelled}");
        assert!(!relabelled.contains("S1"), "{file}: {relabelled}");
    }
    let srt = parse_cues(&read(folder.join("transcript.srt")));
    for c in &srt {
        assert!(
            c.lines.len() <= 2 && c.lines.iter().all(|l| l.chars().count() <= 30),
            "{c:?}"
        );
    }
    assert!(read(folder.join("transcript.txt"))
        .lines()
        .all(|l| l.starts_with("[00:00:")));
}

/// The whole path on a real recording: the recogniser's word times time the cues.
#[test]
fn run_cuts_cues_at_the_recognisers_word_times() {
    common::require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let o = rapporteur()
        .arg("run")
        .arg(shared("A_wer/jfk/jfk.flac"))
        .arg("-o")
        .arg(dir.path())
        .args([
            "--format",
            "json,srt,txt",
            "--no-diarize",
            "--no-positions",
            "--max-line-width",
            "20",
            "--max-line-count",
            "1",
            "--txt-timestamps",
            "--progress",
            "off",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("jfk");
    let t: Value = serde_json::from_str(&read(out.join("transcript.json"))).unwrap();
    let srt = parse_cues(&read(out.join("transcript.srt")));
    let segments = t["segments"].as_array().unwrap();
    assert!(srt.len() > segments.len(), "{srt:#?}");
    assert_ordered(&srt);
    // Every cue starts where its first word starts, or where its segment does.
    let ms = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() / 1000.0;
    let mut starts: Vec<f64> = Vec::new();
    for seg in segments {
        starts.push(ms(&seg["start"]));
        starts.extend(
            seg["words"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| ms(&w["start"])),
        );
    }
    for c in &srt {
        assert_eq!(c.lines.len(), 1, "{c:?}");
        assert!(c.lines[0].chars().count() <= 20, "{c:?}");
        assert!(
            starts.contains(&c.start),
            "{c:?} starts at no word: {starts:?}"
        );
    }
    let txt = read(out.join("transcript.txt"));
    assert_eq!(txt.lines().count(), srt.len());
    assert!(txt.lines().all(|l| l.starts_with("[00:00:")), "{txt}");
}
