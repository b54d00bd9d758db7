//! The analysis thread: analyses each decided trace, records the run in the history with the verdict and
//! analysis the API serves for it, and looks for regressions and leaks across runs. It runs beside the
//! engine shards, never on the receive path.
//!
//! A trace's own analysis is done as it arrives. What looks across runs (the history's write, the read of
//! each pipeline's recent runs, change points, the memory trend, the bottleneck ranking) is caught up at
//! once after a quiet spell, and otherwise at most once every [`CATCH_UP_EVERY`]: a flood of runs then costs
//! one search per pipeline a second instead of one per run, and no finding lags longer. The history's writes
//! go in batches of [`RECORD_AT`] runs too, whichever comes first, so the runs waiting for it stay few.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use foldhash::HashMap;
use ironforge_analysis::memory::MemoryTrend;
use ironforge_analysis::{BottleneckWindow, Budgets, TraceAnalysis, analyse_unplanned};
use ironforge_engine::model::TraceId;
use ironforge_engine::verdict::TraceVerdict;
use ironforge_engine::{ContractSet, DecidedTrace};
use ironforge_history::{History, HistoryOptions, RunRecord};

mod findings;

use super::AnalysisConfig;
use super::events::HistoryFailed;
use super::measures::run_record;
use super::view::{AnalysisView, Regression};
use ironforge_report::health::MAX_PIPELINES;
use ironforge_telemetry::names::value;
use ironforge_telemetry::{InternalEvent, MemoryScope, Metrics};

/// What the worker is asked to do, in order.
pub(super) enum Command {
    Analyse(Box<DecidedTrace>),
    Contracts(Arc<ContractSet>),
    /// A verdict revised by spans that came after it: the history keeps the revision.
    Revised(Box<TraceVerdict>),
    /// Answers once everything sent before it is done, findings across runs included.
    Flush(SyncSender<()>),
}

/// Bottlenecks ranked per pipeline.
const BOTTLENECKS_RANKED: usize = 20;
/// Runs recorded between two prunes of the history.
const PRUNE_EVERY: u64 = 64;
/// Longest the findings across runs lag the newest analysed run while traces keep arriving.
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);
/// Runs analysed but not yet in the history past which they are written without waiting for the catch-up:
/// a stored analysis is about 160 KB of JSON for an IRONFORGE run, and a second's flood of a thousand runs
/// held until the catch-up took the process to its memory budget.
const RECORD_AT: usize = 32;

/// The run history as the thread gets it: open, or still to be created.
pub(super) enum HistorySource {
    Opened(History),
    ToCreate(HistoryOptions),
}

/// What one pipeline's history shows across runs: its regressions, and peak memory as a trend.
type AcrossRuns = (Vec<Regression>, Option<MemoryTrend>);

pub(super) struct Worker {
    config: AnalysisConfig,
    contracts: Arc<ContractSet>,
    budgets: Budgets,
    history: Option<History>,
    /// A history to create when the thread starts.
    history_to_create: Option<HistoryOptions>,
    windows: HashMap<String, BottleneckWindow>,
    view: Arc<RwLock<AnalysisView>>,
    metrics: Arc<Metrics>,
    recorded: u64,
    /// Runs analysed and not yet written to the history, in the order they were decided, each with its
    /// analysis (whose JSON is made when written, so that a plan made meanwhile goes with it).
    unrecorded: Vec<(RunRecord, Arc<TraceAnalysis>)>,
    /// Tracked pipelines with runs analysed since their findings were last caught up, each with the name its
    /// runs are recorded under when one of those runs went to the history (so its comparison is due too).
    stale: HashMap<String, Option<String>>,
    /// When the findings were last caught up.
    last_catch_up: Option<Instant>,
    /// Time spent on the last analysed trace and on catching up since, not yet observed.
    unreported_seconds: Option<f64>,
    /// Per pipeline, the regressions (measure, first trace) of its latest findings: each is logged when it
    /// first appears. Only the current findings are kept, so this stays as small as they are.
    reported: HashMap<String, HashSet<(String, TraceId)>>,
    /// Whether a leak was last reported, by pipeline and scope: logged when it starts, not on every run.
    leaking: HashMap<(String, MemoryScope), bool>,
}

impl Worker {
    pub(super) fn new(
        config: AnalysisConfig,
        contracts: Arc<ContractSet>,
        history: Option<HistorySource>,
        view: Arc<RwLock<AnalysisView>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (history, history_to_create) = match history {
            None => (None, None),
            Some(HistorySource::Opened(history)) => (Some(history), None),
            Some(HistorySource::ToCreate(options)) => (None, Some(options)),
        };
        Self {
            budgets: Budgets::from_contracts(&contracts),
            config,
            contracts,
            history,
            history_to_create,
            windows: HashMap::default(),
            view,
            metrics,
            recorded: 0,
            unrecorded: Vec::new(),
            stale: HashMap::default(),
            last_catch_up: None,
            unreported_seconds: None,
            reported: HashMap::default(),
            leaking: HashMap::default(),
        }
    }

