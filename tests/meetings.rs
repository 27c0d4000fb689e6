//! Meetings as they are recorded: utterances far apart, several languages, statements to be
//! rendered in English. Built from the shared third-party clips, joined with quiet room noise.

mod common;

use std::path::{Path, PathBuf};

use common::{rapporteur, require_default_model, shared};
use serde_json::Value;

const SR: u32 = 16_000;

/// The 16 kHz mono samples rapporteur hears in `path`.
fn heard(path: &Path, tmp: &Path) -> Vec<i16> {
    let wav = tmp.join(format!(
        "{}.wav",
        path.file_name().unwrap().to_string_lossy()
    ));
    rapporteur()
        .args(["decode"])
        .arg(path)
        .arg("-o")
        .arg(&wav)
        .assert()
        .success();
    hound::WavReader::open(&wav)
        .unwrap()
        .samples::<i16>()
        .map(|s| s.unwrap())
        .collect()
}

/// One utterance of a synthetic meeting: where it lies and what was said.
struct Placed {
    start: f64,
    end: f64,
    words: Vec<String>,
}

/// Lower-case words, punctuation removed (apostrophes kept inside words).
fn words_of(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// `clips` (file, reference text) joined with the pauses given (seconds before each), over
/// quiet room noise (about -50 dBFS), written as a WAV file.
fn meeting(clips: &[(PathBuf, String, f64)], tmp: &Path) -> (PathBuf, Vec<Placed>) {
    let mut audio: Vec<i16> = Vec::new();
    let mut placed = Vec::new();
    for (path, text, pause) in clips {
        audio.extend(std::iter::repeat_n(0, (pause * SR as f64) as usize));
        let clip = heard(path, tmp);
        let start = audio.len() as f64 / SR as f64;
        audio.extend(&clip);
        placed.push(Placed {
            start,
            end: audio.len() as f64 / SR as f64,
            words: words_of(text),
        });
    }
    audio.extend(std::iter::repeat_n(0, 2 * SR as usize));
    // Deterministic noise: a linear congruential generator, amplitude about 100 of 32768.
    let mut state: u32 = 12345;
    for s in &mut audio {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let noise = ((state >> 16) % 200) as i32 - 100;
        *s = (*s as i32 + noise).clamp(-32768, 32767) as i16;
    }
    let path = tmp.join("meeting.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in audio {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    (path, placed)
}

fn librivox(id: &str) -> (PathBuf, String) {
    let base = format!("A_wer/pocketsphinx_librivox/sense_and_sensibility_01_austen_64kb-{id}");
    let text = std::fs::read_to_string(shared(&format!("{base}.txt"))).unwrap();
    (shared(&format!("{base}.wav")), text)
}

fn fleurs(lang: &str, n: u32) -> (PathBuf, String) {
    let base = format!("A_wer/fleurs_multi_dev/fleurs-{lang}-{n:03}");
    let text = std::fs::read_to_string(shared(&format!("{base}.txt"))).unwrap();
    (shared(&format!("{base}.ogg")), text)
}

fn run(input: &Path, out: &Path, args: &[&str]) -> Value {
    rapporteur()
        .args([
            "run",
            "-q",
            "--progress",
            "off",
            "--no-diarize",
            "--format",
            "json,srt,vtt,txt",
        ])
        .args(args)
        .arg(input)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    serde_json::from_str(&std::fs::read_to_string(out.join(stem).join("transcript.json")).unwrap())
        .unwrap()
}

/// The utterance a time span overlaps most (None when it overlaps none).
fn utterance_of(placed: &[Placed], start: f64, end: f64) -> Option<usize> {
    let overlap = |p: &Placed| end.min(p.end) - start.max(p.start);
    (0..placed.len())
        .filter(|&i| {
            let p = &placed[i];
            overlap(p) > 0.0 || (start >= p.start && end <= p.end)
        })
        .max_by(|&i, &j| overlap(&placed[i]).total_cmp(&overlap(&placed[j])))
}

/// Every segment and word lies inside the utterance it belongs to (with `slack` seconds);
/// returns the words recognised per utterance.
fn check_times(transcript: &Value, placed: &[Placed], slack: f64) -> Vec<Vec<String>> {
    let mut heard = vec![Vec::new(); placed.len()];
    for seg in transcript["segments"].as_array().unwrap() {
        let (s, e) = (seg["start"].as_f64().unwrap(), seg["end"].as_f64().unwrap());
        let i = utterance_of(placed, s, e)
            .unwrap_or_else(|| panic!("segment {s}-{e} {:?} lies in silence", seg["text"]));
        let p = &placed[i];
        assert!(
            s >= p.start - slack && e <= p.end + slack,
            "segment {s}-{e} {:?} spills out of its utterance {}-{}",
            seg["text"],
            p.start,
            p.end
        );
        for w in seg["words"].as_array().unwrap() {
            let (ws, we) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
            assert!(
                ws >= p.start - slack && we <= p.end + slack,
                "word {:?} at {ws}-{we} outside its utterance {}-{}",
                w["text"],
                p.start,
                p.end
            );
        }
        heard[i].extend(words_of(seg["text"].as_str().unwrap()));
    }
    heard
}

/// Share of the reference words found among the recognised ones.
fn recall(reference: &[String], heard: &[String]) -> f64 {
    let found = reference.iter().filter(|w| heard.contains(w)).count();
    found as f64 / reference.len().max(1) as f64
}

#[test]
fn utterances_long_pauses_apart_are_all_transcribed_at_their_time() {
    require_default_model();
    let tmp = tempfile::tempdir().unwrap();
    let jfk = shared("A_wer/jfk/jfk.wav");
    let jfk_text = "And so my fellow Americans ask not what your country can do for you ask what you can do for your country".to_string();
    let libri = shared("A_wer/lhotse_fixtures/2412-153948-0000.flac");
    let libri_text =
        std::fs::read_to_string(shared("A_wer/lhotse_fixtures/2412-153948-0000.txt")).unwrap();
    let (a, a_text) = librivox("0870");
    let (b, b_text) = librivox("0920");
    let (path, placed) = meeting(
        &[
            (a, a_text, 2.0),
            (jfk, jfk_text, 31.0),
            (b, b_text, 24.0),
            (libri, libri_text, 43.0),
        ],
        tmp.path(),
    );
    let transcript = run(&path, &tmp.path().join("out"), &[]);
    let heard = check_times(&transcript, &placed, 0.5);
    for (p, h) in placed.iter().zip(&heard) {
        let r = recall(&p.words, h);
        assert!(
            r >= 0.6,
            "utterance at {:.1}-{:.1} s lost: {:.0} % of its words heard ({h:?})",
            p.start,
            p.end,
            r * 100.0
        );
    }
}

/// Codes of the segments that belong to each utterance.
fn languages_per_utterance(transcript: &Value, placed: &[Placed]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); placed.len()];
    for seg in transcript["segments"].as_array().unwrap() {
        let (s, e) = (seg["start"].as_f64().unwrap(), seg["end"].as_f64().unwrap());
        if let Some(i) = utterance_of(placed, s, e) {
            out[i].push(
                seg["language"]
                    .as_str()
                    .expect("every segment has its language")
                    .to_string(),
            );
        }
    }
    out
}

