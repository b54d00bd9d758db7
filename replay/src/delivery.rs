//! What became of a run's telemetry, told apart by signal, and the exit code it calls for.
//!
//! The trace is the run's result; the metrics are a convenience beside it. A receiver that takes OTLP traces
//! but not metrics (Jaeger's and Tempo's OTLP endpoints answer metric exports with `UNIMPLEMENTED` or 404)
//! still has the whole trace, so refused metrics only warn unless `--require-metrics` is given.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | the run completed and its trace arrived whole (metrics may have been refused: a warning says so) |
//! | 1 | the run failed, or its trace was not fully delivered |
//! | 2 | bad command line |
//! | 3 | `--require-metrics`: the trace arrived whole but the metrics did not |

use std::process::ExitCode;

use ironforge_instrument::{ExportReport, FlushError, ShutdownCause, ShutdownError};

/// Exit code of a run whose trace arrived whole but whose metrics were refused, under `--require-metrics`.
pub(crate) const METRICS_REFUSED: u8 = 3;

/// The export report of a finished instrumentation, and the flush and shutdown problems by signal.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// The fate of every span, and the export failures by signal.
    pub report: ExportReport,
    /// Flush or shutdown problems that concern the spans (or both signals, or neither in particular).
    pub trace_problems: Vec<String>,
    /// Flush or shutdown problems of the metrics alone.
    pub metric_problems: Vec<String>,
}

impl Delivery {
    /// Files a failed flush under the signal it concerns.
    pub(crate) fn flush_failed(&mut self, error: &FlushError) {
        let problem = format!("flush: {error}");
        match error {
            FlushError::Metrics(_) => self.metric_problems.push(problem),
            _ => self.trace_problems.push(problem),
        }
    }

    /// Files a failed shutdown under the signal it concerns.
    pub(crate) fn shutdown_failed(&mut self, error: &ShutdownError) {
        let problem = format!("shutdown: {}", error.cause);
        match error.cause {
            ShutdownCause::Metrics(_) => self.metric_problems.push(problem),
            _ => self.trace_problems.push(problem),
        }
    }

    /// Failed exports of spans (and flushes or shutdowns that gave up on them).
    pub(crate) fn trace_failures(&self) -> u64 {
        self.report
            .export_failures
            .saturating_sub(self.report.metric_export_failures)
    }

    /// Whether every span arrived and nothing on the way to the trace receiver failed.
    pub(crate) fn trace_whole(&self) -> bool {
        self.report.spans_lost == 0 && self.trace_failures() == 0 && self.trace_problems.is_empty()
    }

    /// Whether some metrics did not arrive.
    pub(crate) fn metrics_refused(&self) -> bool {
        self.report.metric_export_failures > 0 || !self.metric_problems.is_empty()
    }

    /// The delivery lines of the run summary.
    pub(crate) fn print(&self) {
        let r = &self.report;
        println!(
            "export failures:  {} ({} of metrics)",
            r.export_failures, r.metric_export_failures
        );
        println!(
            "spans delivered:  {} of {}",
            r.spans_exported, r.spans_ended
        );
        for problem in self.trace_problems.iter().chain(&self.metric_problems) {
            println!("export problem:   {problem}");
        }
    }

    /// Reports on stderr what went wrong, and returns the exit code it calls for; `None` when delivery
    /// calls for nothing and the run's own result decides.
    pub(crate) fn verdict(&self, require_metrics: bool) -> Option<ExitCode> {
        if !self.trace_whole() {
            // A run whose trace did not arrive whole must not look like a success.
            eprintln!(
                "error: the trace was not fully delivered: {} spans lost, {} span export failures",
                self.report.spans_lost,
                self.trace_failures()
            );
            return Some(ExitCode::FAILURE);
        }
        if !self.metrics_refused() {
            return None;
        }
        let failures = self.report.metric_export_failures;
        if require_metrics {
            eprintln!(
                "error: the trace arrived whole but the metrics were not delivered ({failures} metric export \
                 failures) and --require-metrics was given"
            );
            return Some(ExitCode::from(METRICS_REFUSED));
        }
        eprintln!(
            "warning: the trace arrived whole but the metrics were not delivered ({failures} metric export \
             failures): the receiver may take OTLP traces only. --require-metrics makes this an error"
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(spans_lost: u64, failures: u64, metric_failures: u64) -> Delivery {
        Delivery {
            report: ExportReport {
                spans_ended: 10,
                spans_exported: 10 - spans_lost,
                spans_lost,
                export_failures: failures,
                metric_export_failures: metric_failures,
            },
            ..Delivery::default()
        }
    }

    #[test]
    fn refused_metrics_fail_only_when_required() {
        let refused = delivery(0, 2, 2);
        assert!(refused.trace_whole() && refused.metrics_refused());
        assert_eq!(refused.verdict(false), None);
        assert_eq!(refused.verdict(true), Some(ExitCode::from(METRICS_REFUSED)));
        assert_eq!(delivery(0, 0, 0).verdict(true), None);
    }

    #[test]
    fn a_trace_not_delivered_whole_fails_whatever_the_metrics() {
        for d in [delivery(1, 1, 0), delivery(0, 3, 2)] {
            assert!(!d.trace_whole());
            assert_eq!(d.verdict(false), Some(ExitCode::FAILURE));
        }
        let mut problem = delivery(0, 0, 0);
        problem
            .trace_problems
            .push("shutdown: timed out".to_owned());
        assert_eq!(problem.verdict(false), Some(ExitCode::FAILURE));
        let mut metrics_only = delivery(0, 0, 0);
        metrics_only
            .metric_problems
            .push("flush: refused".to_owned());
        assert_eq!(metrics_only.verdict(false), None);
        assert_eq!(
            metrics_only.verdict(true),
            Some(ExitCode::from(METRICS_REFUSED))
        );
    }
}
