//! The run history: decided pipeline runs and their measures, kept in one SQLite file so that analysis baselines
//! (regressions across runs, memory trends across runs) survive a restart of the processor.
//!
//! The processor owns one [`History`] on a dedicated thread, feeds it each decided run with [`History::record`] and
//! calls [`History::prune`] now and then (see there). The file is plain SQLite: any SQL tool reads it, for example
//! `sqlite3 data/history.sqlite`, while the processor keeps writing (the file is in WAL mode).
//!
//! ```
//! use ironforge_history::{History, HistoryOptions, Measure, RunRecord};
//!
//! let dir = std::env::temp_dir().join(format!("ironforge-history-doc-{}", std::process::id()));
//! let mut history = History::open(HistoryOptions::in_dir(&dir))?;
//! for (i, seconds) in [80.1, 83.4, 121.9].into_iter().enumerate() {
//!     history.record(&RunRecord {
//!         trace_id: format!("{:032x}", i + 1),
//!         service: "pipeline".into(),
//!         decided_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 60_000_000_000,
//!         status: "pass".into(),
//!         production_ready: true,
//!         measures: vec![Measure { name: "stage.discovery.duration_seconds".into(), value: seconds }],
//!     })?;
//! }
//! let series = history.series("pipeline", "stage.discovery.duration_seconds", 2)?;
//! let values: Vec<f64> = series.iter().map(|point| point.value).collect();
//! assert_eq!(values, [83.4, 121.9]); // the newest two, oldest first
//! drop(history);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Schema (version 1, in `PRAGMA user_version`)
//!
#![doc = concat!("```sql\n", include_str!("schema_v1.sql"), "```")]
//!
//! Measures hang off an integer `run_id` rather than the trace id so that both tables are ordered by arrival: deleting
//! the oldest runs then empties whole pages that the file can give back. Keyed by the random trace id, the deleted rows
//! would be spread thinly over every page, and retention by size could not shrink the file without deleting most runs.
//! A series is read through `runs_by_service_time` and the measures' primary key. There is no index on the measure
//! name alone: with each run's measures landing in as many places of it, it would make the file half as large again and
//! nearly triple the pages each record writes. A query across services by measure name scans `measures` instead.
//!
//! Measure names in use: `run.duration_seconds`, `stage.<stage>.duration_seconds`, `memory.peak_bytes`,
//! `contract.<contract>.observed`; [`History::measure_names`] lists those a service has.
//!
//! Queries a user might run:
//!
//! ```sql
//! -- The discovery stage's duration over the last 50 runs of service 'pipeline', oldest first.
//! SELECT trace_id, datetime(decided_unix_nano / 1e9, 'unixepoch') AS decided, value AS seconds
//! FROM (SELECT * FROM run_measures
//!       WHERE service = 'pipeline' AND name = 'stage.discovery.duration_seconds'
//!       ORDER BY decided_unix_nano DESC LIMIT 50)
//! ORDER BY decided_unix_nano;
//!
//! -- Runs per service and status over the last 7 days.
//! SELECT service, status, count(*) FROM runs
//! WHERE decided_unix_nano > (unixepoch() - 7 * 86400) * 1000000000
//! GROUP BY service, status;
//!
//! -- The highest memory peak of each service, in MiB.
//! SELECT service, max(value) / 1048576 AS peak_mib FROM run_measures
//! WHERE name = 'memory.peak_bytes' GROUP BY service;
//! ```
//!
//! The `sqlite3` shell leaves foreign keys off: run `PRAGMA foreign_keys = ON;` before deleting runs by hand, or
//! their measures stay behind.
//!
//! # Retention
//!
//! [`History::prune`] deletes runs decided more than [`HistoryOptions::max_age`] ago, then, while the file (with its
//! write-ahead log) is larger than [`HistoryOptions::max_bytes`], the oldest runs until the data fits in 90% of it. The
//! file is created with `PRAGMA auto_vacuum = INCREMENTAL`, and prune runs `PRAGMA incremental_vacuum` and a truncating
//! checkpoint, so the bytes freed are given back to the file system: the bound holds for the file as `ls` shows it, not
//! only for the pages in use. The 10% margin lets many records pass between two evictions.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

