//! What the analysis has found, as the HTTP and gRPC APIs read it: recent runs' analyses, and per pipeline
//! its bottlenecks, its latest plan, its regressions and its memory trend across runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ironforge_analysis::memory::MemoryTrend;
use ironforge_analysis::regression::{ChangePoint, Direction};
use ironforge_analysis::{AnalysisOptions, Bottleneck, Budgets, TraceAnalysis, add_plan};
use ironforge_engine::DecidedTrace;
use ironforge_engine::model::TraceId;
use ironforge_engine::verdict::TraceVerdict;
use serde::Serialize;

/// A change point that made a measure worse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub measure: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub change_point: ChangePoint,
    /// The first run at the new level.
    pub first_trace_id: TraceId,
    pub first_decided_unix_nano: u64,
    /// Runs of the series searched.
    pub runs: usize,
    /// Whether it is the newest change point of its series: the level the pipeline is at now.
    pub current: bool,
}

/// One pipeline's findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineFindings {
    /// Runs the bottlenecks are ranked over.
    pub bottleneck_runs: usize,
    pub bottlenecks: Vec<Bottleneck>,
    /// The newest analysed run, whose plan `/api/v1/analysis/plan` gives.
    pub latest: Option<Arc<TraceAnalysis>>,
    pub regressions: Vec<Regression>,
    /// Peak memory of each run in the history, as a trend across runs.
    pub memory_across_runs: Option<MemoryTrend>,
}

/// Everything the APIs read, replaced piece by piece by the analysis worker.
#[derive(Debug)]
pub struct AnalysisView {
    traces: VecDeque<KeptRun>,
    traces_kept: usize,
    pipelines: BTreeMap<String, PipelineFindings>,
    budgets: Budgets,
    options: AnalysisOptions,
}

/// A recent run's analysis, and while its recommendations and plan are still to be made (the costly
/// what-if part, made only when someone reads them), the trace they are made from. Its verdict is kept too:
/// until the run reaches the history, this is where a verdict the engine has let go is still found.
#[derive(Debug)]
struct KeptRun {
    analysis: Arc<TraceAnalysis>,
    verdict: TraceVerdict,
    unplanned: Option<Arc<DecidedTrace>>,
}

impl AnalysisView {
    pub(super) fn new(traces_kept: usize, budgets: Budgets, options: AnalysisOptions) -> Self {
        Self {
            traces: VecDeque::new(),
            traces_kept: traces_kept.max(1),
            pipelines: BTreeMap::new(),
            budgets,
            options,
        }
    }

    /// Plans made from now on weigh gains against these budgets.
    pub(super) fn set_budgets(&mut self, budgets: Budgets) {
        self.budgets = budgets;
    }

    /// Keeps a run's analysis and verdict; `unplanned` is its trace when the analysis has no plan yet.
    pub(super) fn add_trace(
        &mut self,
        analysis: Arc<TraceAnalysis>,
        verdict: TraceVerdict,
        unplanned: Option<Arc<DecidedTrace>>,
    ) {
        self.traces
            .retain(|kept| kept.analysis.trace_id != analysis.trace_id);
        self.traces.push_back(KeptRun {
            analysis,
            verdict,
            unplanned,
        });
        while self.traces.len() > self.traces_kept {
            self.traces.pop_front();
        }
    }

    /// Completes the plan of the pipeline's latest run, which `/api/v1/analysis/plan` gives, and keeps it.
    pub(super) fn plan_latest(&mut self, pipeline: &str) {
        let Some(latest) = self
            .pipelines
            .get(pipeline)
            .and_then(|findings| findings.latest.as_ref())
        else {
            return;
        };
        let Some(kept) = self
            .traces
            .iter_mut()
            .rev()
            .find(|kept| kept.analysis.trace_id == latest.trace_id)
        else {
            return;
        };
        if let Some(trace) = kept.unplanned.take() {
            kept.analysis = Arc::new(planned(
                &kept.analysis,
                &trace,
                &self.budgets,
                &self.options,
            ));
        }
        let analysis = Arc::clone(&kept.analysis);
        self.pipeline_mut(pipeline).latest = Some(analysis);
    }

    pub(super) fn pipeline_mut(&mut self, pipeline: &str) -> &mut PipelineFindings {
        self.pipelines.entry(pipeline.to_owned()).or_default()
    }

    /// The whole analysis of a recent run, its plan made now if it had none.
    pub fn trace(&self, trace_id: &TraceId) -> Option<Arc<TraceAnalysis>> {
        let kept = self.kept(trace_id)?;
        Some(match &kept.unplanned {
            None => Arc::clone(&kept.analysis),
            Some(trace) => Arc::new(planned(&kept.analysis, trace, &self.budgets, &self.options)),
        })
    }

    /// A recent run's verdict.
    pub(super) fn verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
        self.kept(trace_id).map(|kept| kept.verdict.clone())
    }

    /// Replaces a recent run's verdict with its revision.
    pub(super) fn revise(&mut self, verdict: &TraceVerdict) {
        if let Some(kept) = self
            .traces
            .iter_mut()
            .rev()
            .find(|kept| kept.analysis.trace_id == verdict.trace_id)
        {
            kept.verdict = verdict.clone();
        }
    }

    fn kept(&self, trace_id: &TraceId) -> Option<&KeptRun> {
        self.traces
            .iter()
            .rev()
            .find(|kept| kept.analysis.trace_id == *trace_id)
    }

    /// A recent run's analysis as kept, planned only if it was planned already.
    pub(super) fn analysed(&self, trace_id: &TraceId) -> Option<Arc<TraceAnalysis>> {
        self.kept(trace_id).map(|kept| Arc::clone(&kept.analysis))
    }

    /// The newest `limit` analysed runs, oldest first, as they were analysed: the critical path and the
    /// breakdowns, with recommendations and a plan only where one was made.
    pub fn recent(&self, limit: usize) -> Vec<Arc<TraceAnalysis>> {
        let skip = self.traces.len().saturating_sub(limit);
        self.traces
            .iter()
            .skip(skip)
            .map(|kept| Arc::clone(&kept.analysis))
            .collect()
    }

    /// Every pipeline's findings, or one pipeline's; `None` for a pipeline never analysed.
    pub fn pipelines(&self, only: Option<&str>) -> Option<Vec<(&str, &PipelineFindings)>> {
        match only {
            Some(name) => self
                .pipelines
                .get_key_value(name)
                .map(|(name, findings)| vec![(name.as_str(), findings)]),
            None => Some(
                self.pipelines
                    .iter()
                    .map(|(name, findings)| (name.as_str(), findings))
                    .collect(),
            ),
        }
    }
}

fn planned(
    analysis: &TraceAnalysis,
    trace: &DecidedTrace,
    budgets: &Budgets,
    options: &AnalysisOptions,
) -> TraceAnalysis {
    let mut analysis = analysis.clone();
    add_plan(&mut analysis, trace, budgets, options);
    analysis
}
