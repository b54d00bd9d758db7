//! The OTLP logs exporter against a real tonic `LogsService` on a loopback port: what arrives, how batches form,
//! and what happens when the downstream fails, refuses or is not there, and when its queue on disk is full.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::otlp_support::text;
use crate::violation_support::slow_session;
use crate::wait_support::wait_until_async;
use ironforge_outputs::otlp_logs::{OtlpLogsConfig, OtlpLogsError, OtlpLogsExporter};
use ironforge_processor::model::{SpanId, TraceId};
use ironforge_processor::verdict::{Category, Severity, Violation};
use ironforge_proto::otlp::common::KeyValue;
use ironforge_proto::otlp::common::any_value::Value;
use ironforge_proto::otlp::logs::LogRecord;
use ironforge_proto::otlp::logs_service::logs_service_server::{LogsService, LogsServiceServer};
use ironforge_proto::otlp::logs_service::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use ironforge_telemetry::Metrics;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

const TRACE: [u8; 16] = [
    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c,
];
const SPAN: [u8; 8] = [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31];
const AT: u64 = 1_754_300_000_500_000_000;

/// What the collector answers to the next export; `Ok` once the script runs out.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Fail(Code),
    /// RESOURCE_EXHAUSTED with a `RetryInfo` asking for this delay.
    Throttle(Duration),
    Reject(i64),
}

#[derive(Debug, Clone, Default)]
struct Collector {
    requests: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    calls: Arc<Mutex<usize>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        *self.calls.lock().unwrap() += 1;
        let reply = self.script.lock().unwrap().pop_front();
        let partial_success = match reply {
            Some(Reply::Fail(code)) => return Err(Status::new(code, "scripted failure")),
            Some(Reply::Throttle(delay)) => {
                return Err(Status::with_error_details(
                    Code::ResourceExhausted,
                    "scripted throttling",
                    ErrorDetails::with_retry_info(Some(delay)),
                ));
            }
            Some(Reply::Reject(rejected)) => Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: "scripted rejection".to_owned(),
            }),
            None => None,
        };
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

impl Collector {
    async fn start(script: &[Reply]) -> (Self, String) {
        let collector = Self::default();
        collector
            .script
            .lock()
            .unwrap()
            .extend(script.iter().copied());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(LogsServiceServer::new(collector.clone()))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        (collector, endpoint)
    }

    fn records(&self) -> Vec<LogRecord> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|request| &request.resource_logs)
            .flat_map(|resource| &resource.scope_logs)
            .flat_map(|scope| scope.log_records.clone())
            .collect()
    }

    fn batch_sizes(&self) -> Vec<usize> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|request| request.resource_logs[0].scope_logs[0].log_records.len())
            .collect()
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

/// An endpoint where nothing listens: the port was free a moment ago and is closed again.
async fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    endpoint
}

/// A queue directory of its own for each exporter a test starts, in Cargo's scratch directory for tests.
fn queue_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "ironforge-otlp-logs-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(endpoint: String) -> OtlpLogsConfig {
    OtlpLogsConfig {
        endpoint,
        batch_size: 2,
        flush_interval: Duration::from_secs(10),
        queue_dir: queue_dir(),
        queue_max_bytes: 1 << 20,
        timeout: Duration::from_secs(2),
        retry_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

fn critical() -> Violation {
    slow_session(TraceId(TRACE), SpanId(SPAN), AT)
}

fn trace_warning() -> Violation {
    Violation {
        span_id: None,
        contract_id: "edge_intents_complete".to_owned(),
        category: Category::Invariant,
        severity: Severity::Warning,
        blocks_production: false,
        observed: 3.0,
        threshold: 4.0,
        unit: "count".to_owned(),
        stage: None,
        session_id: None,
        message: "run saw 3 of 4 edge intents".to_owned(),
        ..critical()
    }
}

/// Spawns the exporter with `config`, counting into metrics of its own.
fn spawn(config: OtlpLogsConfig) -> (OtlpLogsExporter, JoinHandle<()>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let (exporter, task) = OtlpLogsExporter::spawn(config, metrics.clone()).unwrap();
    (exporter, task, metrics)
}

/// Sends `count` copies of [`critical`] to an exporter whose downstream is not there: however the downstream
/// fares, a send hands its record to the queue and returns. So the moment the sends return, every record is
/// accounted for (queued, or counted as overflow) and none was delivered.
fn send_without_waiting(exporter: &OtlpLogsExporter, count: u64) {
    for _ in 0..count {
        exporter.send(&critical());
    }
    let status = exporter.status();
    assert_eq!(
        status.queued_events + status.dropped_overflow,
        count,
        "{status:?}"
    );
    assert_eq!(status.delivered, 0, "{status:?}");
}

/// The value of an `output="otlp_logs"` counter, 0 before its first increment.
fn otlp_logs_counter(metrics: &Metrics, name: &str) -> u64 {
    let prefix = format!("{name}_total{{output=\"otlp_logs\"}} ");
    metrics
        .encode()
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix(&prefix)
                .map(|value| value.parse().unwrap())
        })
        .unwrap_or(0)
}