/// The schema version this build writes and reads, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

/// The statuses a run may have.
pub const STATUSES: [&str; 4] = ["pass", "fail", "warn", "incomplete"];

/// The size prune aims for once it has to evict, as a share of `max_bytes`, so that eviction (a checkpoint with
/// fsyncs) happens once per many records rather than after each one.
const EVICT_TO_PERCENT: u64 = 90;

/// Schema version 1, as the crate docs show it; `auto_vacuum` is set before it, while the file is still empty.
const SCHEMA_V1: &str = include_str!("schema_v1.sql");

/// Where and how much history is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryOptions {
    /// The database file; its directory is created when missing.
    pub path: PathBuf,
    /// Runs decided longer ago than this are deleted by [`History::prune`]. Default 30 days.
    pub max_age: Duration,
    /// The most bytes the file and its write-ahead log may take after [`History::prune`]. Default 256 MiB.
    pub max_bytes: u64,
    /// How long a statement waits for a lock held by another connection (a user's `sqlite3` shell, say) before it
    /// fails. Default 5 seconds.
    pub busy_timeout: Duration,
}

impl HistoryOptions {
    /// The file name the history has in the processor's data directory.
    pub const FILE_NAME: &str = "history.sqlite";

    /// `data_dir/history.sqlite`, keeping 30 days and at most 256 MiB.
    #[must_use]
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            max_bytes: 256 * 1024 * 1024,
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

/// One decided pipeline run and what was measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's trace id: 32 lowercase hex digits.
    pub trace_id: String,
    /// The run's `service.name`, `""` when absent.
    pub service: String,
    /// When the verdict was decided, in nanoseconds since the Unix epoch (at most `i64::MAX`, the year 2262).
    pub decided_unix_nano: u64,
    /// One of [`STATUSES`]: `"pass"`, `"fail"`, `"warn"` or `"incomplete"`.
    pub status: String,
    /// Whether the verdict found the run production ready.
    pub production_ready: bool,
    /// What was measured, each name at most once, each value finite.
    pub measures: Vec<Measure>,
}

/// One named number measured of a run, such as `("stage.discovery.duration_seconds", 80.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Dotted name, such as `run.duration_seconds` or `memory.peak_bytes`; not empty.
    pub name: String,
    /// The value, in the unit the name says.
    pub value: f64,
}

/// One run's value of one measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The run's trace id.
    pub trace_id: String,
    /// When the run's verdict was decided, in nanoseconds since the Unix epoch.
    pub decided_unix_nano: u64,
    /// The measure's value in that run.
    pub value: f64,
}

/// A run without its measures, as [`History::recent_runs`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's trace id.
    pub trace_id: String,
    /// The run's `service.name`, `""` when absent.
    pub service: String,
    /// When the verdict was decided, in nanoseconds since the Unix epoch.
    pub decided_unix_nano: u64,
    /// `"pass"`, `"fail"`, `"warn"` or `"incomplete"`.
    pub status: String,
    /// Whether the verdict found the run production ready.
    pub production_ready: bool,
    /// How many measures the run has.
    pub measure_count: u64,
}

/// What one [`History::prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PruneReport {
    /// Runs deleted for being older than `max_age`.
    pub expired_runs: u64,
    /// Runs deleted, oldest first, for the file to fit in `max_bytes`.
    pub evicted_runs: u64,
    /// The file's size afterwards, as [`History::size_bytes`] counts it.
    pub size_bytes: u64,
    /// Whether that size is within `max_bytes`. False only when even an empty history is larger (a `max_bytes` below
    /// a few tens of KiB), or when another connection kept the write-ahead log from being truncated.
    pub within_bound: bool,
}

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
        /// [`SCHEMA_VERSION`].
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
    /// The file's size could not be read.
    #[error("history {path}: cannot read the file's size: {source}", path = path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The run history: one SQLite connection, owned by one thread at a time (`Send`, not `Sync`).
#[derive(Debug)]
pub struct History {
    connection: Connection,
    options: HistoryOptions,
}

// The processor moves its history to a dedicated thread: this stops compiling if a field ever makes it !Send.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<History>();
};

