//! Sessions in several languages (issue 18): a segment's `language` and English `translation`
//! survive every reader and writer. `analyze` on a hand-written transcript.json of English and
//! translated French gives the translation as the line under its text in SRT, WebVTT and TXT,
//! each speaker's languages and the languages heard in summary.json, both in the reports, and
//! positions read from the English; `tag` reads the English too, and subtitles and WhisperX
//! JSON read back keep what they carry.

mod common;

use std::path::{Path, PathBuf};

use common::{analyze, fixture, rapporteur, root};
use serde_json::Value;

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: PathBuf) -> Value {
    serde_json::from_str(&read(path)).expect("JSON")
}

/// The summary.json in `dir`, checked against the published schema.
fn valid_summary(dir: &Path) -> Value {
    let schema: Value =
        serde_json::from_str(&read(root().join("schema/summary.schema.json"))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let summary = json(dir.join("summary.json"));
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json breaks its schema: {errors:#?}"
    );
    summary
}

const SESSION: &str = "languages/session.transcript.json";

/// The French statements of the fixture and their English.
const FRENCH: [(&str, &str); 3] = [
    (
        "La France ne peut pas accepter cet amendement.",
        "France cannot accept this amendment.",
    ),
    (
        "Nous ne pouvons pas soutenir l'amendement brésilien tel qu'il est rédigé.",
        "We cannot support the Brazilian amendment as drafted.",
    ),
    ("Merci, Madame la Présidente.", "Thank you, Madam Chair."),
];

fn segment(transcript: &Value, id: u64) -> &Value {
    transcript["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no segment {id}"))
}

#[test]
fn translations_are_the_line_under_their_text_in_srt_vtt_and_txt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &fixture(SESSION),
        &out,
        &["--format", "srt,vtt,txt", "--no-positions"],
    );
    let srt = read(out.join("transcript.srt"));
    let vtt = read(out.join("transcript.vtt"));
    let txt = read(out.join("transcript.txt"));
    let speakers = ["France", "France", "Kenya"];
    for ((french, english), who) in FRENCH.iter().zip(speakers) {
        assert!(
            srt.contains(&format!("\n{who}: {french}\n[en] {english}\n\n")),
            "SRT: no {english:?} under {french:?}:\n{srt}"
        );
        assert!(
            vtt.contains(&format!(
                "\n<v {who}>{french}\n<lang en>[en] {english}</lang>\n\n"
            )),
            "WebVTT: no {english:?} under {french:?}:\n{vtt}"
        );
        assert!(
            txt.contains(&format!("{who}: {french}\n  [en] {english}\n")),
            "TXT: no {english:?} under {french:?}:\n{txt}"
        );
    }
    // English segments have no second line.
    assert!(srt.contains(
        "Brazil: Brazil proposes to add a reference to adaptation finance in paragraph 3.\n\n"
    ));
    assert_eq!(txt.lines().count(), 7 + 3, "{txt}");

    // Wrapped and split: the English is wrapped too, shared among the cues of its segment.
    let narrow = dir.path().join("narrow");
    analyze(
        &fixture(SESSION),
        &narrow,
        &[
            "--format",
            "srt,txt",
            "--no-positions",
            "--max-line-width",
            "24",
            "--max-line-count",
            "1",
            "--txt-timestamps",
        ],
    );
    let srt = read(narrow.join("transcript.srt"));
    let mut english_words = Vec::new();
    for cue in srt.split("\n\n").filter(|c| !c.trim().is_empty()) {
        let lines: Vec<&str> = cue.lines().skip(2).collect();
        let at = lines.iter().position(|l| l.starts_with("[en] "));
        // One line of speech, then the English lines of this cue, if any.
        assert_eq!(at.unwrap_or(1), 1, "{cue}");
        for l in &lines {
            assert!(l.chars().count() <= 24, "{} characters: {l:?}", l.len());
        }
        if let Some(at) = at {
            for l in &lines[at..] {
                english_words.extend(l.trim_start_matches("[en] ").split_whitespace());
            }
        }
    }
    let all_english: Vec<&str> = FRENCH
        .iter()
        .flat_map(|(_, e)| e.split_whitespace())
        .collect();
    assert_eq!(
        english_words, all_english,
        "every English word once, in order"
    );
    // The timestamped text: each cue's line, its share of the English under it.
    let txt = read(narrow.join("transcript.txt"));
    assert!(
        txt.contains("] France: La France ne\n  [en] France\n[00:00:14.772 --> 00:00:15.554] France: peut pas\n  [en] cannot\n"),
        "{txt}"
    );
}

