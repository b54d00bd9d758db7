//! Violation events as OTLP logs, exported over gRPC to a downstream collector.
//!
//! Each violation becomes one `LogRecord` carrying the trace and span ids of the span that broke the contract, so
//! a logs backend links the event to its trace. Senders never wait on the downstream: a record is appended to a
//! bounded queue on disk (`DiskQueue`) and a background task (`logs_worker`) delivers the queue in order,
//! removing records only once the endpoint acknowledged them. While the endpoint is down or slow the records
//! wait, retried with backoff; they survive a restart of the processor. A record is lost, and counted in
//! `ironforge_processor_output_dropped_total{output="otlp_logs"}`, only when the queue is full (also counted in
//! `ironforge_processor_output_overflow_total`) or when the endpoint refuses it for good.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ironforge_proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use ironforge_proto::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use ironforge_proto::otlp::logs_service::ExportLogsServiceRequest;
use ironforge_proto::otlp::resource::Resource;
use prost::Message;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tonic::transport::Endpoint;

use super::disk_queue::{DiskQueue, PushError};
use super::events::{LogsDropReason, LogsDropped};
use super::logs_worker::Worker;
use ironforge_engine::verdict::{Severity, Violation};
use ironforge_security::redact;
use ironforge_telemetry::names::{PROCESSOR_SERVICE_NAME, log_attr, value};
use ironforge_telemetry::rate_limit::RateLimit;
use ironforge_telemetry::{InternalEvent, Metrics};

/// Upper bound of `flush_interval` and `timeout`, far beyond any useful value, so deadlines never overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often a recurring drop may be logged.
const WARN_INTERVAL: Duration = Duration::from_secs(30);
/// Smallest queue bound: room for a few violation events.
const MIN_QUEUE_BYTES: u64 = 4096;

