//! When a recording counts as done. Its outputs are staged in a hidden folder and moved into
//! place in one rename; the last file written into the stage is `.done.json`, which records
//! the input's sha256, the fingerprint of the program, models and options, and the size and
//! sha256 of every output. A folder without a marker that matches all of these is not done
//! and is redone. Leftovers of a killed run (stages, folders moved aside, temporary files)
//! all start with `.rapporteur-` and are swept away before a run starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RecordingResult;
use crate::error::{io_cause, Error, Result};
use crate::fsutil;

pub const DONE_MARKER: &str = ".done.json";
pub const DONE_SCHEMA: &str = "rapporteur.batch-done/1";

/// The marker: proof that a folder holds one complete result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneMarker {
    pub schema: String,
    pub key: String,
    pub input: PathBuf,
    pub input_sha256: String,
    /// Size and modification time of the input when it was hashed: a resumed run that finds
    /// the same trusts `input_sha256` instead of reading the whole recording again.
    pub input_stamp: Option<String>,
    pub fingerprint: String,
    pub program: String,
    pub finished: String,
    pub files: Vec<FileSum>,
    pub result: RecordingResult,
    /// The renames `rapporteur relabel` made in this folder since it was finished
    /// (`S1 = "Diane"`), oldest first. A relabelled folder is still a finished one: relabel
    /// sums its files again, so `--resume` keeps it; a redo gives the names again to their
    /// voices and says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelled: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSum {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The output folder of a recording, relative to OUT: its key without the recording's
/// extension, then the first 10 hex digits of its sha256 (`2024/plenary-3fa9c2e01b`), so that
/// recordings never share a folder and a replaced recording never overwrites the old result.
/// Characters some file systems refuse become `_`, and a leading dot (hidden, and the prefix
/// of this program's temporary names) becomes `_.`.
pub fn output_folder(key: &str, sha256: &str) -> String {
    let mut parts: Vec<String> = key.split('/').map(safe_part).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = match last.rsplit_once('.') {
        Some((stem, _))
            if !stem.is_empty() && crate::audio::is_recording_name(Path::new(&last)) =>
        {
            stem.to_string()
        }
        _ => last,
    };
    parts.push(format!("{stem}-{}", &sha256[..10.min(sha256.len())]));
    parts.join("/")
}

fn safe_part(part: &str) -> String {
    let cleaned: String = part
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_end_matches([' ', '.']).to_string();
    if cleaned.is_empty() {
        "_".into()
    } else if cleaned.starts_with('.') {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

/// A file's size and modification time, to tell whether it may have changed since.
pub fn stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{} bytes, modified {}.{:09}",
        meta.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
}

/// Write the marker into a complete stage: sums every file already there.
pub fn seal(stage: &Path, mut marker: DoneMarker) -> Result<()> {
    marker.files = sums(stage)?;
    write(stage, &marker)
}

fn write(dir: &Path, marker: &DoneMarker) -> Result<()> {
    let json = serde_json::to_vec_pretty(marker).expect("the marker serialises");
    fsutil::write_atomic(&dir.join(DONE_MARKER), &json)
}

/// After `relabel` rewrote the files of a finished folder: if it has a done marker, sum its
/// files again and record the renames, so that the folder stays done for `--resume`. Returns
/// whether there was a marker. A folder whose marker does not match its files before the
/// relabel (edited by hand, or half-written) is left as it is: resume redoes it.
pub fn note_relabel(dir: &Path, before: &[FileSum], renames: &[String]) -> Result<bool> {
    let path = dir.join(DONE_MARKER);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let Ok(mut marker) = serde_json::from_str::<DoneMarker>(&text) else {
        return Ok(false);
    };
    if marker.files != before {
        return Ok(false);
    }
    marker.files = sums(dir)?;
    marker.relabelled.extend(renames.iter().cloned());
    write(dir, &marker)?;
    Ok(true)
}

/// The renames recorded in `dir`'s marker, whatever else it says (for a folder about to be
/// redone).
pub fn renames_in(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(DONE_MARKER))
        .ok()
        .and_then(|t| serde_json::from_str::<DoneMarker>(&t).ok())
        .map(|m| m.relabelled)
        .unwrap_or_default()
}

