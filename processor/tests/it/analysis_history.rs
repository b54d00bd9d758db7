//! The processor's analysis across runs: each decided run recorded in the SQLite history under the data
//! directory, change points found over it (and kept across a restart), memory trends across runs, and the
//! metrics and findings that say so.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ironforge_engine::config::ContractFile;
use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::{ContractSet, DecidedTrace, Now, decide_batch};
use ironforge_processor::analysis::{AnalysisConfig, Analyst, MEMORY_PEAK, RUN_DURATION, answers};
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_telemetry::Metrics;

use crate::wait_support::wait_until;

const PIPELINE: &str = "nightly-discovery";
const SECOND: u64 = 1_000_000_000;

/// A day before the tests started.
static EPOCH: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(now.as_nanos()).unwrap() - 86_400 * SECOND
});

fn contracts() -> Arc<ContractSet> {
    Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        None,
    ))
}

struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ironforge-analysis-{name}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `number`: decided at `number` seconds, taking `seconds`, its memory peaking at `peak_bytes`.
fn run(number: u32, seconds: f64, peak_bytes: f64) -> DecidedTrace {
    let mut trace_id = [0u8; 16];
    trace_id[12..].copy_from_slice(&(number + 1).to_be_bytes());
    let trace_id = TraceId(trace_id);
    // Runs of the last day: the history keeps 30 days, counted from the wall clock at start.
    let start = *EPOCH + u64::from(number) * 1000 * SECOND;
    let end = start + (seconds * 1e9) as u64;
    let span = |id: u8, parent: Option<u8>, kind: SpanKind, memory: f64| {
        let mut span = SpanRecord::new(trace_id, SpanId([id; 8]), kind.as_str());
        span.parent_span_id = parent.map(|p| SpanId([p; 8]));
        span.kind = Some(kind);
        span.service_name = Some(Arc::from(PIPELINE));
        span.start_unix_nano = start;
        span.end_unix_nano = end;
        span.facts.set(attr::PROCESS_MEMORY_USAGE, memory);
        span
    };
    let mut session = span(3, Some(2), SpanKind::Session, peak_bytes);
    session.stage = Some(Stage::Discovery);
    session.session_id = Some(Arc::from("NY_AM_2025-08-05"));
    let mut stage = span(2, Some(1), SpanKind::Stage, peak_bytes / 2.0);
    stage.stage = Some(Stage::Discovery);
    let spans = vec![
        span(1, None, SpanKind::Run, peak_bytes / 4.0),
        stage,
        session,
    ];
    let now = Now {
        instant: Instant::now(),
        unix_nano: end + SECOND,
    };
    decide_batch(contracts(), spans, now).pop().unwrap()
}

/// The metrics hold `family{pipeline="…",label="…"} value`.
fn assert_sample(metrics: &Metrics, family: &str, (label, value): (&str, &str), sample: u8) {
    let text = metrics.encode().unwrap();
    let line = format!("{family}{{pipeline=\"{PIPELINE}\",{label}=\"{value}\"}} {sample}");
    assert!(text.contains(&line), "no {line} in\n{text}");
}

fn start_analyst(dir: &Path, metrics: &Arc<Metrics>) -> Analyst {
    Analyst::start(
        AnalysisConfig::default(),
        dir,
        contracts(),
        Arc::clone(metrics),
    )
    .unwrap()
}

#[test]
fn a_step_in_run_time_is_found_at_the_first_slower_run_and_survives_a_restart() {
    let dir = DataDir::new("step");
    let metrics = Arc::new(Metrics::new());
    // Twelve runs at 2 s, then the processor restarts.
    {
        let analyst = start_analyst(&dir.0, &metrics);
        for number in 0..12 {
            analyst.submit(Box::new(run(number, 2.0, 40e6)));
        }
        analyst.flush();
        let view = analyst.view();
        let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
        assert!(
            findings.regressions.is_empty(),
            "{:?}",
            findings.regressions
        );
    }
    assert!(dir.0.join("history.sqlite").exists());
    // Twelve more at 3 s: the change point rests on runs recorded before the restart.
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    for number in 12..24 {
        analyst.submit(Box::new(run(number, 3.0, 40e6)));
    }
    analyst.flush();
    let view = analyst.view();
    let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
    let regression = findings
        .regressions
        .iter()
        .find(|r| r.measure == RUN_DURATION)
        .unwrap_or_else(|| panic!("{:?}", findings.regressions));
    assert_eq!(regression.change_point.index, 12);
    assert_eq!(regression.runs, 24);
    assert!((regression.change_point.mean_before - 2.0).abs() < 1e-6);
    assert!((regression.change_point.mean_after - 3.0).abs() < 1e-6);
    assert!((regression.change_point.magnitude - 0.5).abs() < 1e-6);
    assert!(regression.current);
    assert_eq!(
        regression.first_trace_id,
        run(12, 3.0, 40e6).verdict.trace_id
    );
    assert_sample(
        &metrics,
        "ironforge_analysis_regression",
        ("measure", RUN_DURATION),
        1,
    );
}

