//! What a decision is made of: the violations a span or a trace yields, and the verdict's status, reason
//! and per-stage times.

use ironforge_proto::semconv::SpanKind;

use super::contracts::{Contract, ContractSet};
use super::trace_measures;
use std::collections::HashSet;

use crate::model::{SpanId, SpanRecord, TraceId};
use crate::verdict::{Severity, StageDuration, VerdictStatus, Violation};

pub(super) fn span_violations(
    contracts: &ContractSet,
    span: &SpanRecord,
    now_unix_nano: u64,
) -> Vec<Violation> {
    contracts
        .contracts()
        .iter()
        .filter(|contract| contract.applies_to(span))
        .filter_map(|contract| {
            let (observed, description) = contract.observe_span(span)?;
            (!contract.holds(observed)).then(|| {
                let subject = describe_span(span);
                violation(
                    contract,
                    span.trace_id,
                    Some(span),
                    observed,
                    &format!("{subject} {description}"),
                    now_unix_nano,
                )
            })
        })
        .collect()
}

pub(super) fn trace_violation(
    contract: &Contract,
    trace_id: TraceId,
    spans: &[SpanRecord],
    now_unix_nano: u64,
) -> Option<Violation> {
    let (observed, description) = trace_measures::observe_trace(contract, spans)?;
    (!contract.holds(observed)).then(|| {
        violation(
            contract,
            trace_id,
            None,
            observed,
            &format!("run {description}"),
            now_unix_nano,
        )
    })
}

fn violation(
    contract: &Contract,
    trace_id: TraceId,
    span: Option<&SpanRecord>,
    observed: f64,
    what_happened: &str,
    now_unix_nano: u64,
) -> Violation {
    Violation {
        trace_id,
        span_id: span.map(|span| span.span_id),
        contract_id: contract.id.to_string(),
        category: contract.category(),
        severity: contract.severity,
        blocks_production: contract.blocks_production,
        observed,
        threshold: contract.config.threshold,
        unit: contract.config.unit.clone(),
        stage: span
            .and_then(|span| span.stage)
            .map(|stage| stage.as_str().to_owned()),
        session_id: span.and_then(|span| span.session_id.clone()),
        message: format!(
            "{what_happened}; {} requires {}",
            contract.id,
            contract.requirement()
        ),
        time_unix_nano: now_unix_nano,
    }
}

/// `session span NY_2025-08-05 (discovery)`, `run span "replay"`.
fn describe_span(span: &SpanRecord) -> String {
    let kind = span.kind.map_or("span", |kind| kind.as_str());
    let mut text = match &span.session_id {
        Some(session) => format!("{kind} {session}"),
        None => format!("{kind} \"{}\"", span.name),
    };
    if let Some(stage) = span.stage {
        text.push_str(&format!(" ({stage})"));
    }
    text
}

pub(super) fn status_of(violations: &[Violation], incomplete: bool) -> (VerdictStatus, bool) {
    let blocked = violations.iter().any(|v| v.blocks_production);
    let status = if incomplete {
        VerdictStatus::Incomplete
    } else if violations.iter().any(|v| v.severity == Severity::Critical) {
        VerdictStatus::Fail
    } else if violations.is_empty() {
        VerdictStatus::Pass
    } else {
        VerdictStatus::Warn
    };
    (status, !incomplete && !blocked)
}

pub(super) fn incomplete_reason(spans: &[SpanRecord]) -> String {
    // A set, not a scan per span: a trace may hold up to `max_spans_per_trace` spans.
    let ids: HashSet<SpanId> = spans.iter().map(|span| span.span_id).collect();
    let orphans = spans
        .iter()
        .filter(|span| {
            span.parent_span_id
                .is_some_and(|parent| !ids.contains(&parent))
        })
        .count();
    format!(
        "no root span arrived before the idle timeout ({} spans received, {orphans} whose parent never arrived)",
        spans.len()
    )
}

pub(super) fn stage_durations(spans: &[SpanRecord]) -> Vec<StageDuration> {
    let mut durations: Vec<StageDuration> = Vec::new();
    for span in spans
        .iter()
        .filter(|span| span.kind == Some(SpanKind::Stage))
    {
        let Some(stage) = span.stage else { continue };
        match durations.iter_mut().find(|d| d.stage == stage.as_str()) {
            Some(existing) => existing.seconds += span.duration_seconds(),
            None => durations.push(StageDuration {
                stage: stage.as_str().to_owned(),
                seconds: span.duration_seconds(),
            }),
        }
    }
    durations
}
