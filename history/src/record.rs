//! Writing runs: what a run and its measures are ([`RunRecord`], [`Measure`]), what makes one recordable, and
//! recording them, one or a batch to a transaction; and replacing a recorded run's verdict when it is revised.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::error::{HistoryError, sqlite_error};
use crate::open::History;
use crate::served::Compressed;
use crate::trace_key::column_text;

/// The statuses a run may have.
const STATUSES: [&str; 4] = ["pass", "fail", "warn", "incomplete"];

/// One decided pipeline run and what was measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's trace id, as OTLP sends it.
    pub trace_id: [u8; 16],
    /// The run's `service.name`, `""` when absent.
    pub service: String,
    /// When the verdict was decided, in nanoseconds since the Unix epoch (at most `i64::MAX`, the year 2262).
    pub decided_unix_nano: u64,
    /// One of `"pass"`, `"fail"`, `"warn"` or `"incomplete"`.
    pub status: String,
    /// Whether the verdict found the run production ready.
    pub production_ready: bool,
    /// What was measured, each name at most once, each value finite. A run kept only for what it served (an
    /// incomplete one, whose figures would skew every baseline it joined) has none, and takes no place in a
    /// series.
    pub measures: Vec<Measure>,
    /// The verdict as the API served it, as JSON (violations included), for [`History::verdict`]; `None` keeps
    /// none. The history does not read it.
    #[serde(default)]
    pub verdict: Option<String>,
    /// The run's analysis as the API served it, as JSON, for [`History::analysis`]; `None` keeps none. The
    /// history does not read it.
    #[serde(default)]
    pub analysis: Option<String>,
}

/// One named number measured of a run, such as `("stage.discovery.duration_seconds", 80.1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Dotted name, such as `run.duration_seconds` or `memory.peak_bytes`; not empty.
    pub name: String,
    /// The value, in the unit the name says.
    pub value: f64,
}

impl History {
    /// Records a decided run with its measures, in one transaction. Recording a trace id again replaces the run and
    /// all its measures: a revised verdict leaves no stale measure behind.
    ///
    /// Each call commits without an fsync (WAL with `synchronous = NORMAL`): a power cut may lose the last few runs,
    /// never corrupt the file.
    ///
    /// # Errors
    /// [`HistoryError::InvalidRun`] when the status is not `pass`,
    /// `fail`, `warn` or `incomplete`, the decided time is past `i64::MAX`, or a measure has an empty or repeated name
    /// or a value that is not finite; [`HistoryError::Sqlite`] when the write fails.
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
            return Err(self.invalid(&run.trace_id, reason));
        }
        let path = self.options.path.clone();
        let sql = |error| sqlite_error(&path, error);
        // Compressed before the write lock is taken, so the lock is held for the writing alone.
        let served = runs
            .iter()
            .map(|run| {
                Ok((
                    self.compressed(run.verdict.as_deref())?,
                    self.compressed(run.analysis.as_deref())?,
                ))
            })
            .collect::<Result<Vec<_>, HistoryError>>()?;
        let transaction = self.write_transaction()?;
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
            let mut insert_served = transaction
                .prepare_cached(
                    "INSERT INTO served (run_id, verdict, analysis) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql)?;
            for (run, (verdict, analysis)) in runs.iter().zip(served) {
                let trace_id = column_text(&run.trace_id);
                delete.execute([&trace_id]).map_err(sql)?;
                insert_run
                    .execute(params![
                        trace_id,
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
                if verdict.is_some() || analysis.is_some() {
                    insert_served
                        .execute(params![run_id, verdict, analysis])
                        .map_err(sql)?;
                }
            }
        }
        transaction.commit().map_err(sql)
    }

    /// Replaces the verdict of a recorded run, as when spans that came after it revised it: its status, whether it
    /// is production ready and the verdict as served (JSON). Its measures and analysis stay. Returns whether the
    /// trace had a run to update.
    ///
    /// # Errors
    /// [`HistoryError::InvalidRun`] when the status is not `pass`, `fail`, `warn` or `incomplete`;
    /// [`HistoryError::Sqlite`] when the write fails.
    pub fn revise_verdict(
        &mut self,
        trace_id: &[u8; 16],
        status: &str,
        production_ready: bool,
        verdict: &str,
    ) -> Result<bool, HistoryError> {
        check_status(status).map_err(|reason| self.invalid(trace_id, reason))?;
        let verdict = self.compressed(Some(verdict))?;
        let path = self.options.path.clone();
        let sql = |error| sqlite_error(&path, error);
        let transaction = self.write_transaction()?;
        let run_id: Option<i64> = transaction
            .prepare_cached(
                "UPDATE runs SET status = ?2, production_ready = ?3 WHERE trace_id = ?1 RETURNING run_id",
            )
            .map_err(sql)?
            .query_row(
                params![column_text(trace_id), status, production_ready],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(run_id) = run_id {
            transaction
                .prepare_cached(
                    "INSERT INTO served (run_id, verdict) VALUES (?1, ?2)
                     ON CONFLICT (run_id) DO UPDATE SET verdict = excluded.verdict",
                )
                .map_err(sql)?
                .execute(params![run_id, verdict])
                .map_err(sql)?;
        }
        transaction.commit().map_err(sql)?;
        Ok(run_id.is_some())
    }
}

impl History {
    /// Served JSON as the file keeps it (see `served`).
    fn compressed(&mut self, json: Option<&str>) -> Result<Option<Compressed>, HistoryError> {
        json.map(|json| self.compression.compress(json))
            .transpose()
            .map_err(|source| HistoryError::Compress {
                path: self.options.path.clone(),
                source,
            })
    }

    /// A transaction that takes the write lock at once, so that it never fails half-way for a lock.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, HistoryError> {
        let path = &self.options.path;
        self.connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| sqlite_error(path, error))
    }

    fn invalid(&self, trace_id: &[u8; 16], reason: String) -> HistoryError {
        HistoryError::InvalidRun {
            path: self.options.path.clone(),
            trace_id: column_text(trace_id),
            reason,
        }
    }
}

/// Whether `status` is one a run may have.
fn check_status(status: &str) -> Result<(), String> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(format!(
            "status {status:?} is none of {}",
            STATUSES.join(", ")
        ))
    }
}

/// What is wrong with a run, if anything; checked before the transaction so that a bad run writes nothing.
fn validate(run: &RunRecord) -> Result<(), String> {
    check_status(&run.status)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(trace_id: [u8; 16], status: &str, measures: Vec<Measure>) -> RunRecord {
        RunRecord {
            trace_id,
            service: "svc".into(),
            decided_unix_nano: 1,
            status: status.into(),
            production_ready: false,
            measures,
            verdict: None,
            analysis: None,
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
        let id = [0x9d; 16];
        assert_eq!(
            validate(&run(
                id,
                "warn",
                vec![measure("a", 1.0), measure("b", -2.5)]
            )),
            Ok(())
        );
        let rejected = [
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
