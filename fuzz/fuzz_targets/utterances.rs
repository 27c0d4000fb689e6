//! The transcript parsers behind `tag` and `analyze`: plain lines, JSON Lines, SRT, WebVTT,
//! WhisperX JSON and transcript.json, chosen by the first byte or guessed from the content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapporteur::utterances::{detect, read, InputFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let (name, format) = match pick % 8 {
        0 => ("x.txt", InputFormat::Lines),
        1 => ("x.jsonl", InputFormat::Jsonl),
        2 => ("x.srt", InputFormat::Srt),
        3 => ("x.vtt", InputFormat::Vtt),
        4 => ("transcript.json", InputFormat::Transcript),
        5 => ("x.json", InputFormat::Whisperx),
        6 => ("x", detect("x", text)),
        _ => ("x.vtt", detect("x.vtt", text)),
    };
    let _ = read(name, text, format);
});
