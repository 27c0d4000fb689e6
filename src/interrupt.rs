//! Ctrl-C: the first one asks every stage to stop at its next check (decoding between packets,
//! whisper.cpp between graph computations); the stage returns `ErrorKind::Interrupted`, staged
//! output is removed as it unwinds, and the program exits with 130. A second Ctrl-C exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Install the Ctrl-C (SIGINT/SIGTERM) handler; call once from `main`.
pub fn install_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
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
