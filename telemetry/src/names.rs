//! Every metric name, label name, label value set, log target and log attribute name the processor publishes.
//!
//! These names are a public contract: dashboards, alert rules and log queries are written against them, so each
//! is spelled here once and nowhere else. Metric names follow Prometheus conventions: base units (seconds,
//! bytes) in the name, and low-cardinality labels only. Trace and session ids never become labels; they travel
//! in exemplars and log attributes.

use ironforge_engine::verdict::{Category, Severity, VerdictStatus};

/// Metric family names, as the `# TYPE` line of the OpenMetrics exposition spells them.
///
/// Counters are exposed with a `_total` suffix appended to the family name (`ironforge_violations` is queried
/// as `ironforge_violations_total`); histograms as `_bucket`, `_sum` and `_count` series.
pub mod metric {
    /// Counter: contract violations. Labels: [`CONTRACT`](super::label::CONTRACT),
    /// [`CATEGORY`](super::label::CATEGORY), [`SEVERITY`](super::label::SEVERITY). Exemplar: the trace id of
    /// the latest violation.
    pub const VIOLATIONS: &str = "ironforge_violations";
    /// Counter: decided traces. Labels: [`STATUS`](super::label::STATUS) and
    /// [`PRODUCTION_READY`](super::label::PRODUCTION_READY). Exemplar: the trace id of the latest verdict.
    pub const TRACES: &str = "ironforge_traces";
    /// Histogram, seconds: wall time of each pipeline stage within a decided trace. Label:
    /// [`STAGE`](super::label::STAGE). Exemplar per bucket: the trace id.
    pub const STAGE_DURATION: &str = "ironforge_stage_duration_seconds";
    /// Histogram, seconds: duration of each session span. Label: [`STAGE`](super::label::STAGE). Bucket
    /// edges include 3, the default session contract.
    pub const SESSION_DURATION: &str = "ironforge_session_duration_seconds";
    /// Histogram, seconds: duration of each run span. Bucket edges include 180, the default run contract.
    pub const RUN_DURATION: &str = "ironforge_run_duration_seconds";
    /// Gauge, bytes: the peak memory reported by the latest span of each kind. Label:
    /// [`SPAN_KIND`](super::label::SPAN_KIND).
    pub const MEMORY_PEAK: &str = "ironforge_memory_peak_bytes";
    /// Histogram, bytes: the peak memory each monitored span reports. Labels: `pipeline`,
    /// [`SPAN_KIND`](super::label::SPAN_KIND). Bucket edges from 16 MiB to 1 GiB include 100 MiB, the default
    /// memory contracts.
    pub const MEMORY_PEAKS: &str = "ironforge_span_memory_peak_bytes";
    /// Histogram, score in 0..1: authenticity reported by pattern and session spans. Label:
    /// [`SPAN_KIND`](super::label::SPAN_KIND). Bucket edges include 0.87, the default production threshold.
    pub const PATTERN_AUTHENTICITY: &str = "ironforge_pattern_authenticity";
    /// Counter: spans received by the OTLP receivers. Labels: [`TRANSPORT`](super::label::TRANSPORT),
    /// [`OUTCOME`](super::label::OUTCOME) (`accepted` or `rejected`).
    pub const SPANS_RECEIVED: &str = "ironforge_processor_spans_received";
    /// Counter: OTLP export requests answered. Labels: [`TRANSPORT`](super::label::TRANSPORT),
    /// [`OUTCOME`](super::label::OUTCOME) (a [`RequestOutcome`](crate::RequestOutcome)).
    pub const REQUESTS: &str = "ironforge_processor_requests";
    /// Histogram, seconds: time to answer an OTLP export request. Label: [`TRANSPORT`](super::label::TRANSPORT).
    pub const REQUEST_DURATION: &str = "ironforge_processor_request_duration_seconds";
    /// Histogram: seconds from a trace's completion deadline (root arrival + grace) to its verdict.
    pub const DECISION_DELAY: &str = "ironforge_processor_decision_delay_seconds";
    /// Counter: metric data points in the OTLP metrics requests the receivers accepted (acknowledged, not
    /// judged). Label: [`TRANSPORT`](super::label::TRANSPORT).
    pub const METRIC_POINTS_RECEIVED: &str = "ironforge_processor_metric_points_received";
    /// Counter: spans that arrived for a trace already decided.
    pub const LATE_SPANS: &str = "ironforge_processor_late_spans";
    /// Counter: spans whose trace was given a span of the same id already (a retried export); they change
    /// no verdict.
    pub const SPANS_DUPLICATE: &str = "ironforge_processor_spans_duplicate";
    /// Counter: spans checked but left out of trace-scoped contracts because their trace was over its limits.
    pub const SPANS_OVER_LIMIT: &str = "ironforge_processor_spans_over_limit";
    /// Counter: span batches refused because they alone would exceed a worker's share of
    /// `max_traces_in_flight` or `max_memory_bytes`, or a worker's queue was full.
    pub const BATCHES_REFUSED: &str = "ironforge_processor_batches_refused";
    /// Counter: traces decided `incomplete` early ("evicted under memory pressure") to make room.
    pub const TRACES_EVICTED: &str = "ironforge_processor_traces_evicted";
    /// Counter: decided verdicts forgotten to keep the verdict store bounded.
    pub const VERDICTS_FORGOTTEN: &str = "ironforge_processor_verdicts_forgotten";
    /// Gauge: traces assembled but not yet decided.
    pub const TRACES_IN_FLIGHT: &str = "ironforge_processor_traces_in_flight";
    /// Gauge, bytes: what counts against `limits.max_memory_bytes` now. Label: `part`,
    /// [`ENGINE`](super::value::ENGINE) (traces in flight, their violations, kept verdicts) or
    /// [`REQUESTS`](super::value::REQUESTS) (requests being read, decoded or waiting for evaluation).
    pub const MEMORY_BYTES: &str = "ironforge_processor_memory_bytes";
    /// Gauge, bytes: the process's resident memory (`VmRSS`), sampled ten times a second; past
    /// [`MEMORY_BUDGET`], requests are taken one at a time. The name is the Prometheus client libraries'.
    pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
    /// Gauge, bytes: `limits.max_memory_bytes`, the budget [`MEMORY_BYTES`] counts against.
    pub const MEMORY_BUDGET: &str = "ironforge_processor_memory_budget_bytes";
    /// Gauge, bytes: what the write-ahead log holds (span segments and decision files).
    pub const WAL_BYTES: &str = "ironforge_processor_wal_bytes";
    /// Gauge: span segments the write-ahead log holds.
    pub const WAL_SEGMENTS: &str = "ironforge_processor_wal_segments";
    /// Histogram, seconds: each fsync of the write-ahead log.
    pub const WAL_FSYNC_DURATION: &str = "ironforge_processor_wal_fsync_duration_seconds";
    /// Counter: failed writes, syncs and deletions of the write-ahead log (a batch not written is refused).
    pub const WAL_ERRORS: &str = "ironforge_processor_wal_errors";
    /// Gauge: 1 while the write-ahead log is at its cap and span batches are refused with a retry hint.
    pub const WAL_AT_CAP: &str = "ironforge_processor_wal_at_cap";
    /// Counter: damaged records of the write-ahead log found with good ones after them, skipped at a start.
    pub const WAL_CORRUPT_RECORDS: &str = "ironforge_processor_wal_corrupt_records";
    /// Gauge: spans read back from the write-ahead log and evaluated again at the last start.
    pub const WAL_REPLAYED_SPANS: &str = "ironforge_processor_wal_replayed_spans";
    /// Counter: violation events not emitted because of rate limiting or deduplication. Label:
    /// [`CONTRACT`](super::label::CONTRACT).
    pub const EVENTS_SUPPRESSED: &str = "ironforge_processor_events_suppressed";
    /// Counter: records an output delivered downstream. Label: [`OUTPUT`](super::label::OUTPUT).
    pub const OUTPUT_EXPORTED: &str = "ironforge_processor_output_exported";
    /// Counter: records an output lost (queue full, refused downstream). Label:
    /// [`OUTPUT`](super::label::OUTPUT).
    pub const OUTPUT_DROPPED: &str = "ironforge_processor_output_dropped";
    /// Gauge: records waiting in an output's queue. Label: [`OUTPUT`](super::label::OUTPUT).
    pub const QUEUE_DEPTH: &str = "ironforge_processor_queue_depth";
    /// Gauge, bytes: what the records waiting in an output's queue take on disk. Label:
    /// [`OUTPUT`](super::label::OUTPUT).
    pub const QUEUE_BYTES: &str = "ironforge_processor_queue_bytes";
    /// Counter: failed export attempts of an output that it tries again. Label: [`OUTPUT`](super::label::OUTPUT).
    pub const OUTPUT_RETRIES: &str = "ironforge_processor_output_retries";
    /// Counter: records an output dropped because its queue was full (also counted in [`OUTPUT_DROPPED`]).
    /// Label: [`OUTPUT`](super::label::OUTPUT).
    pub const OUTPUT_OVERFLOW: &str = "ironforge_processor_output_overflow";
    /// Counter: contract file reloads. Label: [`OUTCOME`](super::label::OUTCOME) (`success` or `failure`).
    pub const CONFIG_RELOADS: &str = "ironforge_processor_config_reloads";
    /// Gauge, 0..100: the health score over every pipeline's verdicts.
    pub const HEALTH_SCORE: &str = "ironforge_pipeline_health_score";
    /// Gauge, 0..100: the health score of one pipeline. Label: [`PIPELINE`](super::label::PIPELINE). A family
    /// of its own beside [`HEALTH_SCORE`], so that neither has series with and without the label.
    pub const PIPELINE_HEALTH_SCORE: &str = "ironforge_pipeline_health_score_by_pipeline";
    /// Counter: pipelines no longer tracked because more were seen than the processor keeps; their
    /// [`PIPELINE_HEALTH_SCORE`] series is removed.
    pub const PIPELINES_FORGOTTEN: &str = "ironforge_processor_pipelines_forgotten";
    /// Counter: traces with no IRONFORGE span (no `ironforge.span.kind`), dropped without a verdict.
    pub const TRACES_UNMONITORED: &str = "ironforge_processor_traces_unmonitored";
    /// Counter: requests refused for a missing or wrong bearer token. Labels:
    /// [`LISTENER`](super::label::LISTENER), [`REASON`](super::label::REASON) (`missing` or `invalid`).
    pub const AUTH_REFUSALS: &str = "ironforge_processor_auth_refusals";
    /// Counter: TLS handshakes that failed or timed out (plaintext to a TLS port, an untrusted or missing
    /// client certificate). Label: [`LISTENER`](super::label::LISTENER).
    pub const TLS_HANDSHAKE_FAILURES: &str = "ironforge_processor_tls_handshake_failures";
    /// Gauge, 0..1: the share of the latest run's critical path spent in each stage. Labels:
    /// [`PIPELINE`](super::label::PIPELINE), [`STAGE`](super::label::STAGE).
    pub const CRITICAL_PATH_SHARE: &str = "ironforge_analysis_critical_path_share";
    /// Gauge, 0 or 1: whether the newest change point of a measure over a pipeline's run history is a
    /// regression. Labels: [`PIPELINE`](super::label::PIPELINE), [`MEASURE`](super::label::MEASURE).
    pub const REGRESSION: &str = "ironforge_analysis_regression";
    /// Gauge, 0 or 1: whether memory grows like a leak. Labels: [`PIPELINE`](super::label::PIPELINE),
    /// [`SCOPE`](super::label::SCOPE) (`run`: within the latest run; `history`: peak memory across runs).
    pub const MEMORY_LEAK: &str = "ironforge_analysis_memory_leak";
    /// Gauge, bytes per second: the least-squares memory growth behind [`MEMORY_LEAK`]. Same labels.
    pub const MEMORY_GROWTH: &str = "ironforge_analysis_memory_growth_bytes_per_second";
    /// Counter: decided traces analysed.
    pub const TRACES_ANALYSED: &str = "ironforge_analysis_traces";
    /// Counter: decided traces not analysed because the analysis queue was full.
    pub const ANALYSIS_DROPPED: &str = "ironforge_analysis_dropped";
    /// Histogram, seconds: time to analyse one decided trace (critical path, what-if plan, history, regressions).
    pub const ANALYSIS_DURATION: &str = "ironforge_analysis_duration_seconds";
    /// Counter: failed reads and writes of the run history database.
    pub const HISTORY_ERRORS: &str = "ironforge_analysis_history_errors";
}

