//! Reading utterances from transcripts made elsewhere (verbatim records, subtitles, WhisperX
//! JSON, our own transcript.json), for commands that work on text without audio.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::transcript::{round_ms, share_span, Transcript, Word};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Guess from the file name, then from the content.
    Auto,
    /// One utterance per non-empty line, optionally `Speaker: text`.
    Lines,
    /// One JSON object per line with a "text" field, optionally "speaker", "start" and "end"
    /// (or "duration"); other fields are kept.
    Jsonl,
    Srt,
    Vtt,
    /// A transcript.json written by `rapporteur run`.
    Transcript,
    /// WhisperX's JSON output: "segments" with "start", "end", "text", and optionally
    /// "speaker" and "words" (each with "word", and "start", "end", "score", "speaker" when
    /// aligned).
    Whisperx,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Utterance {
    pub text: String,
    pub speaker: Option<String>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// Fields of a JSONL input line other than "text", kept as they were.
    pub extra: Map<String, Value>,
    /// The words with their times, when the input has them (WhisperX).
    pub words: Vec<Word>,
    /// ISO 639-1 code of the language the utterance is in, when the input says (a
    /// transcript.json segment's `language`, WhisperX's, a JSONL `language` field).
    pub language: Option<String>,
    /// Its English rendering, when the input has one: a transcript.json segment's
    /// `translation`, a JSONL `translation` field, or the `[en] ` line(s) rapporteur writes
    /// under a cue of SRT and WebVTT or a line of transcript.txt.
    pub translation: Option<String>,
}

impl Utterance {
    /// What the position tagger reads: the translation when there is one, else the text.
    pub fn english_text(&self) -> &str {
        crate::transcript::english_text(&self.text, self.translation.as_deref())
    }
}

/// What starts the English rendering of a line in the subtitles and text rapporteur writes.
pub const TRANSLATION_MARK: &str = "[en]";

/// The English rendering a line carries, when it starts with [`TRANSLATION_MARK`] and a space.
fn translation_line(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix(TRANSLATION_MARK)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// `text` with words joined by single spaces; None when it has none.
fn non_empty(text: &str) -> Option<String> {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Guess the format: by extension first, then by the first non-blank characters.
pub fn detect(name: &str, text: &str) -> InputFormat {
    let lower = name.to_lowercase();
    for (ext, f) in [
        (".srt", InputFormat::Srt),
        (".vtt", InputFormat::Vtt),
        (".jsonl", InputFormat::Jsonl),
        (".ndjson", InputFormat::Jsonl),
        (".json", InputFormat::Transcript),
    ] {
        if lower.ends_with(ext) {
            return if f == InputFormat::Transcript && is_whisperx(text) {
                InputFormat::Whisperx
            } else {
                f
            };
        }
    }
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("WEBVTT") {
        InputFormat::Vtt
    } else if head.starts_with('{') && is_whisperx(head) {
        // Before JSONL: WhisperX writes its JSON on one line.
        InputFormat::Whisperx
    } else if head.starts_with('{') {
        // A transcript.json is one object over many lines; JSONL has one per line.
        match head.lines().next() {
            Some(l) if serde_json::from_str::<Value>(l).is_ok() => InputFormat::Jsonl,
            _ => InputFormat::Transcript,
        }
    } else if timing_re().is_match(head.lines().take(3).collect::<Vec<_>>().join("\n").as_str()) {
        InputFormat::Srt
    } else {
        InputFormat::Lines
    }
}

/// WhisperX JSON: one object with a "segments" list of objects with "text" (the reader checks
/// the rest, to name what is wrong), and no rapporteur "schema".
fn is_whisperx(text: &str) -> bool {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}'))
    else {
        return false;
    };
    !o.contains_key("schema")
        && o.get("segments")
            .and_then(Value::as_array)
            .is_some_and(|segs| {
                segs.first()
                    .is_none_or(|s| s.get("text").is_some_and(Value::is_string))
            })
}

fn timing_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?m)^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
            .expect("timing pattern")
    })
}

