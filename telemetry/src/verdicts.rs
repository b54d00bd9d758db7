//! The verdict metrics: violations by contract, decided traces by status, and the stage durations of each
//! decided trace, each under its pipeline and carrying the trace id as its exemplar.
//!
//! A pipeline's violation and trace counters start at zero for every contract and status the moment it is
//! first seen, so a dashboard's rate over "no violations yet" reads 0, not an empty panel.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::exemplar::CounterWithExemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use super::names::{label, metric, value};
use super::pipelines::PipelineSeries;
use super::registry::{
    ExemplarHistograms, Labels, TraceExemplar, exemplar_histogram, exemplar_histograms,
    register_default, register_with_unit, trace_exemplar,
};
use ironforge_engine::verdict::{Category, Severity, TraceVerdict, VerdictStatus, Violation};

/// Stage durations, 10 ms to 10 min: a stage holds many sessions (3 s each by contract) and the whole run
/// has 180 s.
const STAGE_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0,
];

type ExemplarCounters<const N: usize> = Family<Labels<N>, CounterWithExemplar<TraceExemplar>>;

/// A contract as its violation series are labelled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ContractLabels {
    pub(super) id: String,
    pub(super) category: Category,
    pub(super) severity: Severity,
}

#[derive(Debug)]
pub(super) struct VerdictMetrics {
    violations: ExemplarCounters<4>,
    traces: ExemplarCounters<3>,
    stage_duration: ExemplarHistograms<2>,
    /// The pipelines seen, whose counters start at zero.
    pipelines: PipelineSeries<()>,
    /// The contracts of the file in force.
    contracts: RwLock<Vec<ContractLabels>>,
}

impl VerdictMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            violations: register_default(
                registry,
                metric::VIOLATIONS,
                "Contract violations, by pipeline, contract, category and severity",
            ),
            traces: register_default(
                registry,
                metric::TRACES,
                "Decided traces, by pipeline, verdict status and whether the run may go to production",
            ),
            stage_duration: register_with_unit(
                registry,
                metric::STAGE_DURATION,
                "Wall time of each pipeline stage within a decided trace",
                Unit::Seconds,
                exemplar_histograms(|| exemplar_histogram(STAGE_BUCKETS)),
            ),
            pipelines: PipelineSeries::default(),
            contracts: RwLock::default(),
        }
    }

    /// Sets the contracts in force, and starts the violation counters of any new one at zero under every
    /// pipeline seen.
    pub(super) fn contracts(&self, contracts: Vec<ContractLabels>) {
        for pipeline in self.pipelines.labels() {
            self.zero_violations(&pipeline, &contracts);
        }
        *self
            .contracts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = contracts;
    }

    /// The pipeline label of a verdict's or violation's `service.name`; a pipeline seen for the first time has
    /// its counters started at zero.
    fn pipeline(&self, service: Option<&str>) -> Arc<str> {
        let bound = self.pipelines.of(service, |pipeline| {
            let contracts = self
                .contracts
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.zero_violations(pipeline, &contracts);
            for status in VerdictStatus::ALL {
                for production_ready in [true, false] {
                    self.traces.get_or_create_owned(&trace_labels(
                        pipeline,
                        *status,
                        production_ready,
                    ));
                }
            }
        });
        Arc::clone(&bound.pipeline)
    }

    fn zero_violations(&self, pipeline: &str, contracts: &[ContractLabels]) {
        for contract in contracts {
            self.violations.get_or_create_owned(&violation_labels(
                pipeline,
                &contract.id,
                contract.category,
                contract.severity,
            ));
        }
    }

    pub(super) fn violation(&self, violation: &Violation) {
        let pipeline = self.pipeline(violation.pipeline.as_deref());
        let labels = violation_labels(
            &pipeline,
            &violation.contract_id,
            violation.category,
            violation.severity,
        );
        self.violations.get_or_create(&labels).inc_by(
            1,
            Some(trace_exemplar(violation.trace_id)),
            timestamp(violation.time_unix_nano),
        );
    }

    pub(super) fn verdict(&self, verdict: &TraceVerdict) {
        let at = timestamp(verdict.decided_unix_nano);
        let pipeline = self.pipeline(verdict.service_name.as_deref());
        let labels = trace_labels(&pipeline, verdict.status, verdict.production_ready);
        self.traces
            .get_or_create(&labels)
            .inc_by(1, Some(trace_exemplar(verdict.trace_id)), at);
        for stage in &verdict.stage_durations {
            if !stage.seconds.is_finite() {
                continue;
            }
            let labels = [
                (label::PIPELINE, Cow::Owned(pipeline.to_string())),
                (label::STAGE, Cow::Owned(stage.stage.clone())),
            ];
            self.stage_duration.get_or_create(&labels).observe(
                stage.seconds,
                Some(trace_exemplar(verdict.trace_id)),
                at,
            );
        }
    }
}

fn violation_labels(
    pipeline: &str,
    contract: &str,
    category: Category,
    severity: Severity,
) -> Labels<4> {
    [
        (label::PIPELINE, Cow::Owned(pipeline.to_owned())),
        (label::CONTRACT, Cow::Owned(contract.to_owned())),
        (label::CATEGORY, Cow::Borrowed(value::category(category))),
        (label::SEVERITY, Cow::Borrowed(value::severity(severity))),
    ]
}

fn trace_labels(pipeline: &str, status: VerdictStatus, production_ready: bool) -> Labels<3> {
    [
        (label::PIPELINE, Cow::Owned(pipeline.to_owned())),
        (label::STATUS, Cow::Borrowed(value::status(status))),
        (
            label::PRODUCTION_READY,
            Cow::Borrowed(value::boolean(production_ready)),
        ),
    ]
}

/// The exemplar timestamp; none for a zero (unknown) time.
fn timestamp(unix_nano: u64) -> Option<SystemTime> {
    (unix_nano > 0)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_nanos(unix_nano)))
        .flatten()
}
