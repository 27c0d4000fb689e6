//! `rapporteur batch`: a mixed archive with broken recordings, kill -9 and resume, shards run
//! at once, the output lock, and manifests.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{leftovers, rapporteur, require_default_model, root};
use rapporteur::batch::{DoneMarker, IndexEntry, Status};
use serde_json::Value;

/// The sample session decoded once: 16 kHz mono.
fn sample() -> &'static [f32] {
    static SAMPLES: OnceLock<Vec<f32>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let path = root().join("samples/negotiation.opus");
        rapporteur::audio::decode_file(&path, &Default::default())
            .expect("the sample decodes")
            .samples
    })
}

/// A distinct recording: `len` seconds of the sample from `start`, as a 16-bit WAV.
fn clip(path: &Path, start: f64, len: f64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let s = sample();
    let a = (start * 16_000.0) as usize;
    let b = ((start + len) * 16_000.0) as usize;
    for &x in &s[a..b.min(s.len())] {
        w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

fn read_index(path: &Path) -> Vec<IndexEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("an index line"))
        .collect()
}

fn by_key(entries: &[IndexEntry]) -> BTreeMap<String, IndexEntry> {
    entries.iter().map(|e| (e.key.clone(), e.clone())).collect()
}

/// The done marker of `folder`, after checking that every file it lists is there with its
/// size and sha256, and that transcript.json parses.
fn verified(folder: &Path) -> DoneMarker {
    let text = std::fs::read_to_string(folder.join(".done.json"))
        .unwrap_or_else(|e| panic!("{}: no done marker: {e}", folder.display()));
    let marker: DoneMarker = serde_json::from_str(&text).unwrap();
    assert!(!marker.files.is_empty());
    for f in &marker.files {
        let p = folder.join(&f.name);
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            f.bytes,
            "{}",
            p.display()
        );
        assert_eq!(
            rapporteur::fsutil::sha256_file(&p).unwrap(),
            f.sha256,
            "{}",
            p.display()
        );
    }
    if marker.files.iter().any(|f| f.name == "transcript.json") {
        let t: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("transcript.json")).unwrap())
                .unwrap();
        assert!(t["segments"].is_array());
    }
    marker
}

/// Output folders below `out` (those holding a done marker), relative.
fn result_folders(out: &Path) -> BTreeSet<String> {
    common::tree(out)
        .into_iter()
        .filter_map(|f| f.strip_suffix("/.done.json").map(str::to_string))
        .collect()
}

/// `rapporteur batch SOURCE -o OUT`, to which a test adds its options.
fn batch(source: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = rapporteur();
    cmd.arg("batch").arg(source).arg("-o").arg(out);
    cmd
}

/// Quick settings for tests that are about the batch, not about the transcript.
const QUICK: [&str; 4] = ["--format", "json,txt", "--no-diarize", "--no-positions"];

