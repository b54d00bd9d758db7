//! The processor's own events: each one writes its log line and moves its counter in one place, so the two
//! never drift apart.

use std::sync::atomic::Ordering;

use crate::ingest::RequestReport;
use crate::outputs::gate::GateDecision;
use crate::outputs::otlp_logs::Shared;
use crate::security::redact;
use crate::telemetry::names::value;
use crate::telemetry::rate_limit::RateLimit;
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

/// Traces were decided `incomplete` early to keep within the trace or memory limits. Each has its own
/// verdict (and verdict line); this says how many, once per worker report.
#[derive(Debug)]
pub struct TracesEvicted {
    pub count: u64,
}

impl TracesEvicted {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.traces_evicted(self.count);
        tracing::warn!(
            target: VERDICT_TARGET,
            evicted = self.count,
            "{} traces {}: decided incomplete before they completed, to stay within limits.max_traces_in_flight and limits.max_memory_bytes",
            self.count,
            crate::engine::EVICTED
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

/// Why violation events bound for the OTLP logs endpoint were given up.
#[derive(Debug)]
pub(crate) enum LogsDropReason {
    /// The queue on disk held its bound.
    Overflow,
    /// The exporter had stopped.
    Closed,
    /// The endpoint refused them with a code that no retry can change.
    Refused(String),
    /// The endpoint acknowledged the request but rejected these records in a partial success.
    Rejected(String),
    /// The disk returned a record that fails its checksum; the rest of its segment is given up.
    Corrupt,
    /// Reading or writing the queue failed.
    Disk(std::io::Error),
}

/// Violation events lost downstream: counted in the exporter's figures and the metrics, and logged at most once
/// per interval (with the number of lines held back) so a full queue cannot flood the log.
#[derive(Debug)]
pub(crate) struct LogsDropped {
    pub reason: LogsDropReason,
    /// Zero for a disk error that lost nothing yet.
    pub count: u64,
}

impl LogsDropped {
    pub fn emit(&self, shared: &Shared) {
        let stats = &shared.stats;
        let count = self.count;
        match self.reason {
            LogsDropReason::Overflow => {
                stats.dropped_overflow.fetch_add(count, Ordering::Relaxed);
                stats.overflowing.store(true, Ordering::Relaxed);
                shared.metrics.output_overflow(value::OTLP_LOGS, count);
            }
            LogsDropReason::Refused(_) | LogsDropReason::Rejected(_) | LogsDropReason::Corrupt => {
                stats.dropped_refused.fetch_add(count, Ordering::Relaxed);
            }
            LogsDropReason::Closed | LogsDropReason::Disk(_) => {}
        }
        if count > 0 {
            shared.metrics.output_dropped(value::OTLP_LOGS, count);
        }
        let Some(suppressed) = shared.drop_warning.allow(std::time::Instant::now()) else {
            return;
        };
        let why = match &self.reason {
            LogsDropReason::Overflow => "the queue on disk is full".to_owned(),
            LogsDropReason::Closed => "the exporter has stopped".to_owned(),
            LogsDropReason::Refused(status) => format!("the endpoint refused them ({status})"),
            LogsDropReason::Rejected(message) => format!("the endpoint rejected them ({message})"),
            LogsDropReason::Corrupt => "the disk returned them corrupt".to_owned(),
            LogsDropReason::Disk(err) => format!("the queue on disk failed: {err}"),
        };
        tracing::warn!(
            events = count,
            earlier_lines_not_logged = suppressed,
            "violation events for the OTLP logs endpoint dropped: {why}"
        );
    }
}

/// An export of violation events failed in a way worth retrying: counted, logged at most once per interval.
#[derive(Debug)]
pub(crate) struct LogsExportFailed<'a> {
    pub endpoint: &'a str,
    pub status: &'a tonic::Status,
    pub events: u64,
    pub warning: &'a RateLimit,
}

impl LogsExportFailed<'_> {
    pub fn emit(&self, shared: &Shared) {
        shared.stats.retries.fetch_add(1, Ordering::Relaxed);
        shared.stats.failing.store(true, Ordering::Relaxed);
        shared.metrics.output_retry(value::OTLP_LOGS);
        if let Some(suppressed) = self.warning.allow(std::time::Instant::now()) {
            tracing::warn!(
                endpoint = %redact::url(self.endpoint),
                events = self.events,
                code = ?self.status.code(),
                earlier_failures_not_logged = suppressed,
                "OTLP logs export failed; the events stay queued on disk and are retried: {}",
                redact::within(self.status.message(), self.endpoint)
            );
        }
    }
}