#[test]
fn a_burst_of_runs_is_compared_across_runs_once_the_queue_drains_without_a_flush() {
    let dir = DataDir::new("burst");
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    for number in 0..24 {
        let seconds = if number < 12 { 2.0 } else { 3.0 };
        analyst.submit(Box::new(run(number, seconds, 40e6)));
    }
    // No flush: the thread catches up by itself when it runs out of traces.
    let regression = wait_until("a regression over the whole burst", || {
        let view = analyst.view();
        let regressions = view
            .pipelines(Some(PIPELINE))
            .map(|pipelines| pipelines[0].1.regressions.clone())
            .unwrap_or_default();
        regressions
            .iter()
            .find(|r| r.measure == RUN_DURATION && r.runs == 24)
            .cloned()
            .ok_or_else(|| format!("regressions {regressions:?}"))
    });
    // The thread may catch up while the burst is still arriving; in the end every run was recorded, in order.
    assert_eq!(regression.change_point.index, 12);
    let view = analyst.view();
    let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
    assert_eq!(findings.bottleneck_runs, 24);
}

#[test]
fn steady_runs_with_noise_show_no_regression_and_a_faster_step_is_not_one() {
    let dir = DataDir::new("noise");
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    // A deterministic wobble of ±5 % around 2 s, then a step down to 1 s: an improvement.
    for number in 0..20 {
        let wobble = [0.0, 0.05, -0.03, 0.02, -0.05][number as usize % 5];
        analyst.submit(Box::new(run(number, 2.0 * (1.0 + wobble), 40e6)));
    }
    analyst.flush();
    {
        let view = analyst.view();
        let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
        assert!(
            findings.regressions.is_empty(),
            "{:?}",
            findings.regressions
        );
    }
    for number in 20..32 {
        analyst.submit(Box::new(run(number, 1.0, 40e6)));
    }
    analyst.flush();
    let view = analyst.view();
    let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
    assert!(
        findings
            .regressions
            .iter()
            .all(|r| r.measure != RUN_DURATION),
        "{:?}",
        findings.regressions
    );
    assert_sample(
        &metrics,
        "ironforge_analysis_regression",
        ("measure", RUN_DURATION),
        0,
    );
}

#[test]
fn peak_memory_growing_run_after_run_is_a_leak_across_runs_and_a_sawtooth_is_not() {
    let dir = DataDir::new("leak");
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    // 1 MB more at each run, one run every 1000 s.
    for number in 0..16 {
        analyst.submit(Box::new(run(number, 2.0, 40e6 + f64::from(number) * 1e6)));
    }
    analyst.flush();
    {
        let view = analyst.view();
        let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
        let trend = findings.memory_across_runs.as_ref().unwrap();
        assert!(trend.leak, "{}", trend.verdict);
        // 1 MB per 1000 s, within the KiB the engine rounds memory to.
        assert!(
            (trend.growth_bytes_per_second - 1000.0).abs() < 5.0,
            "{trend:?}"
        );
        assert_sample(
            &metrics,
            "ironforge_analysis_memory_leak",
            ("scope", "history"),
            1,
        );
    }
    let dir = DataDir::new("sawtooth");
    let restarting = start_analyst(&dir.0, &metrics);
    // Memory climbs for four runs, then the process restarts and it falls back.
    for number in 0..16 {
        let tooth = f64::from(number % 4);
        restarting.submit(Box::new(run(number, 2.0, 20e6 * (1.0 + tooth))));
    }
    restarting.flush();
    let view = restarting.view();
    let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
    let trend = findings.memory_across_runs.as_ref().unwrap();
    assert!(!trend.leak, "{trend:?}");
    assert!(trend.segments > 1, "{trend:?}");
    assert!(
        findings
            .regressions
            .iter()
            .all(|r| r.measure != MEMORY_PEAK)
    );
}

