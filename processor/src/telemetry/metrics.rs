//! The processor's Prometheus metrics.
//!
//! Served as OpenMetrics text so that counters and histograms carry the trace id of the latest trace that
//! moved them as an exemplar: a dashboard panel links straight to the trace in Tempo. Every name comes from
//! [`names`](super::names).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::{CounterWithExemplar, HistogramWithExemplars};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};

pub use super::labels::{RequestOutcome, Transport};
use super::names::{exemplar, label, metric, value};
pub use super::transport::TransportMetrics;
use crate::engine::EngineStats;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, Violation};

/// `Content-Type` of [`Metrics::encode`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `Content-Type` of [`Metrics::encode_prometheus_text`].
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Stage durations; 180 s is the default full-discovery contract.
const STAGE_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
/// Session durations; 3 s is the default single-session contract.
const SESSION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 10.0, 30.0,
];
/// Run durations; 180 s is the default full-discovery contract.
const RUN_BUCKETS: &[f64] = &[
    5.0, 10.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 240.0, 300.0, 600.0, 1800.0,
];
/// Authenticity scores in 0..1; 0.87 is the default production threshold.
const AUTHENTICITY_BUCKETS: &[f64] = &[
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.87, 0.9, 0.95, 0.99, 1.0,
];
/// Delays of verdicts past their deadlines; the goal is under 5 ms.
const DECISION_DELAY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0];
/// OTLP request latencies.
const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels<const N: usize> = [(&'static str, Cow<'static, str>); N];
type TraceExemplar = [(&'static str, String); 1];
type ExemplarHistograms<const N: usize> = Family<
    Labels<N>,
    HistogramWithExemplars<TraceExemplar>,
    fn() -> HistogramWithExemplars<TraceExemplar>,
>;
type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The processor's metrics. Every method takes `&self` and touches only atomics and short-held locks, so one
/// instance in an `Arc` serves every task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    violations: Family<Labels<3>, CounterWithExemplar<TraceExemplar>>,
    traces: Family<Labels<2>, CounterWithExemplar<TraceExemplar>>,
    stage_duration: ExemplarHistograms<1>,
    session_duration: ExemplarHistograms<1>,
    run_duration: HistogramWithExemplars<TraceExemplar>,
    memory_peak: Family<Labels<1>, FloatGauge>,
    bound: BoundSeries,
    /// Exemplar gates of the session-duration, run-duration and authenticity histograms.
    span_exemplars: [SpanExemplars; 3],
    authenticity: ExemplarHistograms<1>,
    spans_received: Family<Labels<2>, Counter>,
    requests: Family<Labels<2>, Counter>,
    request_duration: Histograms<1>,
    decision_delay: Histogram,
    metric_points_received: Family<Labels<1>, Counter>,
    late_spans: Counter,
    spans_duplicate: Counter,
    spans_over_limit: Counter,
    batches_refused: Counter,
    traces_evicted: Counter,
    verdicts_forgotten: Counter,
    /// The engine's counts at the previous [`Metrics::engine_stats`] call, to turn running totals into deltas.
    traces_in_flight: Gauge,
    wal: super::wal::WalMetrics,
    analysis: super::analysis::AnalysisMetrics,
    events_suppressed: Family<Labels<1>, Counter>,
    output_exported: Family<Labels<1>, Counter>,
    output_dropped: Family<Labels<1>, Counter>,
    queue_depth: Family<Labels<1>, Gauge>,
    queue_bytes: Family<Labels<1>, Gauge>,
    output_retries: Family<Labels<1>, Counter>,
    output_overflow: Family<Labels<1>, Counter>,
    config_reloads: Family<Labels<1>, Counter>,
    health: FloatGauge,
    pipeline_health: Family<Labels<1>, FloatGauge>,
    pipelines_forgotten: Counter,
    traces_unmonitored: Counter,
    transport: TransportMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric. Families start empty: a series appears once it is first touched.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let violations = Family::default();
        registry.register(
            metric::VIOLATIONS,
            "Contract violations, by contract, category and severity",
            Family::clone(&violations),
        );
        let traces = Family::default();
        registry.register(
            metric::TRACES,
            "Decided traces, by verdict status and whether the run may go to production",
            Family::clone(&traces),
        );
        let stage_duration = exemplar_histograms(|| exemplar_histogram(STAGE_BUCKETS));
        register_unit(
            &mut registry,
            metric::STAGE_DURATION,
            "Wall time of each pipeline stage within a decided trace",
            Unit::Seconds,
            stage_duration.clone(),
        );
        let session_duration = exemplar_histograms(|| exemplar_histogram(SESSION_BUCKETS));
        register_unit(
            &mut registry,
            metric::SESSION_DURATION,
            "Duration of each session span",
            Unit::Seconds,
            session_duration.clone(),
        );
        let run_duration = exemplar_histogram(RUN_BUCKETS);
        register_unit(
            &mut registry,
            metric::RUN_DURATION,
            "Duration of each run span",
            Unit::Seconds,
            run_duration.clone(),
        );
        let memory_peak = Family::default();
        register_unit(
            &mut registry,
            metric::MEMORY_PEAK,
            "Peak memory reported by the latest span of each kind",
            Unit::Bytes,
            Family::clone(&memory_peak),
        );
        let authenticity = exemplar_histograms(|| exemplar_histogram(AUTHENTICITY_BUCKETS));
        registry.register(
            metric::PATTERN_AUTHENTICITY,
            "Authenticity scores reported by pattern and session spans",
            authenticity.clone(),
        );
        let spans_received = Family::default();
        registry.register(
            metric::SPANS_RECEIVED,
            "Spans received by the OTLP receivers, accepted or rejected",
            Family::clone(&spans_received),
        );
        let requests = Family::default();
        registry.register(
            metric::REQUESTS,
            "OTLP export requests answered, by transport and outcome",
            Family::clone(&requests),
        );
        let decision_delay = Histogram::new(DECISION_DELAY_BUCKETS.iter().copied());
        register_unit(
            &mut registry,
            metric::DECISION_DELAY,
            "Time from a trace's completion deadline (root arrival plus grace) to its verdict",
            Unit::Seconds,
            decision_delay.clone(),
        );
        let request_duration: Histograms<1> =
            Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS.iter().copied()));
        register_unit(
            &mut registry,
            metric::REQUEST_DURATION,
            "Time to answer an OTLP export request",
            Unit::Seconds,
            request_duration.clone(),
        );
        let metric_points_received = Family::default();
        registry.register(
            metric::METRIC_POINTS_RECEIVED,
            "Metric data points in the OTLP metrics requests accepted, by transport",
            Family::clone(&metric_points_received),
        );
        let late_spans = Counter::default();
        registry.register(
            metric::LATE_SPANS,
            "Spans that arrived for a trace already decided",
            late_spans.clone(),
        );
        let spans_duplicate = Counter::default();
        registry.register(
            metric::SPANS_DUPLICATE,
            "Spans whose trace was given a span of the same id already, as by a retried export",
            spans_duplicate.clone(),
        );
        let spans_over_limit = Counter::default();
        registry.register(
            metric::SPANS_OVER_LIMIT,
            "Spans left out of trace-scoped contracts because their trace was over its limits",
            spans_over_limit.clone(),
        );
        let batches_refused = Counter::default();
        registry.register(
            metric::BATCHES_REFUSED,
            "Span batches refused because they alone would not fit the limits, or a queue was full",
            batches_refused.clone(),
        );
        let traces_evicted = Counter::default();
        registry.register(
            metric::TRACES_EVICTED,
            "Traces decided incomplete early to keep within the trace and memory limits",
            traces_evicted.clone(),
        );
        let verdicts_forgotten = Counter::default();
        registry.register(
            metric::VERDICTS_FORGOTTEN,
            "Decided verdicts forgotten to keep the verdict store bounded",
            verdicts_forgotten.clone(),
        );
        let traces_in_flight = Gauge::default();
        registry.register(
            metric::TRACES_IN_FLIGHT,
            "Traces assembled but not yet decided",
            traces_in_flight.clone(),
        );
        let events_suppressed = Family::default();
        registry.register(
            metric::EVENTS_SUPPRESSED,
            "Violation events not emitted because of rate limiting or deduplication",
            Family::clone(&events_suppressed),
        );
        let output_exported = Family::default();
        registry.register(
            metric::OUTPUT_EXPORTED,
            "Records an output delivered downstream",
            Family::clone(&output_exported),
        );
        let output_dropped = Family::default();
        registry.register(
            metric::OUTPUT_DROPPED,
            "Records an output lost: queue full, export failed after retries, or refused downstream",
            Family::clone(&output_dropped),
        );
        let queue_depth = Family::default();
        registry.register(
            metric::QUEUE_DEPTH,
            "Records waiting in an output's queue",
            Family::clone(&queue_depth),
        );
        let queue_bytes = Family::default();
        register_unit(
            &mut registry,
            metric::QUEUE_BYTES,
            "What the records waiting in an output's queue take on disk",
            Unit::Bytes,
            Family::clone(&queue_bytes),
        );
        let output_retries = Family::default();
        registry.register(
            metric::OUTPUT_RETRIES,
            "Failed export attempts of an output that it tries again",
            Family::clone(&output_retries),
        );
        let output_overflow = Family::default();
        registry.register(
            metric::OUTPUT_OVERFLOW,
            "Records an output dropped because its queue was full",
            Family::clone(&output_overflow),
        );
        let config_reloads = Family::default();
        registry.register(
            metric::CONFIG_RELOADS,
            "Contract file reloads, by outcome",
            Family::clone(&config_reloads),
        );
        let health = FloatGauge::default();
        registry.register(
            metric::HEALTH_SCORE,
            "Health score over the verdicts of every monitored pipeline, 0 to 100",
            health.clone(),
        );
        let pipeline_health = Family::default();
        registry.register(
            metric::PIPELINE_HEALTH_SCORE,
            "Health score of each monitored pipeline, 0 to 100",
            Family::clone(&pipeline_health),
        );
        let pipelines_forgotten = Counter::default();
        registry.register(
            metric::PIPELINES_FORGOTTEN,
            "Pipelines no longer tracked because more were seen than the processor keeps",
            pipelines_forgotten.clone(),
        );
        let traces_unmonitored = Counter::default();
        registry.register(
            metric::TRACES_UNMONITORED,
            "Traces with no IRONFORGE span kind, dropped without a verdict",
            traces_unmonitored.clone(),
        );
        let transport = TransportMetrics::register(&mut registry);
        let wal = super::wal::WalMetrics::register(&mut registry);
        let analysis = super::analysis::AnalysisMetrics::register(&mut registry);
        Self {
            wal,
            analysis,
            registry,
            violations,
            traces,
            stage_duration,
            session_duration,
            run_duration,
            memory_peak,
            bound: BoundSeries::default(),
            span_exemplars: [
                SpanExemplars::new(),
                SpanExemplars::new(),
                SpanExemplars::new(),
            ],
            authenticity,
            spans_received,
            requests,
            request_duration,
            decision_delay,
            metric_points_received,
            late_spans,
            spans_duplicate,
            spans_over_limit,
            batches_refused,
            traces_evicted,
            verdicts_forgotten,
            traces_in_flight,
            events_suppressed,
            output_exported,
            output_dropped,
            queue_depth,
            queue_bytes,
            output_retries,
            output_overflow,
            config_reloads,
            health,
            pipeline_health,
            pipelines_forgotten,
            traces_unmonitored,
            transport,
        }
    }

    /// The listeners' own counters: refused credentials and failed handshakes.
    pub fn transport(&self) -> &TransportMetrics {
        &self.transport
    }

    /// Counts a violation under its contract, category and severity, with its trace id as the exemplar.
    pub fn violation(&self, violation: &Violation) {
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

    /// Counts a decided trace by status and production readiness, and observes its stage durations.
    ///
    /// Production readiness is a label of the trace counter rather than a metric of its own, so that the share
    /// of production-ready runs is one query over one metric.
    pub fn verdict(&self, verdict: &TraceVerdict) {
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

    /// Records the facts of a monitored span: session and run durations, peak memory and authenticity.
    /// Spans without an `ironforge.span.kind` are not monitored and leave no trace here.
    ///
    /// Called for every span, so it records through handles bound once per stage and kind, and attaches a
    /// trace-id exemplar (a hex string to format) at most once per [`SpanExemplars::INTERVAL`].
    pub fn span(&self, span: &SpanRecord) {
        let Some(kind) = span.kind else { return };
        let observe = |histogram: &HistogramWithExemplars<TraceExemplar>,
                       gate: &SpanExemplars,
                       value: f64| {
            let (label_set, at) = gate
                .admit()
                .then(|| (trace_exemplar(span.trace_id), SystemTime::now()))
                .unzip();
            histogram.observe(value, label_set, at);
        };
        let gates = &self.span_exemplars;
        let seconds = span.duration_seconds();
        match kind {
            SpanKind::Session => {
                let stage = span.stage.map_or(value::UNKNOWN, |stage| stage.as_str());
                let index = span.stage.map_or(Stage::ALL.len(), |stage| stage as usize);
                let histogram = self.bound.session_duration[index].get_or_init(|| {
                    self.session_duration
                        .get_or_create(&[(label::STAGE, Cow::Borrowed(stage))])
                        .clone()
                });
                observe(histogram, &gates[0], seconds);
            }
            SpanKind::Run => observe(&self.run_duration, &gates[1], seconds),
            SpanKind::Init | SpanKind::Stage | SpanKind::Pattern => {}
        }
        let kind_label = || [(label::SPAN_KIND, Cow::Borrowed(kind.as_str()))];
        if let Some(peak) = span
            .facts
            .number(attr::MEMORY_PEAK)
            .filter(|peak| peak.is_finite())
        {
            self.bound.memory_peak[kind as usize]
                .get_or_init(|| self.memory_peak.get_or_create(&kind_label()).clone())
                .set(peak);
        }
        if let Some(score) = span
            .facts
            .number(attr::PATTERN_AUTHENTICITY)
            .filter(|score| score.is_finite())
        {
            let histogram = self.bound.authenticity[kind as usize]
                .get_or_init(|| self.authenticity.get_or_create(&kind_label()).clone());
            observe(histogram, &gates[2], score);
        }
    }

    /// Records how late a verdict came after its trace's completion deadline.
    pub fn decision_delay(&self, seconds: f64) {
        self.decision_delay.observe(seconds);
    }

    pub fn spans_received(&self, transport: Transport, accepted: u64, rejected: u64) {
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

    /// Counts one answered OTLP request and observes how long answering took.
    pub fn request(&self, transport: Transport, outcome: RequestOutcome, seconds: f64) {
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

    /// Counts the metric data points of one accepted OTLP metrics request.
    pub fn metric_points_received(&self, transport: Transport, points: u64) {
        self.metric_points_received
            .get_or_create(&[(label::TRANSPORT, Cow::Borrowed(transport.as_str()))])
            .inc_by(points);
    }

    /// Adds what one engine shard did since it last reported, and sets the in-flight gauge.
    /// Counts traces decided early to make room; see [`crate::internal_events::TracesEvicted`].
    pub fn traces_evicted(&self, count: u64) {
        self.traces_evicted.inc_by(count);
    }

    pub fn engine_stats(&self, delta: &EngineStats, traces_in_flight: usize) {
        self.late_spans.inc_by(delta.late_spans);
        self.spans_duplicate.inc_by(delta.spans_duplicate);
        self.spans_over_limit.inc_by(delta.spans_over_limit);
        self.batches_refused.inc_by(delta.batches_refused);
        self.verdicts_forgotten.inc_by(delta.verdicts_forgotten);
        self.traces_in_flight
            .set(i64::try_from(traces_in_flight).unwrap_or(i64::MAX));
    }

    /// The write-ahead log's figures.
    pub fn wal(&self) -> &super::wal::WalMetrics {
        &self.wal
    }

    pub fn analysis(&self) -> &super::analysis::AnalysisMetrics {
        &self.analysis
    }

    /// Counts violation events of a contract that were not emitted.
    pub fn events_suppressed(&self, contract: &str, count: u64) {
        self.events_suppressed
            .get_or_create(&[(label::CONTRACT, Cow::Owned(contract.to_owned()))])
            .inc_by(count);
    }

    /// Counts records an output delivered downstream.
    pub fn output_exported(&self, output: &str, count: u64) {
        self.output_exported
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .inc_by(count);
    }

    /// Counts records an output lost.
    pub fn output_dropped(&self, output: &str, count: u64) {
        self.output_dropped
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .inc_by(count);
    }

    /// Sets the number of records waiting in an output's queue.
    pub fn queue_depth(&self, output: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Sets the bytes the records waiting in an output's queue take.
    pub fn queue_bytes(&self, output: &str, bytes: u64) {
        self.queue_bytes
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Counts a failed export attempt an output tries again.
    pub fn output_retry(&self, output: &str) {
        self.output_retries
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .inc();
    }

    /// Counts records an output dropped because its queue was full; they count as dropped too.
    pub fn output_overflow(&self, output: &str, count: u64) {
        self.output_overflow
            .get_or_create(&[(label::OUTPUT, Cow::Owned(output.to_owned()))])
            .inc_by(count);
    }

    /// Counts a contract file reload.
    pub fn config_reload(&self, success: bool) {
        let outcome = if success {
            value::SUCCESS
        } else {
            value::FAILURE
        };
        self.config_reloads
            .get_or_create(&[(label::OUTCOME, Cow::Borrowed(outcome))])
            .inc();
    }

    /// Sets the health score over every pipeline, clamped to 0..100; a NaN score is ignored.
    pub fn health(&self, score: f64) {
        set_score(&self.health, score);
    }

    /// Sets one pipeline's health score, clamped to 0..100; a NaN score is ignored.
    pub fn pipeline_health(&self, pipeline: &str, score: f64) {
        let labels = [(label::PIPELINE, Cow::Owned(pipeline.to_owned()))];
        set_score(&self.pipeline_health.get_or_create(&labels), score);
    }

    /// Counts a pipeline no longer tracked and removes its health series, so the label set stays bounded.
    pub fn pipeline_forgotten(&self, pipeline: &str) {
        self.pipeline_health
            .remove(&[(label::PIPELINE, Cow::Owned(pipeline.to_owned()))]);
        self.pipelines_forgotten.inc();
    }

    /// Counts a trace dropped without a verdict because none of its spans carries `ironforge.span.kind`.
    pub fn trace_unmonitored(&self) {
        self.traces_unmonitored.inc();
    }

    /// The OpenMetrics text exposition, exemplars included, ending with `# EOF`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The same metrics in the Prometheus text format 0.0.4, which has no exemplars: for scrapers that do not
    /// ask for OpenMetrics, and for linters such as `promtool check metrics`.
    pub fn encode_prometheus_text(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn set_score(gauge: &FloatGauge, score: f64) {
    if !score.is_nan() {
        gauge.set(score.clamp(0.0, 100.0));
    }
}

fn exemplar_histogram(buckets: &[f64]) -> HistogramWithExemplars<TraceExemplar> {
    HistogramWithExemplars::new(buckets.iter().copied())
}

fn exemplar_histograms<const N: usize>(
    constructor: fn() -> HistogramWithExemplars<TraceExemplar>,
) -> ExemplarHistograms<N> {
    Family::new_with_constructor(constructor)
}

/// Registers a metric whose name ends in its unit, so the exposition carries a `# UNIT` line. The library
/// appends the unit itself, so it is given the name without it.
pub(super) fn register_unit(
    registry: &mut Registry,
    name: &'static str,
    help: &str,
    unit: Unit,
    metric: impl Metric,
) {
    let stem = name
        .strip_suffix(unit.as_str())
        .and_then(|stem| stem.strip_suffix('_'))
        .unwrap_or(name);
    registry.register_with_unit(stem, help, unit, metric);
}

fn trace_exemplar(trace_id: TraceId) -> TraceExemplar {
    [(exemplar::TRACE_ID, trace_id.to_hex())]
}

/// Series handles bound on first use, so a span's record hashes no label set. Bound lazily, so a stage or
/// kind that never occurs exports no empty series.
#[derive(Debug, Default)]
struct BoundSeries {
    /// Per stage, in `Stage::ALL` order, then spans without a stage.
    session_duration: [OnceLock<HistogramWithExemplars<TraceExemplar>>; Stage::ALL.len() + 1],
    /// Per span kind, in `SpanKind::ALL` order.
    memory_peak: [OnceLock<FloatGauge>; SpanKind::ALL.len()],
    authenticity: [OnceLock<HistogramWithExemplars<TraceExemplar>>; SpanKind::ALL.len()],
}

/// How often span histograms take a new exemplar. Each exemplar is a formatted trace id; taking one per
/// span cost more than the rest of the record, and a bucket's exemplar only needs to be recent.
#[derive(Debug)]
struct SpanExemplars {
    start: Instant,
    /// Milliseconds after `start` of the last exemplar taken; `u64::MAX` before the first.
    last_ms: AtomicU64,
}

impl SpanExemplars {
    const INTERVAL: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether this record takes an exemplar.
    fn admit(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= Self::INTERVAL.as_millis() as u64;
        due && self
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// The exemplar timestamp; none for a zero (unknown) time.
fn timestamp(unix_nano: u64) -> Option<SystemTime> {
    (unix_nano > 0)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_nanos(unix_nano)))
        .flatten()
}
