//! The run history against real files: ordering, replacement, persistence, retention and bad files.
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ironforge_history::{History, HistoryError, HistoryOptions, Measure, RunRecord};

const MINUTE: u64 = 60_000_000_000;
const T0: u64 = 1_700_000_000_000_000_000;

/// A directory of its own for each test, removed when the test ends, passed or not.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ironforge-history-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn trace_id(n: u64) -> [u8; 16] {
    u128::from(n).to_be_bytes()
}

/// The trace id as the file, the API and the logs spell it.
fn trace_hex(n: u64) -> String {
    format!("{n:032x}")
}

fn run(n: u64, service: &str, decided_unix_nano: u64, measures: &[(&str, f64)]) -> RunRecord {
    RunRecord {
        trace_id: trace_id(n),
        service: service.into(),
        decided_unix_nano,
        status: "pass".into(),
        production_ready: true,
        measures: measures
            .iter()
            .map(|&(name, value)| Measure {
                name: name.into(),
                value,
            })
            .collect(),
        verdict: None,
        analysis: None,
    }
}

fn values(history: &History, service: &str, measure: &str, limit: usize) -> Vec<f64> {
    let series = history.series(service, measure, limit).unwrap();
    series.iter().map(|point| point.value).collect()
}

#[test]
fn series_holds_the_newest_points_oldest_first() {
    let dir = TempDir::new("series");
    let mut history = History::open(HistoryOptions::in_dir(dir.path())).unwrap();
    let stage = "stage.discovery.duration_seconds";
    // Recorded out of decided order, as revised verdicts and restarts deliver them.
    for (n, minute, seconds) in [
        (3, 3, 30.0),
        (1, 1, 10.0),
        (4, 4, 40.0),
        (2, 2, 20.0),
        (5, 5, 50.0),
    ] {
        history
            .record(&run(
                n,
                "pipeline",
                T0 + minute * MINUTE,
                &[(stage, seconds)],
            ))
            .unwrap();
    }
    history
        .record(&run(
            6,
            "pipeline",
            T0 + 6 * MINUTE,
            &[("run.duration_seconds", 1.0)],
        ))
        .unwrap();
    history
        .record(&run(7, "other", T0 + 7 * MINUTE, &[(stage, 70.0)]))
        .unwrap();

    assert_eq!(values(&history, "pipeline", stage, 3), [30.0, 40.0, 50.0]);
    assert_eq!(
        values(&history, "pipeline", stage, 100),
        [10.0, 20.0, 30.0, 40.0, 50.0]
    );
    assert_eq!(values(&history, "pipeline", stage, 0), [] as [f64; 0]);
    assert_eq!(values(&history, "absent", stage, 10), [] as [f64; 0]);
    let newest = history.series("pipeline", stage, 1).unwrap();
    assert_eq!(newest[0].trace_id, trace_id(5));
    assert_eq!(newest[0].decided_unix_nano, T0 + 5 * MINUTE);

    assert_eq!(history.services().unwrap(), ["other", "pipeline"]);
    assert_eq!(
        history.measure_names("pipeline").unwrap(),
        ["run.duration_seconds", stage]
    );
    assert_eq!(history.measure_names("other").unwrap(), [stage]);
    let recent = history.recent_runs(Some("pipeline"), 2).unwrap();
    let ids: Vec<[u8; 16]> = recent.iter().map(|run| run.trace_id).collect();
    assert_eq!(ids, [trace_id(6), trace_id(5)]);
    let all = history.recent_runs(None, 10).unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all[0].trace_id, trace_id(7));
    assert_eq!(all[0].measure_count, 1);

    // Every measure of the newest runs at once: the same points as one series per measure.
    let recent = history.recent_series("pipeline", 100).unwrap();
    assert_eq!(
        recent[stage],
        history.series("pipeline", stage, 100).unwrap()
    );
    assert_eq!(recent.len(), 2);
    // Bounded by runs: the newest three runs hold two points of the stage and one of the run.
    let newest_runs = history.recent_series("pipeline", 3).unwrap();
    let stage_values: Vec<f64> = newest_runs[stage].iter().map(|p| p.value).collect();
    assert_eq!(stage_values, [40.0, 50.0]);
    assert_eq!(newest_runs["run.duration_seconds"].len(), 1);
    assert!(history.recent_series("absent", 10).unwrap().is_empty());
}

