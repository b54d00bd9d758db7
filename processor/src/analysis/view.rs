//! What the analysis has found, as the HTTP and gRPC APIs read it: recent runs' analyses, and per pipeline
//! its bottlenecks, its latest plan, its regressions and its memory trend across runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ironforge_analysis::memory::MemoryTrend;
use ironforge_analysis::regression::{ChangePoint, Direction};
use ironforge_analysis::{Bottleneck, TraceAnalysis};
use serde::Serialize;

/// A change point that made a measure worse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub measure: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub change_point: ChangePoint,
    /// The first run at the new level.
    pub first_trace_id: String,
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
#[derive(Debug, Default)]
pub struct AnalysisView {
    traces: VecDeque<Arc<TraceAnalysis>>,
    traces_kept: usize,
    pipelines: BTreeMap<String, PipelineFindings>,
}

impl AnalysisView {
    pub(super) fn new(traces_kept: usize) -> Self {
        Self {
            traces: VecDeque::new(),
            traces_kept: traces_kept.max(1),
            pipelines: BTreeMap::new(),
        }
    }

    pub(super) fn add_trace(&mut self, analysis: Arc<TraceAnalysis>) {
        self.traces
            .retain(|kept| kept.trace_id != analysis.trace_id);
        self.traces.push_back(analysis);
        while self.traces.len() > self.traces_kept {
            self.traces.pop_front();
        }
    }

    pub(super) fn pipeline_mut(&mut self, pipeline: &str) -> &mut PipelineFindings {
        self.pipelines.entry(pipeline.to_owned()).or_default()
    }

    /// The analysis of a recent run, by its trace id in hex.
    pub fn trace(&self, trace_id: &str) -> Option<Arc<TraceAnalysis>> {
        self.traces
            .iter()
            .rev()
            .find(|a| a.trace_id == trace_id)
            .cloned()
    }

    /// The newest `limit` analysed runs, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<TraceAnalysis>> {
        let skip = self.traces.len().saturating_sub(limit);
        self.traces.iter().skip(skip).cloned().collect()
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