/// Metric label names.
pub mod label {
    /// A contract id from the contract file; bounded by that file.
    pub const CONTRACT: &str = "contract";
    /// A contract category: `timing`, `memory`, `quality`, `system`, `invariant`.
    pub const CATEGORY: &str = "category";
    /// `warning` or `critical`.
    pub const SEVERITY: &str = "severity";
    /// A verdict status: `pass`, `warn`, `fail`, `incomplete`.
    pub const STATUS: &str = "status";
    /// `true` or `false`: whether the verdict allows the run into production.
    pub const PRODUCTION_READY: &str = "production_ready";
    /// A pipeline stage (`discovery`, `confluence`, `validation`, `reporting`), or
    /// [`UNKNOWN`](super::value::UNKNOWN) for a span that carries none.
    pub const STAGE: &str = "stage";
    /// The `ironforge.span.kind` of the span: `run`, `init`, `stage`, `session`, `pattern`.
    pub const SPAN_KIND: &str = "kind";
    /// `grpc` or `http`.
    pub const TRANSPORT: &str = "transport";
    /// What happened; each metric documents its own set of values.
    pub const OUTCOME: &str = "outcome";
    /// An output of the processor, e.g. [`OTLP_LOGS`](super::value::OTLP_LOGS).
    pub const OUTPUT: &str = "output";
    /// The `service.name` of a monitored pipeline, or [`UNKNOWN_SERVICE`](super::value::UNKNOWN_SERVICE).
    /// Bounded: the processor tracks at most 100 pipelines at once.
    pub const PIPELINE: &str = "pipeline";
    /// A listener of the processor: `otlp_grpc`, `otlp_http`, `admin`, `metrics`.
    pub const LISTENER: &str = "listener";
    /// A share of the memory budget: `engine` or `requests`.
    pub const PART: &str = "part";
    /// Why something was refused; each metric documents its own set of values.
    pub const REASON: &str = "reason";
    /// A measure of the run history: `run.duration_seconds`, `stage.<stage>.duration_seconds`,
    /// `memory.peak_bytes`, `contract.<id>`; bounded by the stages and the contract file.
    pub const MEASURE: &str = "measure";
    /// Where a memory trend was measured: `run` or `history`.
    pub const SCOPE: &str = "scope";
}

