//! What the outputs report: each violation and verdict on the console, and the events the gate held back.

use ironforge_engine::verdict::{Severity, TraceVerdict, Violation};
use ironforge_outputs::gate::GateDecision;
use ironforge_telemetry::names::target;
use ironforge_telemetry::{InternalEvent, Metrics};

/// A violation that passed the event gate. Its counter moved when it was decided (every violation counts).
#[derive(Debug)]
pub(crate) struct ViolationDecided<'a> {
    pub(crate) violation: &'a Violation,
}

impl InternalEvent for ViolationDecided<'_> {
    fn emit(self) {
        let v = self.violation;
        let span_id = v.span_id.map(|id| id.to_hex()).unwrap_or_default();
        let stage = v.stage.as_deref().unwrap_or("");
        let session = v.session_id.as_deref().unwrap_or("");
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: target::VIOLATION,
                    contract = %v.contract_id,
                    category = v.category.as_str(),
                    severity = v.severity.as_str(),
                    blocks_production = v.blocks_production,
                    observed = v.observed,
                    threshold = v.threshold,
                    unit = %v.unit,
                    stage,
                    session,
                    trace_id = %v.trace_id,
                    span_id,
                    "{}",
                    v.message
                )
            };
        }
        match v.severity {
            Severity::Critical => line!(error),
            Severity::Warning => line!(warn),
        }
    }
}

/// A trace was decided (or its verdict revised by late spans). Its counters moved when it was decided.
#[derive(Debug)]
pub(crate) struct TraceDecided<'a> {
    pub(crate) verdict: &'a TraceVerdict,
    pub(crate) revised: bool,
}

impl InternalEvent for TraceDecided<'_> {
    fn emit(self) {
        let v = self.verdict;
        let mut contracts: Vec<&str> = v
            .violations
            .iter()
            .map(|v| v.contract_id.as_str())
            .collect();
        contracts.sort_unstable();
        contracts.dedup();
        let status = v.status.as_str();
        tracing::info!(
            target: target::VERDICT,
            trace_id = %v.trace_id,
            status,
            production_ready = v.production_ready,
            violations = v.violations.len(),
            spans = v.span_count,
            revised = self.revised,
            evicted = v.evicted,
            attributes_truncated = v.attributes_truncated,
            "trace {} {}{}: {} violations [{}]{}{}",
            v.trace_id,
            if self.revised { "revised to " } else { "" },
            status,
            v.violations.len(),
            contracts.join(", "),
            v.incomplete_reason.as_deref().map(|r| format!("; {r}")).unwrap_or_default(),
            match v.attributes_truncated {
                0 => String::new(),
                n => format!("; {n} attribute values truncated by the attribute limits"),
            },
        );
    }
}

/// A violation event held back by the gate.
#[derive(Debug)]
pub(crate) struct EventsSuppressed<'a> {
    pub(crate) contract_id: &'a str,
    pub(crate) decision: GateDecision,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for EventsSuppressed<'_> {
    fn emit(self) {
        self.metrics.events_suppressed(self.contract_id, 1);
        tracing::debug!(target: target::VIOLATION, contract = self.contract_id, reason = ?self.decision, "violation event suppressed");
    }
}