/// The exporter stopped with events it could not deliver in time: they wait on disk for the next start.
#[derive(Debug)]
pub(crate) struct LogsLeftQueued {
    pub events: u64,
}

impl LogsLeftQueued {
    pub fn emit(&self) {
        tracing::warn!(
            events = self.events,
            "violation events stay queued on disk; they are delivered after the next start"
        );
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

/// A request was refused for its credentials. Logged at debug level only: anyone who can reach a port can
/// cause one, and the counter already tells how many.
#[derive(Debug)]
pub struct AuthRefused {
    pub surface: &'static str,
    pub reason: &'static str,
}

impl AuthRefused {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.transport().auth_refused(self.surface, self.reason);
        tracing::debug!(
            listener = self.surface,
            reason = self.reason,
            "request refused: bearer token {}",
            self.reason
        );
    }
}

/// A TLS handshake failed or timed out. Logged at debug level for the same reason as [`AuthRefused`].
#[derive(Debug)]
pub struct TlsHandshakeFailed<'a> {
    pub listener: &'static str,
    pub peer: std::net::SocketAddr,
    pub error: &'a str,
}

impl TlsHandshakeFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.transport().tls_handshake_failed(self.listener);
        tracing::debug!(
            listener = self.listener,
            peer = %self.peer,
            "TLS handshake failed: {}",
            self.error
        );
    }
}

/// A listener could not accept a connection (out of file descriptors, say); it pauses and goes on.
#[derive(Debug)]
pub struct AcceptFailed<'a> {
    pub listener: &'static str,
    pub error: &'a std::io::Error,
}

impl AcceptFailed<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            listener = self.listener,
            "cannot accept a connection: {}",
            self.error
        );
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

/// The write-ahead log reached its cap (batches are refused with a retry hint), or came back under it.
#[derive(Debug)]
pub struct WalAtCap {
    pub full: bool,
    pub bytes: u64,
    pub max_bytes: u64,
}

impl WalAtCap {
    /// Logs the change; the gauge follows from [`crate::durability::WalUsage::is_full`].
    pub fn emit(&self) {
        if self.full {
            tracing::warn!(
                bytes = self.bytes,
                max_bytes = self.max_bytes,
                "write-ahead log at its cap (--wal-max-bytes): span batches are refused with a retry hint \
                 until decided traces free their segments"
            );
        } else {
            tracing::info!(
                bytes = self.bytes,
                max_bytes = self.max_bytes,
                "write-ahead log back under its cap: span batches are accepted again"
            );
        }
    }
}

/// Shards could not write what the last run left to the new log at start-up (a full disk): the API
/// serves what was recovered, ingest is refused with a retry hint, and each shard tries again every second.
#[derive(Debug)]
pub struct RecoveryDeferred {
    pub shards: usize,
}

impl RecoveryDeferred {
    pub fn emit(&self) {
        tracing::error!(
            shards = self.shards,
            "write-ahead log: what the last run left cannot be written yet; serving the API, refusing span \
             batches with a retry hint, and trying again every second"
        );
    }
}

/// A shard wrote what the last run left after an earlier attempt failed.
#[derive(Debug)]
pub struct RecoveryWritten;

