//! What the live processor reports: requests answered, contracts reloaded, traces evicted, and the
//! write-ahead log's cap and recovery as the shards see them.

use crate::ingest::RequestReport;
use ironforge_telemetry::names::target;
use ironforge_telemetry::{InternalEvent, Metrics, RequestOutcome};
use ironforge_wal::WalError;

/// An OTLP request was answered.
#[derive(Debug)]
pub(crate) struct RequestAnswered<'a> {
    pub(crate) report: RequestReport,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for RequestAnswered<'_> {
    fn emit(self) {
        let r = &self.report;
        self.metrics.request(r.transport, r.outcome, r.seconds);
        self.metrics
            .spans_received(r.transport, r.accepted, r.rejected);
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

/// The contract file was reloaded into the monitor, or a new one was refused.
#[derive(Debug)]
pub(crate) struct ContractsReloaded<'a> {
    pub(crate) source: &'a str,
    pub(crate) error: Option<&'a str>,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for ContractsReloaded<'_> {
    fn emit(self) {
        self.metrics.config_reload(self.error.is_none());
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

/// Traces were decided `incomplete` early to keep within the trace or memory limits. Each has its own
/// verdict (and verdict line); this says how many, once per worker report.
#[derive(Debug)]
pub(crate) struct TracesEvicted<'a> {
    pub(crate) count: u64,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for TracesEvicted<'_> {
    fn emit(self) {
        self.metrics.traces_evicted(self.count);
        tracing::warn!(
            target: target::VERDICT,
            evicted = self.count,
            "{} traces {}: decided incomplete before they completed, to stay within limits.max_traces_in_flight and limits.max_memory_bytes",
            self.count,
            ironforge_engine::EVICTED
        );
    }
}

/// The write-ahead log reached its cap (batches are refused with a retry hint), or came back under it.
/// The gauge follows from [`WalUsage::is_full`](ironforge_wal::WalUsage::is_full), so only the change
/// is logged here.
#[derive(Debug)]
pub(crate) struct WalAtCap {
    pub(crate) full: bool,
    pub(crate) bytes: u64,
    pub(crate) max_bytes: u64,
}

impl InternalEvent for WalAtCap {
    fn emit(self) {
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
pub(crate) struct RecoveryDeferred {
    pub(crate) shards: usize,
}

impl InternalEvent for RecoveryDeferred {
    fn emit(self) {
        tracing::error!(
            shards = self.shards,
            "write-ahead log: what the last run left cannot be written yet; serving the API, refusing span \
             batches with a retry hint, and trying again every second"
        );
    }
}

/// A shard wrote what the last run left after an earlier attempt failed.
#[derive(Debug)]
pub(crate) struct RecoveryWritten;

impl InternalEvent for RecoveryWritten {
    fn emit(self) {
        tracing::info!(
            "write-ahead log: a shard wrote what the last run left; its traces are evaluated again"
        );
    }
}

/// Every shard wrote what the last run left after a full disk at start-up: span batches are taken again.
#[derive(Debug)]
pub(crate) struct RecoveryCompleted {
    /// Whether the new generation could be made the one a restart reads.
    pub(crate) switched: Result<(), WalError>,
}

impl InternalEvent for RecoveryCompleted {
    fn emit(self) {
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