    pub(super) fn run(mut self, commands: Receiver<Command>) {
        if let Some(options) = self.history_to_create.take() {
            match History::open(options) {
                Ok(history) => self.history = Some(history),
                Err(error) => HistoryFailed {
                    what: "create the run history",
                    error: &error,
                    metrics: &self.metrics,
                }
                .emit(),
            }
        }
        // The bounds may have been lowered since the file was last written.
        self.prune(now_unix_nano());
        loop {
            let next = match self.catch_up_due() {
                None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => match due.checked_duration_since(Instant::now()) {
                    Some(wait) if !wait.is_zero() => commands.recv_timeout(wait),
                    _ => Err(RecvTimeoutError::Timeout),
                },
            };
            let command = match next {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.catch_up();
                    continue;
                }
                // The last sender is gone: everything queued before has been handled.
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match command {
                Command::Analyse(trace) => {
                    self.report_time();
                    let started = Instant::now();
                    self.analyse(Arc::from(trace));
                    self.unreported_seconds = Some(started.elapsed().as_secs_f64());
                }
                Command::Contracts(contracts) => {
                    // Runs analysed so far are compared under the contracts they were judged by.
                    self.catch_up();
                    self.budgets = Budgets::from_contracts(&contracts);
                    self.view
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .set_budgets(self.budgets);
                    self.contracts = contracts;
                }
                Command::Revised(verdict) => self.revise(&verdict),
                Command::Flush(done) => {
                    self.catch_up();
                    self.report_time();
                    let _ = done.send(());
                }
            }
        }
        self.catch_up();
        self.report_time();
    }

    /// When the findings across runs are next to be caught up: at once after a quiet spell, else
    /// [`CATCH_UP_EVERY`] after the last time; `None` when no run is waiting for it.
    fn catch_up_due(&self) -> Option<Instant> {
        if self.stale.is_empty() && self.unrecorded.is_empty() {
            return None;
        }
        Some(
            self.last_catch_up
                .map_or_else(Instant::now, |last| last + CATCH_UP_EVERY),
        )
    }

    /// Observes the time spent on the last analysed trace, with any catching up done since.
    fn report_time(&mut self) {
        if let Some(seconds) = self.unreported_seconds.take() {
            self.metrics.analysis().analysed(seconds);
        }
    }

    fn analyse(&mut self, trace: Arc<DecidedTrace>) {
        // Evicted traces are a verdict on the monitor's capacity, and their spans are a fragment.
        if trace.verdict.evicted {
            return;
        }
        // The what-if part waits until someone reads it: most runs' plans are never asked for.
        let Some(analysis) = analyse_unplanned(&trace, &self.config.trace) else {
            return;
        };
        let analysis = Arc::new(analysis);
        let pipeline = trace
            .verdict
            .service_name
            .clone()
            .unwrap_or_else(|| value::UNKNOWN_SERVICE.to_owned());
        for stage in &analysis.stages {
            self.metrics.analysis().critical_path_share(
                &pipeline,
                stage.stage.as_str(),
                stage.critical_share,
            );
        }
        if let Some(memory) = &analysis.memory {
            self.memory_trend(&pipeline, MemoryScope::Run, memory);
        }
        // Every run is kept for what the API served for it, a partial one without its measures: they would
        // skew every baseline they joined. A trace that never showed its root (a fragment) is not a run.
        let is_run = trace.spans.iter().any(|span| span.parent_span_id.is_none());
        let recorded_as = if self.history.is_some() && is_run {
            let complete = trace.verdict.incomplete_reason.is_none();
            let mut record = run_record(&trace, &analysis);
            if !complete {
                record.measures.clear();
            }
            record.verdict = serde_json::to_string(&trace.verdict).ok();
            let service = record.service.clone();
            self.unrecorded.push((record, Arc::clone(&analysis)));
            complete.then_some(service)
        } else {
            None
        };
        // Findings are kept for a bounded set of pipelines; more are analysed but not ranked.
        let tracked = self.windows.contains_key(&pipeline) || self.windows.len() < MAX_PIPELINES;
        if tracked {
            self.windows
                .entry(pipeline.clone())
                .or_insert_with(|| BottleneckWindow::new(self.config.bottleneck_runs))
                .push(&analysis, &self.budgets);
        }
        let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
        view.add_trace(Arc::clone(&analysis), trace.verdict.clone(), Some(trace));
        if tracked {
            view.pipeline_mut(&pipeline).latest = Some(analysis);
            let stale = self.stale.entry(pipeline).or_default();
            if recorded_as.is_some() {
                *stale = recorded_as;
            }
        }
        drop(view);
        if self.unrecorded.len() >= RECORD_AT {
            self.record_pending();
        }
    }