/// Size and sha256 of every file of a result folder but the marker, by name.
pub fn sums(stage: &Path) -> Result<Vec<FileSum>> {
    let mut files = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(stage)
        .map_err(|e| Error::output(stage, io_cause(&e)))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != DONE_MARKER)
        .collect();
    names.sort();
    for name in names {
        let path = stage.join(&name);
        let bytes = std::fs::metadata(&path)
            .map_err(|e| Error::output(&path, io_cause(&e)))?
            .len();
        let sha256 = fsutil::sha256_file(&path).map_err(|e| Error::output(&path, io_cause(&e)))?;
        files.push(FileSum {
            name,
            bytes,
            sha256,
        });
    }
    Ok(files)
}

/// The marker of `dir` if it holds a complete result of this input (by sha256) made with
/// this fingerprint; otherwise why it does not.
pub fn check(
    dir: &Path,
    input_sha256: &str,
    fingerprint: &str,
) -> std::result::Result<DoneMarker, String> {
    let path = dir.join(DONE_MARKER);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(if dir.exists() {
                "its folder has no done marker".into()
            } else {
                "not done yet".into()
            })
        }
        Err(e) => return Err(format!("cannot read its done marker: {}", io_cause(&e))),
    };
    let marker: DoneMarker =
        serde_json::from_str(&text).map_err(|e| format!("its done marker is damaged ({e})"))?;
    if marker.schema != DONE_SCHEMA {
        return Err(format!(
            "its done marker is of another kind ({})",
            marker.schema
        ));
    }
    if marker.input_sha256 != input_sha256 {
        return Err("the recording changed since".into());
    }
    if marker.fingerprint != fingerprint {
        return Err("made with other models, options or program version".into());
    }
    for f in &marker.files {
        let p = dir.join(&f.name);
        let bytes = std::fs::metadata(&p).map(|m| m.len()).ok();
        if bytes != Some(f.bytes) {
            return Err(format!("{} is missing or changed", f.name));
        }
        if fsutil::sha256_file(&p).ok().as_deref() != Some(f.sha256.as_str()) {
            return Err(format!("{} changed", f.name));
        }
    }
    Ok(marker)
}

