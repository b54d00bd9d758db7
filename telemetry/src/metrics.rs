//! The processor's Prometheus metrics, as one handle every task records through.
//!
//! Served as OpenMetrics text so that counters and histograms carry the trace id of the latest trace that
//! moved them as an exemplar: a dashboard panel links straight to the trace in Tempo. Every name comes from
//! [`names`](super::names); each group of metrics is declared, with its help text and unit, in the module of
//! its job, and registered here in the order the exposition lists them.

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;
use std::time::Instant;

use super::analysis::AnalysisMetrics;
use super::health::HealthMetrics;
use super::ingest::{IngestMetrics, MemoryUsage};
use super::labels::{RequestOutcome, Transport};
use super::outputs::OutputMetrics;
use super::spans::SpanMetrics;
use super::transport::TransportMetrics;
use super::verdicts::{ContractLabels, VerdictMetrics};
use super::wal::WalMetrics;
use ironforge_engine::model::SpanRecord;
use ironforge_engine::verdict::{TraceVerdict, Violation};
use ironforge_engine::{ContractSet, EngineStats};

/// `Content-Type` of [`Metrics::encode`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `Content-Type` of [`Metrics::encode_prometheus_text`].
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The processor's metrics. Every method takes `&self` and touches only atomics and short-held locks, so one
/// instance in an `Arc` serves every task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    verdicts: VerdictMetrics,
    spans: SpanMetrics,
    ingest: IngestMetrics,
    outputs: OutputMetrics,
    health: HealthMetrics,
    transport: TransportMetrics,
    wal: WalMetrics,
    analysis: AnalysisMetrics,
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
        // The registry lists metrics in the order they were registered, which is the exposition's order.
        let verdicts = VerdictMetrics::register(&mut registry);
        let spans = SpanMetrics::register(&mut registry);
        let ingest = IngestMetrics::register(&mut registry);
        let outputs = OutputMetrics::register(&mut registry);
        let health = HealthMetrics::register(&mut registry);
        let transport = TransportMetrics::register(&mut registry);
        let wal = WalMetrics::register(&mut registry);
        let analysis = AnalysisMetrics::register(&mut registry);
        Self {
            registry,
            verdicts,
            spans,
            ingest,
            outputs,
            health,
            transport,
            wal,
            analysis,
        }
    }

    /// The listeners' own counters: refused credentials and failed handshakes.
    pub fn transport(&self) -> &TransportMetrics {
        &self.transport
    }

    /// The write-ahead log's figures.
    pub fn wal(&self) -> &WalMetrics {
        &self.wal
    }

    pub fn analysis(&self) -> &AnalysisMetrics {
        &self.analysis
    }

    /// The contracts in force: each pipeline's violation counters, and the held-back events, start at zero for
    /// every one of them.
    pub fn contracts(&self, contracts: &ContractSet) {
        self.ingest
            .memory_budget(contracts.file().limits.max_memory_bytes);
        self.outputs
            .contracts(contracts.contracts().iter().map(|contract| &*contract.id));
        self.verdicts.contracts(
            contracts
                .contracts()
                .iter()
                .map(|contract| ContractLabels {
                    id: contract.id.to_string(),
                    category: contract.category(),
                    severity: contract.severity,
                })
                .collect(),
        );
    }

    /// Counts a violation under its pipeline, contract, category and severity, with its trace id as the
    /// exemplar.
    pub fn violation(&self, violation: &Violation) {
        self.verdicts.violation(violation);
    }

    /// Counts a decided trace by pipeline, status and production readiness, and observes its stage durations.
    ///
    /// Production readiness is a label of the trace counter rather than a metric of its own, so that the share
    /// of production-ready runs is one query over one metric.
    pub fn verdict(&self, verdict: &TraceVerdict) {
        self.verdicts.verdict(verdict);
    }

    /// Records the facts of a monitored span: session and run durations, peak memory and authenticity.
    /// Spans without an `ironforge.span.kind` are not monitored and leave no trace here.
    ///
    /// Called for every span, so it records through handles bound once per stage and kind, and attaches a
    /// trace-id exemplar (a hex string to format) at most once a second per histogram. `now` is when the
    /// span's batch is taken: the caller reads the clock once a batch rather than this once a span.
    pub fn span(&self, span: &SpanRecord, now: Instant) {
        self.spans.span(span, now);
    }

    /// Records how late a verdict came after its trace's completion deadline.
    pub fn decision_delay(&self, seconds: f64) {
        self.ingest.decision_delay(seconds);
    }

    pub fn spans_received(&self, transport: Transport, accepted: u64, rejected: u64) {
        self.ingest.spans_received(transport, accepted, rejected);
    }

    /// Counts one answered OTLP request and observes how long answering took.
    pub fn request(&self, transport: Transport, outcome: RequestOutcome, seconds: f64) {
        self.ingest.request(transport, outcome, seconds);
    }

    /// Counts the metric data points of one accepted OTLP metrics request.
    pub fn metric_points_received(&self, transport: Transport, points: u64) {
        self.ingest.metric_points_received(transport, points);
    }

    /// Counts traces decided early to make room; the monitor's `TracesEvicted` event logs them too.
    pub fn traces_evicted(&self, count: u64) {
        self.ingest.traces_evicted(count);
    }

    /// Adds what one engine shard did since it last reported, and sets the in-flight gauge.
    pub fn engine_stats(&self, delta: &EngineStats, traces_in_flight: usize) {
        self.ingest.engine_stats(delta, traces_in_flight);
    }

    /// Sets the gauges of what counts against the memory budget.
    pub fn memory(&self, usage: MemoryUsage) {
        self.ingest.memory(usage);
    }

    /// Sets the gauge of the process's resident memory.
    pub fn resident_memory(&self, bytes: usize) {
        self.ingest.resident_memory(bytes);
    }

    /// Counts violation events of a contract that were not emitted.
    pub fn events_suppressed(&self, contract: &str, count: u64) {
        self.outputs.events_suppressed(contract, count);
    }

    /// Starts a configured output's counters and queue gauges at zero.
    pub fn output_started(&self, output: &str) {
        self.outputs.started(output);
    }

    /// Counts records an output delivered downstream.
    pub fn output_exported(&self, output: &str, count: u64) {
        self.outputs.exported(output, count);
    }

    /// Counts records an output lost.
    pub fn output_dropped(&self, output: &str, count: u64) {
        self.outputs.dropped(output, count);
    }

    /// Sets the number of records waiting in an output's queue.
    pub fn queue_depth(&self, output: &str, depth: usize) {
        self.outputs.queue_depth(output, depth);
    }

    /// Sets the bytes the records waiting in an output's queue take.
    pub fn queue_bytes(&self, output: &str, bytes: u64) {
        self.outputs.queue_bytes(output, bytes);
    }

    /// Counts a failed export attempt an output tries again.
    pub fn output_retry(&self, output: &str) {
        self.outputs.retry(output);
    }

    /// Counts records an output dropped because its queue was full; they count as dropped too.
    pub fn output_overflow(&self, output: &str, count: u64) {
        self.outputs.overflow(output, count);
    }

    /// Counts a contract file reload.
    pub fn config_reload(&self, success: bool) {
        self.health.config_reload(success);
    }

    /// Sets the health score over every pipeline, clamped to 0..100; a NaN score is ignored.
    pub fn health(&self, score: f64) {
        self.health.health(score);
    }

    /// Sets one pipeline's health score, clamped to 0..100; a NaN score is ignored.
    pub fn pipeline_health(&self, pipeline: &str, score: f64) {
        self.health.pipeline_health(pipeline, score);
    }

    /// Counts a pipeline no longer tracked and removes its health series, so the label set stays bounded.
    pub fn pipeline_forgotten(&self, pipeline: &str) {
        self.health.pipeline_forgotten(pipeline);
    }

    /// Counts a trace dropped without a verdict because none of its spans carries `ironforge.span.kind`.
    pub fn trace_unmonitored(&self) {
        self.health.trace_unmonitored();
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
