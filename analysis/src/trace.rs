//! One decided trace, analysed: its critical path, where its time went, and what would make it faster.

use std::sync::Arc;

use ironforge_engine::DecidedTrace;
use ironforge_engine::model::{SpanId, TraceId};
use ironforge_proto::semconv::Stage;
use serde::{Deserialize, Serialize};

use crate::breakdown::{self, SessionBreakdown, StageBreakdown};
use crate::budget::Budgets;
use crate::critical_path::{Segment, critical_path};
use crate::memory::{LeakOptions, MemorySample, MemoryTrend, memory_trend};
use crate::recommend::{Plan, RecommendOptions, Recommendation, plan, recommend};
use crate::tree::SpanTree;
use crate::units::{duration, nanosecond_seconds};
use crate::untraced;

/// How to analyse a trace.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AnalysisOptions {
    pub recommend: RecommendOptions,
    /// How the run's memory timeline is judged.
    pub leak: LeakOptions,
}

/// A stretch of the critical path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStep {
    pub span_id: SpanId,
    pub name: Arc<str>,
    pub stage: Option<Stage>,
    pub session_id: Option<Arc<str>>,
    /// Seconds from the run's start.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub start_seconds: f64,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub seconds: f64,
    /// Seconds of this step during which the span, which has children, runs none of them: work no span
    /// explains (see [`crate::untraced`]). 0 for a leaf, whose time is the work it names.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub untraced_seconds: f64,
    /// `untraced_seconds` over the run's critical path.
    pub untraced_share: f64,
}

/// Readings a run's memory timeline keeps at most: enough for a chart, bounded whatever the span count.
pub const MEMORY_TIMELINE_POINTS: usize = 240;

/// One point of a run's memory timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryPoint {
    /// Seconds from the run's start.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub seconds: f64,
    pub bytes: f64,
}

/// The analysis of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceAnalysis {
    pub trace_id: TraceId,
    pub service_name: Option<String>,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub run_seconds: f64,
    #[serde(serialize_with = "nanosecond_seconds")]
    pub critical_path_seconds: f64,
    pub critical_path: Vec<PathStep>,
    /// Seconds of the critical path no span explains: the steps' `untraced_seconds`, summed.
    #[serde(serialize_with = "nanosecond_seconds")]
    pub untraced_seconds: f64,
    /// `untraced_seconds` over the critical path.
    pub untraced_share: f64,
    pub stages: Vec<StageBreakdown>,
    /// Session spans, slowest first.
    pub sessions: Vec<SessionBreakdown>,
    /// What dominates the run, in words.
    pub dominant: Option<String>,
    pub recommendations: Vec<Recommendation>,
    pub plan: Plan,
    /// The run's `process.memory.usage` readings in time order (each span's, at its end), as a trend; `None`
    /// when no span reported memory.
    pub memory: Option<MemoryTrend>,
    /// The same readings as a timeline for charts, at most [`MEMORY_TIMELINE_POINTS`]: when there are more,
    /// each point is the highest reading of its stretch of the run, so the peak is never averaged away.
    pub memory_timeline: Vec<MemoryPoint>,
    /// What the figures rest on that a reader should know (clipped spans, orphans, a partial trace).
    pub notes: Vec<String>,
    /// What each trace-scoped contract read on the run, held or broken, in contract file order: the figures
    /// a page sets against their limits (the verdict keeps only the broken ones).
    pub contract_readings: Vec<ContractReading>,
}

/// One trace-scoped contract's reading of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractReading {
    pub contract_id: String,
    pub value: f64,
}

/// Analyses a decided trace; `None` when it has no spans.
pub fn analyse(
    trace: &DecidedTrace,
    budgets: &Budgets,
    options: &AnalysisOptions,
) -> Option<TraceAnalysis> {
    let tree = SpanTree::new(&trace.spans)?;
    let mut analysis = measure(trace, &tree, options);
    plan_into(&mut analysis, &tree, budgets, options);
    Some(analysis)
}

/// Analyses a decided trace without its what-if part, which costs most of an analysis: the recommendations
/// are left empty and the plan changes nothing. [`add_plan`] completes it later, from the same trace, for a
/// reader who asks. `None` when the trace has no spans.
pub fn analyse_unplanned(trace: &DecidedTrace, options: &AnalysisOptions) -> Option<TraceAnalysis> {
    let tree = SpanTree::new(&trace.spans)?;
    Some(measure(trace, &tree, options))
}

/// Adds the recommendations and the plan to an analysis [`analyse_unplanned`] made of `trace`, which is then
/// what [`analyse`] would have given.
pub fn add_plan(
    analysis: &mut TraceAnalysis,
    trace: &DecidedTrace,
    budgets: &Budgets,
    options: &AnalysisOptions,
) {
    if let Some(tree) = SpanTree::new(&trace.spans) {
        plan_into(analysis, &tree, budgets, options);
    }
}

fn plan_into(
    analysis: &mut TraceAnalysis,
    tree: &SpanTree,
    budgets: &Budgets,
    options: &AnalysisOptions,
) {
    let peak_memory = tree
        .nodes
        .iter()
        .filter_map(|node| node.memory_bytes)
        .max()
        .map(|bytes| bytes as f64);
    analysis.recommendations = recommend(
        tree,
        &analysis.stages,
        &analysis.sessions,
        budgets,
        peak_memory,
        &options.recommend,
    );
    analysis.plan = plan(tree, &analysis.recommendations, budgets, &options.recommend);
}

