//! `rapporteur batch`: run the pipeline over folders and manifests of recordings, several at
//! once, resumably and exactly once, optionally as one shard of many.
//!
//! A run: list the sources ([`sources`]), keep this shard's recordings ([`Shard`]), lock the
//! output folder ([`lock`]), hash each recording and decide what is done already ([`plan`],
//! [`done`]), then process the rest `jobs` at a time with one shared [`Pipeline`] (models are
//! loaded once per process), rewriting the index ([`index`]) as recordings finish.

pub mod done;
pub mod index;
pub mod lock;
pub mod report;
pub mod shard;
pub mod sources;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::fsutil;
use crate::pipeline::{Pipeline, RecordingOptions, RunReport, Timings};
use crate::progress::Progress;
use crate::speakers::names::Names;
use crate::speakers::Voiceprint;

pub use done::DoneMarker;
pub use index::{IndexEntry, Status};
pub use shard::Shard;
pub use sources::{Filter, Listed};

/// What a finished recording's index line and done marker say about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingResult {
    pub duration: f64,
    pub language: String,
    pub segments: usize,
    pub words: usize,
    pub speakers: Vec<String>,
    pub notes: Vec<String>,
    pub timings: Timings,
}

impl From<&RunReport> for RecordingResult {
    fn from(r: &RunReport) -> Self {
        RecordingResult {
            duration: r.duration,
            language: r.language.clone(),
            segments: r.segments,
            words: r.words,
            speakers: r.speakers.clone(),
            notes: r.notes.clone(),
            timings: r.timings.clone(),
        }
    }
}

/// One recording of the run, as planned.
#[derive(Debug)]
pub struct Planned {
    pub listed: Listed,
    /// Where it stands; `Pending` means it is to be processed.
    pub entry: IndexEntry,
    /// Absolute output folder (None when hashing failed).
    pub folder: Option<PathBuf>,
    pub options: RecordingOptions,
    pub fingerprint: String,
    /// Why a recording with an output folder already there is processed again.
    pub redo: Option<String>,
    /// Names `relabel` gave in the folder a redo replaces (`S1 = "Diane"`): the redo gives them
    /// again to the voices they belong to.
    pub redo_loses: Vec<String>,
    /// The input's size and modification time when it was hashed.
    pub stamp: Option<String>,
}

/// Hash every recording, give it its folder, settings and fingerprint, and decide what to do:
/// a recording listed twice is skipped, one whose files cannot be read (or whose voices or
/// names file cannot) has failed, and with `resume` one with a matching done marker is kept.
pub fn plan(
    pipeline: &Pipeline,
    listed: Vec<Listed>,
    out: &Path,
    resume: bool,
    shard: Option<Shard>,
    threads: usize,
) -> Vec<Planned> {
    let known = known_hashes(out);
    let hashes = hash_all(&listed, &known, threads);
    let mut voices_cache: HashMap<PathBuf, Option<Result<Vec<Voiceprint>>>> = HashMap::new();
    let mut names_cache: HashMap<PathBuf, std::result::Result<Names, Error>> = HashMap::new();
    // The first recording of each content and settings, with its output folder (relative).
    let mut first_of: HashMap<(String, String), (String, String)> = HashMap::new();
    let mut folders: HashMap<PathBuf, String> = HashMap::new();
    let mut planned = Vec::with_capacity(listed.len());
    for (l, hash) in listed.into_iter().zip(hashes) {
        let mut entry = IndexEntry::pending(&l.key, &l.path, l.session.clone(), shard);
        let mut p = Planned {
            entry: entry.clone(),
            folder: None,
            options: RecordingOptions::default(),
            fingerprint: String::new(),
            redo: None,
            redo_loses: Vec::new(),
            stamp: done::stamp(&l.path),
            listed: l,
        };
        let l = &p.listed;
        let sha = match hash {
            Ok(sha) => sha,
            Err(e) => {
                entry.fail(&e);
                p.entry = entry;
                planned.push(p);
                continue;
            }
        };
        entry.sha256 = Some(sha.clone());
        let mut options = RecordingOptions {
            language: l.language.clone(),
            speakers: l.speakers,
            ..RecordingOptions::default()
        };
        let mut problem: Option<Error> = None;
        if let Some(dir) = &l.voices {
            match voices_cache
                .entry(dir.clone())
                .or_insert_with(|| pipeline.voices_in(dir))
            {
                Some(Ok(v)) => options.voices = Some(v.clone()),
                Some(Err(e)) => problem = Some(e.clone()),
                None => {}
            }
        }
        if let Some(file) = &l.names {
            match names_cache
                .entry(file.clone())
                .or_insert_with(|| Names::load(file))
            {
                Ok(n) => options.names = Some(n.clone()),
                Err(e) => problem = problem.or(Some(e.clone())),
            }
        }
        if let Some(e) = problem {
            entry.fail(&e);
            p.entry = entry;
            planned.push(p);
            continue;
        }
        let fingerprint = pipeline.fingerprint(&options);
        let rel = done::output_folder(&l.key, &sha);
        let folder = out.join(&rel);
        entry.output = Some(rel.clone());
        if let Some((first, first_rel)) = first_of.get(&(sha.clone(), fingerprint.clone())) {
            entry.status = Status::Skipped;
            entry.reason = Some(format!(
                "the same recording as {first:?}, with the same settings"
            ));
            entry.output = Some(first_rel.clone());
        } else if let Some(owner) = folders.get(&folder) {
            entry.fail(&Error::usage(format!(
                "{}: would share the output folder {rel} with {owner:?}; give it its own session in the manifest",
                l.path.display()
            )));
        } else {
            first_of.insert(
                (sha.clone(), fingerprint.clone()),
                (l.key.clone(), rel.clone()),
            );
            folders.insert(folder.clone(), l.key.clone());
            if folder.exists() {
                match done::check(&folder, &sha, &fingerprint) {
                    Ok(marker) if resume => {
                        entry.succeed(rel, &marker.result, marker.finished.clone());
                        entry.resumed = true;
                    }
                    Ok(marker) => {
                        p.redo = Some("done earlier, redone without --resume".into());
                        p.redo_loses = marker.relabelled;
                    }
                    Err(why) => {
                        p.redo = Some(why);
                        p.redo_loses = done::renames_in(&folder);
                    }
                }
            }
        }
        p.entry = entry;
        p.folder = Some(folder);
        p.options = options;
        p.fingerprint = fingerprint;
        planned.push(p);
    }
    planned
}