impl History {
    /// Opens the history at `options.path`, creating the directory, the file and the schema when missing, and
    /// bringing an older schema up to [`SCHEMA_VERSION`].
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
        };
        history.configure()?;
        history.migrate()?;
        Ok(history)
    }

    /// The options the history was opened with.
    #[must_use]
    pub fn options(&self) -> &HistoryOptions {
        &self.options
    }

    /// Records a decided run with its measures, in one transaction. Recording a trace id again replaces the run and
    /// all its measures: a revised verdict leaves no stale measure behind.
    ///
    /// Each call commits without an fsync (WAL with `synchronous = NORMAL`): a power cut may lose the last few runs,
    /// never corrupt the file.
    ///
    /// # Errors
    /// [`HistoryError::InvalidRun`] when the trace id is not 32 lowercase hex digits, the status is not one of
    /// [`STATUSES`], the decided time is past `i64::MAX`, or a measure has an empty or repeated name or a value that is
    /// not finite; [`HistoryError::Sqlite`] when the write fails.
    pub fn record(&mut self, run: &RunRecord) -> Result<(), HistoryError> {
        self.record_all(std::slice::from_ref(run))
    }

    /// Records runs in order, as [`record`](Self::record) does one, all in one transaction: all are written or
    /// none. A burst of runs costs one commit instead of one each.
    ///
    /// # Errors
    /// As [`record`](Self::record), for the first run that fails; then nothing is written.
    pub fn record_all(&mut self, runs: &[RunRecord]) -> Result<(), HistoryError> {
        if let Some((run, reason)) = runs
            .iter()
            .find_map(|run| validate(run).err().map(|reason| (run, reason)))
        {
            return Err(HistoryError::InvalidRun {
                path: self.options.path.clone(),
                trace_id: run.trace_id.clone(),
                reason,
            });
        }
        let path = &self.options.path;
        let sql = |error| sqlite_error(path, error);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            // Deleting rather than updating gives a revised run a new, latest run_id, keeping the tables in arrival
            // order, which retention by size relies on; the measures go with it by the cascade.
            let mut delete = transaction
                .prepare_cached("DELETE FROM runs WHERE trace_id = ?1")
                .map_err(sql)?;
            let mut insert_run = transaction
                .prepare_cached(
                    "INSERT INTO runs (trace_id, service, decided_unix_nano, status, production_ready)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql)?;
            let mut insert_measure = transaction
                .prepare_cached("INSERT INTO measures (run_id, name, value) VALUES (?1, ?2, ?3)")
                .map_err(sql)?;
            for run in runs {
                delete.execute([&run.trace_id]).map_err(sql)?;
                insert_run
                    .execute(params![
                        run.trace_id,
                        run.service,
                        run.decided_unix_nano,
                        run.status,
                        run.production_ready
                    ])
                    .map_err(sql)?;
                let run_id = transaction.last_insert_rowid();
                for measure in &run.measures {
                    insert_measure
                        .execute(params![run_id, measure.name, measure.value])
                        .map_err(sql)?;
                }
            }
        }
        transaction.commit().map_err(sql)
    }

    /// The newest `limit` values of `measure` in `service`'s runs, returned oldest first. Runs decided at the same
    /// nanosecond come in the order they were recorded.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails or the file holds a time SQLite cannot give as a `u64`.
    pub fn series(
        &self,
        service: &str,
        measure: &str,
        limit: usize,
    ) -> Result<Vec<SeriesPoint>, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT r.trace_id, r.decided_unix_nano, m.value
                 FROM runs AS r JOIN measures AS m ON m.run_id = r.run_id AND m.name = ?2
                 WHERE r.service = ?1
                 ORDER BY r.decided_unix_nano DESC, r.run_id DESC
                 LIMIT ?3",
            )
            .map_err(sql)?;
        let rows = statement
            .query_map(params![service, measure, sql_limit(limit)], |row| {
                Ok(SeriesPoint {
                    trace_id: row.get(0)?,
                    decided_unix_nano: row.get(1)?,
                    value: row.get(2)?,
                })
            })
            .map_err(sql)?;
        let mut points = rows.collect::<Result<Vec<_>, _>>().map_err(sql)?;
        points.reverse();
        Ok(points)
    }

    /// Every measure of `service`'s newest `limit` runs, each as a series oldest first: what [`History::series`]
    /// gives for each name, in one query instead of one per measure.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails or the file holds a time SQLite cannot give as a `u64`.
    pub fn recent_series(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<BTreeMap<String, Vec<SeriesPoint>>, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT r.trace_id, r.decided_unix_nano, m.name, m.value
                 FROM (SELECT run_id, trace_id, decided_unix_nano FROM runs WHERE service = ?1
                       ORDER BY decided_unix_nano DESC, run_id DESC LIMIT ?2) AS r
                 JOIN measures AS m ON m.run_id = r.run_id
                 ORDER BY r.decided_unix_nano, r.run_id",
            )
            .map_err(sql)?;
        let mut rows = statement
            .query(params![service, sql_limit(limit)])
            .map_err(sql)?;
        let mut series: BTreeMap<String, Vec<SeriesPoint>> = BTreeMap::new();
        while let Some(row) = rows.next().map_err(sql)? {
            let name: String = row.get(2).map_err(sql)?;
            series.entry(name).or_default().push(SeriesPoint {
                trace_id: row.get(0).map_err(sql)?,
                decided_unix_nano: row.get(1).map_err(sql)?,
                value: row.get(3).map_err(sql)?,
            });
        }
        Ok(series)
    }

    /// The names of the measures `service`'s runs have, sorted.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn measure_names(&self, service: &str) -> Result<Vec<String>, HistoryError> {
        self.strings(
            "SELECT DISTINCT m.name FROM runs AS r JOIN measures AS m ON m.run_id = r.run_id
             WHERE r.service = ?1 ORDER BY m.name",
            &[&service],
        )
    }

    /// The services that have runs, sorted; `""` stands for runs without a `service.name`.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn services(&self) -> Result<Vec<String>, HistoryError> {
        self.strings("SELECT DISTINCT service FROM runs ORDER BY service", &[])
    }

    /// The newest `limit` runs, of one service or of all, newest first.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn recent_runs(
        &self,
        service: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunSummary>, HistoryError> {
        // Two statements rather than `?1 IS NULL OR service = ?1`, which would keep SQLite from using either index.
        let filter = if service.is_some() {
            "WHERE r.service = ?2"
        } else {
            ""
        };
        let query = format!(
            "SELECT r.trace_id, r.service, r.decided_unix_nano, r.status, r.production_ready,
                    (SELECT count(*) FROM measures AS m WHERE m.run_id = r.run_id)
             FROM runs AS r {filter}
             ORDER BY r.decided_unix_nano DESC, r.run_id DESC
             LIMIT ?1"
        );
        let sql = |error| sqlite_error(&self.options.path, error);
        let mut statement = self.connection.prepare_cached(&query).map_err(sql)?;
        let limit = sql_limit(limit);
        let read = |row: &rusqlite::Row<'_>| {
            Ok(RunSummary {
                trace_id: row.get(0)?,
                service: row.get(1)?,
                decided_unix_nano: row.get(2)?,
                status: row.get(3)?,
                production_ready: row.get(4)?,
                measure_count: row.get(5)?,
            })
        };
        let rows = match service {
            Some(service) => statement.query_map(params![limit, service], read),
            None => statement.query_map(params![limit], read),
        }
        .map_err(sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql)
    }

    /// Deletes runs decided more than `max_age` before `now_unix_nano`, then, if the file is larger than `max_bytes`,
    /// the oldest runs until it fits in 90% of it, and gives the freed pages back to the file system.
    ///
    /// When nothing is over the bounds it costs an index lookup and a few `stat`s, so the caller may call it after
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
        if expired > 0 {
            self.incremental_vacuum()?;
        }
        let mut report = PruneReport {
            expired_runs: expired,
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

    fn migrate(&self) -> Result<(), HistoryError> {
        let path = &self.options.path;
        let sql = |error| sqlite_error(path, error);
        // IMMEDIATE: two processes opening a new file at once must not both create the tables.
        self.connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql)?;
        let result = self.migrate_in_transaction();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.connection.execute_batch(end).map_err(sql);
        result.and(ended)
    }

    fn migrate_in_transaction(&self) -> Result<(), HistoryError> {
        let path = &self.options.path;
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|error| sqlite_error(path, error))?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                path: path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            let foreign: Option<String> = self
                .connection
                .query_row("SELECT name FROM sqlite_schema LIMIT 1", [], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|error| sqlite_error(path, error))?;
            if let Some(name) = foreign {
                return Err(HistoryError::NotAHistory {
                    path: path.clone(),
                    reason: format!(
                        "schema version 0 but it already has {name:?}: another application's database"
                    ),
                });
            }
            self.connection
                .execute_batch(SCHEMA_V1)
                .map_err(|error| sqlite_error(path, error))?;
        }
        // Later versions migrate here, one step at a time, each from the version before it.
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        self.connection
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|error| sqlite_error(path, error))
    }

    fn strings(
        &self,
        query: &str,
        parameters: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<String>, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let mut statement = self.connection.prepare_cached(query).map_err(sql)?;
        let rows = statement
            .query_map(parameters, |row| row.get(0))
            .map_err(sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql)
    }

    fn count(&self, query: &str) -> Result<u64, HistoryError> {
        self.connection
            .query_row(query, [], |row| row.get(0))
            .map_err(|error| sqlite_error(&self.options.path, error))
    }

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

