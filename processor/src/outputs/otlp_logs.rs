//! Violation events as OTLP logs, exported over gRPC to a downstream collector.
//!
//! Each violation becomes one `LogRecord` carrying the trace and span ids of the span that broke the contract, so
//! a logs backend links the event to its trace. Senders never wait: records go into a bounded queue that a
//! background task drains in batches. A record is dropped, and counted in
//! `ironforge_processor_output_dropped_total{output="otlp_logs"}`, when the queue is full, when the downstream
//! stays unreachable through every retry, or when it refuses the record.

use std::sync::Arc;
use std::time::Duration;

use ironforge_proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use ironforge_proto::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use ironforge_proto::otlp::logs_service::ExportLogsServiceRequest;
use ironforge_proto::otlp::logs_service::logs_service_client::LogsServiceClient;
use ironforge_proto::otlp::resource::Resource;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::security::redact;
use crate::telemetry::Metrics;
use crate::telemetry::names::{PROCESSOR_SERVICE_NAME, log_attr, value};
use crate::telemetry::rate_limit::RateLimit;
use crate::verdict::{Severity, Violation};

/// How often a recurring export failure or queue overflow may be logged.
const WARN_INTERVAL: Duration = Duration::from_secs(30);
/// Longest wait between two attempts at one batch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Upper bound of `flush_interval` and `timeout`, far beyond any useful value, so deadlines never overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// Upper bound of `queue_capacity`, far beyond any useful value and within what the channel supports.
const MAX_QUEUE_CAPACITY: usize = 10_000_000;

/// Where and how violation logs are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpLogsConfig {
    /// The collector's OTLP/gRPC endpoint, e.g. `http://collector:4317`.
    pub endpoint: String,
    /// Records per export request; a full batch is sent at once.
    pub batch_size: usize,
    /// A partial batch is sent after waiting this long.
    pub flush_interval: Duration,
    /// Records queued before new ones are dropped.
    pub queue_capacity: usize,
    /// Bound on one export attempt (connecting included), and on the final flush at shutdown.
    pub timeout: Duration,
    /// Attempts after the first before a batch is dropped.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
}

impl Default for OtlpLogsConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:4317".to_owned(),
            batch_size: 512,
            flush_interval: Duration::from_secs(1),
            queue_capacity: 10_000,
            timeout: Duration::from_secs(5),
            max_retries: 3,
            retry_backoff: Duration::from_millis(500),
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
}

/// A handle to the exporter's queue. Clones share one queue and one background task.
#[derive(Debug, Clone)]
pub struct OtlpLogsExporter {
    queue: mpsc::Sender<LogRecord>,
    metrics: Arc<Metrics>,
    stop: Arc<watch::Sender<bool>>,
    done: watch::Receiver<bool>,
    shutdown_wait: Duration,
    drop_warning: Arc<RateLimit>,
}

