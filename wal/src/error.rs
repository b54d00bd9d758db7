//! Why the log could not be opened, locked or switched ([`WalError`]), and why a shard's log could not write,
//! sync or clean up ([`LogError`]).

use std::path::{Path, PathBuf};

/// Why the log could not be opened, its data directory locked, or a new generation completed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(
        "the data directory {path} is in use by another ironforge-processor (its lock file is held); \
         give each processor its own --data-dir"
    )]
    Locked { path: PathBuf },
    #[error("write-ahead log in {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WalError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why a shard's log could not do what it was asked. Each variant reads as its cause alone: the caller says
/// what the log was doing.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file of the log could not be written, synced, renamed or deleted.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A verdict could not be encoded as the JSON the log keeps it as.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

/// For callers that report every failure as an I/O error.
impl From<LogError> for std::io::Error {
    fn from(error: LogError) -> Self {
        match error {
            LogError::Io(error) => error,
            LogError::Encode(error) => Self::other(error),
        }
    }
}