    /// Writes the runs analysed since the last call to the history, then brings each stale pipeline's
    /// bottlenecks, regressions and memory trend up to date.
    fn catch_up(&mut self) {
        let started = Instant::now();
        self.last_catch_up = Some(started);
        self.record_pending();
        for (pipeline, recorded_as) in std::mem::take(&mut self.stale) {
            let ranked = self
                .windows
                .get(&pipeline)
                .map(|window| (window.len(), window.ranked(BOTTLENECKS_RANKED)));
            let across_runs = recorded_as.and_then(|service| self.across_runs(&pipeline, &service));
            let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
            view.plan_latest(&pipeline);
            let findings = view.pipeline_mut(&pipeline);
            if let Some((runs, ranked)) = ranked {
                findings.bottleneck_runs = runs;
                findings.bottlenecks = ranked;
            }
            if let Some((regressions, memory)) = across_runs {
                findings.regressions = regressions;
                findings.memory_across_runs = memory;
            }
        }
        if let Some(seconds) = &mut self.unreported_seconds {
            *seconds += started.elapsed().as_secs_f64();
        }
    }

    /// Writes the runs analysed since the last write to the history.
    fn record_pending(&mut self) {
        if !self.unrecorded.is_empty() {
            // Each pipeline's latest run is planned now rather than later, so that the history keeps it planned.
            let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
            for pipeline in self.stale.keys() {
                view.plan_latest(pipeline);
            }
        }
        self.write_history();
    }

    fn write_history(&mut self) {
        if self.unrecorded.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.unrecorded);
        let runs: Vec<RunRecord> = {
            let view = self.view.read().unwrap_or_else(PoisonError::into_inner);
            pending
                .into_iter()
                .map(|(mut record, analysis)| {
                    // As the API serves it: planned, if a reader or the catch-up planned it meanwhile.
                    let served = view.analysed(&TraceId(record.trace_id)).unwrap_or(analysis);
                    record.analysis = serde_json::to_string(&*served).ok();
                    record
                })
                .collect()
        };
        let Some(history) = self.history.as_mut() else {
            return;
        };
        if history.record_all(&runs).is_err() {
            // One run the history refuses must not cost the others their place: each is tried alone.
            for run in &runs {
                if let Err(error) = history.record(run) {
                    HistoryFailed {
                        what: "record a run",
                        error: &error,
                        metrics: &self.metrics,
                    }
                    .emit();
                }
            }
        }
        let before = self.recorded;
        self.recorded += runs.len() as u64;
        if before / PRUNE_EVERY != self.recorded / PRUNE_EVERY
            && let Some(newest) = runs.last()
        {
            self.prune(newest.decided_unix_nano);
        }
    }

    /// Keeps a revised verdict in place of the one the run was recorded with (or is about to be).
    fn revise(&mut self, verdict: &TraceVerdict) {
        self.view
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .revise(verdict);
        let trace_id = verdict.trace_id.0;
        let Ok(json) = serde_json::to_string(verdict) else {
            return;
        };
        let status = verdict.status.as_str();
        if let Some((record, _)) = self
            .unrecorded
            .iter_mut()
            .find(|(record, _)| record.trace_id == trace_id)
        {
            record.verdict = Some(json);
            status.clone_into(&mut record.status);
            record.production_ready = verdict.production_ready;
            return;
        }
        let Some(history) = self.history.as_mut() else {
            return;
        };
        if let Err(error) =
            history.revise_verdict(&trace_id, status, verdict.production_ready, &json)
        {
            HistoryFailed {
                what: "revise a verdict",
                error: &error,
                metrics: &self.metrics,
            }
            .emit();
        }
    }

    /// Looks across the runs the history holds for `service` (the pipeline's recorded name).
    fn across_runs(&mut self, pipeline: &str, service: &str) -> Option<AcrossRuns> {
        // One read of the pipeline's recent runs serves every measure.
        let series = match self
            .history
            .as_ref()?
            .recent_series(service, self.config.regression_runs)
        {
            Ok(series) => series,
            Err(error) => {
                HistoryFailed {
                    what: "read the recent runs",
                    error: &error,
                    metrics: &self.metrics,
                }
                .emit();
                return None;
            }
        };
        let regressions = self.regressions(pipeline, &series);
        let memory = self.memory_across_runs(pipeline, &series);
        Some((regressions, memory))
    }

    fn prune(&mut self, now_unix_nano: u64) {
        let Some(history) = self.history.as_mut() else {
            return;
        };
        if let Err(error) = history.prune(now_unix_nano) {
            HistoryFailed {
                what: "prune",
                error: &error,
                metrics: &self.metrics,
            }
            .emit();
        }
    }
}

fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