fn speaker_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // "Brazil: ...", "H.E. Ms. Okafor (Nigeria): ...", "[Chair] ..." — a short name, then text.
    R.get_or_init(|| {
        Regex::new(r"^(?:\[(?P<b>[^\]]{1,60})\]|(?P<n>[\p{Lu}][\p{L}\p{N} .,'()&/-]{0,59}?)):\s*(?P<t>\S.*)$")
            .expect("speaker pattern")
    })
}

fn split_speaker(line: &str) -> (Option<String>, String) {
    match speaker_re().captures(line.trim()) {
        Some(c) => {
            let name = c
                .name("b")
                .or(c.name("n"))
                .map(|m| m.as_str().trim().to_string());
            (name, c["t"].trim().to_string())
        }
        None => (None, line.trim().to_string()),
    }
}

fn seconds(stamp: &str) -> Option<f64> {
    let stamp = stamp.replace(',', ".");
    let mut total = 0.0;
    for part in stamp.split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

/// Parse `text` (the content of `name`) as `format`. Errors name the line and the cause.
pub fn read(name: &str, text: &str, format: InputFormat) -> Result<Vec<Utterance>, String> {
    let text = text.trim_start_matches('\u{feff}');
    let format = match format {
        InputFormat::Auto => detect(name, text),
        f => f,
    };
    match format {
        InputFormat::Auto | InputFormat::Lines => Ok(read_lines(text)),
        InputFormat::Jsonl => read_jsonl(text),
        InputFormat::Srt | InputFormat::Vtt => read_cues(text, format == InputFormat::Vtt),
        InputFormat::Whisperx => read_whisperx(text),
        InputFormat::Transcript => {
            let t: Transcript =
                serde_json::from_str(text).map_err(|e| format!("not a transcript.json: {e}"))?;
            Ok(t.segments
                .into_iter()
                .filter(|s| !s.text.trim().is_empty())
                .map(|s| Utterance {
                    text: s.text.trim().to_string(),
                    speaker: s.speaker,
                    start: Some(s.start),
                    end: Some(s.end),
                    extra: Map::from_iter([("segment".to_string(), Value::from(s.id))]),
                    words: Vec::new(),
                    language: s.language,
                    translation: s.translation.as_deref().and_then(non_empty),
                })
                .collect())
        }
    }
}

/// One utterance per non-empty line, `Speaker: text` understood. An indented line starting
/// with `[en] ` under an utterance (as transcript.txt writes it) is that utterance's English
/// rendering, not an utterance of its own.
fn read_lines(text: &str) -> Vec<Utterance> {
    let mut out: Vec<Utterance> = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        if let (Some(english), Some(last)) = (translation_line(l), out.last_mut()) {
            if l.starts_with(char::is_whitespace) {
                let joined = match last.translation.take() {
                    Some(before) => format!("{before} {english}"),
                    None => english.to_string(),
                };
                last.translation = non_empty(&joined);
                continue;
            }
        }
        let (speaker, text) = split_speaker(l);
        out.push(Utterance {
            text,
            speaker,
            ..Default::default()
        });
    }
    out
}

fn read_jsonl(text: &str) -> Result<Vec<Utterance>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |why: &str| format!("line {}: {why}", i + 1);
        let mut obj = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Err(at("not a JSON object")),
            Err(e) => return Err(at(&format!("not JSON ({e})"))),
        };
        let text = match obj.remove("text") {
            Some(Value::String(s)) => s,
            _ => return Err(at("no \"text\" string")),
        };
        let speaker = obj.get("speaker").and_then(Value::as_str).map(String::from);
        let start = obj.get("start").and_then(Value::as_f64);
        // Lhotse supervisions and similar give a duration instead of an end.
        let end = obj
            .get("end")
            .and_then(Value::as_f64)
            .or_else(|| Some(start? + obj.get("duration").and_then(Value::as_f64)?));
        obj.remove("position");
        // Kept among the other fields too, so that `tag` writes them back where they were.
        let language = obj
            .get("language")
            .and_then(Value::as_str)
            .map(String::from);
        let translation = obj
            .get("translation")
            .and_then(Value::as_str)
            .and_then(non_empty);
        out.push(Utterance {
            text,
            speaker,
            start,
            end,
            extra: obj,
            words: Vec::new(),
            language,
            translation,
        });
    }
    Ok(out)
}