/// Exemplar label names.
pub mod exemplar {
    /// Lowercase hex trace id: the name Grafana looks for to link an exemplar to its trace.
    pub const TRACE_ID: &str = "trace_id";
}

/// Label values shared by more than one metric, and the spelling of the verdict enums.
pub mod value {
    use super::{Category, Severity, VerdictStatus};

    /// Memory part: traces in flight, their violations and kept verdicts.
    pub const ENGINE: &str = "engine";
    /// Memory part: requests being read, decoded or waiting for evaluation.
    pub const REQUESTS: &str = "requests";
    /// Stage label of a span that names no stage.
    pub const UNKNOWN: &str = "unknown";
    /// Pipeline of a verdict whose spans carry no `service.name`: the name OpenTelemetry SDKs default to.
    pub const UNKNOWN_SERVICE: &str = ironforge_report::health::UNKNOWN_SERVICE;
    /// Pipeline label of the run metrics shared by every `service.name` past the bound on tracked pipelines.
    pub const OTHER_PIPELINES: &str = "other";
    /// Spans-received outcome: kept by the processor.
    pub const ACCEPTED: &str = "accepted";
    /// Spans-received outcome: refused by the processor.
    pub const REJECTED: &str = "rejected";
    /// Config-reload outcome.
    pub const SUCCESS: &str = "success";
    /// Config-reload outcome.
    pub const FAILURE: &str = "failure";
    /// Output label of the OTLP logs exporter.
    pub const OTLP_LOGS: &str = "otlp_logs";
    /// Output label of the gRPC watch stream.
    pub const WATCH_STREAM: &str = "watch_stream";