#[test]
fn without_a_history_runs_are_still_analysed_but_not_compared() {
    let dir = DataDir::new("no-history");
    let metrics = Arc::new(Metrics::new());
    let analyst = Analyst::start(
        AnalysisConfig {
            history: None,
            ..AnalysisConfig::default()
        },
        &dir.0,
        contracts(),
        Arc::clone(&metrics),
    )
    .unwrap();
    analyst.submit(Box::new(run(0, 2.0, 40e6)));
    analyst.flush();
    assert!(!dir.0.join("history.sqlite").exists());
    let view = analyst.view();
    let trace = run(0, 2.0, 40e6).verdict.trace_id;
    assert!(view.trace(&trace).is_some());
    let (_, findings) = view.pipelines(Some(PIPELINE)).unwrap()[0];
    assert!(findings.memory_across_runs.is_none());
}

#[test]
fn a_history_that_cannot_be_created_is_counted_and_runs_are_still_analysed() {
    let dir = DataDir::new("uncreatable");
    std::fs::create_dir_all(&dir.0).unwrap();
    // The data directory would have to be made inside a plain file.
    let blocker = dir.0.join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&blocker.join("data"), &metrics);
    analyst.submit(Box::new(run(0, 2.0, 40e6)));
    analyst.flush();
    let trace = run(0, 2.0, 40e6).verdict.trace_id;
    assert!(analyst.view().trace(&trace).is_some());
    let text = metrics.encode().unwrap();
    assert!(
        text.contains("ironforge_analysis_history_errors_total 1"),
        "{text}"
    );
}

#[test]
fn a_damaged_history_is_kept_aside_and_a_new_one_started() {
    let dir = DataDir::new("corrupt");
    std::fs::create_dir_all(&dir.0).unwrap();
    let damaged = b"not a database, just text".repeat(200);
    std::fs::write(dir.0.join("history.sqlite"), &damaged).unwrap();
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    analyst.submit(Box::new(run(0, 2.0, 40e6)));
    analyst.flush();
    let trace = run(0, 2.0, 40e6).verdict.trace_id;
    assert!(analyst.view().trace(&trace).is_some());

    let aside: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("history.sqlite.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), damaged, "kept as it was");
    let history =
        ironforge_history::History::open(ironforge_history::HistoryOptions::in_dir(&dir.0));
    assert!(history.is_ok(), "a new history: {history:?}");
    let text = metrics.encode().unwrap();
    assert!(
        text.contains("ironforge_analysis_history_errors_total 1"),
        "{text}"
    );
}

#[test]
fn a_run_recorded_before_a_restart_is_answered_from_the_history_as_it_was_served() {
    let dir = DataDir::new("served");
    let trace = run(0, 2.0, 40e6).verdict.trace_id;
    let served = {
        let metrics = Arc::new(Metrics::new());
        let analyst = start_analyst(&dir.0, &metrics);
        analyst.submit(Box::new(run(0, 2.0, 40e6)));
        analyst.flush();
        answers::trace(Some(&analyst), &trace).unwrap()
    };
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    assert!(analyst.view().trace(&trace).is_none(), "not in memory");
    assert_eq!(
        analyst.stored_verdict(&trace),
        Some(run(0, 2.0, 40e6).verdict)
    );
    let stored = answers::trace(Some(&analyst), &trace).unwrap();
    assert_eq!(*stored, *served);
    let unknown = run(1, 2.0, 40e6).verdict.trace_id;
    assert_eq!(analyst.stored_verdict(&unknown), None);
    assert_eq!(
        answers::trace(Some(&analyst), &unknown).unwrap_err(),
        answers::AnalysisQueryError::TraceNotFound(unknown)
    );
}

#[test]
fn a_revised_verdict_replaces_the_one_its_run_was_recorded_with() {
    let dir = DataDir::new("revised");
    let metrics = Arc::new(Metrics::new());
    let analyst = start_analyst(&dir.0, &metrics);
    let first = run(0, 2.0, 40e6);
    let trace = first.verdict.trace_id;
    analyst.submit(Box::new(first));
    analyst.flush();
    let mut revised = run(0, 2.0, 40e6).verdict;
    revised.span_count += 1;
    assert_ne!(analyst.stored_verdict(&trace).as_ref(), Some(&revised));
    analyst.revise(&revised);
    analyst.flush();
    assert_eq!(analyst.stored_verdict(&trace), Some(revised.clone()));
    drop(analyst);
    let analyst = start_analyst(&dir.0, &metrics);
    assert_eq!(analyst.stored_verdict(&trace), Some(revised));
}
