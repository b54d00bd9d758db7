//! The analysis thread: analyses each decided trace, records the run in the history, and looks for
//! regressions and leaks across runs. It runs beside the engine shards, never on the receive path.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use foldhash::HashMap;
use ironforge_analysis::memory::{MemorySample, MemoryTrend, memory_trend};
use ironforge_analysis::regression::change_points;
use ironforge_analysis::{BottleneckWindow, Budgets, TraceAnalysis, analyse};
use ironforge_engine::{ContractSet, DecidedTrace};
use ironforge_history::{History, RunRecord, SeriesPoint};

use super::AnalysisConfig;
use super::measures::{self, MEMORY_PEAK, run_record};
use super::view::{AnalysisView, Regression};
use crate::internal_events::{HistoryFailed, MemoryLeakSuspected, RegressionFound};
use crate::telemetry::Metrics;
use crate::telemetry::names::value;

/// What the worker is asked to do, in order.
pub(super) enum Command {
    Analyse(Box<DecidedTrace>),
    Contracts(Arc<ContractSet>),
    /// Answers once everything sent before it is done.
    Flush(SyncSender<()>),
}

/// Pipelines whose findings are kept; more are analysed but not ranked (the bound of the pipeline label).
const MAX_PIPELINES: usize = 100;
/// Bottlenecks ranked per pipeline.
const BOTTLENECKS_RANKED: usize = 20;
/// Runs recorded between two prunes of the history.
const PRUNE_EVERY: u64 = 64;

/// What one run's history shows across runs: its pipeline's regressions, and peak memory as a trend.
type AcrossRuns = (Vec<Regression>, Option<MemoryTrend>);

pub(super) struct Worker {
    config: AnalysisConfig,
    contracts: Arc<ContractSet>,
    budgets: Budgets,
    history: Option<History>,
    windows: HashMap<String, BottleneckWindow>,
    view: Arc<RwLock<AnalysisView>>,
    metrics: Arc<Metrics>,
    recorded: u64,
    /// Per pipeline, the regressions (measure, first trace) of its latest findings: each is logged when it
    /// first appears. Only the current findings are kept, so this stays as small as they are.
    reported: HashMap<String, HashSet<(String, String)>>,
    /// Whether a leak was last reported, by pipeline and scope: logged when it starts, not on every run.
    leaking: HashMap<(String, &'static str), bool>,
}

impl Worker {
    pub fn new(
        config: AnalysisConfig,
        contracts: Arc<ContractSet>,
        history: Option<History>,
        view: Arc<RwLock<AnalysisView>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            budgets: Budgets::from_contracts(&contracts),
            config,
            contracts,
            history,
            windows: HashMap::default(),
            view,
            metrics,
            recorded: 0,
            reported: HashMap::default(),
            leaking: HashMap::default(),
        }
    }