fn dropped(metrics: &Metrics) -> u64 {
    otlp_logs_counter(metrics, "ironforge_processor_output_dropped")
}

fn exported(metrics: &Metrics) -> u64 {
    otlp_logs_counter(metrics, "ironforge_processor_output_exported")
}

fn attributes(record: &LogRecord) -> HashMap<String, Value> {
    record
        .attributes
        .iter()
        .map(|KeyValue { key, value, .. }| {
            (key.clone(), value.clone().and_then(|v| v.value).unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_arrive_as_log_records_linked_to_their_traces() {
    let (collector, endpoint) = Collector::start(&[]).await;
    let (exporter, _task, metrics) = spawn(config(endpoint));
    exporter.send(&critical());
    exporter.send(&trace_warning());
    wait_until_async("one batch of two", || async {
        let seen = collector.records().len();
        if seen == 2 { Ok(()) } else { Err(seen) }
    })
    .await;
    exporter.shutdown().await;

    let request = collector.requests.lock().unwrap()[0].clone();
    let resource = request.resource_logs[0].resource.clone().unwrap();
    assert_eq!(resource.attributes.len(), 1);
    assert_eq!(resource.attributes[0].key, "service.name");
    assert_eq!(
        resource.attributes[0].value.clone().unwrap().value,
        Some(text("ironforge-processor"))
    );
    let scope = request.resource_logs[0].scope_logs[0]
        .scope
        .clone()
        .unwrap();
    assert_eq!(scope.name, "ironforge-processor");

    let records = collector.records();
    let critical_record = &records[0];
    assert_eq!(critical_record.trace_id, TRACE.to_vec());
    assert_eq!(critical_record.span_id, SPAN.to_vec());
    assert_eq!(critical_record.severity_number, 17);
    assert_eq!(critical_record.severity_text, "ERROR");
    assert_eq!(critical_record.time_unix_nano, AT);
    assert_eq!(critical_record.event_name, "ironforge.violation");
    assert_eq!(
        critical_record.body.clone().unwrap().value,
        Some(text("session NY_AM_2025-08-04 (discovery) took 3.4 s"))
    );
    let expected: HashMap<String, Value> = [
        (
            "ironforge.violation.contract_id",
            text("single_session_processing"),
        ),
        ("ironforge.violation.category", text("timing")),
        ("ironforge.violation.severity", text("critical")),
        (
            "ironforge.violation.blocks_production",
            Value::BoolValue(true),
        ),
        ("ironforge.violation.observed", Value::DoubleValue(3.4)),
        ("ironforge.violation.threshold", Value::DoubleValue(3.0)),
        ("ironforge.violation.unit", text("s")),
        ("ironforge.stage", text("discovery")),
        ("ironforge.session.id", text("NY_AM_2025-08-04")),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    assert_eq!(attributes(critical_record), expected);

    let warning_record = &records[1];
    assert_eq!(warning_record.trace_id, TRACE.to_vec());
    assert!(
        warning_record.span_id.is_empty(),
        "a trace-scoped violation names no span"
    );
    assert_eq!(warning_record.severity_number, 13);
    assert_eq!(warning_record.severity_text, "WARN");
    let warning_attributes = attributes(warning_record);
    assert_eq!(
        warning_attributes["ironforge.violation.blocks_production"],
        Value::BoolValue(false)
    );
    assert!(!warning_attributes.contains_key("ironforge.stage"));
    assert!(!warning_attributes.contains_key("ironforge.session.id"));

    assert_eq!(exported(&metrics), 2);
    assert_eq!(dropped(&metrics), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_batches_go_at_once_and_shutdown_flushes_the_rest() {
    let (collector, endpoint) = Collector::start(&[]).await;
    let config = config(endpoint);
    let flush_interval = config.flush_interval;
    let (exporter, _task, metrics) = spawn(config);
    for _ in 0..5 {
        exporter.send(&critical());
    }
    wait_until_async("two full batches", || async {
        let seen = collector.records().len();
        if seen == 4 { Ok(()) } else { Err(seen) }
    })
    .await;
    // The fifth waits for the 10 s flush interval, or for shutdown, or for a record to fill its batch: the
    // sixth does, and the two arrive together, so the fifth was not sent alone.
    exporter.send(&critical());
    wait_until_async("the third full batch", || async {
        let seen = collector.records().len();
        if seen == 6 { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(collector.batch_sizes(), [2, 2, 2]);

    // The seventh is left alone in its batch; shutdown sends it without waiting out the flush interval (the
    // bound under test, 5 times what shutdown needs on an idle machine).
    exporter.send(&critical());
    let started = Instant::now();
    exporter.clone().shutdown().await;
    assert!(
        started.elapsed() < flush_interval,
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(collector.batch_sizes(), [2, 2, 2, 1]);
    assert_eq!(exported(&metrics), 7);

    // The queue is closed: a later send is counted, not lost silently.
    exporter.send(&critical());
    assert_eq!(dropped(&metrics), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_goes_after_the_flush_interval() {
    let (collector, endpoint) = Collector::start(&[]).await;
    let config = OtlpLogsConfig {
        batch_size: 512,
        flush_interval: Duration::from_millis(100),
        ..config(endpoint)
    };
    let (exporter, _task, metrics) = spawn(config);
    exporter.send(&critical());
    wait_until_async("the flush", || async {
        let seen = collector.records().len();
        if seen == 1 { Ok(()) } else { Err(seen) }
    })
    .await;
    wait_until_async("the export counted", || async {
        let seen = exported(&metrics);
        if seen == 1 { Ok(()) } else { Err(seen) }
    })
    .await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_and_permanent_ones_are_not() {
    let script = [
        Reply::Fail(Code::Unavailable),
        Reply::Throttle(Duration::from_millis(50)),
        // Answered to the third attempt of the first batch: delivered.
        // Then the second batch meets a permanent refusal, and the third RESOURCE_EXHAUSTED without retry info,
        // which the OTLP specification makes final too.
    ];
    let (collector, endpoint) = Collector::start(&script).await;
    let config = OtlpLogsConfig {
        batch_size: 1,
        ..config(endpoint)
    };
    let (exporter, _task, metrics) = spawn(config);
    exporter.send(&critical());
    wait_until_async("delivery after two retries", || async {
        let seen = exported(&metrics);
        if seen == 1 { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(collector.calls(), 3);
    assert_eq!(exporter.status().retries, 2);

    for code in [Code::InvalidArgument, Code::ResourceExhausted] {
        collector
            .script
            .lock()
            .unwrap()
            .push_back(Reply::Fail(code));
        let before = dropped(&metrics);
        exporter.send(&critical());
        wait_until_async("the refused record counted", || async {
            let seen = dropped(&metrics);
            if seen == before + 1 {
                Ok(())
            } else {
                Err(seen)
            }
        })
        .await;
    }
    // A record sent after them is delivered on the sixth call: the worker, which takes the queue in order,
    // has moved past both refusals without a retry.
    exporter.send(&critical());
    wait_until_async("the later record delivered", || async {
        let seen = exported(&metrics);
        if seen == 2 { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(collector.calls(), 6, "final codes must not be retried");
    let status = exporter.status();
    assert_eq!((status.dropped_refused, status.queued_events), (2, 0));
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_downstream_rejects_are_counted_as_dropped() {
    let (_collector, endpoint) = Collector::start(&[Reply::Reject(1)]).await;
    let (exporter, _task, metrics) = spawn(config(endpoint));
    exporter.send(&critical());
    exporter.send(&critical());
    wait_until_async("the partial success counted", || async {
        let seen = dropped(&metrics);
        if seen == 1 { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(exported(&metrics), 1);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_neither_blocks_senders_nor_loses_records() {
    let config = OtlpLogsConfig {
        batch_size: 1,
        ..config(dead_endpoint().await)
    };
    let dir = config.queue_dir.clone();
    let (exporter, _task, metrics) = spawn(config.clone());
    send_without_waiting(&exporter, 5);
    wait_until_async("retries while the endpoint is away", || async {
        let seen = exporter.status().retries;
        if seen >= 3 { Ok(()) } else { Err(seen) }
    })
    .await;
    let status = exporter.status();
    assert_eq!((status.queued_events, status.delivered), (5, 0));
    assert!(status.degraded);
    assert_eq!(dropped(&metrics), 0);
    exporter.shutdown().await;
    assert_eq!(dropped(&metrics), 0, "a stop keeps the records on disk");

    // The endpoint comes up; a new exporter on the same directory delivers what the first one kept.
    let (collector, endpoint) = Collector::start(&[]).await;
    let (exporter, _task, metrics) = spawn(OtlpLogsConfig { endpoint, ..config });
    wait_until_async("the kept records delivered", || async {
        let seen = exported(&metrics);
        if seen == 5 { Ok(()) } else { Err(seen) }
    })
    .await;
    assert_eq!(collector.records().len(), 5);
    assert!(!exporter.status().degraded);
    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_counts_overflow_and_shutdown_stays_bounded() {
    const BACKOFF: Duration = Duration::from_secs(60);
    let config = OtlpLogsConfig {
        batch_size: 1,
        queue_max_bytes: 4096,
        timeout: Duration::from_millis(500),
        // Far longer than the test: the worker sits in this backoff while the queue fills.
        retry_backoff: BACKOFF,
        max_backoff: BACKOFF,
        ..config(dead_endpoint().await)
    };
    let (exporter, _task, metrics) = spawn(config);
    send_without_waiting(&exporter, 100);
    let status = exporter.status();
    assert!(status.dropped_overflow > 0, "{status:?}");
    assert_eq!(status.queued_events + status.dropped_overflow, 100);
    assert!(status.queued_bytes <= 4096);
    assert!(status.degraded);
    assert_eq!(dropped(&metrics), status.dropped_overflow);
    assert_eq!(
        otlp_logs_counter(&metrics, "ironforge_processor_output_overflow"),
        status.dropped_overflow
    );

    // The bound under test: shutdown interrupts the backoff instead of sitting it out.
    let started = Instant::now();
    exporter.clone().shutdown().await;
    assert!(
        started.elapsed() < BACKOFF,
        "shutdown took {:?}, waiting out the {BACKOFF:?} backoff",
        started.elapsed()
    );
    assert_eq!(exported(&metrics), 0);
    // The queue is closed: a later send is counted, not lost silently.
    exporter.send(&critical());
    assert_eq!(dropped(&metrics), status.dropped_overflow + 1);
}

#[tokio::test]
async fn spawn_rejects_what_could_never_work() {
    let metrics = Arc::new(Metrics::new());
    for endpoint in [
        "https://collector:4317",
        "collector:4317",
        "not a uri",
        "http://",
    ] {
        let result = OtlpLogsExporter::spawn(config(endpoint.to_owned()), metrics.clone());
        assert!(
            matches!(result, Err(OtlpLogsError::InvalidEndpoint { .. })),
            "{endpoint}: {result:?}"
        );
    }
    let valid = || config("http://127.0.0.1:4317".to_owned());
    for broken in [
        OtlpLogsConfig {
            batch_size: 0,
            ..valid()
        },
        OtlpLogsConfig {
            queue_max_bytes: 0,
            ..valid()
        },
        OtlpLogsConfig {
            max_backoff: Duration::ZERO,
            ..valid()
        },
        OtlpLogsConfig {
            flush_interval: Duration::ZERO,
            ..valid()
        },
        OtlpLogsConfig {
            timeout: Duration::MAX,
            ..valid()
        },
    ] {
        let result = OtlpLogsExporter::spawn(broken, metrics.clone());
        assert!(
            matches!(result, Err(OtlpLogsError::InvalidConfig(_))),
            "{result:?}"
        );
    }
}

#[test]
fn spawn_outside_a_runtime_is_an_error_not_a_panic() {
    let result = OtlpLogsExporter::spawn(
        config("http://127.0.0.1:4317".to_owned()),
        Arc::new(Metrics::new()),
    );
    assert!(
        matches!(result, Err(OtlpLogsError::NoRuntime)),
        "{result:?}"
    );
}
