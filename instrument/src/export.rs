//! Exporter wrappers that count failed exports and report them without flooding the log, and the mark
//! of the threads that export, whose own spans must not be exported in turn.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// The target of the crate's own export warnings, so subscribers can route or silence them.
pub const EXPORT_LOG_TARGET: &str = "ironforge_instrument::export";

thread_local! {
    static EXPORT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as part of the export path until the returned guard is dropped.
///
/// The transport traces its own work (h2 alone opens dozens of spans per request). If the
/// pipeline's subscriber has no filter for it, those spans reach the OpenTelemetry layer, and
/// exporting them would make every export produce more to export. Spans started on a marked thread
/// are dropped by the sampler and not counted as overhead. A suppressed OpenTelemetry context is not
/// enough: it only reaches spans that take their parent from the current context, and h2's root
/// spans do not.
pub(crate) fn mark_export_thread() -> ExportThreadGuard {
    ExportThreadGuard {
        previous: EXPORT_THREAD.with(|m| m.replace(true)),
    }
}

pub(crate) fn on_export_thread() -> bool {
    EXPORT_THREAD.with(Cell::get)
}

pub(crate) struct ExportThreadGuard {
    previous: bool,
}

impl Drop for ExportThreadGuard {
    fn drop(&mut self) {
        EXPORT_THREAD.with(|m| m.set(self.previous));
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }
}

/// What became of the spans one [`Instrumentation`](crate::Instrumentation) was given, as of the moment
/// it is taken: returned by [`shutdown`](crate::Instrumentation::shutdown) and
/// [`force_flush`](crate::Instrumentation::force_flush), and named by their errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Spans that ended and were queued for export (sampled-out spans are not counted).
    pub spans_ended: u64,
    /// Spans the collector acknowledged.
    pub spans_exported: u64,
    /// Spans not acknowledged: in a failed export, dropped from a full queue, or still waiting when a
    /// flush or shutdown gave up. After a shutdown they are lost for good.
    pub spans_lost: u64,
    /// Failed export attempts (spans or metrics), and flushes or shutdowns that gave up waiting for
    /// one: the same count as [`export_failures`](crate::Instrumentation::export_failures).
    pub export_failures: u64,
    /// The part of [`export_failures`](Self::export_failures) that were metric exports: a receiver that
    /// takes traces only (as Jaeger's and Tempo's OTLP endpoints do) refuses every one, yet has the whole
    /// trace.
    pub metric_export_failures: u64,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} spans not delivered, {} export failures",
            self.spans_lost, self.spans_ended, self.export_failures
        )
    }
}

/// Counts failed export attempts and the fate of spans, and lets one warning through per interval.
pub(crate) struct FailureLog {
    traces: AtomicU64,
    metrics: AtomicU64,
    spans_ended: AtomicU64,
    spans_exported: AtomicU64,
    /// Milliseconds after `epoch` of the last warning, plus one; zero means none yet.
    last_warning: AtomicU64,
    epoch: Instant,
    interval: Duration,
}

impl fmt::Debug for FailureLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureLog")
            .field("traces", &self.traces())
            .field("metrics", &self.metrics())
            .field("interval", &self.interval)
            .finish()
    }
}

