//! `batch` manifests (CSV, TSV, JSON Lines): any text must parse or fail with an error naming
//! the line, and no accepted name may leave the output folder.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rapporteur::batch::sources::parse_manifest_text;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let name = ["m.csv", "m.tsv", "m.jsonl"][pick as usize % 3];
    if let Ok(rows) = parse_manifest_text(Path::new(name), text) {
        for row in rows {
            let key = Path::new(&row.key);
            assert!(!key.is_absolute(), "absolute key {:?}", row.key);
            assert!(
                key.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_))),
                "key {:?} leaves the output folder",
                row.key
            );
        }
    }
});