    pub fn run(mut self, commands: Receiver<Command>) {
        // The bounds may have been lowered since the file was last written.
        self.prune(now_unix_nano());
        for command in commands {
            match command {
                Command::Analyse(trace) => {
                    let started = Instant::now();
                    self.analyse(&trace);
                    self.metrics
                        .analysis()
                        .analysed(started.elapsed().as_secs_f64());
                }
                Command::Contracts(contracts) => {
                    self.budgets = Budgets::from_contracts(&contracts);
                    self.contracts = contracts;
                }
                Command::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn analyse(&mut self, trace: &DecidedTrace) {
        // Evicted traces are a verdict on the monitor's capacity, and their spans are a fragment.
        if trace.verdict.evicted {
            return;
        }
        let Some(analysis) = analyse(trace, &self.budgets, &self.config.trace) else {
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
            self.memory_trend(&pipeline, value::SCOPE_RUN, memory);
        }
        let tracked = self.windows.contains_key(&pipeline) || self.windows.len() < MAX_PIPELINES;
        let bottlenecks = tracked.then(|| {
            let window = self
                .windows
                .entry(pipeline.clone())
                .or_insert_with(|| BottleneckWindow::new(self.config.bottleneck_runs));
            window.push(&analysis, &self.budgets);
            (window.len(), window.ranked(BOTTLENECKS_RANKED))
        });
        // A partial run would skew every baseline it joined.
        let across_runs = match trace.verdict.incomplete_reason {
            None => self.record(trace, &analysis, &pipeline),
            Some(_) => None,
        };
        let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
        view.add_trace(Arc::clone(&analysis));
        if let Some((runs, ranked)) = bottlenecks {
            let findings = view.pipeline_mut(&pipeline);
            findings.bottleneck_runs = runs;
            findings.bottlenecks = ranked;
            findings.latest = Some(analysis);
            if let Some((regressions, memory)) = across_runs {
                findings.regressions = regressions;
                findings.memory_across_runs = memory;
            }
        }
    }

    /// Records the run and looks across the pipeline's history; `None` without a history.
    fn record(
        &mut self,
        trace: &DecidedTrace,
        analysis: &TraceAnalysis,
        pipeline: &str,
    ) -> Option<AcrossRuns> {
        let record = run_record(trace, analysis);
        let history = self.history.as_mut()?;
        if let Err(error) = history.record(&record) {
            HistoryFailed {
                what: "record a run",
                error: &error,
            }
            .emit(&self.metrics);
            return None;
        }
        self.recorded += 1;
        if self.recorded.is_multiple_of(PRUNE_EVERY) {
            self.prune(record.decided_unix_nano);
        }
        // One read of the pipeline's recent runs serves every measure.
        let history = self.history.as_ref()?;
        let series = match history.recent_series(&record.service, self.config.regression_runs) {
            Ok(series) => series,
            Err(error) => {
                HistoryFailed {
                    what: "read the recent runs",
                    error: &error,
                }
                .emit(&self.metrics);
                return None;
            }
        };
        let regressions = self.regressions(&record, pipeline, &series);
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
            }
            .emit(&self.metrics);
        }
    }

    fn regressions(
        &mut self,
        record: &RunRecord,
        pipeline: &str,
        history: &BTreeMap<String, Vec<SeriesPoint>>,
    ) -> Vec<Regression> {
        let mut found = Vec::new();
        for measure in &record.measures {
            let Some(direction) = measures::direction(&measure.name, &self.contracts) else {
                continue;
            };
            let Some(series) = history.get(&measure.name) else {
                continue;
            };
            let values: Vec<f64> = series.iter().map(|point| point.value).collect();
            let points = change_points(&values, &self.config.regression);
            let newest = points.last().map(|point| point.index);
            let mut regressed_now = false;
            for point in points {
                if !point.is_regression(direction) {
                    continue;
                }
                let Some(first) = series.get(point.index) else {
                    continue;
                };
                let current = Some(point.index) == newest;
                regressed_now |= current;
                found.push(Regression {
                    measure: measure.name.clone(),
                    direction,
                    first_trace_id: first.trace_id.clone(),
                    first_decided_unix_nano: first.decided_unix_nano,
                    runs: series.len(),
                    current,
                    change_point: point,
                });
            }
            self.metrics
                .analysis()
                .regression(pipeline, &measure.name, regressed_now);
        }
        let current: HashSet<(String, String)> = found
            .iter()
            .map(|r| (r.measure.clone(), r.first_trace_id.clone()))
            .collect();
        let before = self.reported.entry(pipeline.to_owned()).or_default();
        for regression in &found {
            if !before.contains(&(
                regression.measure.clone(),
                regression.first_trace_id.clone(),
            )) {
                RegressionFound {
                    pipeline,
                    regression,
                }
                .emit();
            }
        }
        *before = current;
        found.sort_by(|a, b| b.change_point.impact.total_cmp(&a.change_point.impact));
        found
    }

    fn memory_across_runs(
        &mut self,
        pipeline: &str,
        history: &BTreeMap<String, Vec<SeriesPoint>>,
    ) -> Option<MemoryTrend> {
        let series = history.get(MEMORY_PEAK)?;
        let samples: Vec<MemorySample> = series
            .iter()
            .map(|point| MemorySample {
                unix_nano: point.decided_unix_nano,
                bytes: point.value,
            })
            .collect();
        let trend = memory_trend(&samples, &self.config.leak);
        self.memory_trend(pipeline, value::SCOPE_HISTORY, &trend);
        Some(trend)
    }

    fn memory_trend(&mut self, pipeline: &str, scope: &'static str, trend: &MemoryTrend) {
        self.metrics.analysis().memory_trend(
            pipeline,
            scope,
            trend.leak,
            trend.growth_bytes_per_second,
        );
        let was = self
            .leaking
            .insert((pipeline.to_owned(), scope), trend.leak)
            .unwrap_or(false);
        if trend.leak && !was {
            MemoryLeakSuspected {
                pipeline,
                scope,
                trend,
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
