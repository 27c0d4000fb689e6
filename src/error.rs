//! One error type for the whole program: a category (which decides the exit code), the file it
//! concerns, and a one-line cause. Displayed as `<path>: <cause>`.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, broadly. Each kind has a documented exit code (see README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A recording could not be read or decoded: missing, a directory, empty, not audio,
    /// truncated, or in a codec we cannot decode.
    Input,
    /// An output file or folder could not be written.
    Output,
    /// A model is missing, fails its checksum, or cannot be converted or loaded.
    Model,
    /// Wrong usage that the argument parser cannot catch (e.g. an unreadable glossary file).
    Usage,
    /// The user interrupted the run (Ctrl-C).
    Interrupted,
    /// Anything else: a bug or an unexpected failure of a library.
    Internal,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Input => 3,
            ErrorKind::Output => 4,
            ErrorKind::Model => 5,
            ErrorKind::Interrupted => 130,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub path: Option<PathBuf>,
    pub cause: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, path: Option<&Path>, cause: impl Into<String>) -> Error {
        // Causes are shown on one line: fold any line breaks a library put in its message.
        let cause = cause
            .into()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Error {
            kind,
            path: path.map(Path::to_path_buf),
            cause,
        }
    }
    pub fn input(path: &Path, cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Input, Some(path), cause)
    }
    pub fn output(path: &Path, cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Output, Some(path), cause)
    }
    pub fn model(path: &Path, cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Model, Some(path), cause)
    }
    pub fn model_named(name: &str, cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Model, Some(Path::new(name)), cause)
    }
    pub fn usage(cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, None, cause)
    }
    pub fn internal(cause: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, None, cause)
    }
    pub fn interrupted() -> Error {
        Error::new(ErrorKind::Interrupted, None, "interrupted")
    }
}

/// A file-system error in the words the one-line messages use.
pub fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
            "a file is in the way".into()
        }
        _ => e.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.cause),
            None => f.write_str(&self.cause),
        }
    }
}

impl std::error::Error for Error {}