#[test]
fn recording_a_trace_again_replaces_the_run_and_its_measures() {
    let dir = TempDir::new("replace");
    let mut history = History::open(HistoryOptions::in_dir(dir.path())).unwrap();
    history
        .record(&run(1, "pipeline", T0, &[("a", 1.0), ("b", 2.0)]))
        .unwrap();
    let mut revised = run(1, "pipeline", T0 + MINUTE, &[("a", 10.0)]);
    revised.status = "fail".into();
    revised.production_ready = false;
    history.record(&revised).unwrap();

    assert_eq!(values(&history, "pipeline", "a", 10), [10.0]);
    assert_eq!(values(&history, "pipeline", "b", 10), [] as [f64; 0]);
    assert_eq!(history.measure_names("pipeline").unwrap(), ["a"]);
    let runs = history.recent_runs(None, 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].production_ready),
        ("fail", false)
    );
    assert_eq!(
        (runs[0].decided_unix_nano, runs[0].measure_count),
        (T0 + MINUTE, 1)
    );
}

#[test]
fn an_invalid_run_is_rejected_naming_the_file_and_writes_nothing() {
    let dir = TempDir::new("invalid");
    let options = HistoryOptions::in_dir(dir.path());
    let path = options.path.clone();
    let mut history = History::open(options).unwrap();
    let duplicate = run(1, "pipeline", T0, &[("a", 1.0), ("a", 2.0)]);
    let error = history.record(&duplicate).unwrap_err();
    assert!(
        matches!(error, HistoryError::InvalidRun { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("twice"),
        "{message}"
    );
    assert!(history.recent_runs(None, 10).unwrap().is_empty());
}

#[test]
fn a_batch_is_recorded_in_order_and_one_invalid_run_writes_none_of_it() {
    let dir = TempDir::new("batch");
    let mut history = History::open(HistoryOptions::in_dir(dir.path())).unwrap();
    let batch: Vec<RunRecord> = (0..5)
        .map(|n| run(n, "pipeline", T0 + n * MINUTE, &[("a", n as f64)]))
        .collect();
    history.record_all(&batch).unwrap();
    assert_eq!(
        values(&history, "pipeline", "a", 10),
        [0.0, 1.0, 2.0, 3.0, 4.0]
    );

    // A revision inside a batch replaces the run recorded before it, as separate calls would.
    let mut second = vec![
        run(5, "pipeline", T0 + 5 * MINUTE, &[("a", 5.0)]),
        run(0, "pipeline", T0 + 6 * MINUTE, &[("a", 10.0)]),
    ];
    history.record_all(&second).unwrap();
    assert_eq!(
        values(&history, "pipeline", "a", 10),
        [1.0, 2.0, 3.0, 4.0, 5.0, 10.0]
    );

    second.push(run(6, "pipeline", T0 + 7 * MINUTE, &[("a", f64::NAN)]));
    second[0] = run(7, "pipeline", T0 + 8 * MINUTE, &[("a", 7.0)]);
    let invalid = trace_hex(6);
    let error = history.record_all(&second).unwrap_err();
    assert!(
        matches!(&error, HistoryError::InvalidRun { trace_id, .. } if *trace_id == invalid),
        "{error:?}"
    );
    assert_eq!(history.recent_runs(None, 10).unwrap().len(), 6);
}

#[test]
fn the_history_survives_closing_and_reopening_as_a_plain_sqlite_file() {
    let dir = TempDir::new("reopen");
    let options = HistoryOptions::in_dir(dir.path());
    let mut history = History::open(options.clone()).unwrap();
    for n in 1..=60 {
        let discovery = 80.0 + n as f64;
        history
            .record(&run(
                n,
                "pipeline",
                T0 + n * MINUTE,
                &[("stage.discovery.duration_seconds", discovery)],
            ))
            .unwrap();
    }
    drop(history);

    let history = History::open(options.clone()).unwrap();
    assert_eq!(
        values(&history, "pipeline", "stage.discovery.duration_seconds", 2),
        [139.0, 140.0]
    );
    drop(history);

    // What the crate docs promise a user of the sqlite3 shell.
    let connection = rusqlite::Connection::open(&options.path).unwrap();
    let pragma = |name: &str| -> String {
        connection
            .query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|value| format!("{value:?}"))
            .unwrap()
    };
    assert_eq!(pragma("user_version"), "Integer(3)");
    assert_eq!(pragma("auto_vacuum"), "Integer(2)");
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    let mut statement = connection
        .prepare(
            "SELECT value FROM (SELECT * FROM run_measures
                 WHERE service = 'pipeline' AND name = 'stage.discovery.duration_seconds'
                 ORDER BY decided_unix_nano DESC LIMIT 50)
             ORDER BY decided_unix_nano",
        )
        .unwrap();
    let last_50: Vec<f64> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(last_50.len(), 50);
    assert_eq!((last_50[0], last_50[49]), (91.0, 140.0));
}

