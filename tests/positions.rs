//! Position tagging: the MiniLM port against sentence-transformers, and the tagger's behaviour.

use std::path::Path;

use rapporteur::positions::TextEncoder;

fn encoder() -> TextEncoder {
    let model = rapporteur::models::resolve_packaged("minilm")
        .unwrap_or_else(|e| panic!("{e} (./scripts/test fetches it)"));
    TextEncoder::load(&model.dir).unwrap()
}

#[test]
fn minilm_matches_sentence_transformers() {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/positions/minilm_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let texts: Vec<&str> = fixture["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // The last text is longer than 256 tokens: it checks the truncation sentence-transformers uses.
    assert!(fixture["long_text_tokens"].as_u64().unwrap() > 256);
    let ours = encoder().embed(&texts).unwrap();
    for (i, (row, reference)) in ours
        .iter()
        .zip(fixture["embeddings"].as_array().unwrap())
        .enumerate()
    {
        let reference: Vec<f32> = reference
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(row.len(), 384);
        let max_diff = row
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let cosine: f32 = row.iter().zip(&reference).map(|(a, b)| a * b).sum();
        assert!(
            max_diff < 1e-5 && cosine > 0.99999,
            "text {i} {:?}: max difference {max_diff}, cosine {cosine}",
            texts[i]
        );
    }
}

mod common;

/// Macro-F1 over support, opposition, proposal and question on the held-out PersuasionForGood
/// dialogues must not fall below this (the model card gives the measured figure).
const PFG_FLOOR: f64 = 0.65;

use common::{fixture, rapporteur, root, shared};

fn tag(args: &[&str], stdin: Option<&str>) -> (bool, Vec<serde_json::Value>, String) {
    let mut cmd = rapporteur();
    cmd.arg("tag").args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s);
    }
    let out = cmd.output().unwrap();
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.success(),
        rows,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tag_reads_a_verbatim_record_and_finds_moves_and_targets() {
    let record = fixture("positions/record.txt");
    let (ok, rows, err) = tag(&[record.to_str().unwrap()], None);
    assert!(ok, "{err}");
    assert_eq!(rows.len(), 8);
    let expected = [
        ("Chair", "procedural", None),
        ("Brazil", "opposition", Some("paragraph 4")),
        ("Norway", "support", Some("proposal by brazil")),
        ("Egypt", "question", Some("option 2")),
        ("Japan", "proposal", Some("paragraph 6")),
        ("India", "reservation", Some("paragraph 6")),
        ("Switzerland", "concession", Some("text by chair")),
        ("Chile", "statement", None),
    ];
    let mut right = 0;
    for (row, (speaker, label, target)) in rows.iter().zip(expected) {
        assert_eq!(row["speaker"], speaker);
        let p = &row["position"];
        // Scores are probabilities over the nine moves; confidence is the top one.
        let scores = p["scores"].as_object().unwrap();
        assert_eq!(scores.len(), 9);
        let sum: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 0.01, "{sum}");
        assert_eq!(p["confidence"], scores[p["label"].as_str().unwrap()]);
        right += usize::from(p["label"] == label);
        assert_eq!(
            p["target"]["key"].as_str(),
            target,
            "target of {speaker}: {}",
            row["text"]
        );
    }
    // These are clear cases written for this test (not training data); allow one miss.
    assert!(right >= 7, "only {right} of 8 moves right: {rows:#?}");
    // The two-sentence turn keeps its sentences as evidence.
    assert_eq!(
        rows[1]["position"]["sentences"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn tag_reads_subtitles_jsonl_and_stdin_and_keeps_fields() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("a.srt");
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:03,000\nKenya: We object to this.\n\n2\n00:00:04,000 --> 00:00:05,500\nThank you.\n",
    )
    .unwrap();
    let (ok, rows, err) = tag(&[srt.to_str().unwrap()], None);
    assert!(ok, "{err}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["speaker"], "Kenya");
    assert_eq!(rows[0]["start"], 1.0);
    assert_eq!(rows[1]["end"], 5.5);

    let vtt = "WEBVTT\n\n00:00.500 --> 00:02.000\n<v France>Could we delete the second sentence of paragraph 9?</v>\n";
    let (ok, rows, err) = tag(&["-", "--from", "vtt"], Some(vtt));
    assert!(ok, "{err}");
    assert_eq!(rows[0]["speaker"], "France");
    assert_eq!(rows[0]["position"]["target"]["key"], "paragraph 9");

    let jsonl = "{\"id\": \"a1\", \"text\": \"We cannot support option 1.\", \"meeting\": 3}\n";
    let (ok, rows, err) = tag(&["--from", "jsonl"], Some(jsonl));
    assert!(ok, "{err}");
    assert_eq!(rows[0]["id"], "a1");
    assert_eq!(rows[0]["meeting"], 3);
    assert!(rows[0]["position"]["label"].is_string());
}

#[test]
fn tag_refuses_bad_input_with_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"fine\"}\n{\"no_text\": 1}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let o = rapporteur()
        .args(["tag", bad.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("bad.jsonl") && err.contains("line 2"), "{err}");
    assert!(!out.exists());

    let garbage = dir.path().join("noise.bin");
    std::fs::write(&garbage, [0xff, 0xfe, 0x00, 0x9f]).unwrap();
    let o = rapporteur()
        .args(["tag", garbage.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));

    let head = dir.path().join("head.safetensors");
    std::fs::write(&head, b"not a head").unwrap();
    let o = rapporteur()
        .args(["tag", "--head", head.to_str().unwrap(), "-"])
        .write_stdin("We support it.\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a position head"));
}

