//! Model files a user may hand over by path: a GGML Whisper file (checked before whisper.cpp
//! sees it), a CTranslate2 `model.bin` (read by `models import`) and a position head
//! (safetensors). Any bytes must load or fail with an error, never panic, hang or allocate
//! beyond the file's size.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rapporteur::models::{ct2::Ct2Model, whisper_ggml};
use rapporteur::positions::Head;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            let file = tempfile::NamedTempFile::new().expect("temporary file");
            std::fs::write(file.path(), bytes).expect("write");
            let _ = whisper_ggml::check(file.path());
        }
        1 => {
            let file = tempfile::NamedTempFile::new().expect("temporary file");
            std::fs::write(file.path(), bytes).expect("write");
            let _ = Ct2Model::read(file.path());
        }
        _ => {
            let _ = Head::from_bytes(bytes, Path::new("head.safetensors"));
        }
    }
});