#[test]
fn prune_deletes_runs_older_than_max_age() {
    let dir = TempDir::new("age");
    let mut options = HistoryOptions::in_dir(dir.path());
    options.max_age = Duration::from_secs(60 * 60);
    let mut history = History::open(options).unwrap();
    let now = T0 + 24 * 60 * MINUTE;
    let ages_in_minutes = [24 * 60, 61, 60, 59, 1];
    for (n, age) in (1..).zip(ages_in_minutes) {
        history
            .record(&run(n, "pipeline", now - age * MINUTE, &[("a", n as f64)]))
            .unwrap();
    }

    let report = history.prune(now).unwrap();
    assert_eq!((report.expired_runs, report.evicted_runs), (2, 0));
    assert!(report.within_bound);
    // Exactly max_age old is still kept; the measures of deleted runs went with them.
    assert_eq!(values(&history, "pipeline", "a", 10), [3.0, 4.0, 5.0]);
    assert_eq!(history.prune(now).unwrap().expired_runs, 0);
}

#[test]
fn prune_by_size_bounds_the_file_and_keeps_the_newest_runs() {
    let dir = TempDir::new("size");
    let mut options = HistoryOptions::in_dir(dir.path());
    options.max_bytes = 256 * 1024;
    let max_bytes = options.max_bytes;
    let mut history = History::open(options).unwrap();
    let names: Vec<String> = (0..10)
        .map(|i| format!("stage.stage{i}.duration_seconds"))
        .collect();
    let runs = 3_000;
    let mut evicted = 0;
    for n in 1..=runs {
        let measures: Vec<(&str, f64)> =
            names.iter().map(|name| (name.as_str(), n as f64)).collect();
        history
            .record(&run(n, "pipeline", T0 + n * MINUTE, &measures))
            .unwrap();
        if n % 100 == 0 {
            let report = history.prune(T0 + n * MINUTE).unwrap();
            assert!(report.within_bound, "after run {n}: {report:?}");
            assert_eq!(report.size_bytes, history.size_bytes().unwrap());
            assert!(
                history.size_bytes().unwrap() <= max_bytes,
                "after run {n}: {report:?}"
            );
            evicted += report.evicted_runs;
        }
    }
    // 3,000 runs of 10 measures take several times the bound: eviction must have happened, repeatedly.
    assert!(evicted > runs / 2, "evicted {evicted}");
    let kept = history.recent_runs(None, usize::MAX).unwrap();
    let kept_ids: Vec<[u8; 16]> = kept.iter().map(|run| run.trace_id).collect();
    let newest: Vec<[u8; 16]> = (0..kept.len() as u64).map(|i| trace_id(runs - i)).collect();
    assert_eq!(
        kept_ids, newest,
        "the runs kept are the newest ones, without gaps"
    );
    // Eviction frees whole pages: it keeps a fair share of what fits rather than emptying the history.
    assert!(
        kept.len() >= 150,
        "only {} runs kept in {max_bytes} bytes",
        kept.len()
    );
    assert_eq!(kept.len() as u64 + evicted, runs);
}

#[test]
fn a_bound_below_an_empty_history_empties_it_and_says_so() {
    let dir = TempDir::new("tiny");
    let mut options = HistoryOptions::in_dir(dir.path());
    options.max_bytes = 4096;
    let mut history = History::open(options).unwrap();
    for n in 1..=20 {
        history
            .record(&run(n, "pipeline", T0 + n * MINUTE, &[("a", 1.0)]))
            .unwrap();
    }
    let report = history.prune(T0 + 20 * MINUTE).unwrap();
    assert_eq!(report.evicted_runs, 20);
    assert!(
        !report.within_bound && report.size_bytes > 4096,
        "{report:?}"
    );
    assert!(history.recent_runs(None, 10).unwrap().is_empty());
    // Still usable: the next run is recorded, and the next prune evicts it again.
    history
        .record(&run(21, "pipeline", T0 + 21 * MINUTE, &[("a", 1.0)]))
        .unwrap();
    assert_eq!(history.prune(T0 + 21 * MINUTE).unwrap().evicted_runs, 1);
}