fn vtt_voice_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"<v(?:\.[\w.-]+)?\s+([^>]+)>").expect("voice pattern"))
}

fn tag_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"</?[^>]*>").expect("tag pattern"))
}

/// SRT and WebVTT cues: a timing line, then text lines until a blank line. VTT voice tags and
/// SRT `Name: ` prefixes give the speaker; lines from one starting with `[en] ` on are the
/// cue's English rendering.
fn read_cues(text: &str, vtt: bool) -> Result<Vec<Utterance>, String> {
    let lines: Vec<&str> = text.lines().collect();
    if vtt
        && !lines
            .first()
            .is_some_and(|l| l.trim_start().starts_with("WEBVTT"))
    {
        return Err("line 1: a WebVTT file starts with WEBVTT".into());
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if vtt
            && (line.starts_with("NOTE") || line.starts_with("STYLE") || line.starts_with("REGION"))
        {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        let Some(c) = timing_re().captures(line) else {
            i += 1;
            continue;
        };
        let (start, end) = match (seconds(&c[1]), seconds(&c[2])) {
            (Some(a), Some(b)) if b >= a => (a, b),
            _ => return Err(format!("line {}: bad cue timing {line:?}", i + 1)),
        };
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            body.push(lines[i].trim());
            i += 1;
        }
        let joined = body.join(" ");
        let voice = vtt_voice_re()
            .captures(&joined)
            .map(|c| c[1].trim().to_string());
        let plain = |line: &str| {
            tag_re()
                .replace_all(line, "")
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&nbsp;", " ")
        };
        let plain_lines: Vec<String> = body.iter().map(|l| plain(l)).collect();
        let english_from = plain_lines
            .iter()
            .position(|l| translation_line(l).is_some())
            .unwrap_or(plain_lines.len());
        let spoken = plain_lines[..english_from].join(" ");
        let translation = plain_lines.get(english_from..).and_then(|rest| {
            let first = translation_line(rest.first()?)?;
            non_empty(&format!("{first} {}", rest[1..].join(" ")))
        });
        let (speaker, text) = match voice {
            Some(v) => (Some(v), spoken.trim().to_string()),
            None => split_speaker(&spoken),
        };
        if !text.is_empty() {
            out.push(Utterance {
                text,
                speaker,
                start: Some(start),
                end: Some(end),
                extra: Map::new(),
                words: Vec::new(),
                language: None,
                translation,
            });
        }
    }
    Ok(out)
}