#[test]
fn each_statement_of_a_multilingual_meeting_is_transcribed_in_its_own_language() {
    require_default_model();
    let tmp = tempfile::tempdir().unwrap();
    let (en, en_text) = librivox("0880");
    let (fr, fr_text) = fleurs("fr", 6);
    let (es, es_text) = fleurs("es", 7);
    let (de, de_text) = fleurs("de", 5);
    let (path, placed) = meeting(
        &[
            (en, en_text, 1.0),
            (fr, fr_text, 2.0),
            (es, es_text, 1.5),
            (de, de_text, 2.5),
        ],
        tmp.path(),
    );
    let transcript = run(&path, &tmp.path().join("out"), &["--model", "base"]);
    let heard = check_times(&transcript, &placed, 0.5);
    let languages = languages_per_utterance(&transcript, &placed);
    for ((p, h), (langs, want)) in placed
        .iter()
        .zip(&heard)
        .zip(languages.iter().zip(["en", "fr", "es", "de"]))
    {
        assert!(
            !langs.is_empty(),
            "the {want} utterance at {:.1} s is missing",
            p.start
        );
        assert!(
            langs.iter().all(|l| l == want),
            "the {want} utterance at {:.1} s was transcribed as {langs:?}",
            p.start
        );
        let r = recall(&p.words, h);
        assert!(
            r >= 0.5,
            "{want}: only {:.0} % of its words ({h:?})",
            r * 100.0
        );
    }
    let heard_codes: Vec<&str> = transcript["language"]["heard"]
        .as_array()
        .expect("the languages heard are listed")
        .iter()
        .map(|h| h["code"].as_str().unwrap())
        .collect();
    for want in ["en", "fr", "es", "de"] {
        assert!(
            heard_codes.contains(&want),
            "{want} missing from {heard_codes:?}"
        );
    }
}