#[test]
fn analyze_keeps_languages_and_translations_and_tags_the_english() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = analyze(
        &fixture(SESSION),
        &out,
        &["--format", "json,summary,md,html"],
    );
    assert_eq!(report["tagged"], 7, "{report}");

    // transcript.json: both fields round-trip, positions added.
    let t = json(out.join("transcript.json"));
    let original = json(fixture(SESSION));
    for (seg, before) in t["segments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(original["segments"].as_array().unwrap())
    {
        assert_eq!(seg["language"], before["language"], "{seg}");
        assert_eq!(seg["translation"], before["translation"], "{seg}");
        assert_eq!(seg["text"], before["text"]);
        assert!(seg["position"]["label"].is_string(), "{seg}");
    }
    assert_eq!(t["language"], original["language"]);
    // The tagger read the English: the French "ne peut pas accepter" is an opposition, and
    // "l'amendement brésilien" is Brazil's amendment only in English.
    let position = |id: u64| segment(&t, id)["position"].clone();
    assert_eq!(position(2)["label"], "opposition", "{}", position(2));
    assert_eq!(position(3)["label"], "opposition", "{}", position(3));
    assert_eq!(position(3)["target"]["key"], "amendment by brazil");

    // summary.json: the main language, the languages heard, each speaker's.
    let s = valid_summary(&out);
    assert_eq!(s["language"]["code"], "en");
    let heard: Vec<(&str, f64)> = s["language"]["heard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["code"].as_str().unwrap(), h["speech_s"].as_f64().unwrap()))
        .collect();
    assert_eq!(heard, [("en", 27.5), ("fr", 14.5)]);
    let languages = |name: &str| -> Vec<String> {
        let p = s["speakers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no speaker {name}"));
        serde_json::from_value(p["languages"].clone()).unwrap()
    };
    assert_eq!(languages("Chair"), ["en"]);
    assert_eq!(languages("France"), ["fr"]);
    assert_eq!(languages("Kenya"), ["en", "fr"], "most speech first");
    // A French quote carries its English.
    let claims = s["positions"].as_array().unwrap();
    let claim = claims
        .iter()
        .find(|c| c["evidence"]["segment"] == 2)
        .expect("segment 2 is a claim");
    assert_eq!(claim["label"], "opposition");
    assert_eq!(claim["evidence"]["quote"], FRENCH[0].0);
    assert_eq!(claim["evidence"]["translation"], FRENCH[0].1);
    let english = claims
        .iter()
        .find(|c| c["evidence"]["segment"] == 1)
        .unwrap();
    assert!(english["evidence"].get("translation").is_none());

    // report.md and report.html: languages in the header and the speakers table, the English
    // under the French.
    let md = read(out.join("report.md"));
    assert!(md.contains("languages heard: en 66 %, fr 34 %"), "{md}");
    assert!(md.contains("| Speaker | Languages |"), "{md}");
    assert!(md.contains("| Kenya | en, fr |"), "{md}");
    assert!(
        md.contains(&format!("*English: \"{}\"*", FRENCH[1].1)),
        "{md}"
    );
    let html = read(out.join("report.html"));
    assert!(html.contains("languages heard: en 66&nbsp;%, fr 34&nbsp;%"));
    assert!(html.contains(">Languages</th>") && html.contains("<td>en, fr</td>"));
    for (french, english) in FRENCH {
        let french = french.replace('\'', "&#39;");
        let under = format!(
            "<span class=\"tx\" lang=\"fr\">{french}<span class=\"tr\" lang=\"en\">\
             <span class=\"trl\">English</span> {english}</span></span>"
        );
        assert!(html.contains(&under), "no transcript line {under}");
    }
    // France's latest stance on paragraph 3 (Brazil's amendment to it), quoted in French with
    // its English under it.
    assert!(html.contains(&format!(
        "<q lang=\"fr\">{}</q>",
        FRENCH[1].0.replace('\'', "&#39;")
    )));
    assert!(html.contains(&format!(
        "</a><span class=\"tr\" lang=\"en\"><span class=\"trl\">English</span> {}</span></li>",
        FRENCH[1].1
    )));

    // Rebuilt from the transcript.json it wrote: the same languages.
    let again = dir.path().join("again");
    analyze(
        &out.join("transcript.json"),
        &again,
        &["--format", "summary"],
    );
    let s2 = valid_summary(&again);
    assert_eq!(s2["language"], s["language"]);
    assert_eq!(s2["speakers"], s["speakers"]);
}