impl FailureLog {
    pub(crate) fn new(interval: Duration) -> Self {
        FailureLog {
            traces: AtomicU64::new(0),
            metrics: AtomicU64::new(0),
            spans_ended: AtomicU64::new(0),
            spans_exported: AtomicU64::new(0),
            last_warning: AtomicU64::new(0),
            epoch: Instant::now(),
            interval,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.traces().saturating_add(self.metrics())
    }

    pub(crate) fn traces(&self) -> u64 {
        self.traces.load(Ordering::Relaxed)
    }

    pub(crate) fn metrics(&self) -> u64 {
        self.metrics.load(Ordering::Relaxed)
    }

    /// Counts a span handed to the batch processor.
    pub(crate) fn span_ended(&self) {
        self.spans_ended.fetch_add(1, Ordering::Relaxed);
    }

    /// The fate of every span so far. A span is counted as ended before it is exported, so the
    /// difference never goes below zero.
    pub(crate) fn report(&self) -> ExportReport {
        let exported = self.spans_exported.load(Ordering::Relaxed);
        let ended = self.spans_ended.load(Ordering::Relaxed).max(exported);
        ExportReport {
            spans_ended: ended,
            spans_exported: exported,
            spans_lost: ended - exported,
            export_failures: self.count(),
            metric_export_failures: self.metrics(),
        }
    }

    /// Counts a failure and warns, at most once per interval: a failed export, or a flush or
    /// shutdown that gave up waiting for one.
    pub(crate) fn record(&self, signal: Signal, error: &OTelSdkError) {
        let counter = match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let failures = self.count();
        let signal = signal.as_str();
        let now = u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let last = self.last_warning.load(Ordering::Relaxed);
        let interval = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < interval {
            return;
        }
        if self
            .last_warning
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        // This runs on the SDK's exporter thread, marked as the export path: no span is entered
        // there (the OpenTelemetry layer turns events into events of the current span only) and
        // any span started there is dropped by the sampler, so the warning cannot become telemetry
        // and feed the exporter that is failing. A fmt layer still prints it; the rate limit keeps
        // a dead collector from flooding the console.
        tracing::warn!(
            target: EXPORT_LOG_TARGET,
            signal,
            failures,
            error = %error,
            "OTLP export failed; telemetry is being dropped (further failures within {:?} are only counted)",
            self.interval,
        );
    }
}

/// A span exporter that counts its failures.
pub(crate) struct CountingSpanExporter<E> {
    inner: E,
    log: Arc<FailureLog>,
}

impl<E> CountingSpanExporter<E> {
    pub(crate) fn new(inner: E, log: Arc<FailureLog>) -> Self {
        CountingSpanExporter { inner, log }
    }
}

impl<E: fmt::Debug> fmt::Debug for CountingSpanExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSpanExporter")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<E: SpanExporter> SpanExporter for CountingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // The SDK drives this future to completion on its own exporter thread (`block_on`), so a
        // thread mark covers everything the inner exporter does here.
        let _export_path = mark_export_thread();
        let spans = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.log.spans_exported.fetch_add(spans, Ordering::Relaxed);
            }
            Err(e) => self.log.record(Signal::Traces, e),
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A metric exporter that counts its failures.
pub(crate) struct CountingMetricExporter<E> {
    inner: E,
    log: Arc<FailureLog>,
}

impl<E> CountingMetricExporter<E> {
    pub(crate) fn new(inner: E, log: Arc<FailureLog>) -> Self {
        CountingMetricExporter { inner, log }
    }
}

impl<E> fmt::Debug for CountingMetricExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingMetricExporter")
            .finish_non_exhaustive()
    }
}

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let _export_path = mark_export_thread();
        let result = self.inner.export(metrics).await;
        if let Err(e) = &result {
            self.log.record(Signal::Metrics, e);
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_counted_but_warnings_are_rate_limited() {
        let log = FailureLog::new(Duration::from_secs(3600));
        let err = OTelSdkError::InternalFailure("down".into());
        for _ in 0..5 {
            log.record(Signal::Traces, &err);
        }
        assert_eq!((log.traces(), log.metrics()), (5, 0));
        let first = log.last_warning.load(Ordering::Relaxed);
        assert_ne!(first, 0, "the first failure is reported");
        log.record(Signal::Metrics, &err);
        assert_eq!(log.last_warning.load(Ordering::Relaxed), first);
        assert_eq!(log.count(), 6);
    }

    #[test]
    fn a_zero_interval_reports_every_failure() {
        let log = FailureLog::new(Duration::ZERO);
        let err = OTelSdkError::InternalFailure("down".into());
        log.record(Signal::Traces, &err);
        std::thread::sleep(Duration::from_millis(2));
        let first = log.last_warning.load(Ordering::Relaxed);
        log.record(Signal::Traces, &err);
        assert!(log.last_warning.load(Ordering::Relaxed) > first);
    }
}