#[test]
fn translate_gives_a_french_statement_in_english_beside_the_french() {
    require_default_model();
    let tmp = tempfile::tempdir().unwrap();
    let (fr, fr_text) = fleurs("fr", 5);
    let out = tmp.path().join("out");
    let transcript = run(&fr, &out, &["--model", "base", "--translate"]);
    let segments = transcript["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    let mut french = Vec::new();
    let mut english = String::new();
    for seg in segments {
        assert_eq!(seg["language"], "fr");
        french.extend(words_of(seg["text"].as_str().unwrap()));
        english.push_str(seg["translation"].as_str().unwrap_or(""));
        english.push(' ');
    }
    assert!(
        recall(&words_of(&fr_text), &french) >= 0.6,
        "the French text stays French: {french:?}"
    );
    let english_words = words_of(&english);
    let common = [
        "the", "of", "and", "to", "a", "his", "he", "car", "race", "after",
    ];
    let found = english_words
        .iter()
        .filter(|w| common.contains(&w.as_str()))
        .count();
    assert!(found >= 3, "the translation reads as English: {english:?}");
    // Subtitles carry the English as a second line.
    let srt = std::fs::read_to_string(out.join("fleurs-fr-005/transcript.srt")).unwrap();
    let first_translation = segments
        .iter()
        .find_map(|s| s["translation"].as_str())
        .expect("a translation");
    let first_line = first_translation
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        srt.contains(&first_line),
        "{first_line:?} not in the SRT:\n{srt}"
    );
}

#[test]
fn an_english_only_model_says_once_when_the_speech_is_not_english() {
    require_default_model();
    let tmp = tempfile::tempdir().unwrap();
    let (fr, _) = fleurs("fr", 6);
    let warning_of = |input: &Path, args: &[&str]| -> (Option<String>, String) {
        let out = tmp.path().join(input.file_stem().unwrap());
        let output = rapporteur()
            .args([
                "run",
                "--progress",
                "off",
                "--no-diarize",
                "--format",
                "json",
            ])
            .args(args)
            .arg(input)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
        let transcript: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(stem).join("transcript.json")).unwrap(),
        )
        .unwrap();
        (
            transcript["language"]["warning"]
                .as_str()
                .map(str::to_string),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (warning, stderr) = warning_of(&fr, &[]);
    let warning = warning.expect(
        "transcript.json warns that the speech is not English (the check needs base installed: ./scripts/setup tiny.en base)",
    );
    assert!(warning.contains("French (fr"), "{warning}");
    assert_eq!(
        stderr.matches("English-only model").count(),
        1,
        "said once on stderr:\n{stderr}"
    );
    // Told the recording is English, it does not second-guess the user.
    assert_eq!(warning_of(&fr, &["--language", "en"]).0, None);
    // English speech, even from a far-field meeting room, raises nothing.
    let (english, stderr) = warning_of(&shared("A_wer/jfk/jfk.wav"), &[]);
    assert_eq!(english, None, "{stderr}");
    let (room, stderr) = warning_of(&shared("B_der/ami_farfield_train/trn02.wav"), &[]);
    assert_eq!(room, None, "{stderr}");
}
