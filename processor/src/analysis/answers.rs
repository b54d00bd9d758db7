//! The answers the HTTP and gRPC APIs give about analysis, built from the view in one place so the two
//! transports say the same thing.

use std::sync::Arc;

use ironforge_analysis::memory::MemoryTrend;
use ironforge_analysis::recommend::{Plan, Recommendation};
use ironforge_analysis::{Bottleneck, TraceAnalysis};
use ironforge_engine::model::TraceId;
use serde::Serialize;

use super::Analyst;
use super::view::Regression;

/// How bottlenecks are ranked and graded, stated beside them.
pub const BOTTLENECK_RULE: &str = "stages, sessions and untraced time (a span's time on the critical path \
    outside its children) ranked by mean seconds on the critical path over the pipeline's recent runs; \
    severity from the slowest of those runs against the budget (a stage: its sessions x the session limit; a \
    session: the session limit; the run's own untraced time: the run limit): critical when over it, high at 80 % of it or at half the critical path on \
    average, medium at a fifth of the critical path, else low";

/// Why an analysis question has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisQueryError {
    #[error("analysis is off in this processor")]
    Disabled,
    #[error(
        "no analysis of trace {0}: it is not decided yet, was not a monitored run, or is older than the runs kept in memory and in the run history"
    )]
    TraceNotFound(TraceId),
    #[error("no pipeline {0:?} has been analysed")]
    PipelineNotFound(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineBottlenecks {
    pub pipeline: String,
    pub runs: usize,
    pub bottlenecks: Vec<Bottleneck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BottlenecksAnswer {
    pub rule: &'static str,
    pub pipelines: Vec<PipelineBottlenecks>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineRegressions {
    pub pipeline: String,
    pub regressions: Vec<Regression>,
    pub memory_across_runs: Option<MemoryTrend>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegressionsAnswer {
    pub pipelines: Vec<PipelineRegressions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelinePlan {
    pub pipeline: String,
    /// The run the plan was drawn from: the pipeline's newest analysed run.
    pub trace_id: TraceId,
    pub dominant: Option<String>,
    pub recommendations: Vec<Recommendation>,
    pub plan: Plan,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanAnswer {
    pub pipelines: Vec<PipelinePlan>,
}

fn enabled(analyst: Option<&Analyst>) -> Result<&Analyst, AnalysisQueryError> {
    analyst.ok_or(AnalysisQueryError::Disabled)
}

pub fn trace(
    analyst: Option<&Analyst>,
    trace_id: &TraceId,
) -> Result<Arc<TraceAnalysis>, AnalysisQueryError> {
    let analyst = enabled(analyst)?;
    // Read from the view in a statement of its own, so that its lock is let go before the history is read.
    let recent = analyst.view().trace(trace_id);
    // A run no longer among the recent ones (or decided before a restart) is answered from the history.
    recent
        .or_else(|| analyst.stored_analysis(trace_id).map(Arc::new))
        .ok_or(AnalysisQueryError::TraceNotFound(*trace_id))
}

/// Runs `each` over the pipelines asked for (all when `pipeline` is `None`).
fn per_pipeline<T>(
    analyst: Option<&Analyst>,
    pipeline: Option<&str>,
    each: impl Fn(&str, &super::PipelineFindings) -> Option<T>,
) -> Result<Vec<T>, AnalysisQueryError> {
    let view = enabled(analyst)?.view();
    let pipelines = view.pipelines(pipeline).ok_or_else(|| {
        AnalysisQueryError::PipelineNotFound(pipeline.unwrap_or_default().to_owned())
    })?;
    Ok(pipelines
        .into_iter()
        .filter_map(|(name, findings)| each(name, findings))
        .collect())
}

pub fn bottlenecks(
    analyst: Option<&Analyst>,
    pipeline: Option<&str>,
) -> Result<BottlenecksAnswer, AnalysisQueryError> {
    let pipelines = per_pipeline(analyst, pipeline, |name, findings| {
        Some(PipelineBottlenecks {
            pipeline: name.to_owned(),
            runs: findings.bottleneck_runs,
            bottlenecks: findings.bottlenecks.clone(),
        })
    })?;
    Ok(BottlenecksAnswer {
        rule: BOTTLENECK_RULE,
        pipelines,
    })
}

pub fn regressions(
    analyst: Option<&Analyst>,
    pipeline: Option<&str>,
) -> Result<RegressionsAnswer, AnalysisQueryError> {
    let pipelines = per_pipeline(analyst, pipeline, |name, findings| {
        Some(PipelineRegressions {
            pipeline: name.to_owned(),
            regressions: findings.regressions.clone(),
            memory_across_runs: findings.memory_across_runs.clone(),
        })
    })?;
    Ok(RegressionsAnswer { pipelines })
}

pub fn plan(
    analyst: Option<&Analyst>,
    pipeline: Option<&str>,
) -> Result<PlanAnswer, AnalysisQueryError> {
    let pipelines = per_pipeline(analyst, pipeline, |name, findings| {
        let latest = findings.latest.as_ref()?;
        Some(PipelinePlan {
            pipeline: name.to_owned(),
            trace_id: latest.trace_id,
            dominant: latest.dominant.clone(),
            recommendations: latest.recommendations.clone(),
            plan: latest.plan.clone(),
        })
    })?;
    Ok(PlanAnswer { pipelines })
}