impl OtlpLogsExporter {
    /// Validates the configuration and starts the background task. Must be called inside a Tokio runtime.
    pub fn spawn(
        config: OtlpLogsConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, JoinHandle<()>), OtlpLogsError> {
        let endpoint = validate(&config)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| OtlpLogsError::NoRuntime)?;
        let (queue, records) = mpsc::channel(config.queue_capacity);
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let worker = Worker {
            client: LogsServiceClient::new(endpoint.connect_lazy()),
            records,
            stop: stop_rx,
            metrics: Arc::clone(&metrics),
            failure_warning: RateLimit::new(WARN_INTERVAL),
            stopping_at: None,
            config: config.clone(),
        };
        let task = runtime.spawn(async move {
            worker.run().await;
            let _ = done_tx.send(true);
        });
        let exporter = Self {
            queue,
            metrics,
            stop: Arc::new(stop),
            done,
            // An attempt under way when the stop arrives, then the final flush: each bounded by `timeout`.
            shutdown_wait: config
                .timeout
                .saturating_mul(2)
                .saturating_add(Duration::from_millis(250)),
            drop_warning: Arc::new(RateLimit::new(WARN_INTERVAL)),
        };
        Ok((exporter, task))
    }

    /// Queues a violation for export. Never waits: when the queue is full (or the exporter has shut down) the
    /// record is dropped and counted.
    pub fn send(&self, violation: &Violation) {
        if self.queue.try_send(log_record(violation)).is_err() {
            self.metrics.output_dropped(value::OTLP_LOGS, 1);
            if let Some(suppressed) = self.drop_warning.allow(Instant::now().into_std()) {
                tracing::warn!(
                    capacity = self.queue.max_capacity(),
                    suppressed,
                    "OTLP logs queue full or closed; violation event dropped"
                );
            }
        }
    }

    /// Stops the exporter: what is queued is exported within `timeout`, the rest counted as dropped. Returns
    /// within about twice `timeout` even when the downstream hangs.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut done = self.done;
        let _ = tokio::time::timeout(self.shutdown_wait, done.wait_for(|done| *done)).await;
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
    if config.queue_capacity == 0 || config.queue_capacity > MAX_QUEUE_CAPACITY {
        return Err(OtlpLogsError::InvalidConfig(
            "queue_capacity must be between 1 and 10000000",
        ));
    }
    let intervals = [config.flush_interval, config.timeout];
    if intervals.iter().any(|d| d.is_zero() || *d > MAX_INTERVAL) {
        return Err(OtlpLogsError::InvalidConfig(
            "flush_interval and timeout must be above zero and at most a day",
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

/// The background task: drains the queue in batches and exports them.
struct Worker {
    client: LogsServiceClient<Channel>,
    records: mpsc::Receiver<LogRecord>,
    stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    failure_warning: RateLimit,
    /// Set once a stop is seen: nothing is attempted past it.
    stopping_at: Option<Instant>,
    config: OtlpLogsConfig,
}

impl Worker {
    async fn run(mut self) {
        // The first tick a full interval from now: a record queued at start waits like any other.
        let flush = self.config.flush_interval;
        let mut ticker = tokio::time::interval_at(Instant::now() + flush, flush);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                // A stop wins over more records: the queue is then drained under a deadline.
                biased;
                () = stopped(&mut self.stop) => break,
                record = self.records.recv() => match record {
                    Some(record) => {
                        batch.push(record);
                        if batch.len() >= self.config.batch_size {
                            self.export(std::mem::take(&mut batch)).await;
                        }
                    }
                    None => break,
                },
                _ = ticker.tick() => {
                    if !batch.is_empty() {
                        self.export(std::mem::take(&mut batch)).await;
                    }
                    self.metrics.queue_depth(value::OTLP_LOGS, self.records.len());
                }
            }
        }
        self.drain(batch).await;
    }

    /// Exports what is left, closing the queue first so later sends are counted as drops at once.
    async fn drain(mut self, mut batch: Vec<LogRecord>) {
        self.records.close();
        self.stopping_at
            .get_or_insert_with(|| Instant::now() + self.config.timeout);
        while let Some(record) = self.records.recv().await {
            batch.push(record);
            if batch.len() >= self.config.batch_size {
                self.export(std::mem::take(&mut batch)).await;
            }
        }
        if !batch.is_empty() {
            self.export(batch).await;
        }
        self.metrics.queue_depth(value::OTLP_LOGS, 0);
    }

    async fn export(&mut self, batch: Vec<LogRecord>) {
        let count = batch.len() as u64;
        let request = export_request(batch);
        let mut retries = 0;
        loop {
            let Some(limit) = self.attempt_limit() else {
                return self.dropped(
                    count,
                    "shutdown deadline passed before the export succeeded",
                );
            };
            let status =
                match tokio::time::timeout(limit, self.client.export(request.clone())).await {
                    Ok(Ok(response)) => {
                        let rejected = response
                            .into_inner()
                            .partial_success
                            .map(|partial| (partial.rejected_log_records, partial.error_message));
                        return self.exported(count, rejected);
                    }
                    Ok(Err(status)) => status,
                    Err(_) => tonic::Status::deadline_exceeded("export attempt timed out"),
                };
            if !retryable(status.code()) || retries >= self.config.max_retries {
                let reason = format!("{:?}: {}", status.code(), status.message());
                return self.dropped(count, &reason);
            }
            let backoff = self
                .config
                .retry_backoff
                .saturating_mul(2u32.saturating_pow(retries))
                .min(MAX_BACKOFF);
            retries += 1;
            if !self.pause(backoff).await {
                return self.dropped(count, "shutdown deadline left no time to retry");
            }
        }
    }

    /// The time one attempt may take: `timeout`, or what is left before the shutdown deadline.
    fn attempt_limit(&self) -> Option<Duration> {
        match self.stopping_at {
            None => Some(self.config.timeout),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| left.min(self.config.timeout))
            }
        }
    }

    /// Waits before a retry; `false` when the retry would fall past the shutdown deadline. A stop cuts the wait
    /// short so the retry runs at once, under the deadline.
    async fn pause(&mut self, backoff: Duration) -> bool {
        if let Some(deadline) = self.stopping_at {
            if deadline.saturating_duration_since(Instant::now()) <= backoff {
                return false;
            }
            tokio::time::sleep(backoff).await;
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut self.stop) => {
                self.stopping_at = Some(Instant::now() + self.config.timeout);
            }
        }
        true
    }

    fn exported(&self, count: u64, rejected: Option<(i64, String)>) {
        let (rejected, message) = rejected.unwrap_or_default();
        let rejected = u64::try_from(rejected).unwrap_or(0).min(count);
        self.metrics
            .output_exported(value::OTLP_LOGS, count - rejected);
        if rejected > 0 {
            self.dropped(rejected, &format!("downstream rejected them: {message}"));
        }
    }

    fn dropped(&self, count: u64, reason: &str) {
        self.metrics.output_dropped(value::OTLP_LOGS, count);
        if let Some(suppressed) = self.failure_warning.allow(Instant::now().into_std()) {
            tracing::warn!(
                endpoint = %redact::url(&self.config.endpoint),
                records = count,
                earlier_failures_not_logged = suppressed,
                "violation logs dropped: {}",
                redact::within(reason, &self.config.endpoint)
            );
        }
    }
}

/// Resolves once a stop is requested, or once every handle is gone and none can be.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The codes the OTLP specification lists as retryable.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The log record of one violation.
pub fn log_record(violation: &Violation) -> LogRecord {
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
pub fn export_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
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