/// Everything but the recommendations, which are left empty, and the plan, which changes nothing.
fn measure(trace: &DecidedTrace, tree: &SpanTree, options: &AnalysisOptions) -> TraceAnalysis {
    let tolerance = options.recommend.skew_tolerance;
    let path = critical_path(tree, tolerance);
    let untraced = untraced::on_path(tree, &path);
    let path_seconds: f64 = path.iter().map(Segment::seconds).sum();
    let untraced_seconds: f64 = untraced.iter().sum();
    let stages = breakdown::stages(tree, &path, &untraced);
    let sessions = breakdown::sessions(tree, &path);
    let samples: Vec<MemorySample> = tree
        .nodes
        .iter()
        .filter_map(|node| {
            node.memory_bytes.map(|bytes| MemorySample {
                unix_nano: node.end_unix_nano,
                bytes: bytes as f64,
            })
        })
        .collect();
    let memory = (!samples.is_empty()).then(|| memory_trend(&samples, &options.leak));
    let memory_timeline = memory_timeline(tree);
    let mut notes = Vec::new();
    if tree.clipped > 0 {
        notes.push(format!(
            "{} spans reached outside their parent and were clipped to it (clock skew)",
            tree.clipped
        ));
    }
    if tree.orphans > 0 {
        notes.push(format!(
            "{} spans had no parent in the trace and were hung under the root",
            tree.orphans
        ));
    }
    if let Some(reason) = &trace.verdict.incomplete_reason {
        notes.push(format!("the trace is partial: {reason}"));
    }
    TraceAnalysis {
        trace_id: trace.verdict.trace_id,
        service_name: trace.verdict.service_name.clone(),
        run_seconds: tree.run_seconds(),
        critical_path_seconds: path_seconds,
        critical_path: steps(tree, &path, &untraced, path_seconds),
        untraced_seconds,
        untraced_share: breakdown::ratio(untraced_seconds, path_seconds),
        dominant: dominant(tree, &path, &stages, &sessions),
        stages,
        sessions,
        recommendations: Vec::new(),
        plan: plan(tree, &[], &Budgets::default(), &options.recommend),
        memory,
        memory_timeline,
        notes,
        contract_readings: trace
            .observations
            .iter()
            .map(|observation| ContractReading {
                contract_id: observation.contract_id.to_string(),
                value: observation.value,
            })
            .collect(),
    }
}

/// Each span's memory reading at its end, in time order, folded to at most [`MEMORY_TIMELINE_POINTS`]
/// by keeping the highest reading of each equal share of the readings.
fn memory_timeline(tree: &SpanTree) -> Vec<MemoryPoint> {
    let mut points: Vec<MemoryPoint> = tree
        .nodes
        .iter()
        .filter_map(|node| {
            node.memory_bytes.map(|bytes| MemoryPoint {
                seconds: node.end,
                bytes: bytes as f64,
            })
        })
        .collect();
    points.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    if points.len() <= MEMORY_TIMELINE_POINTS {
        return points;
    }
    let per_point = points.len().div_ceil(MEMORY_TIMELINE_POINTS);
    points
        .chunks(per_point)
        .filter_map(|chunk| {
            chunk
                .iter()
                .copied()
                .max_by(|a, b| a.bytes.total_cmp(&b.bytes))
        })
        .collect()
}

fn steps(tree: &SpanTree, path: &[Segment], untraced: &[f64], path_seconds: f64) -> Vec<PathStep> {
    path.iter()
        .zip(untraced)
        .map(|(segment, &untraced_seconds)| {
            let node = &tree.nodes[segment.node];
            PathStep {
                span_id: node.span_id,
                name: Arc::clone(&node.name),
                stage: node.stage,
                session_id: node.session.clone(),
                start_seconds: segment.start,
                seconds: segment.seconds(),
                untraced_seconds,
                untraced_share: breakdown::ratio(untraced_seconds, path_seconds),
            }
        })
        .collect()
}

/// The stage with the largest share of the critical path, and within it the session with the most; led by
/// the untraced time of a span when that holds more of the path than any stage.
fn dominant(
    tree: &SpanTree,
    path: &[Segment],
    stages: &[StageBreakdown],
    sessions: &[SessionBreakdown],
) -> Option<String> {
    let top_share = stages.iter().map(|s| s.critical_share).fold(0.0, f64::max);
    let path_seconds: f64 = path.iter().map(Segment::seconds).sum();
    let lead = untraced::spans_on_path(tree, path)
        .into_iter()
        .next()
        .map(|span| (span.clone(), breakdown::ratio(span.seconds, path_seconds)))
        .filter(|(_, share)| *share > top_share)
        .map(|(span, share)| {
            format!(
                "`{}` outside its child spans holds {:.0} % of the critical path ({}, most of it {})",
                tree.nodes[span.node].name,
                share * 100.0,
                duration(span.seconds),
                span.largest.place(tree)
            )
        });
    match (lead, stage_dominant(stages, sessions)) {
        (Some(lead), Some(stage)) => Some(format!("{lead}; of the stages, {stage}")),
        (lead, stage) => lead.or(stage),
    }
}

fn stage_dominant(stages: &[StageBreakdown], sessions: &[SessionBreakdown]) -> Option<String> {
    let stage = stages
        .iter()
        .max_by(|a, b| a.critical_share.total_cmp(&b.critical_share))?;
    let mut text = format!(
        "{} holds {:.0} % of the critical path ({}, {} sessions at {:.1}-wide)",
        stage.stage,
        stage.critical_share * 100.0,
        duration(stage.critical_seconds),
        stage.sessions,
        stage.parallelism
    );
    if let Some(session) = sessions
        .iter()
        .filter(|s| s.stage == Some(stage.stage))
        .max_by(|a, b| a.critical_seconds.total_cmp(&b.critical_seconds))
        .filter(|s| s.critical_seconds > 0.0)
    {
        text.push_str(&format!(
            "; its slowest session on the path is {} ({})",
            session.session_id,
            duration(session.seconds)
        ));
    }
    Some(text)
}
