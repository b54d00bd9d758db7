//! Domain verdicts and violations to their `ironforge.monitor.v1` messages; the analysis answers in
//! [`analysis`].

pub(super) mod analysis;

use ironforge_proto::monitor::v1 as pb;

use crate::monitor::{ContractCompliance, Health, HealthReport};
use crate::verdict::{Category, Severity, TraceVerdict, VerdictStatus, Violation};

pub(super) fn category(category: Category) -> pb::Category {
    match category {
        Category::Timing => pb::Category::Timing,
        Category::Memory => pb::Category::Memory,
        Category::Quality => pb::Category::Quality,
        Category::System => pb::Category::System,
        Category::Invariant => pb::Category::Invariant,
    }
}

pub(super) fn severity(severity: Severity) -> pb::Severity {
    match severity {
        Severity::Warning => pb::Severity::Warning,
        Severity::Critical => pb::Severity::Critical,
    }
}

pub(super) fn violation(v: &Violation) -> pb::Violation {
    pb::Violation {
        trace_id: v.trace_id.0.to_vec(),
        span_id: v.span_id.map(|id| id.0.to_vec()).unwrap_or_default(),
        contract_id: v.contract_id.clone(),
        category: category(v.category).into(),
        severity: severity(v.severity).into(),
        blocks_production: v.blocks_production,
        observed: v.observed,
        threshold: v.threshold,
        unit: v.unit.clone(),
        stage: v.stage.clone().unwrap_or_default(),
        session_id: v.session_id.clone().unwrap_or_default(),
        message: v.message.clone(),
        time_unix_nano: v.time_unix_nano,
        pipeline: v.pipeline.as_deref().unwrap_or_default().to_owned(),
    }
}

pub(super) fn verdict(v: &TraceVerdict) -> pb::TraceVerdict {
    let status = match v.status {
        VerdictStatus::Pass => pb::VerdictStatus::Pass,
        VerdictStatus::Warn => pb::VerdictStatus::Warn,
        VerdictStatus::Fail => pb::VerdictStatus::Fail,
        VerdictStatus::Incomplete => pb::VerdictStatus::Incomplete,
    };
    pb::TraceVerdict {
        trace_id: v.trace_id.0.to_vec(),
        status: status.into(),
        production_ready: v.production_ready,
        violations: v.violations.iter().map(violation).collect(),
        stage_durations: v
            .stage_durations
            .iter()
            .map(|d| pb::StageDuration {
                stage: d.stage.clone(),
                seconds: d.seconds,
            })
            .collect(),
        span_count: v.span_count,
        incomplete_reason: v.incomplete_reason.clone().unwrap_or_default(),
        decided_unix_nano: v.decided_unix_nano,
        service_name: v.service_name.clone().unwrap_or_default(),
        evicted: v.evicted,
        attributes_truncated: v.attributes_truncated,
    }
}

fn health(health: Health) -> pb::HealthStatus {
    match health {
        Health::Green => pb::HealthStatus::Green,
        Health::Yellow => pb::HealthStatus::Yellow,
        Health::Red => pb::HealthStatus::Red,
    }
}

/// The report over every pipeline, or over the one [`HealthReport::pipeline`] scoped it to.
pub(super) fn compliance(report: &HealthReport) -> pb::ComplianceReport {
    let counts = &report.counts;
    pb::ComplianceReport {
        traces_total: counts.traces_total,
        traces_passed: counts.traces_passed,
        traces_warned: counts.traces_warned,
        traces_failed: counts.traces_failed,
        traces_incomplete: counts.traces_incomplete,
        traces_evicted: counts.traces_evicted,
        compliance_ratio: report.compliance_ratio,
        health_score: report.health_score,
        health: health(report.health).into(),
        contracts: report.contracts.iter().map(contract).collect(),
        pipelines: report
            .pipelines
            .iter()
            .map(|p| pb::PipelineCompliance {
                pipeline: p.pipeline.clone(),
                traces_total: p.counts.traces_total,
                traces_passed: p.counts.traces_passed,
                traces_warned: p.counts.traces_warned,
                traces_failed: p.counts.traces_failed,
                traces_incomplete: p.counts.traces_incomplete,
                traces_evicted: p.counts.traces_evicted,
                compliance_ratio: p.compliance_ratio,
                health_score: p.health_score,
                health: health(p.health).into(),
            })
            .collect(),
    }
}

fn contract(c: &ContractCompliance) -> pb::ContractCompliance {
    pb::ContractCompliance {
        contract_id: c.contract_id.clone(),
        category: category(c.category).into(),
        evaluated: c.evaluated,
        violations: c.violations,
    }
}
