//! `OUT/index.jsonl`: one line per recording of the run, in key order, rewritten atomically as
//! recordings finish, so that it always lists every recording with where it stands. A shard
//! writes `OUT/index.shard-K-of-N.jsonl`; `merge` joins the shards' indexes once all ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{lock, RecordingResult, Shard};
use crate::error::{io_cause, Error, ErrorKind, Result};
use crate::fsutil;
use crate::pipeline::Timings;

pub const INDEX_SCHEMA: &str = "rapporteur.batch-index/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its output folder is complete (made by this run, or an earlier one with `resumed`).
    Ok,
    /// It could not be processed; `error` says why.
    Failed,
    /// Not processed on purpose; `reason` says why (the same recording is listed twice).
    Skipped,
    /// Not finished: the run is still going, or was interrupted or killed.
    Pending,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Pending => "pending",
        }
    }
}

/// One line of the index. Every field is always present (null when it does not apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub schema: String,
    /// The recording's name in the batch: its path under the folder scanned, or its
    /// manifest `session` (or path).
    pub key: String,
    pub input: PathBuf,
    pub session: Option<String>,
    pub status: Status,
    /// Its complete output was made by an earlier run and kept (`--resume`).
    pub resumed: bool,
    /// Why it failed: one line naming the file and the cause.
    pub error: Option<String>,
    /// The exit code this failure alone would give.
    pub exit_code: Option<i32>,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// Output folder, relative to OUT (`/`-separated).
    pub output: Option<String>,
    pub sha256: Option<String>,
    /// Seconds of audio.
    pub duration: Option<f64>,
    pub language: Option<String>,
    pub segments: Option<usize>,
    pub words: Option<usize>,
    pub speakers: Option<Vec<String>>,
    pub notes: Vec<String>,
    pub timings: Option<Timings>,
    /// When it ended (UTC, RFC 3339).
    pub finished: Option<String>,
    /// `K/N` for a shard's run.
    pub shard: Option<String>,
}

impl IndexEntry {
    pub fn pending(
        key: &str,
        input: &Path,
        session: Option<String>,
        shard: Option<Shard>,
    ) -> IndexEntry {
        IndexEntry {
            schema: INDEX_SCHEMA.into(),
            key: key.into(),
            input: super::absolute(input),
            session,
            status: Status::Pending,
            resumed: false,
            error: None,
            exit_code: None,
            reason: None,
            output: None,
            sha256: None,
            duration: None,
            language: None,
            segments: None,
            words: None,
            speakers: None,
            notes: Vec::new(),
            timings: None,
            finished: None,
            shard: shard.map(|s| s.to_string()),
        }
    }

    pub fn fail(&mut self, e: &Error) {
        self.status = Status::Failed;
        self.output = None;
        self.error = Some(e.to_string());
        self.exit_code = Some(e.kind.exit_code());
        self.finished = Some(super::utc_now());
    }

    pub fn succeed(&mut self, output: String, r: &RecordingResult, finished: String) {
        self.status = Status::Ok;
        self.error = None;
        self.exit_code = None;
        self.output = Some(output);
        self.duration = Some(r.duration);
        self.language = Some(r.language.clone());
        self.segments = Some(r.segments);
        self.words = Some(r.words);
        self.speakers = Some(r.speakers.clone());
        self.notes = r.notes.clone();
        self.timings = Some(r.timings.clone());
        self.finished = Some(finished);
    }
}

/// The index file of a run: `index.jsonl`, or `index.shard-K-of-N.jsonl` for a shard.
pub fn index_path(out: &Path, shard: Option<Shard>) -> PathBuf {
    match shard {
        Some(s) => out.join(format!("index.{}.jsonl", s.file_tag())),
        None => out.join("index.jsonl"),
    }
}

pub fn write(path: &Path, entries: &[IndexEntry]) -> Result<()> {
    let mut text = String::new();
    for e in entries {
        text.push_str(&serde_json::to_string(e).expect("index entries serialise"));
        text.push('\n');
    }
    fsutil::write_atomic(path, text.as_bytes())
}

pub fn read(path: &Path) -> Result<Vec<IndexEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, io_cause(&e)))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::input(path, format!("line {}: not an index line: {e}", i + 1)))
        })
        .collect()
}

/// What `merge` found.
#[derive(Debug)]
pub struct Merged {
    pub path: PathBuf,
    pub shards: u32,
    pub entries: Vec<IndexEntry>,
}

/// Join `OUT/index.shard-K-of-N.jsonl` for K = 1..N into `OUT/index.jsonl` (or `to`). Refuses
/// while any batch is writing into OUT, when a shard's index is missing, when shards of
/// different N are mixed, or when a recording appears in two shards.
pub fn merge(out: &Path, to: Option<&Path>) -> Result<Merged> {
    if !out.is_dir() {
        return Err(Error::input(out, "no such output folder"));
    }
    // Held while merging: no shard may still be writing.
    let _lock = lock::lock(out, None).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            Some(out),
            format!("{}; merge once every shard has ended", e.cause),
        )
    })?;
    let mut found: BTreeMap<u32, BTreeMap<u32, PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(out)
        .map_err(|e| Error::input(out, io_cause(&e)))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(tag) = name
            .strip_prefix("index.shard-")
            .and_then(|r| r.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let Some((k, n)) = tag.split_once("-of-") else {
            continue;
        };
        if let (Ok(k), Ok(n)) = (k.parse::<u32>(), n.parse::<u32>()) {
            found.entry(n).or_default().insert(k, entry.path());
        }
    }
    let usage = |cause: String| Error::new(ErrorKind::Usage, Some(out), cause);
    let (n, shards) = match found.len() {
        0 => {
            return Err(usage(
                "no shard indexes here (index.shard-K-of-N.jsonl)".into(),
            ))
        }
        1 => found.into_iter().next().expect("one"),
        _ => {
            let ns: Vec<String> = found.keys().map(|n| n.to_string()).collect();
            return Err(usage(format!(
                "indexes of runs split into different numbers of shards ({}); remove the stale ones",
                ns.join(" and ")
            )));
        }
    };
    let missing: Vec<String> = (1..=n)
        .filter(|k| !shards.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "no index from shard {} (not run yet, or stopped before starting)",
            missing.join(", ")
        )));
    }
    let mut by_key: BTreeMap<String, IndexEntry> = BTreeMap::new();
    for (k, path) in &shards {
        for e in read(path)? {
            if e.shard.as_deref() != Some(format!("{k}/{n}").as_str()) {
                return Err(Error::input(
                    path,
                    format!("line for {:?} is not from shard {k}/{n}", e.key),
                ));
            }
            if let Some(first) = by_key.get(&e.key) {
                return Err(Error::input(
                    path,
                    format!(
                        "{:?} is also in shard {}: were the shards given different sources?",
                        e.key,
                        first.shard.as_deref().unwrap_or("?")
                    ),
                ));
            }
            by_key.insert(e.key.clone(), e);
        }
    }
    let entries: Vec<IndexEntry> = by_key.into_values().collect();
    let path = to.map_or_else(|| index_path(out, None), Path::to_path_buf);
    write(&path, &entries)?;
    Ok(Merged {
        path,
        shards: n,
        entries,
    })
}
