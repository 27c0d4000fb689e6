//! The decoder's entry point: any bytes, under any of the extensions it is told about, must
//! decode or fail with an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapporteur::audio::{decode_file, DecodeOptions};

const EXTENSIONS: [&str; 8] = ["wav", "mp3", "flac", "ogg", "opus", "m4a", "webm", "bin"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let file = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile()
        .expect("temporary file");
    std::fs::write(file.path(), bytes).expect("write");
    // A limit keeps a tiny file that claims hours of audio from taking the fuzzer's time.
    let opts = DecodeOptions {
        max_duration: Some(120.0),
    };
    let _ = decode_file(file.path(), &opts);
});
