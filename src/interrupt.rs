//! Ctrl-C: the first one asks every stage to stop at its next check (decoding between packets,
//! whisper.cpp between graph computations); the stage returns `ErrorKind::Interrupted`, staged
//! output is removed as it unwinds, and the program exits with 130. A second Ctrl-C exits at once,
//! first removing every temporary file and stage still registered here (see `Temporary`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Temporary files and stage folders that exist right now, to remove on a forced exit.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Install the Ctrl-C (SIGINT/SIGTERM) handler; call once from `main`.
pub fn install_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // The handler runs on its own thread, so it may wait for a result being swapped
            // into place (see `hold_exit`) before it removes what is still temporary.
            let live = temporaries();
            for path in live.iter() {
                let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
            }
            std::process::exit(130);
        }
    });
}

fn temporaries() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A temporary file or stage folder that a forced exit (a second Ctrl-C) removes; dropping
/// this forgets it again, once it was renamed into place or removed by its owner.
#[derive(Debug)]
pub struct Temporary(PathBuf);

impl Temporary {
    pub fn register(path: &Path) -> Temporary {
        temporaries().push(path.to_path_buf());
        Temporary(path.to_path_buf())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        let mut live = temporaries();
        if let Some(i) = live.iter().rposition(|p| *p == self.0) {
            live.swap_remove(i);
        }
    }
}

/// Keeps a forced exit waiting while held: for the few renames that swap a finished result
/// into place, which must not stop half-way with the old result moved aside. Register or drop
/// no `Temporary` while holding it.
pub struct ExitHold(#[allow(dead_code)] MutexGuard<'static, Vec<PathBuf>>);

pub fn hold_exit() -> ExitHold {
    ExitHold(temporaries())
}

pub fn is_set() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` once Ctrl-C was pressed.
pub fn check() -> Result<()> {
    if is_set() {
        Err(Error::interrupted())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_is_listed_until_dropped() {
        let a = Path::new("/tmp/rapporteur-test-temporary-a");
        let listed = |p: &Path| temporaries().iter().any(|q| q == p);
        let first = Temporary::register(a);
        let second = Temporary::register(a);
        assert!(listed(a));
        drop(first);
        assert!(
            listed(a),
            "one of two registrations of the same path remains"
        );
        drop(second);
        assert!(!listed(a));
    }
}
