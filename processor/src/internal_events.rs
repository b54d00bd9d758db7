//! The processor's own events: each one writes its log line and moves its counter in one place, so the two
//! never drift apart.

use crate::ingest::RequestReport;
use crate::outputs::gate::GateDecision;
use crate::telemetry::{Metrics, RequestOutcome};
use crate::verdict::{Severity, TraceVerdict, Violation};

/// Log target of violation lines, so they can be filtered (`RUST_LOG=ironforge::violation=warn`).
pub const VIOLATION_TARGET: &str = "ironforge::violation";
/// Log target of verdict lines.
pub const VERDICT_TARGET: &str = "ironforge::verdict";

/// A violation that passed the event gate. Its counter moved when it was decided (every violation counts).
#[derive(Debug)]
pub struct ViolationDecided<'a> {
    pub violation: &'a Violation,
}

impl ViolationDecided<'_> {
    pub fn emit(&self) {
        let v = self.violation;
        let span_id = v.span_id.map(|id| id.to_hex()).unwrap_or_default();
        let stage = v.stage.as_deref().unwrap_or("");
        let session = v.session_id.as_deref().unwrap_or("");
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: VIOLATION_TARGET,
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

/// A trace was decided (or its verdict revised by late spans).
#[derive(Debug)]
pub struct TraceDecided<'a> {
    pub verdict: &'a TraceVerdict,
    pub revised: bool,
}

impl TraceDecided<'_> {
    pub fn emit(&self) {
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
            target: VERDICT_TARGET,
            trace_id = %v.trace_id,
            status,
            production_ready = v.production_ready,
            violations = v.violations.len(),
            spans = v.span_count,
            revised = self.revised,
            "trace {} {}{}: {} violations [{}]{}",
            v.trace_id,
            if self.revised { "revised to " } else { "" },
            status,
            v.violations.len(),
            contracts.join(", "),
            v.incomplete_reason.as_deref().map(|r| format!("; {r}")).unwrap_or_default(),
        );
    }
}

/// A violation event held back by the gate.
#[derive(Debug)]
pub struct EventsSuppressed<'a> {
    pub contract_id: &'a str,
    pub decision: GateDecision,
}

impl EventsSuppressed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.events_suppressed(self.contract_id, 1);
        tracing::debug!(target: VIOLATION_TARGET, contract = self.contract_id, reason = ?self.decision, "violation event suppressed");
    }
}

/// An OTLP request was answered.
#[derive(Debug)]
pub struct RequestAnswered {
    pub report: RequestReport,
}

impl RequestAnswered {
    pub fn emit(&self, metrics: &Metrics) {
        let r = &self.report;
        metrics.request(r.transport, r.outcome, r.seconds);
        metrics.spans_received(r.transport, r.accepted, r.rejected);
        if r.rejected > 0
            || !matches!(
                r.outcome,
                RequestOutcome::Ok | RequestOutcome::PartialSuccess
            )
        {
            tracing::debug!(
                transport = r.transport.as_str(),
                outcome = r.outcome.as_str(),
                accepted = r.accepted,
                rejected = r.rejected,
                "OTLP request not fully accepted"
            );
        }
    }
}

/// The contract file was reloaded, or a new one was refused.
#[derive(Debug)]
pub struct ContractsReloaded<'a> {
    pub source: &'a str,
    pub error: Option<&'a str>,
}

impl ContractsReloaded<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.config_reload(self.error.is_none());
        match self.error {
            None => tracing::info!(source = self.source, "contracts reloaded"),
            Some(error) => {
                tracing::error!(
                    source = self.source,
                    "new contracts refused, keeping the previous ones: {error}"
                )
            }
        }
    }
}

/// The write-ahead log could not write, sync or clean up. A batch it could not write or sync was refused
/// (the client retries it); anything else is retried at the next chance.
#[derive(Debug)]
pub struct WalFailed<'a> {
    pub what: &'static str,
    pub error: &'a std::io::Error,
}

impl WalFailed<'_> {
    pub fn emit(&self, usage: &crate::durability::WalUsage) {
        usage.failed();
        tracing::warn!(
            error = %self.error,
            "write-ahead log: cannot {}",
            self.what
        );
    }
}