/// How violation events wait for the logs endpoint: what the command line sets of [`OtlpLogsConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogsQueueOptions {
    /// Bytes of violation events kept on disk while the endpoint is away; events past it are dropped and
    /// counted.
    pub max_bytes: u64,
    /// Bound on one export request, connecting included: a hanging endpoint costs one timeout, then a retry.
    pub request_timeout: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for LogsQueueOptions {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Where and how violation logs are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpLogsConfig {
    /// The collector's OTLP/gRPC endpoint, e.g. `http://collector:4317`.
    pub endpoint: String,
    /// Records per export request; a full batch is sent at once.
    pub batch_size: usize,
    /// A partial batch is sent after waiting this long.
    pub flush_interval: Duration,
    /// Directory of the queue on disk, e.g. `data/outbox/logs`; created if missing.
    pub queue_dir: PathBuf,
    /// Bound of the queue on disk, in bytes of records not yet acknowledged.
    pub queue_max_bytes: u64,
    /// Bound on one export attempt (connecting included), and on the final delivery at shutdown.
    pub timeout: Duration,
    /// Wait before the first retry; doubled for each further one, with jitter.
    pub retry_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl OtlpLogsConfig {
    /// The configuration for `endpoint` with its queue in `queue_dir`, bounded as `options` says.
    pub fn new(endpoint: String, queue_dir: PathBuf, options: &LogsQueueOptions) -> Self {
        Self {
            endpoint,
            batch_size: 512,
            flush_interval: Duration::from_secs(1),
            queue_dir,
            queue_max_bytes: options.max_bytes,
            timeout: options.request_timeout,
            retry_backoff: Duration::from_millis(500),
            max_backoff: options.max_backoff,
        }
    }
}

/// Why the exporter could not start. An unreachable endpoint is not one of them: it connects lazily.
#[derive(Debug, thiserror::Error)]
pub enum OtlpLogsError {
    #[error("invalid OTLP logs endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("invalid OTLP logs configuration: {0}")]
    InvalidConfig(&'static str),
    #[error("the OTLP logs exporter must be started inside a Tokio runtime")]
    NoRuntime,
    #[error("cannot open the violation-log queue in {dir}: {source}")]
    Queue {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The state of delivery downstream, as `/api/v1/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DownstreamStatus {
    /// Violation events waiting on disk for the endpoint.
    pub queued_events: u64,
    /// The bytes they take.
    pub queued_bytes: u64,
    /// The queue's bound, in bytes.
    pub max_bytes: u64,
    /// Events the endpoint acknowledged since start.
    pub delivered: u64,
    /// Failed attempts that were tried again.
    pub retries: u64,
    /// Events dropped because the queue was full.
    pub dropped_overflow: u64,
    /// Events the endpoint refused for good (a non-retryable code, or rejected in a partial success), or lost to
    /// a failing disk.
    pub dropped_refused: u64,
    /// The latest attempt failed, or an event overflowed the queue since the latest delivery.
    pub degraded: bool,
}

/// Running counts the worker and the senders share.
#[derive(Debug, Default)]
pub(crate) struct DeliveryStats {
    pub(crate) delivered: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) dropped_refused: AtomicU64,
    pub(crate) failing: AtomicBool,
    pub(crate) overflowing: AtomicBool,
}

/// The queue, and whether the exporter stopped: after that nothing more is written, so a processor started
/// again on the same directory is its only writer.
#[derive(Debug)]
pub(crate) struct QueueState {
    pub(crate) queue: DiskQueue,
    pub(crate) closed: bool,
}

/// What the exporter's handles and its worker share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<QueueState>,
    pub(crate) wake: Notify,
    pub(crate) stats: DeliveryStats,
    pub(crate) metrics: Arc<Metrics>,
    /// Paces the warnings about dropped events.
    pub(crate) drop_warning: RateLimit,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes the queue's depth in events and bytes.
    pub(crate) fn publish_depth(&self, queue: &DiskQueue) {
        let records = usize::try_from(queue.queued_records()).unwrap_or(usize::MAX);
        self.metrics.queue_depth(value::OTLP_LOGS, records);
        self.metrics
            .queue_bytes(value::OTLP_LOGS, queue.queued_bytes());
    }
}

/// A handle to the exporter's queue. Clones share one queue and one background task.
#[derive(Debug, Clone)]
pub struct OtlpLogsExporter {
    shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
    done: watch::Receiver<bool>,
    shutdown_wait: Duration,
}

impl OtlpLogsExporter {
    /// Validates the configuration, opens the queue on disk (records an earlier run left are delivered first) and
    /// starts the background task. Must be called inside a Tokio runtime.
    pub fn spawn(
        config: OtlpLogsConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, JoinHandle<()>), OtlpLogsError> {
        let endpoint = validate(&config)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| OtlpLogsError::NoRuntime)?;
        let (queue, recovered) = DiskQueue::open(&config.queue_dir, config.queue_max_bytes)
            .map_err(|source| OtlpLogsError::Queue {
                dir: config.queue_dir.clone(),
                source,
            })?;
        if recovered.records > 0 || recovered.truncated_bytes > 0 {
            tracing::info!(
                dir = %config.queue_dir.display(),
                events = recovered.records,
                torn_bytes_cut = recovered.truncated_bytes,
                "violation events queued by an earlier run will be delivered"
            );
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(QueueState {
                queue,
                closed: false,
            }),
            wake: Notify::new(),
            stats: DeliveryStats::default(),
            metrics,
            drop_warning: RateLimit::new(WARN_INTERVAL),
        });
        shared.metrics.output_started(value::OTLP_LOGS);
        shared.publish_depth(&shared.lock().queue);
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let worker = Worker::new(
            endpoint.connect_lazy(),
            Arc::clone(&shared),
            stop_rx,
            &config,
        );
        let task = runtime.spawn(async move {
            worker.run().await;
            let _ = done_tx.send(true);
        });
        let exporter = Self {
            shared,
            stop: Arc::new(stop),
            done,
            // An attempt under way when the stop arrives, then the final delivery: each bounded by `timeout`.
            shutdown_wait: config
                .timeout
                .saturating_mul(2)
                .saturating_add(Duration::from_millis(250)),
        };
        Ok((exporter, task))
    }

    /// Queues a violation for export. Never waits on the downstream: the record is appended to the queue on disk
    /// (one `write`); when the queue is full, or the exporter has stopped, it is dropped and counted.
    pub fn send(&self, violation: &Violation) {
        let payload = log_record(violation).encode_to_vec();
        let mut state = self.shared.lock();
        let result = if state.closed {
            Err(LogsDropReason::Closed)
        } else {
            match state.queue.push(&payload) {
                Ok(()) => Ok(()),
                Err(PushError::Full { .. }) => Err(LogsDropReason::Overflow),
                Err(PushError::Io(err)) => Err(LogsDropReason::Disk(err)),
            }
        };
        self.shared.publish_depth(&state.queue);
        drop(state);
        match result {
            Ok(()) => self.shared.wake.notify_one(),
            Err(reason) => LogsDropped {
                reason,
                count: 1,
                shared: &self.shared,
            }
            .emit(),
        }
    }

    /// Where delivery stands, for the health answer.
    pub fn status(&self) -> DownstreamStatus {
        let (queued_events, queued_bytes, max_bytes) = {
            let state = self.shared.lock();
            let queue = &state.queue;
            (
                queue.queued_records(),
                queue.queued_bytes(),
                queue.max_bytes(),
            )
        };
        let stats = &self.shared.stats;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        DownstreamStatus {
            queued_events,
            queued_bytes,
            max_bytes,
            delivered: load(&stats.delivered),
            retries: load(&stats.retries),
            dropped_overflow: load(&stats.dropped_overflow),
            dropped_refused: load(&stats.dropped_refused),
            degraded: stats.failing.load(Ordering::Relaxed)
                || stats.overflowing.load(Ordering::Relaxed),
        }
    }

    /// Stops the exporter: what is queued is delivered within `timeout`; what is not stays on disk for the next
    /// start. Returns within about twice `timeout` even when the downstream hangs.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut done = self.done;
        let _ = tokio::time::timeout(self.shutdown_wait, done.wait_for(|done| *done)).await;
        // Closed even if the worker is still stuck: no write may follow a stop.
        let mut state = self.shared.lock();
        state.closed = true;
        let _ = state.queue.sync();
    }
}

fn validate(config: &OtlpLogsConfig) -> Result<Endpoint, OtlpLogsError> {
    let invalid = |reason: &str| OtlpLogsError::InvalidEndpoint {
        endpoint: redact::url(&config.endpoint),
        reason: reason.to_owned(),
    };
    if config.batch_size == 0 {
        return Err(OtlpLogsError::InvalidConfig(
            "batch_size must be at least 1",
        ));
    }
    if config.queue_max_bytes < MIN_QUEUE_BYTES {
        return Err(OtlpLogsError::InvalidConfig(
            "the queue bound must be at least 4096 bytes",
        ));
    }
    let intervals = [
        config.flush_interval,
        config.timeout,
        config.retry_backoff,
        config.max_backoff,
    ];
    if intervals.iter().any(|d| d.is_zero() || *d > MAX_INTERVAL) {
        return Err(OtlpLogsError::InvalidConfig(
            "flush_interval, timeout and backoffs must be above zero and at most a day",
        ));
    }
    let endpoint =
        Endpoint::from_shared(config.endpoint.clone()).map_err(|err| invalid(&err.to_string()))?;
    match endpoint.uri().scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "https needs TLS, which this build does not include; use http://",
            ));
        }
        _ => return Err(invalid("expected http://host:port")),
    }
    if endpoint.uri().host().is_none_or(str::is_empty) {
        return Err(invalid("expected http://host:port"));
    }
    Ok(endpoint
        .connect_timeout(config.timeout)
        .timeout(config.timeout))
}

/// The log record of one violation.
pub(crate) fn log_record(violation: &Violation) -> LogRecord {
    let (severity_number, severity_text) = match violation.severity {
        Severity::Warning => (SeverityNumber::Warn, "WARN"),
        Severity::Critical => (SeverityNumber::Error, "ERROR"),
    };
    let mut attributes = vec![
        attribute(log_attr::CONTRACT_ID, string(&violation.contract_id)),
        attribute(
            log_attr::CATEGORY,
            string(value::category(violation.category)),
        ),
        attribute(
            log_attr::SEVERITY,
            string(value::severity(violation.severity)),
        ),
        attribute(
            log_attr::BLOCKS_PRODUCTION,
            Value::BoolValue(violation.blocks_production),
        ),
        attribute(log_attr::OBSERVED, Value::DoubleValue(violation.observed)),
        attribute(log_attr::THRESHOLD, Value::DoubleValue(violation.threshold)),
        attribute(log_attr::UNIT, string(&violation.unit)),
    ];
    if let Some(stage) = &violation.stage {
        attributes.push(attribute(log_attr::STAGE, string(stage)));
    }
    if let Some(session) = &violation.session_id {
        attributes.push(attribute(log_attr::SESSION_ID, string(session)));
    }
    LogRecord {
        time_unix_nano: violation.time_unix_nano,
        observed_time_unix_nano: violation.time_unix_nano,
        severity_number: severity_number as i32,
        severity_text: severity_text.to_owned(),
        body: Some(AnyValue {
            value: Some(string(&violation.message)),
        }),
        attributes,
        dropped_attributes_count: 0,
        flags: 0,
        trace_id: violation.trace_id.0.to_vec(),
        span_id: violation
            .span_id
            .map(|span| span.0.to_vec())
            .unwrap_or_default(),
        event_name: log_attr::EVENT_NAME.to_owned(),
    }
}

/// One export request holding `records` under the processor's resource and scope.
pub(crate) fn export_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![attribute(
                    log_attr::SERVICE_NAME,
                    string(PROCESSOR_SERVICE_NAME),
                )],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: PROCESSOR_SERVICE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn string(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}
