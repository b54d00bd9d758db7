//! A real processor on loopback ports, with a real OTLP logs receiver downstream and real clients: what the
//! end-to-end tests drive.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ironforge_instrument::{Config, Protocol, Sampling};
use ironforge_processor::config::DEFAULT_CONTRACTS_YAML;
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_processor::server::{Server, ServerOptions};
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_proto::otlp::common::{AnyValue, KeyValue, any_value};
use ironforge_proto::otlp::logs::LogRecord;
use ironforge_proto::otlp::logs_service::logs_service_server::{LogsService, LogsServiceServer};
use ironforge_proto::otlp::logs_service::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use ironforge_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::semconv::attr;
use ironforge_replay::{ReplayOptions, RunSummary};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use tracing_subscriber::layer::SubscriberExt;

use crate::wait_support::wait_until_async;

/// The default contracts with the timing made for tests: traces complete half a second after their root,
/// traces without root time out after three seconds, events are not folded, and the instrumentation may cost
/// up to 100 ms an operation.
pub(crate) fn test_contracts() -> String {
    const OVERHEAD: &str =
        "measure: overhead_per_operation\n    comparison: lt\n    threshold: 0.001";
    assert!(
        DEFAULT_CONTRACTS_YAML.contains(OVERHEAD),
        "the default instrument_overhead contract changed shape"
    );
    DEFAULT_CONTRACTS_YAML
        .replace("grace_seconds: 5", "grace_seconds: 0.5")
        .replace("idle_timeout_seconds: 300", "idle_timeout_seconds: 3")
        .replace(
            "aggregation_window_seconds: 10",
            "aggregation_window_seconds: 0",
        )
        // The instrumentation's cost per operation is measured live, on a test machine that may be loaded by
        // parallel tests and builds: a defect of the machine, not of the replayed data these tests judge.
        .replace(
            OVERHEAD,
            "measure: overhead_per_operation\n    comparison: lt\n    threshold: 0.1",
        )
}

/// Collects the log records a processor sends downstream.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogsReceiver {
    records: Arc<Mutex<Vec<LogRecord>>>,
}

#[tonic::async_trait]
impl LogsService for LogsReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.records
            .lock()
            .unwrap()
            .extend(log_records(request.into_inner()));
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The log records of an export request, in order.
pub(crate) fn log_records(request: ExportLogsServiceRequest) -> impl Iterator<Item = LogRecord> {
    request
        .resource_logs
        .into_iter()
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
}

impl LogsReceiver {
    pub(crate) async fn start() -> (Self, String) {
        let receiver = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let service = LogsServiceServer::new(receiver.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        (receiver, endpoint)
    }

    pub(crate) fn records(&self) -> Vec<LogRecord> {
        self.records.lock().unwrap().clone()
    }
}

/// A processor serving on free loopback ports, its downstream logs receiver, and a `WatchViolations`
/// subscriber that was listening from the start.
pub(crate) struct TestProcessor {
    pub server: Option<Server>,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    pub logs: LogsReceiver,
    pub watched: Arc<Mutex<Vec<pb::Violation>>>,
    pub contracts_file: PathBuf,
    pub data_dir: PathBuf,
}

impl TestProcessor {
    pub(crate) async fn start() -> Self {
        Self::start_with(&test_contracts(), ReceiverLimits::default()).await
    }

    pub(crate) async fn start_with(contracts_yaml: &str, receiver_limits: ReceiverLimits) -> Self {
        Self::start_configured(contracts_yaml, receiver_limits, |_| {}).await
    }

