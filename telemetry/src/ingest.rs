//! The processor's own intake metrics: spans and requests its OTLP receivers answered, how long answering
//! took, and what the engine shards did with the spans (late, duplicate, over a limit, refused, evicted).

use std::borrow::Cow;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::labels::{RequestOutcome, Transport};
use super::names::{label, metric, value};
use super::registry::{Histograms, Labels, register_default, register_with_unit};
use ironforge_engine::EngineStats;

/// Delays of verdicts past their deadlines; the goal is under 5 ms.
const DECISION_DELAY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0];
/// OTLP request latencies.
const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn gauge_bytes(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// What counts against the memory budget at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Engine state: traces in flight, their violations, kept verdicts.
    pub engine: usize,
    /// Requests being read, decoded, or waiting for evaluation.
    pub requests: usize,
}

#[derive(Debug)]
pub(super) struct IngestMetrics {
    spans_received: Family<Labels<2>, Counter>,
    requests: Family<Labels<2>, Counter>,
    decision_delay: Histogram,
    request_duration: Histograms<1>,
    metric_points_received: Family<Labels<1>, Counter>,
    late_spans: Counter,
    spans_duplicate: Counter,
    spans_over_limit: Counter,
    batches_refused: Counter,
    traces_evicted: Counter,
    verdicts_forgotten: Counter,
    traces_in_flight: Gauge,
    memory: MemoryGauges,
}

/// What counts against the memory budget, the budget, and what the process holds.
#[derive(Debug)]
struct MemoryGauges {
    parts: Family<Labels<1>, Gauge>,
    budget: Gauge,
    resident: Gauge,
}

impl MemoryGauges {
    fn register(registry: &mut Registry) -> Self {
        let gauges = Self {
            parts: register_default(
                registry,
                metric::MEMORY_BYTES,
                "Bytes counted against limits.max_memory_bytes, by part: engine state or requests",
            ),
            budget: register_default(
                registry,
                metric::MEMORY_BUDGET,
                "limits.max_memory_bytes of the contract file in force",
            ),
            resident: register_default(
                registry,
                metric::RESIDENT_MEMORY,
                "Resident memory of the process (VmRSS)",
            ),
        };
        // Both parts are drawn from the start, so a dashboard never reads a gap before the first report.
        gauges.set(MemoryUsage {
            engine: 0,
            requests: 0,
        });
        gauges
    }

    fn set(&self, usage: MemoryUsage) {
        for (part, held) in [
            (value::ENGINE, usage.engine),
            (value::REQUESTS, usage.requests),
        ] {
            self.parts
                .get_or_create(&[(label::PART, Cow::Borrowed(part))])
                .set(gauge_bytes(held));
        }
    }
}

impl IngestMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            spans_received: register_default(
                registry,
                metric::SPANS_RECEIVED,
                "Spans received by the OTLP receivers, accepted or rejected",
            ),
            requests: register_default(
                registry,
                metric::REQUESTS,
                "OTLP export requests answered, by transport and outcome",
            ),
            decision_delay: register_with_unit(
                registry,
                metric::DECISION_DELAY,
                "Time from a trace's completion deadline (root arrival plus grace) to its verdict",
                Unit::Seconds,
                Histogram::new(DECISION_DELAY_BUCKETS.iter().copied()),
            ),
            request_duration: register_with_unit(
                registry,
                metric::REQUEST_DURATION,
                "Time to answer an OTLP export request",
                Unit::Seconds,
                Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS.iter().copied())),
            ),
            metric_points_received: register_default(
                registry,
                metric::METRIC_POINTS_RECEIVED,
                "Metric data points in the OTLP metrics requests accepted, by transport",
            ),
            late_spans: register_default(
                registry,
                metric::LATE_SPANS,
                "Spans that arrived for a trace already decided",
            ),
            spans_duplicate: register_default(
                registry,
                metric::SPANS_DUPLICATE,
                "Spans whose trace was given a span of the same id already, as by a retried export",
            ),
            spans_over_limit: register_default(
                registry,
                metric::SPANS_OVER_LIMIT,
                "Spans left out of trace-scoped contracts because their trace was over its limits",
            ),
            batches_refused: register_default(
                registry,
                metric::BATCHES_REFUSED,
                "Span batches refused because they alone would not fit the limits, or a queue was full",
            ),
            traces_evicted: register_default(
                registry,
                metric::TRACES_EVICTED,
                "Traces decided incomplete early to keep within the trace and memory limits",
            ),
            verdicts_forgotten: register_default(
                registry,
                metric::VERDICTS_FORGOTTEN,
                "Decided verdicts forgotten to keep the verdict store bounded",
            ),
            traces_in_flight: register_default(
                registry,
                metric::TRACES_IN_FLIGHT,
                "Traces assembled but not yet decided",
            ),
            memory: MemoryGauges::register(registry),
        }
    }

    pub(super) fn spans_received(&self, transport: Transport, accepted: u64, rejected: u64) {
        for (outcome, count) in [(value::ACCEPTED, accepted), (value::REJECTED, rejected)] {
            if count > 0 {
                let labels = [
                    (label::TRANSPORT, Cow::Borrowed(transport.as_str())),
                    (label::OUTCOME, Cow::Borrowed(outcome)),
                ];
                self.spans_received.get_or_create(&labels).inc_by(count);
            }
        }
    }

    pub(super) fn request(&self, transport: Transport, outcome: RequestOutcome, seconds: f64) {
        let labels = [
            (label::TRANSPORT, Cow::Borrowed(transport.as_str())),
            (label::OUTCOME, Cow::Borrowed(outcome.as_str())),
        ];
        self.requests.get_or_create(&labels).inc();
        if seconds.is_finite() && seconds >= 0.0 {
            self.request_duration
                .get_or_create(&[(label::TRANSPORT, Cow::Borrowed(transport.as_str()))])
                .observe(seconds);
        }
    }

    pub(super) fn decision_delay(&self, seconds: f64) {
        self.decision_delay.observe(seconds);
    }

    pub(super) fn metric_points_received(&self, transport: Transport, points: u64) {
        self.metric_points_received
            .get_or_create(&[(label::TRANSPORT, Cow::Borrowed(transport.as_str()))])
            .inc_by(points);
    }

    pub(super) fn traces_evicted(&self, count: u64) {
        self.traces_evicted.inc_by(count);
    }

    pub(super) fn engine_stats(&self, delta: &EngineStats, traces_in_flight: usize) {
        self.late_spans.inc_by(delta.late_spans);
        self.spans_duplicate.inc_by(delta.spans_duplicate);
        self.spans_over_limit.inc_by(delta.spans_over_limit);
        self.batches_refused.inc_by(delta.batches_refused);
        self.verdicts_forgotten.inc_by(delta.verdicts_forgotten);
        self.traces_in_flight
            .set(i64::try_from(traces_in_flight).unwrap_or(i64::MAX));
    }

    pub(super) fn memory(&self, usage: MemoryUsage) {
        self.memory.set(usage);
    }

    pub(super) fn resident_memory(&self, bytes: usize) {
        self.memory.resident.set(gauge_bytes(bytes));
    }

    pub(super) fn memory_budget(&self, bytes: usize) {
        self.memory.budget.set(gauge_bytes(bytes));
    }
}
