//! The verdict metrics: violations by contract, decided traces by status, and the stage durations of each
//! decided trace, each carrying the trace id as its exemplar.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::exemplar::CounterWithExemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use super::names::{label, metric, value};
use super::registry::{
    ExemplarHistograms, Labels, TraceExemplar, exemplar_histogram, exemplar_histograms,
    register_default, register_with_unit, trace_exemplar,
};
use crate::verdict::{TraceVerdict, Violation};

/// Stage durations; 180 s is the default full-discovery contract.
const STAGE_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

type ExemplarCounters<const N: usize> = Family<Labels<N>, CounterWithExemplar<TraceExemplar>>;

#[derive(Debug)]
pub(super) struct VerdictMetrics {
    violations: ExemplarCounters<3>,
    traces: ExemplarCounters<2>,
    stage_duration: ExemplarHistograms<1>,
}

impl VerdictMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            violations: register_default(
                registry,
                metric::VIOLATIONS,
                "Contract violations, by contract, category and severity",
            ),
            traces: register_default(
                registry,
                metric::TRACES,
                "Decided traces, by verdict status and whether the run may go to production",
            ),
            stage_duration: register_with_unit(
                registry,
                metric::STAGE_DURATION,
                "Wall time of each pipeline stage within a decided trace",
                Unit::Seconds,
                exemplar_histograms(|| exemplar_histogram(STAGE_BUCKETS)),
            ),
        }
    }

    pub(super) fn violation(&self, violation: &Violation) {
        let labels = [
            (label::CONTRACT, Cow::Owned(violation.contract_id.clone())),
            (
                label::CATEGORY,
                Cow::Borrowed(value::category(violation.category)),
            ),
            (
                label::SEVERITY,
                Cow::Borrowed(value::severity(violation.severity)),
            ),
        ];
        self.violations.get_or_create(&labels).inc_by(
            1,
            Some(trace_exemplar(violation.trace_id)),
            timestamp(violation.time_unix_nano),
        );
    }

    pub(super) fn verdict(&self, verdict: &TraceVerdict) {
        let at = timestamp(verdict.decided_unix_nano);
        let labels = [
            (label::STATUS, Cow::Borrowed(value::status(verdict.status))),
            (
                label::PRODUCTION_READY,
                Cow::Borrowed(value::boolean(verdict.production_ready)),
            ),
        ];
        self.traces
            .get_or_create(&labels)
            .inc_by(1, Some(trace_exemplar(verdict.trace_id)), at);
        for stage in &verdict.stage_durations {
            if !stage.seconds.is_finite() {
                continue;
            }
            let labels = [(label::STAGE, Cow::Owned(stage.stage.clone()))];
            self.stage_duration.get_or_create(&labels).observe(
                stage.seconds,
                Some(trace_exemplar(verdict.trace_id)),
                at,
            );
        }
    }
}

/// The exemplar timestamp; none for a zero (unknown) time.
fn timestamp(unix_nano: u64) -> Option<SystemTime> {
    (unix_nano > 0)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_nanos(unix_nano)))
        .flatten()
}