/// A head that is cut short, holds a NaN weight, or was trained on another text encoder is
/// refused with one line and exit 5, never used: a NaN weight would turn every score into NaN,
/// and another encoder's head would classify without error and without meaning.
#[test]
fn a_damaged_or_foreign_head_is_refused() {
    let original = std::fs::read(root().join("models/positions/head.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&original[8..8 + header_len]).unwrap();
    let b2 = 8 + header_len + header["b2"]["data_offsets"][0].as_u64().unwrap() as usize;
    let mut nan = original.clone();
    nan[b2..b2 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let encoder_sha = header["__metadata__"]["encoder_sha256"].as_str().unwrap();
    // Only the header is text: the 8 bytes of its length before it are not.
    let foreign_header = std::str::from_utf8(&original[8..8 + header_len])
        .unwrap()
        .replace(encoder_sha, &"0".repeat(64))
        .into_bytes();
    let foreign = [
        &original[..8],
        &foreign_header[..],
        &original[8 + header_len..],
    ]
    .concat();
    let cases = [
        (
            "cut.safetensors",
            original[..original.len() / 2].to_vec(),
            "not a position head",
        ),
        (
            "nan.safetensors",
            nan,
            "tensor b2 holds NaN or infinite weights",
        ),
        (
            "foreign.safetensors",
            foreign,
            "not made for the installed text encoder",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expected) in cases {
        let head = dir.path().join(name);
        std::fs::write(&head, bytes).unwrap();
        let o = rapporteur()
            .args(["tag", "--head", head.to_str().unwrap(), "-"])
            .write_stdin("We support it.\n")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(name) && err.contains(expected),
            "{name}: {err}"
        );
        assert!(o.stdout.is_empty(), "{name}");
    }
}

fn eval(args: &[&str]) -> serde_json::Value {
    let out = rapporteur()
        .args(["eval", "positions", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn own_data() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("data/positions/own"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    files
}

#[test]
fn held_out_scores_stay_where_the_model_card_says() {
    let mut args = vec!["--data".to_string()];
    args.extend(own_data());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let own = eval(&args);
    assert!(own["examples"].as_u64().unwrap() > 300);
    let f1 = own["macro_f1"].as_f64().unwrap();
    // 0.721 measured (models/positions/README.md): the own lines weigh less now that real text
    // carries most of the training.
    assert!(f1 >= 0.70, "own held-out macro-F1 {f1}");
    assert!(own["targets"]["matched"].as_u64().unwrap() > 100);

    let pfg = shared("C_negotiation/persuasionforgood/annotated_dialogs_dev_half.csv");
    let r = eval(&[
        "--data",
        pfg.to_str().unwrap(),
        "--classes",
        "support,opposition,proposal,question",
    ]);
    let f1 = r["macro_f1"].as_f64().unwrap();
    assert!(f1 >= PFG_FLOOR, "PersuasionForGood held-out macro-F1 {f1}");
    assert!(r["calibration_error"].as_f64().unwrap() < 0.1);

    // Real diplomatic and parliamentary sentences the head never saw: conflict (criticism,
    // opposition, reservation) found at recall >= 0.60 with precision >= 0.55 in each source
    // (measured: General Debate 0.684 at 0.600, parliaments 0.613 at 0.613).
    for source in ["ungd", "parl"] {
        let file = root().join(format!("data/positions/real/{source}.jsonl"));
        let r = eval(&["--data", file.to_str().unwrap()]);
        let (p, rec) = (
            r["conflict"]["precision"].as_f64().unwrap(),
            r["conflict"]["recall"].as_f64().unwrap(),
        );
        assert!(
            rec >= 0.60 && p >= 0.55,
            "{source}: conflict precision {p}, recall {rec}"
        );
    }
}

#[test]
fn training_is_deterministic_and_the_head_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("data/positions/own/un.jsonl");
    let train = |out: &str| {
        let out = dir.path().join(out);
        let o = rapporteur()
            .args(["train", "positions", "--epochs", "3", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let a = train("a.safetensors");
    let b = train("b.safetensors");
    assert!(a == b, "the same seed gave different heads");
    let head = dir.path().join("a.safetensors");
    let (ok, rows, err) = tag(
        &["--head", head.to_str().unwrap(), "-"],
        Some("We object.\n"),
    );
    assert!(ok, "{err}");
    assert_eq!(rows.len(), 1);
}

#[test]
fn run_tags_every_segment_of_the_sample_session() {
    common::require_default_model();
    let out = tempfile::tempdir().unwrap();
    let o = rapporteur()
        .arg("run")
        .arg(root().join("samples/negotiation.opus"))
        .arg("-o")
        .arg(out.path())
        .args(["--format", "json", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = std::fs::read_to_string(out.path().join("negotiation/transcript.json")).unwrap();
    let t: rapporteur::transcript::Transcript = serde_json::from_str(&json).unwrap();
    let models = t.positions.as_ref().expect("positions block");
    assert_eq!(models.encoder.name, "minilm");
    assert_eq!(models.head.sha256.len(), 64);
    assert!(t.segments.iter().all(|s| s.position.is_some()));
    let find = |words: &str| {
        t.segments
            .iter()
            .find(|s| s.text.to_lowercase().contains(words))
            .unwrap_or_else(|| panic!("no segment with {words:?}: {}", t.text()))
            .position
            .clone()
            .unwrap()
    };
    use rapporteur::transcript::Move;
    let support = find("supports the amendment");
    assert_eq!(support.label, Move::Support);
    assert_eq!(support.target.unwrap().key, "amendment by france");
    assert_eq!(find("floor").label, Move::Procedural);
    assert_eq!(find("could france clarify").label, Move::Question);

    // --no-positions leaves them out.
    let out2 = tempfile::tempdir().unwrap();
    let o = rapporteur()
        .arg("run")
        .arg(root().join("samples/negotiation.opus"))
        .arg("-o")
        .arg(out2.path())
        .args([
            "--format",
            "json",
            "--quiet",
            "--no-positions",
            "--no-diarize",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = std::fs::read_to_string(out2.path().join("negotiation/transcript.json")).unwrap();
    assert!(!json.contains("\"position\""));
}

#[test]
fn cross_validation_scores_every_utterance_once() {
    let data = root().join("data/positions/own/un.jsonl");
    let r = eval(&["--cross-validate", "2", "--data", data.to_str().unwrap()]);
    // Every line is tagged by the head of the fold that did not train on it.
    assert_eq!(r["examples"], 300);
    let f1 = r["macro_f1"].as_f64().unwrap();
    assert!(f1 > 0.4, "2-fold macro-F1 on 150 training lines: {f1}");
}