    /// The spelling of a category, the same as its JSON form.
    pub const fn category(category: Category) -> &'static str {
        category.as_str()
    }

    /// The spelling of a severity, the same as its JSON form.
    pub const fn severity(severity: Severity) -> &'static str {
        severity.as_str()
    }

    /// The spelling of a verdict status, the same as its JSON form.
    pub fn status(status: VerdictStatus) -> &'static str {
        status.as_str()
    }

    /// `"true"` or `"false"`.
    pub const fn boolean(value: bool) -> &'static str {
        if value { "true" } else { "false" }
    }
}

/// Log targets of the processor's own event lines, so each kind can be filtered on its own
/// (`RUST_LOG=ironforge::violation=warn`).
pub mod target {
    /// Violation lines.
    pub const VIOLATION: &str = "ironforge::violation";
    /// Verdict lines.
    pub const VERDICT: &str = "ironforge::verdict";
    /// Analysis findings (`RUST_LOG=ironforge::analysis=warn`).
    pub const ANALYSIS: &str = "ironforge::analysis";
}

/// Attribute names of the OTLP log record each violation becomes: the wire contract's
/// [`violation_attr`](ironforge_proto::semconv::violation_attr), plus the span attributes it shares.
pub mod log_attr {
    use ironforge_proto::semconv::attr;
    pub use ironforge_proto::semconv::violation_attr::*;

    /// String: the stage of the violating span.
    pub const STAGE: &str = attr::STAGE;
    /// String: the session of the violating span.
    pub const SESSION_ID: &str = attr::SESSION_ID;
    /// Resource attribute naming the processor.
    pub const SERVICE_NAME: &str = attr::SERVICE_NAME;
}

/// The processor's `service.name` and instrumentation scope name on what it emits.
pub const PROCESSOR_SERVICE_NAME: &str = "ironforge-processor";
