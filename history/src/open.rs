//! Opening the history: where the file lives and how much it may keep ([`HistoryOptions`]), and the [`History`]
//! handle itself, whose connection is set up here (busy timeout, WAL, foreign keys) before the schema is brought up
//! to date. Recording, querying and retention add their methods to [`History`] in their own modules.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{HistoryError, sqlite_error};
use crate::schema;
use crate::served::Compression;

/// Where and how much history is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryOptions {
    /// The database file; its directory is created when missing.
    pub path: PathBuf,
    /// Runs decided longer ago than this are deleted by [`History::prune`]. Default 30 days.
    pub max_age: Duration,
    /// The most bytes the file and its write-ahead log may take after [`History::prune`]. Default 256 MiB.
    pub max_bytes: u64,
    /// The most runs kept after [`History::prune`]: the newest by decided time. Default 100,000.
    pub max_runs: u64,
    /// How long a statement waits for a lock held by another connection (a user's `sqlite3` shell, say) before it
    /// fails. Default 5 seconds.
    pub busy_timeout: Duration,
}

impl HistoryOptions {
    /// The file name the history has in the processor's data directory.
    const FILE_NAME: &str = "history.sqlite";

    /// `data_dir/history.sqlite`, keeping 30 days, at most 256 MiB and at most 100,000 runs.
    #[must_use]
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            max_bytes: 256 * 1024 * 1024,
            max_runs: 100_000,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for HistoryOptions {
    /// The processor's default data directory, `data/` in the working directory.
    fn default() -> Self {
        Self::in_dir(Path::new("data"))
    }
}

/// The run history: one SQLite connection, owned by one thread at a time (`Send`, not `Sync`).
#[derive(Debug)]
pub struct History {
    pub(crate) connection: Connection,
    pub(crate) options: HistoryOptions,
    pub(crate) compression: Compression,
}

// The processor moves its history to a dedicated thread: this stops compiling if a field ever makes it !Send.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<History>();
};

impl History {
    /// Opens the history at `options.path`, creating the directory, the file and the schema when missing, and
    /// bringing an older schema up to the version this build writes.
    ///
    /// # Errors
    /// [`HistoryError::CreateDir`] when the directory cannot be made, [`HistoryError::NotAHistory`] when the file is
    /// not SQLite or holds another application's tables, [`HistoryError::NewerSchema`] when a newer build wrote it, and
    /// [`HistoryError::Sqlite`] when SQLite cannot open or set it up (permissions, a lock held past the busy timeout).
    pub fn open(options: HistoryOptions) -> Result<Self, HistoryError> {
        let path = options.path.clone();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                path: path.clone(),
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let connection = Connection::open(&path).map_err(|error| sqlite_error(&path, error))?;
        let history = Self {
            connection,
            options,
            compression: Compression::default(),
        };
        history.configure()?;
        schema::migrate(&history.connection, &path)?;
        Ok(history)
    }

    /// Connection settings are not kept in the file (but for `auto_vacuum` and WAL), so every open sets them again.
    fn configure(&self) -> Result<(), HistoryError> {
        let path = &self.options.path;
        let sql = |error| sqlite_error(path, error);
        // SQLite takes milliseconds in an i32 and its Rust binding panics past that.
        let busy_ms = u64::try_from(self.options.busy_timeout.as_millis()).unwrap_or(u64::MAX);
        let busy_ms = busy_ms.min(i32::MAX.unsigned_abs().into());
        self.connection
            .busy_timeout(Duration::from_millis(busy_ms))
            .map_err(sql)?;
        // The first read of the file: where a file that is not SQLite shows.
        let objects = self.count("SELECT count(*) FROM sqlite_schema")?;
        if objects == 0 {
            // Only takes effect before the first table is created; see the crate docs on retention.
            self.connection
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(sql)?;
        }
        let mode: String = self
            .connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::NotAHistory {
                path: path.clone(),
                reason: format!("the file cannot be put in WAL mode (journal mode stays {mode})"),
            });
        }
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        self.connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(sql)
    }

    /// The one integer `query` gives, such as a count or a `PRAGMA`'s value.
    pub(crate) fn count(&self, query: &str) -> Result<u64, HistoryError> {
        self.connection
            .query_row(query, [], |row| row.get(0))
            .map_err(|error| sqlite_error(&self.options.path, error))
    }
}