/// What is wrong with a run, if anything; checked before the transaction so that a bad run writes nothing.
fn validate(run: &RunRecord) -> Result<(), String> {
    let hex = |byte: u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
    if run.trace_id.len() != 32 || !run.trace_id.bytes().all(hex) {
        return Err("the trace id is not 32 lowercase hex digits".into());
    }
    if !STATUSES.contains(&run.status.as_str()) {
        return Err(format!(
            "status {:?} is none of {}",
            run.status,
            STATUSES.join(", ")
        ));
    }
    if i64::try_from(run.decided_unix_nano).is_err() {
        return Err(format!(
            "decided_unix_nano {} is past i64::MAX",
            run.decided_unix_nano
        ));
    }
    let mut names = BTreeSet::new();
    for measure in &run.measures {
        if measure.name.is_empty() {
            return Err("a measure has an empty name".into());
        }
        if !measure.value.is_finite() {
            return Err(format!(
                "measure {:?} is {}, not a finite number",
                measure.name, measure.value
            ));
        }
        if !names.insert(measure.name.as_str()) {
            return Err(format!("measure {:?} appears twice", measure.name));
        }
    }
    Ok(())
}

/// SQLite's LIMIT is an i64; a larger `usize` means no limit anyway.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn sqlite_error(path: &Path, error: rusqlite::Error) -> HistoryError {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(trace_id: &str, status: &str, measures: Vec<Measure>) -> RunRecord {
        RunRecord {
            trace_id: trace_id.into(),
            service: "svc".into(),
            decided_unix_nano: 1,
            status: status.into(),
            production_ready: false,
            measures,
        }
    }

    fn measure(name: &str, value: f64) -> Measure {
        Measure {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn validate_accepts_a_well_formed_run_and_names_what_is_wrong_otherwise() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            validate(&run(
                id,
                "warn",
                vec![measure("a", 1.0), measure("b", -2.5)]
            )),
            Ok(())
        );
        let rejected = [
            (
                run("0123456789ABCDEF0123456789abcdef", "pass", vec![]),
                "lowercase hex",
            ),
            (run("abc", "pass", vec![]), "32 lowercase hex"),
            (run(id, "passed", vec![]), "status \"passed\""),
            (run(id, "pass", vec![measure("", 1.0)]), "empty name"),
            (
                run(id, "pass", vec![measure("a", f64::NAN)]),
                "not a finite number",
            ),
            (
                run(id, "pass", vec![measure("a", f64::INFINITY)]),
                "not a finite number",
            ),
            (
                run(id, "pass", vec![measure("a", 1.0), measure("a", 2.0)]),
                "appears twice",
            ),
            (
                RunRecord {
                    decided_unix_nano: u64::MAX,
                    ..run(id, "pass", vec![])
                },
                "past i64::MAX",
            ),
        ];
        for (record, expected) in rejected {
            let reason = validate(&record).err().unwrap_or_default();
            assert!(
                reason.contains(expected),
                "{record:?}: {reason:?} should say {expected:?}"
            );
        }
    }
}