impl RecoveryWritten {
    pub fn emit(&self) {
        tracing::info!(
            "write-ahead log: a shard wrote what the last run left; its traces are evaluated again"
        );
    }
}

/// Every shard wrote what the last run left after a full disk at start-up: span batches are taken again.
#[derive(Debug)]
pub struct RecoveryCompleted {
    /// Whether the new generation could be made the one a restart reads.
    pub switched: Result<(), crate::durability::WalError>,
}

impl RecoveryCompleted {
    pub fn emit(&self) {
        match &self.switched {
            Ok(()) => tracing::info!(
                "write-ahead log: what the last run left is written; span batches are accepted again"
            ),
            Err(error) => tracing::error!(
                %error,
                "write-ahead log: what the last run left is written, but the new generation could not be \
                 marked complete; a restart reads the old one again (nothing is lost, verdicts may repeat)"
            ),
        }
    }
}

/// Log target of analysis findings (`RUST_LOG=ironforge::analysis=warn`).
pub const ANALYSIS_TARGET: &str = "ironforge::analysis";

/// A measure of a pipeline's runs changed for the worse, significantly.
#[derive(Debug)]
pub struct RegressionFound<'a> {
    pub pipeline: &'a str,
    pub regression: &'a crate::analysis::Regression,
}

impl RegressionFound<'_> {
    pub fn emit(&self) {
        let r = self.regression;
        let point = &r.change_point;
        tracing::warn!(
            target: ANALYSIS_TARGET,
            pipeline = self.pipeline,
            measure = %r.measure,
            mean_before = point.mean_before,
            mean_after = point.mean_after,
            magnitude = point.magnitude,
            p_value = point.p_value,
            impact = point.impact,
            trace_id = %r.first_trace_id,
            "regression: {} went from {:.4} to {:.4} ({:+.1} %) from run {} on",
            r.measure,
            point.mean_before,
            point.mean_after,
            point.magnitude * 100.0,
            r.first_trace_id
        );
    }
}

/// Memory grows like a leak, within a run or across runs.
#[derive(Debug)]
pub struct MemoryLeakSuspected<'a> {
    pub pipeline: &'a str,
    pub scope: &'static str,
    pub trend: &'a ironforge_analysis::memory::MemoryTrend,
}

impl MemoryLeakSuspected<'_> {
    pub fn emit(&self) {
        let t = self.trend;
        tracing::warn!(
            target: ANALYSIS_TARGET,
            pipeline = self.pipeline,
            scope = self.scope,
            growth_bytes_per_second = t.growth_bytes_per_second,
            confidence = t.confidence,
            seconds_to_limit = t.seconds_to_limit,
            "memory leak suspected ({}): {}",
            self.scope,
            t.verdict
        );
    }
}

/// A decided trace was not analysed: the analysis queue was full.
#[derive(Debug)]
pub struct AnalysisDropped;

impl AnalysisDropped {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.analysis().dropped();
        tracing::debug!(target: ANALYSIS_TARGET, "analysis queue full: a decided trace was not analysed");
    }
}

/// The run history could not be read or written; analysis goes on without that run's history.
#[derive(Debug)]
pub struct HistoryFailed<'a> {
    pub what: &'static str,
    pub error: &'a ironforge_history::HistoryError,
}

impl HistoryFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.analysis().history_error();
        tracing::warn!(target: ANALYSIS_TARGET, error = %self.error, "run history: cannot {}", self.what);
    }
}

/// The run history at start-up was damaged or not a history: it was moved aside and a new one created.
#[derive(Debug)]
pub struct HistorySetAside<'a> {
    pub error: &'a ironforge_history::HistoryError,
    pub aside: &'a std::path::Path,
}

impl HistorySetAside<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        metrics.analysis().history_error();
        tracing::error!(
            target: ANALYSIS_TARGET,
            error = %self.error,
            kept_as = %self.aside.display(),
            "run history: the file cannot be read; it is kept aside and a new history is started"
        );
    }
}
