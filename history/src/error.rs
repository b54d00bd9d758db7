//! The crate's one error type, and how a SQLite error becomes one: every variant names the database file, and a file
//! SQLite cannot read as a database is told apart from a failure of a good one.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Why the history could not be opened, read or written. Every variant names the database file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The directory that should hold the file could not be created.
    #[error("history {path}: cannot create the directory {}: {source}", dir.display(), path = path.display())]
    CreateDir {
        /// The database file.
        path: PathBuf,
        /// The directory that could not be created.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file exists but is not a run history: not SQLite at all, corrupt, or another application's database.
    #[error("history {path}: not a run history database: {reason}", path = path.display())]
    NotAHistory {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file was written by a newer version of this crate, whose schema this one does not know.
    #[error(
        "history {path}: schema version {found} is newer than version {supported}, the newest this build reads",
        path = path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The file's `user_version`.
        found: i64,
        /// The newest schema version this build reads.
        supported: i64,
    },
    /// A run could not be recorded as given; nothing of it was written.
    #[error("history {path}: run {trace_id:?} not recorded: {reason}", path = path.display())]
    InvalidRun {
        /// The database file.
        path: PathBuf,
        /// The run's trace id, as given.
        trace_id: String,
        /// What is wrong with the run.
        reason: String,
    },
    /// SQLite failed: a locked, full, read-only or vanished file, or a value in the file out of range.
    #[error("history {path}: {source}", path = path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// What the API served for a run could not be compressed for the file (zstd could not allocate); nothing of
    /// the run was written.
    #[error("history {path}: cannot compress a served answer: {source}", path = path.display())]
    Compress {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file's size could not be read.
    #[error("history {path}: cannot read the file's size: {source}", path = path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A file that is not a database, or a corrupt one, is [`HistoryError::NotAHistory`]: the file is wrong, not the
/// operation, and retrying will not help.
pub(crate) fn sqlite_error(path: &Path, error: rusqlite::Error) -> HistoryError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => HistoryError::NotAHistory {
            path: path.to_path_buf(),
            reason: "the file is not a SQLite database".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => HistoryError::NotAHistory {
            path: path.to_path_buf(),
            reason: format!("the SQLite file is corrupt ({error})"),
        },
        _ => HistoryError::Sqlite {
            path: path.to_path_buf(),
            source: Box::new(error),
        },
    }
}
