//! Reading the history back: the series that regression and memory-trend detection compare a run against, the
//! listings of services, measure names and recent runs a user or a dashboard browses, and one run's verdict and
//! analysis as the API served them.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{HistoryError, sqlite_error};
use crate::open::History;
use crate::served::ServedJson;
use crate::trace_key::{self, column_text};

/// One run's value of one measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The run's trace id.
    pub trace_id: [u8; 16],
    /// When the run's verdict was decided, in nanoseconds since the Unix epoch.
    pub decided_unix_nano: u64,
    /// The measure's value in that run.
    pub value: f64,
}

/// A run without its measures, as [`History::recent_runs`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's trace id.
    pub trace_id: [u8; 16],
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

/// One recorded run with what the API served for it, as [`History::run`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRun {
    /// The run as [`History::recent_runs`] lists it.
    pub run: RunSummary,
    /// The verdict as served, JSON; `None` when none was kept (a run recorded at schema version 1, say).
    pub verdict: Option<String>,
    /// The analysis as served, JSON; `None` when none was kept.
    pub analysis: Option<String>,
}

impl History {
    /// The run recorded under `trace_id`, with its verdict and analysis as served;
    /// `None` when the history has no such run (never recorded, or pruned).
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn run(&self, trace_id: &[u8; 16]) -> Result<Option<StoredRun>, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        self.connection
            .prepare_cached(
                "SELECT r.trace_id, r.service, r.decided_unix_nano, r.status, r.production_ready,
                        (SELECT count(*) FROM measures AS m WHERE m.run_id = r.run_id),
                        s.verdict, s.analysis
                 FROM runs AS r LEFT JOIN served AS s ON s.run_id = r.run_id
                 WHERE r.trace_id = ?1",
            )
            .map_err(sql)?
            .query_row([column_text(trace_id)], |row| {
                Ok(StoredRun {
                    run: run_summary(row)?,
                    verdict: row.get::<_, Option<ServedJson>>(6)?.map(|json| json.0),
                    analysis: row.get::<_, Option<ServedJson>>(7)?.map(|json| json.0),
                })
            })
            .optional()
            .map_err(sql)
    }

    /// The verdict served for `trace_id`, JSON; `None` when the history has no run of it or kept no verdict.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn verdict(&self, trace_id: &[u8; 16]) -> Result<Option<String>, HistoryError> {
        self.served_column(
            "SELECT s.verdict FROM runs AS r JOIN served AS s ON s.run_id = r.run_id WHERE r.trace_id = ?1",
            trace_id,
        )
    }

    /// The analysis served for `trace_id`, JSON; `None` when the history has no run of it or kept no analysis.
    ///
    /// # Errors
    /// [`HistoryError::Sqlite`] when the read fails.
    pub fn analysis(&self, trace_id: &[u8; 16]) -> Result<Option<String>, HistoryError> {
        self.served_column(
            "SELECT s.analysis FROM runs AS r JOIN served AS s ON s.run_id = r.run_id WHERE r.trace_id = ?1",
            trace_id,
        )
    }

    fn served_column(
        &self,
        query: &str,
        trace_id: &[u8; 16],
    ) -> Result<Option<String>, HistoryError> {
        let sql = |error| sqlite_error(&self.options.path, error);
        let found: Option<Option<ServedJson>> = self
            .connection
            .prepare_cached(query)
            .map_err(sql)?
            .query_row([column_text(trace_id)], |row| row.get(0))
            .optional()
            .map_err(sql)?;
        Ok(found.flatten().map(|json| json.0))
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
                    trace_id: trace_key::from_column(row, 0)?,
                    decided_unix_nano: row.get(1)?,
                    value: row.get(2)?,
                })
            })
            .map_err(sql)?;
        let mut points = rows.collect::<Result<Vec<_>, _>>().map_err(sql)?;
        points.reverse();
        Ok(points)
    }

    /// Every measure of `service`'s newest `limit` runs that have measures, each as a series oldest first: what
    /// [`History::series`] gives for each name, in one query instead of one per measure. Runs kept without measures
    /// (for what they served) take no place among the `limit`.
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
                 FROM (SELECT run_id, trace_id, decided_unix_nano FROM runs AS all_runs
                       WHERE service = ?1
                         AND EXISTS (SELECT 1 FROM measures WHERE measures.run_id = all_runs.run_id)
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
                trace_id: trace_key::from_column(row, 0).map_err(sql)?,
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
        let rows = match service {
            Some(service) => statement.query_map(params![limit, service], run_summary),
            None => statement.query_map(params![limit], run_summary),
        }
        .map_err(sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql)
    }

    /// The first column of each row `query` gives, as text.
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
}

/// A run from the first six columns of `row`: trace id, service, decided time, status, production ready, and the
/// count of its measures.
fn run_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        trace_id: trace_key::from_column(row, 0)?,
        service: row.get(1)?,
        decided_unix_nano: row.get(2)?,
        status: row.get(3)?,
        production_ready: row.get(4)?,
        measure_count: row.get(5)?,
    })
}

/// SQLite's LIMIT is an i64; a larger `usize` means no limit anyway.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