    /// [`TestProcessor::start_with`], with `configure` changing the server's options last.
    pub(crate) async fn start_configured(
        contracts_yaml: &str,
        receiver_limits: ReceiverLimits,
        configure: impl FnOnce(&mut ServerOptions),
    ) -> Self {
        let (logs, logs_endpoint) = LogsReceiver::start().await;
        let unique = unique("ironforge-e2e");
        let contracts_file = std::env::temp_dir().join(format!("{unique}.yaml"));
        std::fs::write(&contracts_file, contracts_yaml).unwrap();
        let data_dir = std::env::temp_dir().join(format!("{unique}-data"));
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut options = ServerOptions {
            contracts_path: Some(contracts_file.clone()),
            otlp_grpc_addr: loopback,
            otlp_http_addr: loopback,
            admin_addr: loopback,
            logs_endpoint: Some(logs_endpoint),
            receiver_limits,
            data_dir: data_dir.clone(),
            // Many servers share this test process: its memory is not one server's.
            bound_process_memory: false,
            ..ServerOptions::default()
        };
        configure(&mut options);
        let server = Server::start(options).await.unwrap();
        let addrs = server.addrs;
        let processor = Self {
            server: Some(server),
            grpc: addrs.otlp_grpc,
            http: addrs.otlp_http,
            admin: addrs.admin,
            logs,
            watched: Arc::default(),
            contracts_file,
            data_dir,
        };
        let mut stream = processor
            .client()
            .await
            .watch_violations(pb::WatchViolationsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let watched = Arc::clone(&processor.watched);
        tokio::spawn(async move {
            while let Ok(Some(violation)) = stream.message().await {
                watched.lock().unwrap().push(violation);
            }
        });
        processor
    }

    pub(crate) fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub(crate) fn http_endpoint(&self) -> String {
        format!("http://{}", self.http)
    }

    pub(crate) async fn client(&self) -> MonitorServiceClient<tonic::transport::Channel> {
        MonitorServiceClient::connect(self.grpc_endpoint())
            .await
            .unwrap()
    }

    /// Waits for the verdict of a trace (hex id), as a gRPC client would.
    pub(crate) async fn verdict(&self, trace_id_hex: &str) -> pb::TraceVerdict {
        let trace_id = hex::decode(trace_id_hex).unwrap();
        let client = self.client().await;
        wait_until_async(&format!("the verdict of {trace_id_hex}"), || {
            let mut client = client.clone();
            let trace_id = trace_id.clone();
            async move {
                match client.get_verdict(pb::GetVerdictRequest { trace_id }).await {
                    Ok(response) => Ok(response.into_inner()),
                    Err(status) if status.code() == tonic::Code::NotFound => Err(status),
                    Err(status) => panic!("no verdict for {trace_id_hex}: {status}"),
                }
            }
        })
        .await
    }

    /// Waits until `check` holds for what the `WatchViolations` stream delivered.
    pub(crate) async fn watched_until(
        &self,
        check: impl Fn(&[pb::Violation]) -> bool,
    ) -> Vec<pb::Violation> {
        wait_until_async("the watched violations", || async {
            let watched = self.watched.lock().unwrap().clone();
            if check(&watched) {
                Ok(watched)
            } else {
                Err(format!("{watched:?}"))
            }
        })
        .await
    }

    /// Waits until `check` holds for the log records received downstream.
    pub(crate) async fn logs_until(&self, check: impl Fn(&[LogRecord]) -> bool) -> Vec<LogRecord> {
        wait_until_async("the log records downstream", || async {
            let records = self.logs.records();
            if check(&records) {
                Ok(records)
            } else {
                Err(format!("{} records: {records:?}", records.len()))
            }
        })
        .await
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        admin_get(self.admin, path).await
    }

    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl Drop for TestProcessor {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.contracts_file);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Runs the reference replay in its own thread, instrumented with `ironforge-instrument` exporting to
/// `endpoint`, and flushes it. A failed export fails the test.
pub(crate) async fn replay(
    endpoint: String,
    protocol: Protocol,
    options: ReplayOptions,
) -> RunSummary {
    tokio::task::spawn_blocking(move || {
        let config = Config::builder()
            .service_name("ironforge-replay-e2e")
            .endpoint(endpoint)
            .protocol(protocol)
            .sampling(Sampling::Always)
            .build();
        let instrumentation = ironforge_instrument::init(config).unwrap();
        let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
        let summary =
            tracing::subscriber::with_default(subscriber, || ironforge_replay::run(&options))
                .unwrap();
        instrumentation.shutdown().unwrap();
        summary
    })
    .await
    .unwrap()
}

/// The run's trace id, hex.
pub(crate) fn trace_hex(summary: &RunSummary) -> String {
    summary.trace_id.clone().expect("the run has a trace id")
}

/// A run (3 s longer than its session) whose only session span takes `session_seconds`.
pub(crate) fn run_with_session(trace: u8, session_seconds: u64) -> ExportTraceServiceRequest {
    let t0 = 1_754_300_000_000_000_000_u64;
    let kind = |value: &str| KeyValue {
        key: attr::SPAN_KIND.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    };
    let span = |id: u8, parent: Option<u8>, kind_value: &str, seconds: u64| Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: kind_value.to_owned(),
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + seconds * 1_000_000_000,
        attributes: vec![kind(kind_value)],
        ..Span::default()
    };
    request(vec![
        span(1, None, "run", session_seconds + 1),
        span(2, Some(1), "session", session_seconds),
    ])
}

/// One export request holding `spans`, under one resource and scope with no attributes.
pub(crate) fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// Contract ids of a verdict's violations, sorted and deduplicated.
pub(crate) fn contract_ids(violations: &[pb::Violation]) -> Vec<String> {
    let mut ids: Vec<String> = violations.iter().map(|v| v.contract_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// An OTLP attribute.
pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// The `ironforge-processor` binary on free loopback ports, logging JSON lines at `info` to a piped stdout:
/// the start-up line's `fields` name the bound `otlp_grpc`, `otlp_http` and `admin` addresses.
pub(crate) fn processor_command() -> std::process::Command {
    processor_command_logging("json")
}

/// [`processor_command`] with the console log in `format` (`text` or `json`).
pub(crate) fn processor_command_logging(format: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ironforge-processor"));
    command
        // A data directory of its own: another run's write-ahead log would be replayed, and its lock held.
        // Under the target directory, which `cargo clean` empties: nothing removes it after the run.
        .env(
            "IRONFORGE_DATA_DIR",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique("ironforge-process")),
        )
        .args(["--log-format", format])
        .args(["--otlp-grpc-addr", "127.0.0.1:0"])
        .args(["--otlp-http-addr", "127.0.0.1:0"])
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped());
    command
}

/// A name no other test process or run uses.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// GET on an admin port: status and body.
pub(crate) async fn admin_get(admin: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{admin}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}