/// Remove what killed runs left under `dir` (recursively, not inside finished results):
/// entries named `.rapporteur-*`, restoring a result that was moved aside
/// (`.rapporteur-old-<pid>-<name>`) when nothing took its place. With `only`, touch just the
/// leftovers of those output folders (other shards may be writing beside them). Returns
/// what it did, one line each.
pub fn sweep(dir: &Path, only: Option<&[PathBuf]>) -> Vec<String> {
    let mut done = Vec::new();
    match only {
        Some(folders) => {
            let mut parents: Vec<&Path> = folders.iter().filter_map(|f| f.parent()).collect();
            parents.sort();
            parents.dedup();
            for parent in parents {
                let names: Vec<String> = folders
                    .iter()
                    .filter(|f| f.parent() == Some(parent))
                    .filter_map(|f| f.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect();
                sweep_dir(parent, Some(&names), false, &mut done);
            }
        }
        None => sweep_dir(dir, None, true, &mut done),
    }
    done
}

fn sweep_dir(dir: &Path, names: Option<&[String]>, recurse: bool, done: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(rest) = name.strip_prefix(".rapporteur-") {
            let target = leftover_target(rest);
            if let Some(names) = names {
                if !target.as_ref().is_some_and(|t| names.contains(t)) {
                    continue;
                }
            }
            let restorable = rest.starts_with("old-") && path.join(DONE_MARKER).exists();
            if let Some(t) = target.filter(|t| restorable && !dir.join(t).exists()) {
                if std::fs::rename(&path, dir.join(&t)).is_ok() {
                    done.push(format!(
                        "restored {} (moved aside by a killed run)",
                        dir.join(&t).display()
                    ));
                    continue;
                }
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_ok() {
                done.push(format!("removed {} (left by a killed run)", path.display()));
            }
        } else if recurse
            && path.is_dir()
            && !path.join(DONE_MARKER).exists()
            && !name.starts_with('.')
        {
            sweep_dir(&path, None, true, done);
        }
    }
}

/// The output folder a leftover belongs to: `stage-<name>-XXXXXX` or `old-<pid>-<name>`.
fn leftover_target(rest: &str) -> Option<String> {
    if let Some(s) = rest.strip_prefix("stage-") {
        // tempfile appends 6 random characters after the prefix's final dash.
        let cut = s.len().checked_sub(7)?;
        return (s.as_bytes().get(cut) == Some(&b'-')).then(|| s[..cut].to_string());
    }
    let s = rest.strip_prefix("old-")?;
    let (pid, name) = s.split_once('-')?;
    (pid.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_safe_and_distinct() {
        let sha = "3fa9c2e01b99887766";
        assert_eq!(
            output_folder("2024/plenary.wav", sha),
            "2024/plenary-3fa9c2e01b"
        );
        assert_eq!(output_folder("day2", sha), "day2-3fa9c2e01b");
        assert_eq!(output_folder("s.v1", sha), "s.v1-3fa9c2e01b");
        assert_eq!(output_folder("a:b/.x/c?.mp3", sha), "a_b/_.x/c_-3fa9c2e01b");
        assert_ne!(
            output_folder("a.wav", "11111111110"),
            output_folder("a.mp3", "2222222222")
        );
    }

    #[test]
    fn leftovers_are_attributed_to_their_folder() {
        assert_eq!(
            leftover_target("stage-plenary-3fa9c2e01b-Ab12Cd").as_deref(),
            Some("plenary-3fa9c2e01b")
        );
        assert_eq!(
            leftover_target("old-4242-plenary-3fa9c2e01b").as_deref(),
            Some("plenary-3fa9c2e01b")
        );
        assert_eq!(leftover_target("Xy12.tmp"), None);
    }

    #[test]
    fn sweep_restores_results_moved_aside_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        std::fs::create_dir_all(out.join("sub/.rapporteur-stage-a-1-x1y2z3")).unwrap();
        std::fs::create_dir_all(out.join("sub/.rapporteur-old-77-b-2")).unwrap();
        std::fs::write(
            out.join("sub/.rapporteur-old-77-b-2").join(DONE_MARKER),
            "{}",
        )
        .unwrap();
        std::fs::write(out.join(".rapporteur-Qw12.tmp"), "partial").unwrap();
        std::fs::create_dir_all(out.join("done-1")).unwrap();
        std::fs::write(out.join("done-1").join(DONE_MARKER), "{}").unwrap();
        std::fs::write(out.join("done-1/transcript.json"), "{}").unwrap();
        let log = sweep(out, None);
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(out.join("sub/b-2").join(DONE_MARKER).exists());
        assert!(!out.join("sub/.rapporteur-stage-a-1-x1y2z3").exists());
        assert!(!out.join(".rapporteur-Qw12.tmp").exists());
        assert!(out.join("done-1/transcript.json").exists());

        // A shard touches only its own folders' leftovers.
        std::fs::create_dir_all(out.join("sub/.rapporteur-stage-mine-1-aaaaaa")).unwrap();
        std::fs::create_dir_all(out.join("sub/.rapporteur-stage-theirs-1-bbbbbb")).unwrap();
        let log = sweep(out, Some(&[out.join("sub/mine-1")]));
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(out.join("sub/.rapporteur-stage-theirs-1-bbbbbb").exists());
    }
}
