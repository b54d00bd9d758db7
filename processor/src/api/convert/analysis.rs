//! Analysis answers to their `ironforge.monitor.v1` messages, field for field the JSON the HTTP API gives.

use ironforge_analysis::bottleneck::{Severity, Subject};
use ironforge_analysis::breakdown::{SessionBreakdown, StageBreakdown};
use ironforge_analysis::memory::MemoryTrend;
use ironforge_analysis::recommend::{Category, Level, Phase, Plan, Priority, Recommendation};
use ironforge_analysis::regression::Direction;
use ironforge_analysis::trace::PathStep;
use ironforge_analysis::whatif::{Change, Scenario, Target};
use ironforge_analysis::{Bottleneck, TraceAnalysis};
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::semconv::Stage;

use crate::analysis::Regression;
use crate::analysis::answers::{
    BottlenecksAnswer, PipelineBottlenecks, PipelinePlan, PipelineRegressions, PlanAnswer,
    RegressionsAnswer,
};

/// An id the analysis holds in hex, as its wire bytes. The analysis writes ids from their bytes, so the
/// empty fallback only guards against a malformed one rather than failing the whole answer.
/// A stage name; empty for none, as `Violation.stage` is.
fn stage(stage: Option<Stage>) -> String {
    stage.map(|s| s.as_str().to_owned()).unwrap_or_default()
}

/// A count as the wire's `uint64`; saturating keeps a count the platform cannot widen from failing the call.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(crate) fn trace_analysis(a: &TraceAnalysis) -> pb::TraceAnalysis {
    pb::TraceAnalysis {
        trace_id: a.trace_id.0.to_vec(),
        service_name: a.service_name.clone().unwrap_or_default(),
        run_seconds: a.run_seconds,
        critical_path_seconds: a.critical_path_seconds,
        critical_path: a.critical_path.iter().map(path_step).collect(),
        stages: a.stages.iter().map(stage_breakdown).collect(),
        sessions: a.sessions.iter().map(session_breakdown).collect(),
        dominant: a.dominant.clone().unwrap_or_default(),
        recommendations: a.recommendations.iter().map(recommendation).collect(),
        plan: Some(plan(&a.plan)),
        memory: a.memory.as_ref().map(memory_trend),
        notes: a.notes.clone(),
        untraced_seconds: a.untraced_seconds,
        untraced_share: a.untraced_share,
        contract_readings: a
            .contract_readings
            .iter()
            .map(|r| pb::ContractReading {
                contract_id: r.contract_id.clone(),
                value: r.value,
            })
            .collect(),
    }
}

fn path_step(s: &PathStep) -> pb::PathStep {
    pb::PathStep {
        span_id: s.span_id.0.to_vec(),
        name: s.name.to_string(),
        stage: stage(s.stage),
        session_id: s.session_id.as_deref().unwrap_or_default().to_owned(),
        start_seconds: s.start_seconds,
        seconds: s.seconds,
        untraced_seconds: s.untraced_seconds,
        untraced_share: s.untraced_share,
    }
}

fn stage_breakdown(s: &StageBreakdown) -> pb::StageBreakdown {
    pb::StageBreakdown {
        stage: s.stage.as_str().to_owned(),
        seconds: s.seconds,
        critical_seconds: s.critical_seconds,
        critical_share: s.critical_share,
        self_seconds: s.self_seconds,
        busy_seconds: s.busy_seconds,
        parallelism: s.parallelism,
        sessions: s.sessions,
        untraced_seconds: s.untraced_seconds,
        untraced_share: s.untraced_share,
    }
}

fn session_breakdown(s: &SessionBreakdown) -> pb::SessionBreakdown {
    pb::SessionBreakdown {
        session_id: s.session_id.to_string(),
        stage: stage(s.stage),
        seconds: s.seconds,
        critical_seconds: s.critical_seconds,
        self_seconds: s.self_seconds,
    }
}

fn category(category: Category) -> pb::RecommendationCategory {
    match category {
        Category::Parallelism => pb::RecommendationCategory::Parallelism,
        Category::Compute => pb::RecommendationCategory::Compute,
        Category::Outlier => pb::RecommendationCategory::Outlier,
        Category::Untraced => pb::RecommendationCategory::Untraced,
    }
}