#[test]
fn a_language_warning_is_shown_prominently() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = json(fixture(SESSION));
    let warning = "the model tiny.en is English-only, and 35 % of the speech sounds like fr";
    t["language"]["warning"] = warning.into();
    let input = dir.path().join("transcript.json");
    std::fs::write(&input, serde_json::to_string_pretty(&t).unwrap()).unwrap();
    let out = dir.path().join("out");
    analyze(
        &input,
        &out,
        &["--format", "summary,md,html", "--no-positions"],
    );
    assert_eq!(valid_summary(&out)["language"]["warning"], warning);
    assert!(read(out.join("report.md")).contains(&format!("\n> **Warning:** {warning}\n")));
    let html = read(out.join("report.html"));
    let at = html
        .find(&format!("<strong>Language warning:</strong> {warning}"))
        .expect("the warning in report.html");
    assert!(
        at < html.find("<main>").unwrap(),
        "the warning is in the header, above everything else"
    );
}

#[test]
fn tag_reads_the_english_and_keeps_language_and_translation() {
    let o = rapporteur()
        .arg("tag")
        .arg(fixture(SESSION))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    let france = &lines[2];
    assert_eq!(france["text"], FRENCH[0].0);
    assert_eq!(france["translation"], FRENCH[0].1);
    assert_eq!(france["language"], "fr");
    assert_eq!(france["position"]["label"], "opposition", "{france}");
    assert_eq!(lines[3]["position"]["target"]["key"], "amendment by brazil");
    assert_eq!(lines[1]["language"], "en");
    assert!(lines[1].get("translation").is_none());

    // The same French without its English names no Brazilian amendment: the target above
    // came from the translation.
    let o = rapporteur()
        .arg("tag")
        .arg("--from")
        .arg("jsonl")
        .write_stdin(format!("{{\"text\": \"{}\"}}\n", FRENCH[1].0))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(
        line["position"]["target"]["key"], "amendment by brazil",
        "{line}"
    );
}

#[test]
fn subtitles_and_text_read_back_keep_their_translations() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &fixture(SESSION),
        &out,
        &["--format", "srt,vtt,txt", "--no-positions"],
    );
    for file in ["transcript.srt", "transcript.vtt", "transcript.txt"] {
        let back = dir.path().join(file.replace('.', "-"));
        analyze(
            &out.join(file),
            &back,
            &["--format", "json", "--no-positions"],
        );
        let t = json(back.join("transcript.json"));
        let segments = t["segments"].as_array().unwrap();
        assert_eq!(
            segments.len(),
            7,
            "{file}: the English lines are no utterances"
        );
        let translations: Vec<&str> = segments
            .iter()
            .filter_map(|s| s["translation"].as_str())
            .collect();
        assert_eq!(
            translations,
            FRENCH.map(|(_, e)| e),
            "{file}: translations read back"
        );
        assert_eq!(segments[2]["text"], FRENCH[0].0, "{file}");
        assert_eq!(segments[2]["speaker"], "France", "{file}");
    }
}

#[test]
fn whisperx_language_goes_to_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("whisperx.json");
    std::fs::write(
        &input,
        r#"{"segments": [
            {"start": 0.0, "end": 3.0, "text": " La France soutient le paragraphe 3.", "speaker": "SPEAKER_00"},
            {"start": 3.5, "end": 5.0, "text": " Merci.", "speaker": "SPEAKER_01"}],
           "language": "fr"}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    analyze(
        &input,
        &out,
        &["--format", "json,summary", "--no-positions"],
    );
    let t = json(out.join("transcript.json"));
    for s in t["segments"].as_array().unwrap() {
        assert_eq!(s["language"], "fr", "{s}");
    }
    assert_eq!(t["language"]["code"], "fr");
    let s = valid_summary(&out);
    assert_eq!(s["language"]["code"], "fr");
    assert_eq!(s["language"]["heard"][0]["code"], "fr");
    assert_eq!(s["speakers"][0]["languages"], serde_json::json!(["fr"]));
}
