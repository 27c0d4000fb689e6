//! File-system helpers shared by every writer: nothing is ever half-written. Each output is
//! written to a temporary file in the destination folder (same file system, owner-only
//! permissions) and renamed into place once complete; a failure removes the temporary file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Create `path` atomically from whatever `fill` writes into the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".rapporteur-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            Error::output(
                path,
                format!("cannot create a file in {}: {}", dir.display(), e),
            )
        })?;
    let _forced_exit_removes = crate::interrupt::Temporary::register(tmp.path());
    fill(tmp.as_file_mut()).map_err(|e| Error::output(path, e.to_string()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::output(path, e.to_string()))?;
    // Temporary files are private (0600); the result gets the usual permissions.
    set_default_permissions(tmp.path());
    tmp.persist(path)
        .map_err(|e| Error::output(path, e.error.to_string()))?;
    Ok(())
}

/// A temporary path in `path`'s folder for tools that write a file themselves; removed on drop
/// unless `persist` renames it into place.
pub struct TempPath {
    inner: tempfile::TempPath,
    target: PathBuf,
    _forced_exit_removes: crate::interrupt::Temporary,
}

impl TempPath {
    pub fn for_target(target: &Path) -> Result<TempPath> {
        let dir = parent_dir(target);
        let file = tempfile::Builder::new()
            .prefix(".rapporteur-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| {
                Error::output(
                    target,
                    format!("cannot create a file in {}: {}", dir.display(), e),
                )
            })?;
        Ok(TempPath {
            _forced_exit_removes: crate::interrupt::Temporary::register(file.path()),
            inner: file.into_temp_path(),
            target: target.to_path_buf(),
        })
    }
    pub fn path(&self) -> &Path {
        &self.inner
    }
    pub fn persist(self) -> Result<()> {
        set_default_permissions(&self.inner);
        let target = self.target;
        self.inner
            .persist(&target)
            .map_err(|e| Error::output(&target, e.error.to_string()))
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Gives a finished file or folder the permissions a plainly created one would have: 0666 or
/// 0777 less the user's umask. Temporary files and stages are owner-only while being written;
/// a fixed 0644 here would undo a confidential `umask 077` on every result.
#[cfg(unix)]
pub fn set_default_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let full = if path.is_dir() { 0o777 } else { 0o666 };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(full & !umask()));
}

#[cfg(not(unix))]
pub fn set_default_permissions(_path: &Path) {}

/// The process's umask, read without changing it (the umask call itself would, and another
/// thread creating a file meanwhile would get the wrong mask). Linux reports it in
/// /proc/self/status; elsewhere the common 022 is assumed.
#[cfg(unix)]
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
            })
            .unwrap_or(0o022)
    })
}

/// Whether a path given on the command line is `-`: standard input or output, not a file.
pub fn is_std_stream(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Copy a file, a folder with everything in it, or a symbolic link (as a link) to `to`, which
/// must not exist.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
        #[cfg(not(unix))]
        return std::fs::copy(from, to).map(drop);
    }
    if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::copy(from, to).map(drop)
}

/// sha256 of a file's contents, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let err = write_atomic_with(&target, |f| {
            f.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"done").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn temporary_files_are_private_and_results_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        write_atomic_with(&target, |f| {
            let mode = f.metadata()?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "temporary file mode {mode:o}");
            f.write_all(b"x")
        })
        .unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "result mode {mode:o}");
    }

    #[test]
    fn sha256_of_known_bytes() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
