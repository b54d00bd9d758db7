//! The run history: decided pipeline runs, their measures, and the verdict and analysis the API served for each,
//! kept in one SQLite file so that analysis baselines (regressions across runs, memory trends across runs) and the
//! answers about runs survive a restart of the processor.
//!
//! The processor owns one [`History`] on a dedicated thread, feeds it each decided run with [`History::record`] and
//! calls [`History::prune`] now and then (see there); [`History::run`], [`History::verdict`] and
//! [`History::analysis`] read back by trace id what was served for a run, as the JSON text it was recorded with: the
//! crate stores it compressed (zstd) and does not read it. The file is plain SQLite: any SQL tool reads it, for example
//! `sqlite3 data/history.sqlite`, while the processor keeps writing (the file is in WAL mode).
//!
//! ```
//! use ironforge_history::{History, HistoryOptions, Measure, RunRecord};
//!
//! let dir = std::env::temp_dir().join(format!("ironforge-history-doc-{}", std::process::id()));
//! let mut history = History::open(HistoryOptions::in_dir(&dir))?;
//! for (i, seconds) in [80.1, 83.4, 121.9].into_iter().enumerate() {
//!     history.record(&RunRecord {
//!         trace_id: (i as u128 + 1).to_be_bytes(),
//!         service: "pipeline".into(),
//!         decided_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 60_000_000_000,
//!         status: "pass".into(),
//!         production_ready: true,
//!         measures: vec![Measure { name: "stage.discovery.duration_seconds".into(), value: seconds }],
//!         verdict: Some(format!(r#"{{"status":"pass","run":{i}}}"#)),
//!         analysis: None,
//!     })?;
//! }
//! let series = history.series("pipeline", "stage.discovery.duration_seconds", 2)?;
//! let values: Vec<f64> = series.iter().map(|point| point.value).collect();
//! assert_eq!(values, [83.4, 121.9]); // the newest two, oldest first
//! assert_eq!(history.verdict(&2u128.to_be_bytes())?.as_deref(), Some(r#"{"status":"pass","run":1}"#));
//! drop(history);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Schema (version 3, in `PRAGMA user_version`)
//!
#![doc = concat!(
    "```sql\n",
    include_str!("schema_v1.sql"),
    "\n",
    include_str!("schema_v2.sql"),
    "\n",
    include_str!("schema_v3.sql"),
    "```"
)]
//!
//! A file at version 1 is brought to version 2 when opened, by adding `served`; its runs keep no verdict or analysis.
//! A file at version 2 is brought to version 3 by its version alone: its answers stay as they were written, and
//! answers written from then on are compressed.
//! Runs recorded without measures (an incomplete run, kept for its verdict alone) take no place in a series.
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
//! [`History::prune`] deletes runs decided more than [`HistoryOptions::max_age`] ago, then the oldest runs beyond the
//! newest [`HistoryOptions::max_runs`], then, while the file (with its write-ahead log) is larger than
//! [`HistoryOptions::max_bytes`], the oldest runs until the data fits in 90% of it. A run's measures and what it
//! served go with it. The file is created with `PRAGMA auto_vacuum = INCREMENTAL`, and prune runs
//! `PRAGMA incremental_vacuum` and a truncating checkpoint, so the bytes freed are given back to the file system: the
//! bound holds for the file as `ls` shows it, not only for the pages in use. The 10% margin lets many records pass
//! between two evictions.

// The modules, each a job; `open` holds the `History` handle, the others add its methods for their job.
mod error; // `HistoryError`, and SQLite's errors mapped onto it
mod open; // `HistoryOptions` and `History::open`: the directory, the connection's settings
mod query; // series, services, measure names, recent runs and one run's served answers read back
mod record; // `RunRecord` and `Measure`, validated and written
mod retention; // `History::prune` by age, count and size, and the file's size
mod schema; // the schema version and its migrations
mod served; // the served JSON compressed for the file and read back
mod trace_key; // a trace id as the file keeps it

pub use error::HistoryError;
pub use open::{History, HistoryOptions};
pub use query::{RunSummary, SeriesPoint, StoredRun};
pub use record::{Measure, RunRecord};
pub use retention::PruneReport;
