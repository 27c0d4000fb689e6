//! One writer per output folder. A whole-archive run holds `OUT/.lock` exclusively; each shard
//! holds it shared (shards write disjoint recordings) plus its own `OUT/.lock.shard-K-of-N`
//! exclusively. The kernel drops the locks when the process ends, however it ends, so a
//! killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Shard;
use crate::error::{io_cause, Error, Result};

pub const LOCK_FILE: &str = ".lock";

/// Held for as long as the batch writes into OUT.
#[derive(Debug)]
pub struct OutLock {
    _files: Vec<File>,
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::output(path, format!("cannot create lock file: {}", io_cause(&e))))
}

fn shard_lock_path(out: &Path, shard: Shard) -> PathBuf {
    out.join(format!("{LOCK_FILE}.{}", shard.file_tag()))
}

/// Who holds a lock, as its holder wrote it: "pid 123 on host, since ...".
fn holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

fn sign(file: &mut File, what: &str) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into());
    let _ = file.set_len(0);
    let _ = writeln!(
        file,
        "{what}: pid {} on {host}, since {}",
        std::process::id(),
        super::utc_now()
    );
}

/// Lock `out` (created if needed) for a batch over the whole archive or one shard of it.
pub fn lock(out: &Path, shard: Option<Shard>) -> Result<OutLock> {
    std::fs::create_dir_all(out).map_err(|e| {
        Error::output(
            out,
            format!("cannot create output folder: {}", io_cause(&e)),
        )
    })?;
    let main_path = out.join(LOCK_FILE);
    let mut main = open(&main_path)?;
    let busy = |detail: String| {
        Error::output(
            out,
            format!("another `rapporteur batch` is writing here{detail}; wait for it to end or choose another output folder"),
        )
    };
    let held = match shard {
        None => main.try_lock(),
        Some(_) => main.try_lock_shared(),
    };
    match held {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // Name the holders: shards sign their own locks, a whole-archive run the main one
            // (which may still carry the signature of an earlier, finished run).
            let shards = running_shards(out);
            let who = if shards.is_empty() {
                holder(&main_path)
            } else {
                format!(" ({})", shards.join("; "))
            };
            return Err(busy(who));
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::output(
                &main_path,
                format!("cannot lock: {}", io_cause(&e)),
            ))
        }
    }
    let mut files = Vec::new();
    match shard {
        None => sign(&mut main, "batch"),
        Some(s) => {
            let path = shard_lock_path(out, s);
            let mut own = open(&path)?;
            match own.try_lock() {
                Ok(()) => sign(&mut own, &format!("shard {s}")),
                Err(TryLockError::WouldBlock) => return Err(busy(holder(&path))),
                Err(TryLockError::Error(e)) => {
                    return Err(Error::output(
                        &path,
                        format!("cannot lock: {}", io_cause(&e)),
                    ))
                }
            }
            files.push(own);
        }
    }
    files.insert(0, main);
    Ok(OutLock { _files: files })
}

/// The shards currently writing into `out`, as their locks name them.
pub fn running_shards(out: &Path) -> Vec<String> {
    let prefix = format!("{LOCK_FILE}.shard-");
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut running = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if let Err(TryLockError::WouldBlock) = file.try_lock() {
            let who = std::fs::read_to_string(&path).unwrap_or_default();
            running.push(who.trim().to_string());
        }
    }
    running.sort();
    running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_whole_run_or_many_distinct_shards() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let whole = lock(&out, None).unwrap();
        let e = lock(&out, None).unwrap_err().to_string();
        assert!(
            e.contains("another `rapporteur batch` is writing here (batch: pid"),
            "{e}"
        );
        assert!(lock(&out, Some(Shard { k: 1, n: 2 })).is_err());
        drop(whole);

        let s1 = lock(&out, Some(Shard { k: 1, n: 2 })).unwrap();
        let s2 = lock(&out, Some(Shard { k: 2, n: 2 })).unwrap();
        let e = lock(&out, Some(Shard { k: 2, n: 2 }))
            .unwrap_err()
            .to_string();
        assert!(e.contains("shard 2/2: pid"), "{e}");
        let e = lock(&out, None).unwrap_err().to_string();
        assert!(e.contains("shard 1/2") && e.contains("shard 2/2"), "{e}");
        assert_eq!(running_shards(&out).len(), 2);
        drop((s1, s2));
        assert!(running_shards(&out).is_empty());
        lock(&out, None).unwrap();
    }
}