#[test]
fn a_file_that_is_not_sqlite_gives_an_error_naming_it() {
    let dir = TempDir::new("not-sqlite");
    std::fs::create_dir_all(dir.path()).unwrap();
    let options = HistoryOptions::in_dir(dir.path());
    let garbage: Vec<u8> = b"this is a log file, not a database\n"
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    std::fs::write(&options.path, &garbage).unwrap();

    let error = History::open(options.clone()).unwrap_err();
    assert!(
        matches!(error, HistoryError::NotAHistory { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&options.path.display().to_string()),
        "{message}"
    );
    assert!(message.contains("not a SQLite database"), "{message}");
    assert_eq!(
        std::fs::read(&options.path).unwrap(),
        garbage,
        "the file is left as it was"
    );
}

/// Runs `sql` on the file with a plain connection, then opens it as a history, which must fail.
fn open_after(options: &HistoryOptions, sql: &str) -> HistoryError {
    rusqlite::Connection::open(&options.path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    History::open(options.clone()).unwrap_err()
}

#[test]
fn another_applications_database_or_a_newer_schema_is_refused() {
    let dir = TempDir::new("foreign");
    std::fs::create_dir_all(dir.path()).unwrap();
    let options = HistoryOptions::in_dir(dir.path());
    let error = open_after(&options, "CREATE TABLE notes (text TEXT)");
    assert!(
        matches!(error, HistoryError::NotAHistory { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"notes\""), "{error}");

    std::fs::remove_file(&options.path).unwrap();
    drop(History::open(options.clone()).unwrap());
    let error = open_after(&options, "PRAGMA user_version = 7");
    assert!(
        matches!(
            error,
            HistoryError::NewerSchema {
                found: 7,
                supported: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&options.path.display().to_string()),
        "{error}"
    );
}

#[test]
fn a_directory_that_cannot_be_created_gives_an_error() {
    let dir = TempDir::new("no-dir");
    std::fs::create_dir_all(dir.path()).unwrap();
    // A regular file where a directory should be: fails for root too, unlike a permission.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let options = HistoryOptions::in_dir(&blocker.join("data"));

    let error = History::open(options.clone()).unwrap_err();
    assert!(matches!(error, HistoryError::CreateDir { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&options.path.display().to_string()),
        "{error}"
    );
}

fn served(n: u64, decided_unix_nano: u64) -> RunRecord {
    RunRecord {
        verdict: Some(format!(
            r#"{{"trace_id":"{}","status":"fail","violations":[{{"contract_id":"c{n}"}}]}}"#,
            trace_hex(n)
        )),
        analysis: Some(format!(
            r#"{{"trace_id":"{}","run_seconds":{n}}}"#,
            trace_hex(n)
        )),
        ..run(n, "pipeline", decided_unix_nano, &[("a", n as f64)])
    }
}

/// A closed history file named `name` holding `runs`, for tests that change its rows behind the history's back.
fn file_with(name: &str, runs: &[RunRecord]) -> (TempDir, HistoryOptions) {
    let dir = TempDir::new(name);
    let options = HistoryOptions::in_dir(dir.path());
    let mut history = History::open(options.clone()).unwrap();
    for run in runs {
        history.record(run).unwrap();
    }
    (dir, options)
}

#[test]
fn what_a_run_served_is_read_back_by_trace_id_replaced_revised_and_kept_across_reopening() {
    let dir = TempDir::new("served");
    let options = HistoryOptions::in_dir(dir.path());
    let mut history = History::open(options.clone()).unwrap();
    history.record(&served(1, T0)).unwrap();
    history
        .record(&run(2, "pipeline", T0 + MINUTE, &[("b", 2.0)]))
        .unwrap();
    let first = served(1, T0);
    assert_eq!(history.verdict(&trace_id(1)).unwrap(), first.verdict);
    assert_eq!(history.analysis(&trace_id(1)).unwrap(), first.analysis);
    // A run recorded without them, and a trace never recorded, answer None alike.
    assert_eq!(history.verdict(&trace_id(2)).unwrap(), None);
    assert_eq!(history.analysis(&trace_id(3)).unwrap(), None);
    assert_eq!(history.run(&trace_id(3)).unwrap(), None);
    let stored = history.run(&trace_id(2)).unwrap().unwrap();
    assert_eq!(
        (stored.run.status.as_str(), stored.verdict, stored.analysis),
        ("pass", None, None)
    );

    // Recording the trace again replaces what it served.
    let again = RunRecord {
        verdict: Some("{\"again\":true}".into()),
        analysis: None,
        ..served(1, T0)
    };
    history.record(&again).unwrap();
    assert_eq!(
        history.verdict(&trace_id(1)).unwrap().as_deref(),
        Some("{\"again\":true}")
    );
    assert_eq!(history.analysis(&trace_id(1)).unwrap(), None);

    // A revision replaces the verdict and status, keeping the measures; a run without a served row gets one.
    assert!(
        history
            .revise_verdict(&trace_id(2), "fail", false, "{\"revised\":2}")
            .unwrap()
    );
    assert!(
        !history
            .revise_verdict(&trace_id(9), "fail", false, "{}")
            .unwrap()
    );
    assert!(matches!(
        history.revise_verdict(&trace_id(2), "failed", false, "{}"),
        Err(HistoryError::InvalidRun { .. })
    ));
    drop(history);

    let history = History::open(options).unwrap();
    let revised = history.run(&trace_id(2)).unwrap().unwrap();
    assert_eq!(
        (
            revised.run.status.as_str(),
            revised.run.production_ready,
            revised.run.measure_count,
            revised.verdict.as_deref()
        ),
        ("fail", false, 1, Some("{\"revised\":2}"))
    );
    assert_eq!(values(&history, "pipeline", "a", 10), [1.0]);
}

#[test]
fn runs_without_measures_take_no_place_in_the_recent_series() {
    let dir = TempDir::new("no-measures");
    let mut history = History::open(HistoryOptions::in_dir(dir.path())).unwrap();
    for n in 1..=4 {
        history
            .record(&run(n, "pipeline", T0 + n * MINUTE, &[("a", n as f64)]))
            .unwrap();
    }
    // Two incomplete runs, newer than all: kept for their verdicts, not as baseline.
    for n in 5..=6 {
        history.record(&served(n, T0 + n * MINUTE)).unwrap();
        history
            .record(&RunRecord {
                status: "incomplete".into(),
                measures: Vec::new(),
                ..served(n, T0 + n * MINUTE)
            })
            .unwrap();
    }
    let series = history.recent_series("pipeline", 2).unwrap();
    let values: Vec<f64> = series["a"].iter().map(|point| point.value).collect();
    assert_eq!(values, [3.0, 4.0]);
}

#[test]
fn prune_by_count_keeps_the_newest_runs_and_deletes_what_the_older_ones_served() {
    let dir = TempDir::new("count");
    let mut history = History::open(HistoryOptions {
        max_runs: 3,
        ..HistoryOptions::in_dir(dir.path())
    })
    .unwrap();
    // Recorded out of decided order: the newest by decided time are kept, not the last recorded.
    for n in [4, 1, 5, 2, 3] {
        history.record(&served(n, T0 + n * MINUTE)).unwrap();
    }
    let now = T0 + 10 * MINUTE;
    let report = history.prune(now).unwrap();
    assert_eq!(
        (report.expired_runs, report.excess_runs, report.evicted_runs),
        (0, 2, 0)
    );
    assert!(report.within_bound);
    assert_eq!(values(&history, "pipeline", "a", 10), [3.0, 4.0, 5.0]);
    for n in 1..=2 {
        assert_eq!(history.run(&trace_id(n)).unwrap(), None, "run {n}");
    }
    assert_eq!(history.verdict(&trace_id(3)).unwrap(), served(3, 0).verdict);
    // Within the bound, prune deletes nothing more.
    assert_eq!(history.prune(now).unwrap().excess_runs, 0);
    history.record(&served(6, T0 + 6 * MINUTE)).unwrap();
    assert_eq!(history.prune(now).unwrap().excess_runs, 1);
    assert_eq!(values(&history, "pipeline", "a", 10), [4.0, 5.0, 6.0]);
    // What the pruned runs served went with them: no orphan rows.
    let orphans = history.run(&trace_id(3)).unwrap();
    assert_eq!(orphans, None);
}

#[test]
fn a_version_1_file_is_migrated_keeping_its_runs() {
    let dir = TempDir::new("migrate");
    std::fs::create_dir_all(dir.path()).unwrap();
    let options = HistoryOptions::in_dir(dir.path());
    {
        // A file as version 1 of this crate wrote it.
        let connection = rusqlite::Connection::open(&options.path).unwrap();
        connection
            .execute_batch(concat!(
                "PRAGMA auto_vacuum = INCREMENTAL;\n",
                include_str!("../src/schema_v1.sql"),
                "\nPRAGMA user_version = 1;"
            ))
            .unwrap();
        connection
            .execute(
                "INSERT INTO runs (trace_id, service, decided_unix_nano, status, production_ready)
                 VALUES (?1, 'pipeline', ?2, 'pass', 1)",
                rusqlite::params![trace_hex(1), T0],
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO measures (run_id, name, value) VALUES (last_insert_rowid(), 'a', 1.0)",
                [],
            )
            .unwrap();
    }

    let mut history = History::open(options.clone()).unwrap();
    let old = history.run(&trace_id(1)).unwrap().unwrap();
    assert_eq!((old.verdict, old.analysis), (None, None));
    // Decided before the migrated run, so the first to go below.
    history.record(&served(2, T0 - MINUTE)).unwrap();
    assert_eq!(history.verdict(&trace_id(2)).unwrap(), served(2, 0).verdict);
    assert_eq!(values(&history, "pipeline", "a", 10), [2.0, 1.0]);
    // Deleting a run from the migrated file takes what it served along (the new table's foreign key holds).
    let mut options = options;
    options.max_runs = 1;
    drop(history);
    let mut history = History::open(options.clone()).unwrap();
    assert_eq!(history.prune(T0 + 2 * MINUTE).unwrap().excess_runs, 1);
    assert!(history.run(&trace_id(1)).unwrap().is_some());
    drop(history);
    let connection = rusqlite::Connection::open(&options.path).unwrap();
    let (version, served_rows): (i64, i64) = connection
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM served)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((version, served_rows), (3, 0));
}

#[test]
fn answers_a_version_2_file_kept_as_text_read_back_and_new_ones_are_written_compressed() {
    let (_dir, options) = file_with("v2-text", &[served(1, T0)]);
    // What a version 2 build wrote: the JSON itself, as TEXT.
    let old_analysis = r#"{"critical_path":[],"written":"at version 2"}"#;
    {
        let connection = rusqlite::Connection::open(&options.path).unwrap();
        connection
            .execute(
                "UPDATE served SET verdict = ?1, analysis = ?2",
                [r#"{"status":"pass"}"#, old_analysis],
            )
            .unwrap();
        connection.pragma_update(None, "user_version", 2).unwrap();
    }

    let mut history = History::open(options.clone()).unwrap();
    let trace = served(1, T0).trace_id;
    assert_eq!(
        history.analysis(&trace).unwrap().as_deref(),
        Some(old_analysis)
    );
    assert_eq!(
        history.verdict(&trace).unwrap().as_deref(),
        Some(r#"{"status":"pass"}"#)
    );
    history.record(&served(2, T0 + MINUTE)).unwrap();
    let second = served(2, T0 + MINUTE);
    let stored = history.run(&second.trace_id).unwrap().unwrap();
    assert_eq!(stored.analysis, second.analysis);
    assert_eq!(stored.verdict, second.verdict);
    drop(history);

    let connection = rusqlite::Connection::open(&options.path).unwrap();
    let types: Vec<(String, String)> = connection
        .prepare("SELECT typeof(verdict), typeof(analysis) FROM served ORDER BY run_id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        types,
        [
            ("text".to_owned(), "text".to_owned()),
            ("blob".to_owned(), "blob".to_owned())
        ]
    );
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

#[test]
fn a_damaged_compressed_answer_is_a_clear_error_and_the_other_runs_still_read() {
    let (first, second) = (served(1, T0), served(2, T0 + MINUTE));
    let (_dir, options) = file_with("damaged-served", &[first.clone(), second.clone()]);
    {
        let connection = rusqlite::Connection::open(&options.path).unwrap();
        // Keep the frame's header and cut its body: the frame still states its size.
        connection
            .execute(
                "UPDATE served SET analysis = substr(analysis, 1, 12)
                 WHERE run_id = (SELECT run_id FROM runs WHERE trace_id = ?1)",
                [hex::encode(first.trace_id)],
            )
            .unwrap();
    }

    let history = History::open(options.clone()).unwrap();
    let error = history.analysis(&first.trace_id).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&options.path.display().to_string())
            && message.contains("does not decompress"),
        "{message}"
    );
    assert_eq!(history.analysis(&second.trace_id).unwrap(), second.analysis);
    assert_eq!(
        history.verdict(&first.trace_id).unwrap(),
        first.verdict,
        "the damaged run's verdict is still read"
    );
}