/// The sha256 earlier runs into `out` found for recordings that have not changed since (same
/// path, size and modification time, as their done markers record), by key. Read from every
/// index in `out` (the whole run's and the shards'), so that resuming does not read the whole
/// archive again.
fn known_hashes(out: &Path) -> HashMap<String, (PathBuf, String)> {
    let mut known = HashMap::new();
    let Ok(entries) = std::fs::read_dir(out) else {
        return known;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("index") && name.ends_with(".jsonl")) {
            continue;
        }
        for e in index::read(&entry.path()).unwrap_or_default() {
            let Some(folder) = e.output.as_ref().filter(|_| e.status == Status::Ok) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(out.join(folder).join(done::DONE_MARKER)) else {
                continue;
            };
            if let Ok(m) = serde_json::from_str::<DoneMarker>(&text) {
                let unchanged = m.input == e.input
                    && m.input_stamp.is_some()
                    && m.input_stamp == done::stamp(&e.input);
                if unchanged {
                    known.insert(e.key.clone(), (m.input, m.input_sha256));
                }
            }
        }
    }
    known
}

/// sha256 of every listed recording, `threads` files at a time; those `known` unchanged are
/// not read again.
fn hash_all(
    listed: &[Listed],
    known: &HashMap<String, (PathBuf, String)>,
    threads: usize,
) -> Vec<Result<String>> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<String>>> = (0..listed.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads.clamp(1, listed.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(l) = listed.get(i) else { break };
                let r = match known.get(&l.key) {
                    Some((input, sha)) if *input == absolute(&l.path) => Ok(sha.clone()),
                    _ => hash_recording(&l.path),
                };
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            results[i] = Some(r);
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every file hashed"))
        .collect()
}

fn hash_recording(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let dangling = e.kind() == std::io::ErrorKind::NotFound
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if dangling {
            Error::input(path, "a link to a file that does not exist (dangling link)")
        } else {
            Error::input(path, crate::error::io_cause(&e))
        }
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a folder, not a recording"));
    }
    fsutil::sha256_file(path).map_err(|e| Error::input(path, crate::error::io_cause(&e)))
}

/// Exit code of a batch (or merge) that ended with some recordings failed or not finished:
/// everything else is done, and the index says which and why. Distinct from the codes of a
/// batch that could not start (2 usage, 3 unreadable manifest, 4 output locked, 5 model), so
/// that a scheduler can tell "finished with casualties" from "did nothing".
pub const EXIT_INCOMPLETE: i32 = 6;

