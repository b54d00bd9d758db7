//! What a decision is made of: the violations a span or a trace yields, and the verdict's status, reason
//! and per-stage times.

use std::sync::Arc;

use foldhash::HashSet;

use ironforge_proto::semconv::SpanKind;

use super::contracts::{Contract, ContractSet, SpanView, truncate};
use super::state::{KeptSpan, TraceState};
use super::trace_measures::TraceObservation;
use crate::config::StageWork;
use crate::model::{SpanId, SpanRecord, TraceId};
use crate::verdict::{Severity, StageDuration, VerdictStatus, Violation};

/// Longest session id or span name quoted in a violation: a pipeline sending a megabyte-long id must not
/// make every violation of its span a megabyte.
const MAX_QUOTED_BYTES: usize = 128;

/// The span-scoped violations of one span. Contracts that hold allocate nothing.
pub(super) fn span_violations(
    contracts: &ContractSet,
    span: &SpanRecord,
    now_unix_nano: u64,
    mut emit: impl FnMut(Violation),
) {
    let view = SpanView::from(span);
    for contract in contracts.judging(span.kind) {
        if !contract.admits_beyond_kind(view) {
            continue;
        }
        let Some(observed) = contract.observe_span(span) else {
            continue;
        };
        if contract.holds(observed) {
            continue;
        }
        let what = format!(
            "{} {}",
            describe_span(span),
            contract.describe_span(span, observed)
        );
        emit(violation(
            contract,
            span.trace_id,
            span.service_name.as_ref(),
            Some(span),
            observed,
            &what,
            now_unix_nano,
        ));
    }
}

pub(super) fn trace_violation(
    contract: &Contract,
    trace_id: TraceId,
    pipeline: Option<&Arc<str>>,
    observation: &TraceObservation,
    now_unix_nano: u64,
) -> Option<Violation> {
    let observed = observation.value();
    (!contract.holds(observed)).then(|| {
        violation(
            contract,
            trace_id,
            pipeline,
            None,
            observed,
            &format!("run {}", observation.describe(contract)),
            now_unix_nano,
        )
    })
}

fn violation(
    contract: &Contract,
    trace_id: TraceId,
    pipeline: Option<&Arc<str>>,
    span: Option<&SpanRecord>,
    observed: f64,
    what_happened: &str,
    now_unix_nano: u64,
) -> Violation {
    let mut message = format!(
        "{what_happened}; {} requires {}",
        contract.id,
        contract.requirement()
    );
    // Formatting grows the string by doubling; a violation is kept for as long as its verdict, so it
    // keeps only the bytes it uses.
    message.shrink_to_fit();
    Violation {
        trace_id,
        span_id: span.map(|span| span.span_id),
        contract_id: contract.id.to_string(),
        pipeline: pipeline.cloned(),
        category: contract.category(),
        severity: contract.severity,
        blocks_production: contract.blocks_production,
        observed,
        threshold: contract.config.threshold,
        unit: contract.config.unit.clone(),
        stage: span
            .and_then(|span| span.stage)
            .map(|stage| stage.as_str().to_owned()),
        session_id: span
            .and_then(|span| span.session_id.as_deref())
            .map(|session| truncate(session, MAX_QUOTED_BYTES)),
        message,
        time_unix_nano: now_unix_nano,
    }
}

/// `session span NY_2025-08-05 (discovery)`, `run span "replay"`.
fn describe_span(span: &SpanRecord) -> String {
    let kind = span.kind.map_or("span", |kind| kind.as_str());
    let mut text = match &span.session_id {
        Some(session) => format!("{kind} {}", truncate(session, MAX_QUOTED_BYTES)),
        None => format!("{kind} \"{}\"", truncate(&span.name, MAX_QUOTED_BYTES)),
    };
    if let Some(stage) = span.stage {
        text.push_str(&format!(" ({stage})"));
    }
    text
}

/// What the violations of a trace add up to, counting those left out of the verdict by the per-trace bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub any: bool,
    pub critical: bool,
    pub blocking: bool,
}

impl Tally {
    pub(super) fn add(&mut self, violation: &Violation) {
        self.any = true;
        self.critical |= violation.severity == Severity::Critical;
        self.blocking |= violation.blocks_production;
    }

    pub(super) fn status(self, incomplete: bool) -> (VerdictStatus, bool) {
        let status = if incomplete {
            VerdictStatus::Incomplete
        } else if self.critical {
            VerdictStatus::Fail
        } else if self.any {
            VerdictStatus::Warn
        } else {
            VerdictStatus::Pass
        };
        (status, !incomplete && !self.blocking)
    }
}

/// Why a trace is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Its root arrived and the grace passed (or batch evaluation ended).
    Complete,
    /// No root arrived before the idle timeout (or batch evaluation ended).
    TimedOut,
    /// Decided early to keep the engine within its limits.
    Evicted,
}

/// The reason of a verdict decided under pressure; it starts with [`EVICTED`].
pub(super) fn evicted_reason(trace: &TraceState) -> String {
    let root = if trace.root_seen_at.is_some() {
        "its root had arrived"
    } else {
        "no root had arrived"
    };
    format!(
        "{EVICTED}: decided before it completed to make room ({} spans received, {root})",
        trace.spans.len()
    )
}

/// How every verdict decided under pressure begins, so readers (and health) can tell it from a pipeline's
/// own failure.
pub const EVICTED: &str = "evicted under memory pressure";

/// What a trace whose run declared its sessions is missing, against the stages the contract file says a
/// whole run holds: a stage with no span at all, or a per-session stage with fewer session spans than
/// declared. `None` when nothing is missing or the run declared nothing.
///
/// Session spans are counted, not distinct session ids: a pipeline that names two sessions alike (as
/// IRONFORGE's own `NY` naming does) sent every span, and the `sessions_complete` and
/// `unique_session_ids` contracts report that; a replica or an export that lost spans did not.
pub(super) fn missing_parts(trace: &TraceState) -> Option<String> {
    let declared = trace.declared_sessions.filter(|declared| *declared > 0)?;
    let expected = &trace.contracts.file().completion.stages;
    let mut absent: Vec<&str> = Vec::new();
    let mut short: Vec<String> = Vec::new();
    for (&stage, &work) in expected {
        let counts = trace.stage_spans(stage);
        if counts.spans == 0 {
            absent.push(stage.as_str());
        } else if work == StageWork::PerSession && i64::from(counts.sessions) < declared {
            short.push(format!("{stage} {} of {declared}", counts.sessions));
        }
    }
    let mut missing = Vec::new();
    if !absent.is_empty() {
        missing.push(format!("no span of stage {}", absent.join(", ")));
    }
    if !short.is_empty() {
        missing.push(format!(
            "session spans per stage short of the {declared} declared: {}",
            short.join(", ")
        ));
    }
    (!missing.is_empty()).then(|| format!("partial trace: {}", missing.join("; ")))
}

pub(super) fn incomplete_reason(trace: &TraceState) -> String {
    // A set, not a scan per span: a trace may hold up to `max_spans_per_trace` spans.
    let ids: HashSet<SpanId> = trace.spans.iter().map(|span| span.span_id).collect();
    let orphans = trace
        .spans
        .iter()
        .filter(|span| {
            span.parent_span_id
                .is_some_and(|parent| !ids.contains(&parent))
        })
        .count();
    format!(
        "no root span arrived before the idle timeout ({} spans received, {orphans} whose parent never arrived)",
        trace.spans.len()
    )
}

pub(super) fn stage_durations(spans: &[KeptSpan]) -> Vec<StageDuration> {
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
