//! What the analysis reports: regressions and suspected leaks it finds, traces it had to skip, and a run
//! history it cannot read or write.

use ironforge_analysis::memory::MemoryTrend;
use ironforge_history::HistoryError;

use super::view::Regression;
use ironforge_telemetry::names::target;
use ironforge_telemetry::{InternalEvent, MemoryScope, Metrics};

/// A measure of a pipeline's runs changed for the worse, significantly. Its gauge is set with the pipeline's
/// findings, whether or not the change is new, so only the line is written here.
#[derive(Debug)]
pub(crate) struct RegressionFound<'a> {
    pub(crate) pipeline: &'a str,
    pub(crate) regression: &'a Regression,
}

impl InternalEvent for RegressionFound<'_> {
    fn emit(self) {
        let r = self.regression;
        let point = &r.change_point;
        tracing::warn!(
            target: target::ANALYSIS,
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

/// Memory grows like a leak, within a run or across runs. Its gauge is set with every trend, leak or not, so
/// only the line is written here.
#[derive(Debug)]
pub(crate) struct MemoryLeakSuspected<'a> {
    pub(crate) pipeline: &'a str,
    pub(crate) scope: MemoryScope,
    pub(crate) trend: &'a MemoryTrend,
}

impl InternalEvent for MemoryLeakSuspected<'_> {
    fn emit(self) {
        let t = self.trend;
        tracing::warn!(
            target: target::ANALYSIS,
            pipeline = self.pipeline,
            scope = self.scope.as_str(),
            growth_bytes_per_second = t.growth_bytes_per_second,
            confidence = t.confidence,
            seconds_to_limit = t.seconds_to_limit,
            "memory leak suspected ({}): {}",
            self.scope.as_str(),
            t.verdict
        );
    }
}

/// A decided trace was not analysed: the analysis queue was full.
#[derive(Debug)]
pub(crate) struct AnalysisDropped<'a> {
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for AnalysisDropped<'_> {
    fn emit(self) {
        self.metrics.analysis().dropped();
        tracing::debug!(target: target::ANALYSIS, "analysis queue full: a decided trace was not analysed");
    }
}

/// The run history could not be read or written; analysis goes on without that run's history.
#[derive(Debug)]
pub(crate) struct HistoryFailed<'a> {
    pub(crate) what: &'static str,
    pub(crate) error: &'a HistoryError,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for HistoryFailed<'_> {
    fn emit(self) {
        self.metrics.analysis().history_error();
        tracing::warn!(target: target::ANALYSIS, error = %self.error, "run history: cannot {}", self.what);
    }
}

/// The run history at start-up was damaged or not a history: it was moved aside and a new one created.
#[derive(Debug)]
pub(crate) struct HistorySetAside<'a> {
    pub(crate) error: &'a HistoryError,
    pub(crate) aside: &'a std::path::Path,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for HistorySetAside<'_> {
    fn emit(self) {
        self.metrics.analysis().history_error();
        tracing::error!(
            target: target::ANALYSIS,
            error = %self.error,
            kept_as = %self.aside.display(),
            "run history: the file cannot be read; it is kept aside and a new history is started"
        );
    }
}