/// How the batch runs.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub out: PathBuf,
    pub shard: Option<Shard>,
    /// Recordings processed at once.
    pub jobs: usize,
}

/// What `execute` did.
#[derive(Debug)]
pub struct Outcome {
    pub entries: Vec<IndexEntry>,
    pub index: PathBuf,
    pub wall_s: f64,
}

/// Process every pending recording of `plan`, `jobs` at a time, rewriting the index as they
/// finish (at most once a second, and at the end). `on_finish` is called on the calling
/// thread for each recording this run finishes, in the order they finish.
pub fn execute(
    pipeline: &Pipeline,
    plan: &[Planned],
    settings: &RunSettings,
    progress: &Progress,
    on_finish: &mut dyn FnMut(&IndexEntry),
) -> Result<Outcome> {
    let started = Instant::now();
    let index_path = index::index_path(&settings.out, settings.shard);
    let mut entries: Vec<IndexEntry> = plan.iter().map(|p| p.entry.clone()).collect();
    index::write(&index_path, &entries)?;
    let todo: Vec<usize> = (0..plan.len())
        .filter(|&i| plan[i].entry.status == Status::Pending)
        .collect();
    let next = AtomicUsize::new(0);
    let mut last_write = Instant::now();
    let mut write_error: Option<Error> = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Result<RunReport>)>();
        for _ in 0..settings.jobs.clamp(1, todo.len().max(1)) {
            let tx = tx.clone();
            let (next, todo) = (&next, &todo);
            scope.spawn(move || loop {
                if crate::interrupt::is_set() {
                    break;
                }
                let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let result = process_one(pipeline, &plan[i], progress);
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            let entry = &mut entries[i];
            match result {
                Ok(report) => {
                    let rel = entry.output.clone().unwrap_or_default();
                    entry.succeed(rel, &RecordingResult::from(&report), utc_now());
                }
                // Left pending: nothing of it was written, and a resumed run takes it up.
                Err(e) if e.kind == ErrorKind::Interrupted => continue,
                Err(e) => entry.fail(&e),
            }
            on_finish(entry);
            if last_write.elapsed().as_secs_f64() >= 1.0 {
                if let Err(e) = index::write(&index_path, &entries) {
                    write_error.get_or_insert(e);
                }
                last_write = Instant::now();
            }
        }
    });
    index::write(&index_path, &entries)?;
    if let Some(e) = write_error {
        return Err(e);
    }
    Ok(Outcome {
        entries,
        index: index_path,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Process one recording into its folder, sealing it with its done marker. A panic inside
/// the pipeline fails this recording, not the batch.
fn process_one(pipeline: &Pipeline, p: &Planned, progress: &Progress) -> Result<RunReport> {
    let folder = p.folder.as_ref().expect("pending recordings have a folder");
    let seal = |stage: &Path, report: &RunReport| {
        done::seal(
            stage,
            DoneMarker {
                schema: done::DONE_SCHEMA.into(),
                key: p.listed.key.clone(),
                input: absolute(&p.listed.path),
                input_sha256: report.sha256.clone(),
                input_stamp: p.stamp.clone(),
                fingerprint: p.fingerprint.clone(),
                program: format!("rapporteur {}", env!("CARGO_PKG_VERSION")),
                finished: utc_now(),
                files: Vec::new(),
                result: RecordingResult::from(report),
                relabelled: Vec::new(),
            },
        )
    };
    let run = || pipeline.process_as(&p.listed.path, folder, progress, &p.options, Some(&seal));
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Err(Error::new(
                ErrorKind::Internal,
                Some(&p.listed.path),
                format!("internal error while processing: {what}"),
            ))
        }
    }
}

/// `p` made absolute (without resolving links), so that it means the same from any folder.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// 0 when every recording is done or skipped, else [`EXIT_INCOMPLETE`].
pub fn exit_code<'a>(entries: impl IntoIterator<Item = &'a IndexEntry>) -> i32 {
    let incomplete = entries
        .into_iter()
        .any(|e| matches!(e.status, Status::Failed | Status::Pending));
    if incomplete {
        EXIT_INCOMPLETE
    } else {
        0
    }
}

/// The current time in UTC, RFC 3339 to the second (`2026-11-22T12:34:56Z`).
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_350_896), "2026-11-22T12:34:56Z");
    }
}