#[test]
fn a_mixed_archive_is_processed_once_and_the_broken_are_reported() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    clip(&archive.join("opening.wav"), 0.0, 14.0);
    clip(&archive.join("day 2/france.wav"), 14.0, 12.0);
    clip(&archive.join("day 2/kenya.wav"), 26.0, 15.0);
    std::fs::copy(
        archive.join("opening.wav"),
        archive.join("day 2/opening copy.wav"),
    )
    .unwrap();
    std::fs::write(archive.join("broken.mp3"), "this is not audio\n").unwrap();
    std::fs::write(archive.join("empty.wav"), "").unwrap();
    let opus = std::fs::read(root().join("samples/negotiation.opus")).unwrap();
    std::fs::write(archive.join("day 2/truncated.opus"), &opus[..20_000]).unwrap();
    std::fs::write(archive.join("notes.txt"), "not a recording").unwrap();
    let out = dir.path().join("out");

    let run = batch(&archive, &out)
        .args(["--jobs", "2", "--threads-per-job", "1", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Finished, with casualties: exit 6.
    assert_eq!(run.status.code(), Some(6), "{stderr}");
    for (file, cause) in [
        ("broken.mp3", "is not audio"),
        ("empty.wav", "is empty"),
        ("truncated.opus", "truncated"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains("failed") && l.contains(file))
            .unwrap_or_else(|| panic!("no failure line for {file}:\n{stderr}"));
        assert!(line.contains(cause), "{line}");
    }
    assert!(stderr.contains("ok                 3"), "{stderr}");
    assert!(stderr.contains("failed             3"), "{stderr}");
    assert!(stderr.contains("skipped            1"), "{stderr}");

    let index = by_key(&read_index(&out.join("index.jsonl")));
    let keys: Vec<&str> = index.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "broken.mp3",
            "day 2/france.wav",
            "day 2/kenya.wav",
            "day 2/opening copy.wav",
            "day 2/truncated.opus",
            "empty.wav",
            "opening.wav"
        ]
    );
    // --json printed the same lines: the skipped one first, then each as it finished.
    let printed: Vec<IndexEntry> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 7);
    for e in &printed {
        assert_eq!(&index[&e.key], e);
    }
    let ok: Vec<&IndexEntry> = index.values().filter(|e| e.status == Status::Ok).collect();
    assert_eq!(ok.len(), 3);
    for e in &ok {
        let folder = out.join(e.output.as_ref().unwrap());
        let marker = verified(&folder);
        assert_eq!(Some(&marker.input_sha256), e.sha256.as_ref());
        assert!(e.duration.unwrap() > 10.0 && e.timings.is_some() && e.finished.is_some());
        assert!(e.input.is_absolute());
        // The default formats, reports included.
        for f in [
            "transcript.json",
            "summary.json",
            "report.html",
            "speakers.rttm",
        ] {
            assert!(folder.join(f).exists(), "{}", folder.join(f).display());
        }
    }
    assert_eq!(
        result_folders(&out),
        [
            index["day 2/france.wav"].output.clone().unwrap(),
            index["day 2/kenya.wav"].output.clone().unwrap(),
            index["day 2/opening copy.wav"].output.clone().unwrap()
        ]
        .into_iter()
        .collect()
    );
    assert!(index["day 2/france.wav"]
        .output
        .as_ref()
        .unwrap()
        .starts_with("day 2/france-"));
    // The copy is the same recording: processed once, the other copy points at its result.
    let copy = &index["opening.wav"];
    assert_eq!(copy.status, Status::Skipped);
    assert!(copy
        .reason
        .as_ref()
        .unwrap()
        .contains("same recording as \"day 2/opening copy.wav\""));
    assert_eq!(copy.output, index["day 2/opening copy.wav"].output);
    for bad in ["broken.mp3", "empty.wav", "day 2/truncated.opus"] {
        let e = &index[bad];
        assert_eq!(e.status, Status::Failed, "{bad}");
        assert_eq!(e.exit_code, Some(3));
        assert!(e
            .error
            .as_ref()
            .unwrap()
            .contains(bad.rsplit('/').next().unwrap()));
        assert!(e.output.is_none());
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));

    // Resumed: the complete results are kept untouched, only the failures are tried again.
    let markers: Vec<String> = ok
        .iter()
        .map(|e| {
            std::fs::read_to_string(out.join(e.output.as_ref().unwrap()).join(".done.json"))
                .unwrap()
        })
        .collect();
    let again = batch(&archive, &out).args(["--resume"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("(3 kept from an earlier run)"), "{stderr}");
    assert_eq!(stderr.matches("] failed").count(), 3, "{stderr}");
    assert!(!stderr.contains("] ok"), "{stderr}");
    for (e, before) in ok.iter().zip(&markers) {
        let now = std::fs::read_to_string(out.join(e.output.as_ref().unwrap()).join(".done.json"))
            .unwrap();
        assert_eq!(&now, before, "{} was redone", e.key);
    }
    let resumed = by_key(&read_index(&out.join("index.jsonl")));
    assert!(resumed["opening.wav"].status == Status::Skipped);
    assert!(resumed
        .values()
        .filter(|e| e.status == Status::Ok)
        .all(|e| e.resumed));

    // Other options make other results: a dry run says they would be redone, and writes nothing.
    let before = common::tree(&out);
    let dry = batch(&archive, &out)
        .args(["--resume"])
        .args(["--dry-run", "--beam-size", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert!(dry.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("made with other models, options or program version")
            .count(),
        3,
        "{stderr}"
    );
    assert_eq!(common::tree(&out), before);
}

#[test]
fn kill_9_then_resume_leaves_exactly_one_complete_output_each() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let names: Vec<String> = (0..6).map(|i| format!("part{i}.wav")).collect();
    for (i, name) in names.iter().enumerate() {
        clip(&archive.join(name), i as f64 * 9.0, 9.0);
    }
    let out = dir.path().join("out");
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    let mut child = std::process::Command::new(&bin)
        .args([
            "batch",
            archive.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "1", "--threads-per-job", "1", "-q"])
        .args(QUICK)
        .env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once two recordings are done, while it works on the third.
    let started = Instant::now();
    loop {
        if result_folders(&out).len() >= 2 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the batch made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is cleaned up.
    child.wait().unwrap();
    let done_before: BTreeMap<String, String> = result_folders(&out)
        .into_iter()
        .map(|f| {
            let m = std::fs::read_to_string(out.join(&f).join(".done.json")).unwrap();
            (f, m)
        })
        .collect();
    assert!(
        done_before.len() >= 2 && done_before.len() < names.len(),
        "{done_before:?}"
    );
    let index = read_index(&out.join("index.jsonl"));
    assert_eq!(
        index.len(),
        names.len(),
        "the index lists every recording from the start"
    );
    assert!(index.iter().any(|e| e.status == Status::Pending));
    // What a kill mid-write leaves behind: a stage and a result moved aside, as the pipeline
    // names them. Resume must clear the one and put the other back.
    let pending = index.iter().find(|e| e.status == Status::Pending).unwrap();
    let folder = pending.output.clone().unwrap();
    std::fs::create_dir_all(out.join(format!(".rapporteur-stage-{folder}-Ab3dEf"))).unwrap();
    std::fs::write(
        out.join(format!(".rapporteur-stage-{folder}-Ab3dEf/transcript.json")),
        "{\"half",
    )
    .unwrap();
    std::fs::write(out.join(".rapporteur-Xy12Zw.tmp"), "{\"schema\"").unwrap();

    let resumed = batch(&archive, &out)
        .args(["--resume"])
        .args(["--jobs", "2", "--threads-per-job", "1"])
        .args(QUICK)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(
        stderr.contains("removed") && stderr.contains("left by a killed run"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("({} kept from an earlier run)", done_before.len())),
        "{stderr}"
    );

    let index = by_key(&read_index(&out.join("index.jsonl")));
    assert_eq!(index.len(), names.len());
    let folders = result_folders(&out);
    assert_eq!(
        folders.len(),
        names.len(),
        "exactly one output per recording: {folders:?}"
    );
    for name in &names {
        let e = &index[name];
        assert_eq!(e.status, Status::Ok, "{name}");
        let f = e.output.clone().unwrap();
        assert!(folders.contains(&f));
        let marker = verified(&out.join(&f));
        assert_eq!(marker.key, *name);
        assert_eq!(e.resumed, done_before.contains_key(&f), "{name}");
        if let Some(before) = done_before.get(&f) {
            let now = std::fs::read_to_string(out.join(&f).join(".done.json")).unwrap();
            assert_eq!(&now, before, "{name} was redone although complete");
        }
    }
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn shards_run_at_once_cover_the_archive_exactly_once() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let mut keys = BTreeSet::new();
    for i in 0..7 {
        let key = if i % 2 == 0 {
            format!("a/rec{i}.wav")
        } else {
            format!("rec{i}.wav")
        };
        clip(&archive.join(&key), i as f64 * 7.0, 6.0);
        keys.insert(key);
    }
    // One broken recording: its shard finishes with exit 6, and so does the merge.
    std::fs::write(archive.join("a/broken.wav"), "").unwrap();
    keys.insert("a/broken.wav".to_string());
    let out = dir.path().join("out");
    let bin = assert_cmd::cargo::cargo_bin("rapporteur");
    let n = 3;
    // Merging before any shard ran names what is missing.
    std::fs::create_dir_all(&out).unwrap();
    let early = rapporteur()
        .args(["batch", "merge-index", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("no shard indexes"));

    let children: Vec<std::process::Child> = (1..=n)
        .map(|k| {
            std::process::Command::new(&bin)
                .args([
                    "batch",
                    archive.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                ])
                .args([
                    "--shard",
                    &format!("{k}/{n}"),
                    "--jobs",
                    "1",
                    "--threads-per-job",
                    "1",
                    "-q",
                ])
                .args(QUICK)
                .env("RAPPORTEUR_VOICES", root().join("target/test-no-voices"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut from_shards: Vec<String> = Vec::new();
    for (k, child) in (1..=n).zip(children) {
        let result = child.wait_with_output().unwrap();
        let shard_index = read_index(&out.join(format!("index.shard-{k}-of-{n}.jsonl")));
        let has_broken = shard_index.iter().any(|e| e.key == "a/broken.wav");
        assert_eq!(
            result.status.code(),
            Some(if has_broken { 6 } else { 0 }),
            "shard {k}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        for e in &shard_index {
            assert_eq!(e.shard.as_deref(), Some(format!("{k}/{n}").as_str()));
            let want = if e.key == "a/broken.wav" {
                Status::Failed
            } else {
                Status::Ok
            };
            assert_eq!(e.status, want, "{}", e.key);
        }
        from_shards.extend(shard_index.into_iter().map(|e| e.key));
    }
    let union: BTreeSet<String> = from_shards.iter().cloned().collect();
    assert_eq!(
        from_shards.len(),
        union.len(),
        "a recording was taken by two shards"
    );
    assert_eq!(union, keys, "the shards together are the whole archive");
    assert_eq!(result_folders(&out).len(), keys.len() - 1);

    let merged = rapporteur()
        .args(["batch", "merge-index", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert_eq!(merged.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("8 recordings: 7 ok, 1 failed"), "{stderr}");
    assert!(
        stderr.contains("failed: ") && stderr.contains("broken.wav: is empty"),
        "{stderr}"
    );
    let index = read_index(&out.join("index.jsonl"));
    assert_eq!(
        index.iter().map(|e| e.key.clone()).collect::<BTreeSet<_>>(),
        keys
    );
    assert_eq!(index.len(), keys.len());

    // A plain dry run over the same output agrees that everything but the broken one is done.
    let dry = batch(&archive, &out)
        .args(["--resume", "--dry-run"])
        .args(QUICK)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert!(stderr.contains("1 to process, 7 done earlier"), "{stderr}");
}

#[test]
fn a_second_writer_is_refused_while_the_output_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("a.wav"), "").unwrap();
    let out = dir.path().join("out");
    let held = rapporteur::batch::lock::lock(&out, None).unwrap();
    for extra in [&[][..], &["--shard", "1/2"][..]] {
        let r = batch(&archive, &out).args(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.contains("another `rapporteur batch` is writing here"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let merge = rapporteur()
        .args(["batch", "merge-index", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(merge.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&merge.stderr).contains("merge once every shard has ended"));
    drop(held);
}

#[test]
fn manifests_name_outputs_and_carry_settings_per_recording() {
    require_default_model();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recordings");
    clip(&rec.join("one.wav"), 0.0, 14.0);
    clip(&rec.join("two.wav"), 14.0, 12.0);
    std::fs::write(dir.path().join("names.toml"), "S1 = \"France\"\n").unwrap();
    let manifest = dir.path().join("sessions.csv");
    std::fs::write(
        &manifest,
        "path,session,language,speakers,names\n\
         recordings/one.wav,geneva/2024-03-01 plenary,en,1,names.toml\n\
         recordings/two.wav,,,,\n\
         recordings/missing.wav,gone,,,\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    // A dry run writes nothing at all, not even the output folder.
    let dry = batch(&manifest, &out).args(["--dry-run"]).output().unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(!out.exists());

    let r = batch(&manifest, &out)
        .args(["--format", "json", "--no-positions"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(6), "{stderr}");
    let index = by_key(&read_index(&out.join("index.jsonl")));
    let plenary = &index["geneva/2024-03-01 plenary"];
    assert_eq!(plenary.status, Status::Ok);
    assert_eq!(
        plenary.session.as_deref(),
        Some("geneva/2024-03-01 plenary")
    );
    assert!(plenary
        .output
        .as_ref()
        .unwrap()
        .starts_with("geneva/2024-03-01 plenary-"));
    assert_eq!(
        plenary.speakers.as_deref(),
        Some(&["France".to_string()][..])
    );
    let t: Value = serde_json::from_str(
        &std::fs::read_to_string(
            out.join(plenary.output.as_ref().unwrap())
                .join("transcript.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(t["language"]["code"], "en");
    assert_eq!(t["diarization"]["speakers"][0]["label"], "France");
    assert_eq!(index["recordings/two.wav"].status, Status::Ok);
    let gone = &index["gone"];
    assert_eq!(gone.status, Status::Failed);
    assert!(
        gone.error.as_ref().unwrap().contains("missing.wav"),
        "{gone:?}"
    );

    // Names from a manifest never leave the output folder.
    for (text, want) in [
        (
            "path\n../x.wav\n",
            "line 2: path \"../x.wav\": climbs out with `..`",
        ),
        (
            "path,session\nrecordings/one.wav,/etc/x\n",
            "line 2: session \"/etc/x\": is absolute",
        ),
        (
            "path,speaker\nrecordings/one.wav,2\n",
            "unknown column `speaker`",
        ),
    ] {
        std::fs::write(&manifest, text).unwrap();
        let r = batch(&manifest, &out).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("sessions.csv") && stderr.contains(want),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn usage_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.path().join("out");
    let cases: [(&[&str], i32, &str); 4] = [
        (&["--shard", "0/3"], 2, "is not a shard"),
        (&["--jobs", "0"], 2, "at least 1"),
        (&[], 3, "no recordings found"),
        (&["--include", "a[b"], 2, "--include \"a[b\""),
    ];
    for (extra, code, want) in cases {
        let r = batch(&empty, &out).args(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(code), "{extra:?}: {stderr}");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
    }
    assert!(!out.exists());
}