fn priority(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Low => pb::Priority::Low,
        Priority::Medium => pb::Priority::Medium,
        Priority::High => pb::Priority::High,
        Priority::Critical => pb::Priority::Critical,
    }
}

fn level(level: Level) -> pb::Level {
    match level {
        Level::Low => pb::Level::Low,
        Level::Medium => pb::Level::Medium,
        Level::High => pb::Level::High,
    }
}

fn recommendation(r: &Recommendation) -> pb::Recommendation {
    pb::Recommendation {
        id: r.id.clone(),
        title: r.title.clone(),
        category: category(r.category).into(),
        priority: priority(r.priority).into(),
        effort: level(r.effort).into(),
        risk: level(r.risk).into(),
        scenario: Some(scenario(&r.scenario)),
        gain_seconds: r.gain_seconds,
        gain_percent: r.gain_percent,
        assumption: r.assumption.clone(),
        evidence: r.evidence.clone(),
    }
}

fn session_subject(session_id: &str, in_stage: Option<Stage>) -> pb::Subject {
    pb::Subject {
        subject: Some(pb::subject::Subject::Session(pb::SessionRef {
            session_id: session_id.to_owned(),
            stage: stage(in_stage),
        })),
    }
}

fn stage_subject(stage: Stage) -> pb::Subject {
    pb::Subject {
        subject: Some(pb::subject::Subject::Stage(stage.as_str().to_owned())),
    }
}

fn untraced_subject(span: &str, in_stage: Option<Stage>) -> pb::Subject {
    pb::Subject {
        subject: Some(pb::subject::Subject::Untraced(pb::UntracedRef {
            span: span.to_owned(),
            stage: stage(in_stage),
        })),
    }
}

fn target(target: &Target) -> pb::Subject {
    match target {
        Target::Stage(stage) => stage_subject(*stage),
        Target::Session { session_id, stage } => session_subject(session_id, *stage),
        Target::Untraced { span, stage } => untraced_subject(span, *stage),
    }
}

fn subject(subject: &Subject) -> pb::Subject {
    match subject {
        Subject::Stage { stage } => stage_subject(*stage),
        Subject::Session { session_id, stage } => session_subject(session_id, *stage),
        Subject::Untraced { span, stage } => untraced_subject(span, *stage),
    }
}

fn change(change: Change) -> pb::TimeChange {
    let change = match change {
        Change::Percent(percent) => pb::time_change::Change::Percent(percent),
        Change::Seconds(seconds) => pb::time_change::Change::Seconds(seconds),
    };
    pb::TimeChange {
        change: Some(change),
    }
}

fn scenario(s: &Scenario) -> pb::Scenario {
    let scenario = match s {
        Scenario::Retime {
            target: retimed,
            change: by,
        } => pb::scenario::Scenario::Retime(pb::Retime {
            target: Some(target(retimed)),
            change: Some(change(*by)),
        }),
        Scenario::Widen { stage, lanes } => pb::scenario::Scenario::Widen(pb::Widen {
            stage: stage.as_str().to_owned(),
            lanes: *lanes,
        }),
    };
    pb::Scenario {
        scenario: Some(scenario),
    }
}

fn phase(p: &Phase) -> pb::Phase {
    pb::Phase {
        phase: p.phase,
        recommendations: p.recommendations.clone(),
        run_seconds_after: p.run_seconds_after,
        gain_seconds: p.gain_seconds,
        effort: level(p.effort).into(),
        gain_percent: p.gain_percent,
        cumulative_gain_seconds: p.cumulative_gain_seconds,
        cumulative_gain_percent: p.cumulative_gain_percent,
    }
}

fn plan(p: &Plan) -> pb::Plan {
    pb::Plan {
        run_seconds_before: p.run_seconds_before,
        run_seconds_after: p.run_seconds_after,
        total_gain_seconds: p.total_gain_seconds,
        total_gain_percent: p.total_gain_percent,
        phases: p.phases.iter().map(phase).collect(),
        overall_risk: level(p.overall_risk).into(),
        assumption: p.assumption.clone(),
        summary: p.summary.clone(),
    }
}