/// WhisperX JSON: each segment with text is an utterance, with its speaker and its words.
/// Words WhisperX could not align (numbers, symbols) have no times: they get a share of the
/// time between their timed neighbours by their characters.
fn read_whisperx(text: &str) -> Result<Vec<Utterance>, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let segments = root
        .get("segments")
        .and_then(Value::as_array)
        .ok_or("not WhisperX JSON: no \"segments\" list")?;
    // WhisperX writes the language it transcribed in at the top; a segment may give its own.
    let language_of = |o: &Map<String, Value>| {
        o.get("language")
            .and_then(Value::as_str)
            .map(|c| c.trim().to_lowercase())
            .filter(|c| !c.is_empty())
    };
    let language = root.as_object().and_then(language_of);
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let at = |why: &str| format!("segments[{i}]: {why}");
        let seg = seg.as_object().ok_or_else(|| at("not a JSON object"))?;
        let text = seg
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| at("no \"text\" string"))?
            .trim();
        let time = |key: &str| {
            seg.get(key)
                .and_then(Value::as_f64)
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| at(&format!("no \"{key}\" time in seconds")))
        };
        let (start, end) = (time("start")?, time("end")?);
        if end < start {
            return Err(at(&format!("ends ({end}) before it starts ({start})")));
        }
        let words = match seg.get("words") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(words)) => {
                whisperx_words(words, start, end).map_err(|e| format!("segments[{i}]{e}"))?
            }
            Some(_) => return Err(at("\"words\" is not a list")),
        };
        if text.is_empty() {
            continue;
        }
        out.push(Utterance {
            text: text.to_string(),
            speaker: seg.get("speaker").and_then(Value::as_str).map(String::from),
            start: Some(start),
            end: Some(end),
            extra: Map::from_iter([("segment".to_string(), Value::from(i))]),
            words,
            language: language_of(seg).or_else(|| language.clone()),
            translation: None,
        });
    }
    Ok(out)
}

