//! What the OTLP logs exporter reports: the fate of violation events bound for the endpoint.

use std::sync::atomic::Ordering;

use super::otlp_logs::Shared;
use ironforge_security::redact;
use ironforge_telemetry::InternalEvent;
use ironforge_telemetry::names::value;
use ironforge_telemetry::rate_limit::RateLimit;

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
pub(crate) struct LogsDropped<'a> {
    pub(crate) reason: LogsDropReason,
    /// Zero for a disk error that lost nothing yet.
    pub(crate) count: u64,
    pub(crate) shared: &'a Shared,
}

impl InternalEvent for LogsDropped<'_> {
    fn emit(self) {
        let shared = self.shared;
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
    pub(crate) endpoint: &'a str,
    pub(crate) status: &'a tonic::Status,
    pub(crate) events: u64,
    pub(crate) warning: &'a RateLimit,
    pub(crate) shared: &'a Shared,
}

impl InternalEvent for LogsExportFailed<'_> {
    fn emit(self) {
        let shared = self.shared;
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

/// The exporter stopped with events it could not deliver in time: they wait on disk for the next start. The
/// queue-depth gauges already show them.
#[derive(Debug)]
pub(crate) struct LogsLeftQueued {
    pub(crate) events: u64,
}

impl InternalEvent for LogsLeftQueued {
    fn emit(self) {
        tracing::warn!(
            events = self.events,
            "violation events stay queued on disk; they are delivered after the next start"
        );
    }
}