fn memory_trend(m: &MemoryTrend) -> pb::MemoryTrend {
    pb::MemoryTrend {
        samples: count(m.samples),
        ignored_samples: count(m.ignored_samples),
        segments: count(m.segments),
        segment_samples: count(m.segment_samples),
        peak_bytes: m.peak_bytes,
        mean_bytes: m.mean_bytes,
        growth_bytes_per_second: m.growth_bytes_per_second,
        confidence: m.confidence,
        leak: m.leak,
        verdict: m.verdict.clone(),
        seconds_to_limit: m.seconds_to_limit,
        efficiency_score: m.efficiency_score,
    }
}

fn severity(severity: Severity) -> pb::BottleneckSeverity {
    match severity {
        Severity::Low => pb::BottleneckSeverity::Low,
        Severity::Medium => pb::BottleneckSeverity::Medium,
        Severity::High => pb::BottleneckSeverity::High,
        Severity::Critical => pb::BottleneckSeverity::Critical,
    }
}

fn bottleneck(b: &Bottleneck) -> pb::Bottleneck {
    pb::Bottleneck {
        rank: b.rank,
        subject: Some(subject(&b.subject)),
        severity: severity(b.severity).into(),
        traces: count(b.traces),
        mean_seconds: b.mean_seconds,
        max_seconds: b.max_seconds,
        over_budget_runs: count(b.over_budget_runs),
        mean_critical_seconds: b.mean_critical_seconds,
        mean_critical_share: b.mean_critical_share,
        budget_seconds: b.budget_seconds,
        budget_ratio: b.budget_ratio,
        trace_ids: b.trace_ids.iter().map(|id| id.0.to_vec()).collect(),
    }
}

fn pipeline_bottlenecks(p: &PipelineBottlenecks) -> pb::PipelineBottlenecks {
    pb::PipelineBottlenecks {
        pipeline: p.pipeline.clone(),
        runs: count(p.runs),
        bottlenecks: p.bottlenecks.iter().map(bottleneck).collect(),
    }
}

pub(crate) fn bottlenecks(answer: &BottlenecksAnswer) -> pb::BottlenecksReport {
    pb::BottlenecksReport {
        rule: answer.rule.to_owned(),
        pipelines: answer.pipelines.iter().map(pipeline_bottlenecks).collect(),
    }
}

fn direction(direction: Direction) -> pb::Direction {
    match direction {
        Direction::HigherIsWorse => pb::Direction::HigherIsWorse,
        Direction::LowerIsWorse => pb::Direction::LowerIsWorse,
    }
}

fn regression(r: &Regression) -> pb::Regression {
    let change_point = &r.change_point;
    pb::Regression {
        measure: r.measure.clone(),
        direction: direction(r.direction).into(),
        index: count(change_point.index),
        mean_before: change_point.mean_before,
        mean_after: change_point.mean_after,
        magnitude: change_point.magnitude,
        symmetric_magnitude: change_point.symmetric_magnitude,
        p_value: change_point.p_value,
        points_after: count(change_point.points_after),
        impact: change_point.impact,
        first_trace_id: r.first_trace_id.0.to_vec(),
        first_decided_unix_nano: r.first_decided_unix_nano,
        runs: count(r.runs),
        current: r.current,
    }
}

fn pipeline_regressions(p: &PipelineRegressions) -> pb::PipelineRegressions {
    pb::PipelineRegressions {
        pipeline: p.pipeline.clone(),
        regressions: p.regressions.iter().map(regression).collect(),
        memory_across_runs: p.memory_across_runs.as_ref().map(memory_trend),
    }
}

pub(crate) fn regressions(answer: &RegressionsAnswer) -> pb::RegressionsReport {
    pb::RegressionsReport {
        pipelines: answer.pipelines.iter().map(pipeline_regressions).collect(),
    }
}

fn pipeline_plan(p: &PipelinePlan) -> pb::PipelinePlan {
    pb::PipelinePlan {
        pipeline: p.pipeline.clone(),
        trace_id: p.trace_id.0.to_vec(),
        dominant: p.dominant.clone().unwrap_or_default(),
        recommendations: p.recommendations.iter().map(recommendation).collect(),
        plan: Some(plan(&p.plan)),
    }
}

pub(crate) fn plans(answer: &PlanAnswer) -> pb::PlanReport {
    pb::PlanReport {
        pipelines: answer.pipelines.iter().map(pipeline_plan).collect(),
    }
}