/// The words of a WhisperX segment from `start` to `end`, each timed (see [`read_whisperx`]).
fn whisperx_words(words: &[Value], start: f64, end: f64) -> Result<Vec<Word>, String> {
    let mut out: Vec<Word> = Vec::new();
    // Indices of `out` whose times are still to be found.
    let mut untimed: Vec<usize> = Vec::new();
    for (j, w) in words.iter().enumerate() {
        let text = w
            .get("word")
            .and_then(Value::as_str)
            .ok_or_else(|| format!(".words[{j}]: no \"word\" string"))?
            .trim();
        if text.is_empty() {
            continue;
        }
        let time = |key: &str| {
            w.get(key)
                .and_then(Value::as_f64)
                .filter(|t| t.is_finite())
                .map(|t| t.clamp(start, end))
        };
        let times = match (time("start"), time("end")) {
            (Some(s), Some(e)) => Some((s, e.max(s))),
            _ => None,
        };
        out.push(Word {
            start: times.map_or(0.0, |t| t.0),
            end: times.map_or(0.0, |t| t.1),
            text: text.to_string(),
            probability: w.get("score").and_then(Value::as_f64).unwrap_or(0.0) as f32,
            speaker: w.get("speaker").and_then(Value::as_str).map(String::from),
        });
        if times.is_none() {
            untimed.push(out.len() - 1);
        }
    }
    // Each run of untimed words shares the time between the words around it.
    let mut k = 0;
    while k < untimed.len() {
        let first = untimed[k];
        let mut last = first;
        while k + 1 < untimed.len() && untimed[k + 1] == last + 1 {
            k += 1;
            last += 1;
        }
        let from = if first == 0 {
            start
        } else {
            out[first - 1].end
        };
        let to = out.get(last + 1).map_or(end, |w| w.start).max(from);
        let chars: Vec<f64> = out[first..=last]
            .iter()
            .map(|w| w.text.chars().count().max(1) as f64)
            .collect();
        // Whole milliseconds, as the times of a transcript are.
        for (w, (s, e)) in out[first..=last]
            .iter_mut()
            .zip(share_span(from, to, &chars))
        {
            w.start = round_ms(s);
            w.end = round_ms(e);
        }
        k += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_and_without_speakers() {
        let u = read(
            "x.txt",
            "Brazil: We support OP 3.\n\nthe text is fine\nH.E. Ms. Okafor (Nigeria): No.\n",
            InputFormat::Auto,
        )
        .unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].speaker.as_deref(), Some("Brazil"));
        assert_eq!(u[0].text, "We support OP 3.");
        assert_eq!(u[1].speaker, None);
        assert_eq!(u[2].speaker.as_deref(), Some("H.E. Ms. Okafor (Nigeria)"));
    }

    #[test]
    fn srt_and_vtt_cues() {
        let srt = "1\n00:00:01,000 --> 00:00:04,500\nFrance: We cannot accept\nparagraph 4.\n\n2\n00:00:05,000 --> 00:00:06,000\nThank you.\n";
        let u = read("a.srt", srt, InputFormat::Auto).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].speaker.as_deref(), Some("France"));
        assert_eq!(u[0].text, "We cannot accept paragraph 4.");
        assert_eq!((u[0].start, u[0].end), (Some(1.0), Some(4.5)));
        let vtt = "WEBVTT\n\nNOTE made by hand\n\n00:01.000 --> 00:02.000\n<v Kenya>We support it.</v>\n\ncue-2\n01:00:02.000 --> 01:00:03.000\n<i>Point of order</i>\n";
        let u = read("a.vtt", vtt, InputFormat::Auto).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].speaker.as_deref(), Some("Kenya"));
        assert_eq!(u[0].text, "We support it.");
        assert_eq!(u[1].start, Some(3602.0));
        assert_eq!(u[1].text, "Point of order");
        assert!(read(
            "b.srt",
            "1\n00:00:05,000 --> 00:00:01,000\nx\n",
            InputFormat::Auto
        )
        .is_err());
    }

    #[test]
    fn jsonl_keeps_other_fields_and_names_bad_lines() {
        let u = read(
            "a.jsonl",
            "{\"id\": 7, \"text\": \"We object.\", \"speaker\": \"Chile\"}\n",
            InputFormat::Auto,
        )
        .unwrap();
        assert_eq!(u[0].extra["id"], 7);
        assert_eq!(u[0].speaker.as_deref(), Some("Chile"));
        let err = read("a.jsonl", "{\"text\": \"ok\"}\n[1]\n", InputFormat::Auto).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        // Lhotse-style supervisions: a duration instead of an end.
        let u = read(
            "sups.jsonl",
            "{\"text\": \"YEAH\", \"start\": 2.5, \"duration\": 0.5}\n",
            InputFormat::Auto,
        )
        .unwrap();
        assert_eq!((u[0].start, u[0].end), (Some(2.5), Some(3.0)));
    }

    #[test]
    fn whisperx_json_with_speakers_and_unaligned_words() {
        let json = r#"{"segments": [{"start": 0.5, "end": 3.0, "text": " We support 2 options.", "speaker": "SPEAKER_00",
            "words": [{"word": "We", "start": 0.5, "end": 0.7, "score": 0.9, "speaker": "SPEAKER_00"},
                      {"word": "support", "start": 0.8, "end": 1.2, "score": 0.8},
                      {"word": "2"},
                      {"word": "options.", "start": 2.0, "end": 3.0, "score": 0.7}]},
            {"start": 4.0, "end": 5.0, "text": " Objection."}], "language": "en"}"#;
        for name in ["whisperx.json", "out", "<stdin>"] {
            assert_eq!(detect(name, json), InputFormat::Whisperx, "{name}");
        }
        let one_line = json.replace('\n', " ");
        assert_eq!(detect("x", &one_line), InputFormat::Whisperx);
        let u = read("a.json", json, InputFormat::Auto).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].text, "We support 2 options.");
        assert_eq!(u[0].speaker.as_deref(), Some("SPEAKER_00"));
        assert_eq!((u[0].start, u[0].end), (Some(0.5), Some(3.0)));
        assert_eq!(u[0].words.len(), 4);
        // "2" fills the gap between "support" and "options.".
        assert_eq!((u[0].words[2].start, u[0].words[2].end), (1.2, 2.0));
        assert_eq!(u[1].speaker, None);
        assert!(u[1].words.is_empty());
        // Our own transcript.json is not taken for WhisperX.
        let ours = r#"{"schema": "rapporteur.transcript/1", "segments": [{"start": 0, "end": 1, "text": "x"}]}"#;
        assert_eq!(detect("transcript.json", ours), InputFormat::Transcript);
        // Bad input names the segment and the cause.
        let err = read(
            "a.json",
            r#"{"segments": [{"start": 0, "end": 1, "text": "a"}, {"end": 2, "text": "b"}]}"#,
            InputFormat::Whisperx,
        )
        .unwrap_err();
        assert_eq!(err, "segments[1]: no \"start\" time in seconds");
        assert!(read("a.json", "[1, 2]", InputFormat::Whisperx).is_err());
    }

    #[test]
    fn translations_and_languages_are_read_back() {
        // As rapporteur writes them: under the text of a cue or line, starting with [en].
        let srt = "1\n00:00:01,000 --> 00:00:04,000\nFrance: La France ne peut pas\naccepter cet amendement.\n[en] France cannot accept\nthis amendment.\n\n2\n00:00:05,000 --> 00:00:06,000\nChair: Thank you.\n";
        let u = read("a.srt", srt, InputFormat::Auto).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].speaker.as_deref(), Some("France"));
        assert_eq!(u[0].text, "La France ne peut pas accepter cet amendement.");
        assert_eq!(
            u[0].translation.as_deref(),
            Some("France cannot accept this amendment.")
        );
        assert_eq!(u[0].english_text(), "France cannot accept this amendment.");
        assert_eq!(
            (u[1].translation.as_deref(), u[1].english_text()),
            (None, "Thank you.")
        );
        let vtt = "WEBVTT\n\n00:01.000 --> 00:04.000\n<v France>La France &amp; moi.\n<lang en>[en] France &amp; me.</lang>\n";
        let u = read("a.vtt", vtt, InputFormat::Auto).unwrap();
        assert_eq!(u[0].speaker.as_deref(), Some("France"));
        assert_eq!(u[0].text, "La France & moi.");
        assert_eq!(u[0].translation.as_deref(), Some("France & me."));
        let txt = "France: La France ne peut pas accepter cet amendement.\n  [en] France cannot accept this amendment.\nChair: Thank you.\n";
        let u = read("a.txt", txt, InputFormat::Auto).unwrap();
        assert_eq!(u.len(), 2, "the English line is no utterance of its own");
        assert_eq!(
            u[0].translation.as_deref(),
            Some("France cannot accept this amendment.")
        );
        assert_eq!(u[1].speaker.as_deref(), Some("Chair"));
        // JSONL fields, kept among the others too.
        let u = read(
            "a.jsonl",
            "{\"text\": \"Non.\", \"language\": \"fr\", \"translation\": \"No.\"}\n",
            InputFormat::Auto,
        )
        .unwrap();
        assert_eq!(
            (u[0].language.as_deref(), u[0].english_text()),
            (Some("fr"), "No.")
        );
        assert_eq!(u[0].extra["translation"], "No.");
        // WhisperX: the top-level language, unless a segment says its own.
        let wx = r#"{"segments": [{"start": 0, "end": 1, "text": "Bonjour."},
            {"start": 1, "end": 2, "text": "Hello.", "language": "EN"}], "language": "fr"}"#;
        let u = read("wx.json", wx, InputFormat::Auto).unwrap();
        assert_eq!(u[0].language.as_deref(), Some("fr"));
        assert_eq!(u[1].language.as_deref(), Some("en"));
        // transcript.json: both fields of a segment.
        let mut t = crate::output::fixture::transcript();
        t.segments[0].language = Some("fr".into());
        t.segments[0].translation = Some("We support paragraph 3.".into());
        let u = read(
            "transcript.json",
            &serde_json::to_string(&t).unwrap(),
            InputFormat::Auto,
        )
        .unwrap();
        assert_eq!(u[0].language.as_deref(), Some("fr"));
        assert_eq!(u[0].translation.as_deref(), Some("We support paragraph 3."));
        assert_eq!(u[1].translation, None);
    }
}
