//! Retention: keeping the file within its age, count and size bounds, and giving the freed bytes back to the file
//! system (see "Retention" in the crate docs).

use std::ffi::OsString;
use std::fs;
use std::io;

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::{HistoryError, sqlite_error};
use crate::open::History;

/// The size prune aims for once it has to evict, as a share of `max_bytes`, so that eviction (a checkpoint with
/// fsyncs) happens once per many records rather than after each one.
const EVICT_TO_PERCENT: u64 = 90;

/// What one [`History::prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PruneReport {
    /// Runs deleted for being older than `max_age`.
    pub expired_runs: u64,
    /// Runs deleted, oldest first, for no more than `max_runs` to be kept.
    pub excess_runs: u64,
    /// Runs deleted, oldest first, for the file to fit in `max_bytes`.
    pub evicted_runs: u64,
    /// The file's size afterwards, as [`History::size_bytes`] counts it.
    pub size_bytes: u64,
    /// Whether that size is within `max_bytes`. False only when even an empty history is larger (a `max_bytes` below
    /// a few tens of KiB), or when another connection kept the write-ahead log from being truncated.
    pub within_bound: bool,
}

impl History {
    /// Deletes runs decided more than `max_age` before `now_unix_nano`, then the oldest runs beyond the newest
    /// `max_runs`, then, if the file is larger than `max_bytes`, the oldest runs until it fits in 90% of it, and gives
    /// the freed pages back to the file system. "Oldest" is by decided time, then by arrival.
    ///
    /// When nothing is over the bounds it costs an index lookup, a count of the runs (a scan of the smallest index)
    /// and a few `stat`s, so the caller may call it after
    /// every [`record`](Self::record); calling it every 100 records, or every minute, bounds the file as well, give or
    /// take what those records add. Call it once after [`open`](Self::open) too: options may have shrunk since the
    /// file was last written.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when a delete or the checkpoint fails, [`HistoryError::Io`] when the file's size
    /// cannot be read.
    pub fn prune(&mut self, now_unix_nano: u64) -> Result<PruneReport, HistoryError> {
        let max_age = u64::try_from(self.options.max_age.as_nanos()).unwrap_or(u64::MAX);
        let cutoff = i64::try_from(now_unix_nano.saturating_sub(max_age)).unwrap_or(i64::MAX);
        let expired = self.execute(
            "DELETE FROM runs WHERE decided_unix_nano < ?1",
            params![cutoff],
        )?;
        let excess = self.delete_beyond(self.options.max_runs)?;
        if expired > 0 || excess > 0 {
            self.incremental_vacuum()?;
        }
        let mut report = PruneReport {
            expired_runs: expired,
            excess_runs: excess,
            ..PruneReport::default()
        };
        let max_bytes = self.options.max_bytes;
        let mut size = self.size_bytes()?;
        if size > max_bytes {
            // Often the write-ahead log alone is over: pages already freed are given back only at a checkpoint.
            self.checkpoint()?;
            size = self.size_bytes()?;
        }
        if size > max_bytes {
            report.evicted_runs = self.evict_to(max_bytes / 100 * EVICT_TO_PERCENT)?;
            self.checkpoint()?;
            size = self.size_bytes()?;
        }
        report.size_bytes = size;
        report.within_bound = size <= max_bytes;
        Ok(report)
    }

    /// The bytes the history takes on disk: the database file and its write-ahead log.
    ///
    /// # Errors
    /// [`HistoryError::Io`] when the database file's size cannot be read.
    pub fn size_bytes(&self) -> Result<u64, HistoryError> {
        let path = &self.options.path;
        let io_error = |source| HistoryError::Io {
            path: path.clone(),
            source,
        };
        let database = fs::metadata(path).map_err(io_error)?.len();
        let mut wal_path = OsString::from(path.as_os_str());
        wal_path.push("-wal");
        let wal = match fs::metadata(&wal_path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
            Err(error) => return Err(io_error(error)),
        };
        Ok(database.saturating_add(wal))
    }

    /// Deletes the oldest runs beyond the newest `max_runs`; returns how many. Costs a count when within the bound.
    fn delete_beyond(&mut self, max_runs: u64) -> Result<u64, HistoryError> {
        let runs = self.count("SELECT count(*) FROM runs")?;
        if runs <= max_runs {
            return Ok(0);
        }
        self.execute(
            "DELETE FROM runs WHERE run_id IN
             (SELECT run_id FROM runs ORDER BY decided_unix_nano, run_id LIMIT ?1)",
            params![i64::try_from(runs - max_runs).unwrap_or(i64::MAX)],
        )
    }

    /// Deletes the oldest runs until the pages in use take at most `target` bytes, or no run is left; returns how many
    /// it deleted.
    fn evict_to(&mut self, target: u64) -> Result<u64, HistoryError> {
        let mut evicted = 0;
        loop {
            let used = self.used_bytes()?;
            let runs = self.count("SELECT count(*) FROM runs")?;
            if used <= target || runs == 0 {
                return Ok(evicted);
            }
            // Pages free up more slowly than rows go (leaf pages shared with newer runs), so the estimate from the
            // average run falls short and another pass follows. Each pass deletes at least 1% of the runs, bounding
            // the passes; none deletes more than the estimate, which could empty the history.
            let per_run = (used / runs).max(1);
            let estimate = (used - target).div_ceil(per_run);
            let batch = estimate.max(runs / 100).clamp(1, runs);
            evicted += self.execute(
                "DELETE FROM runs WHERE run_id IN
                 (SELECT run_id FROM runs ORDER BY decided_unix_nano, run_id LIMIT ?1)",
                params![i64::try_from(batch).unwrap_or(i64::MAX)],
            )?;
            self.incremental_vacuum()?;
        }
    }

    /// Bytes in pages that hold data: what the file shrinks to once vacuumed and checkpointed.
    fn used_bytes(&self) -> Result<u64, HistoryError> {
        let pages = self.count("PRAGMA page_count")?;
        let free = self.count("PRAGMA freelist_count")?;
        let page_size = self.count("PRAGMA page_size")?;
        Ok(pages.saturating_sub(free).saturating_mul(page_size))
    }

    /// Moves free pages to the end of the file and truncates them off; the file on disk follows at the next checkpoint.
    fn incremental_vacuum(&self) -> Result<(), HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let mut statement = self
            .connection
            .prepare("PRAGMA incremental_vacuum")
            .map_err(sql)?;
        let mut rows = statement.query([]).map_err(sql)?;
        // SQLite frees one page per step: stepping once, as `execute_batch` does, would free a single page.
        while rows.next().map_err(sql)?.is_some() {}
        Ok(())
    }

    /// Copies the write-ahead log into the database file, truncating both to what they hold.
    fn checkpoint(&self) -> Result<(), HistoryError> {
        // A reader in another connection can keep the log from being reset; the size check after it tells.
        self.connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|error| sqlite_error(&self.options.path, error))
    }

    /// Runs `query` as a cached statement; returns how many rows it changed.
    fn execute(&self, query: &str, parameters: impl rusqlite::Params) -> Result<u64, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let changed = self
            .connection
            .prepare_cached(query)
            .map_err(sql)?
            .execute(parameters)
            .map_err(sql)?;
        Ok(u64::try_from(changed).unwrap_or(u64::MAX))
    }
}
