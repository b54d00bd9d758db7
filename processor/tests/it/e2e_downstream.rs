//! Violation events reach the OTLP logs endpoint exactly once and in order, whatever the endpoint does in
//! between: a real processor on loopback, a real tonic logs receiver that refuses, then hangs, then recovers,
//! and a processor restarted on the same data directory in the middle of an outage.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::e2e_support::{log_records, run_with_session, test_contracts};
use crate::wait_support::wait_until_async;
use ironforge_outputs::otlp_logs::LogsQueueOptions;
use ironforge_processor::server::{Server, ServerOptions};
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_proto::otlp::logs::LogRecord;
use ironforge_proto::otlp::logs_service::logs_service_server::{LogsService, LogsServiceServer};
use ironforge_proto::otlp::logs_service::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

const REFUSE: u8 = 0;
const HANG: u8 = 1;
const ACCEPT: u8 = 2;

/// A logs receiver whose behaviour the test switches: refuse with UNAVAILABLE, never answer, or accept.
#[derive(Debug, Clone, Default)]
struct Downstream {
    mode: Arc<AtomicU8>,
    refused: Arc<AtomicUsize>,
    hung: Arc<AtomicUsize>,
    records: Arc<Mutex<Vec<LogRecord>>>,
}

#[tonic::async_trait]
impl LogsService for Downstream {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        match self.mode.load(Ordering::SeqCst) {
            REFUSE => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                Err(Status::unavailable("collector restarting"))
            }
            HANG => {
                self.hung.fetch_add(1, Ordering::SeqCst);
                std::future::pending().await
            }
            _ => {
                self.records
                    .lock()
                    .unwrap()
                    .extend(log_records(request.into_inner()));
                Ok(Response::new(ExportLogsServiceResponse::default()))
            }
        }
    }
}

impl Downstream {
    async fn start(mode: u8) -> (Self, String) {
        let downstream = Self::default();
        downstream.set(mode);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(LogsServiceServer::new(downstream.clone()))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        (downstream, endpoint)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// (trace id, body) of every record received, in arrival order.
    fn received(&self) -> Vec<Event> {
        self.records.lock().unwrap().iter().map(event_key).collect()
    }

    /// Waits until at least `count` records have been received; returns every one received.
    async fn received_at_least(&self, count: usize) -> Vec<Event> {
        wait_until_async(&format!("{count} events received"), || async {
            let received = self.received();
            if received.len() >= count {
                Ok(received)
            } else {
                Err(format!("{} received", received.len()))
            }
        })
        .await
    }
}

/// One violation event as both ends see it: its trace id and its message.
type Event = (Vec<u8>, String);

fn event_key(record: &LogRecord) -> Event {
    let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(ironforge_proto::otlp::common::any_value::Value::StringValue(text)) => text.clone(),
        other => panic!("unexpected body {other:?}"),
    };
    (record.trace_id.clone(), body)
}

/// A data directory of its own, removed at the end.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ironforge-downstream-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("yaml"));
    }
}

/// How a test reaches a running processor: its gRPC and admin addresses, and what its `WatchViolations` stream
/// delivered since the test connected.
struct Handle {
    grpc: SocketAddr,
    admin: SocketAddr,
    watched: Arc<Mutex<Vec<Event>>>,
}

impl Handle {
    async fn connect(grpc: SocketAddr, admin: SocketAddr) -> Self {
        let mut stream = MonitorServiceClient::connect(format!("http://{grpc}"))
            .await
            .unwrap()
            .watch_violations(pb::WatchViolationsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let watched = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&watched);
        tokio::spawn(async move {
            while let Ok(Some(violation)) = stream.message().await {
                sink.lock()
                    .unwrap()
                    .push((violation.trace_id.clone(), violation.message.clone()));
            }
        });
        Self {
            grpc,
            admin,
            watched,
        }
    }

    /// Sends `traces` runs, each with a session over the 3 s contract, and waits until every one of them has
    /// produced its violation events. Returns every event emitted so far, in order.
    async fn violate(&self, traces: std::ops::RangeInclusive<u8>) -> Vec<Event> {
        let mut client = TraceServiceClient::connect(format!("http://{}", self.grpc))
            .await
            .unwrap();
        for trace in traces.clone() {
            client.export(run_with_session(trace, 5)).await.unwrap();
        }
        wait_until_async(
            &format!("the violation events of runs {traces:?}"),
            || async {
                let watched = self.watched.lock().unwrap().clone();
                if traces
                    .clone()
                    .all(|t| watched.iter().any(|(id, _)| *id == vec![t; 16]))
                {
                    Ok(watched)
                } else {
                    Err(format!(
                        "events of {:?}",
                        watched.iter().map(|(id, _)| id[0]).collect::<Vec<_>>()
                    ))
                }
            },
        )
        .await
    }

    async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.admin);
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// Polls the health answer's `downstream` section until `check` holds.
    async fn downstream_until(
        &self,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let url = format!("http://{}/api/v1/health", self.admin);
        wait_until_async("the downstream state", || async {
            let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            let downstream = body["downstream"].clone();
            if check(&downstream) {
                Ok(downstream)
            } else {
                Err(downstream)
            }
        })
        .await
    }
}

/// The contract file the processors of a test share, beside its data directory.
fn contracts_file(data_dir: &DataDir) -> PathBuf {
    let contracts = data_dir.0.with_extension("yaml");
    std::fs::write(&contracts, test_contracts()).unwrap();
    contracts
}

/// An in-process processor with one engine shard, so violations leave in the order the watch stream sees them.
struct Processor {
    server: Server,
    handle: Handle,
}

impl Processor {
    async fn start(data_dir: &DataDir, endpoint: &str, logs_queue: LogsQueueOptions) -> Self {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(ServerOptions {
            contracts_path: Some(contracts_file(data_dir)),
            otlp_grpc_addr: loopback,
            otlp_http_addr: loopback,
            admin_addr: loopback,
            logs_endpoint: Some(endpoint.to_owned()),
            shards: Some(1),
            data_dir: data_dir.0.clone(),
            logs_queue,
            // Many servers share this test process: its memory is not one server's.
            bound_process_memory: false,
            ..ServerOptions::default()
        })
        .await
        .unwrap();
        let handle = Handle::connect(server.addrs.otlp_grpc, server.addrs.admin).await;
        Self { server, handle }
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

/// The `ironforge-processor` binary, one engine shard, killed when dropped.
struct Binary {
    child: std::process::Child,
    handle: Handle,
}

impl Binary {
    async fn start(data_dir: &DataDir, endpoint: &str) -> Self {
        let free = || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let (grpc, http, admin) = (free(), free(), free());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ironforge-processor"))
            .arg("--config")
            .arg(contracts_file(data_dir))
            .arg("--data-dir")
            .arg(&data_dir.0)
            .args(["--logs-endpoint", endpoint, "--shards", "1"])
            .args(["--logs-request-timeout", "1.5", "--logs-max-backoff", "0.5"])
            .args(["--otlp-grpc-addr", &grpc.to_string()])
            .args(["--otlp-http-addr", &http.to_string()])
            .args(["--admin-addr", &admin.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let ready = format!("http://{admin}/readyz");
        wait_until_async("the binary to get ready", || async {
            match reqwest::get(&ready).await {
                Ok(answer) if answer.status().is_success() => Ok(()),
                Ok(answer) => Err(answer.status().to_string()),
                Err(err) => Err(err.to_string()),
            }
        })
        .await;
        let handle = Handle::connect(grpc, admin).await;
        Self { child, handle }
    }

    /// SIGKILL: no drain, no flush, no chance to write anything more.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Short timeouts and backoffs, so an outage of a few seconds sees several attempts.
fn quick_retries() -> LogsQueueOptions {
    LogsQueueOptions {
        request_timeout: Duration::from_millis(1500),
        max_backoff: Duration::from_millis(500),
        ..LogsQueueOptions::default()
    }
}

/// The value of a metric series, 0 when absent.
fn series(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .map_or(0, |value| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_once_and_in_order_after_the_endpoint_refuses_hangs_and_recovers() {
    let dir = DataDir::new("outage");
    let (downstream, endpoint) = Downstream::start(REFUSE).await;
    let processor = Processor::start(&dir, &endpoint, quick_retries()).await;

    let emitted = processor.handle.violate(1..=6).await;
    wait_until_async("two refused exports", || async {
        let refused = downstream.refused.load(Ordering::SeqCst);
        if refused >= 2 { Ok(()) } else { Err(refused) }
    })
    .await;
    let queued = emitted.len() as u64;
    let status = processor
        .handle
        .downstream_until(|d| d["queued_events"] == queued)
        .await;
    assert_eq!(status["degraded"], true, "{status}");

    // A hanging endpoint costs one request timeout per attempt, then the queue is retried.
    downstream.set(HANG);
    let emitted = processor.handle.violate(7..=10).await;
    wait_until_async("two hung exports", || async {
        let hung = downstream.hung.load(Ordering::SeqCst);
        if hung >= 2 { Ok(()) } else { Err(hung) }
    })
    .await;
    assert!(downstream.received().is_empty());

    downstream.set(ACCEPT);
    let received = downstream.received_at_least(emitted.len()).await;
    assert_eq!(received, emitted, "every event once, in the order emitted");
    let status = processor
        .handle
        .downstream_until(|d| d["queued_events"] == 0)
        .await;
    assert_eq!(status["delivered"], emitted.len() as u64, "{status}");
    assert_eq!(status["degraded"], false, "{status}");
    assert_eq!(status["dropped_overflow"], 0, "{status}");
    let metrics = processor.handle.metrics().await;
    assert!(
        series(
            &metrics,
            "ironforge_processor_output_retries_total{output=\"otlp_logs\"} "
        ) >= 4,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "ironforge_processor_queue_depth{output=\"otlp_logs\"} "
        ),
        0
    );
    processor.stop().await;
    // Nothing further arrives: no event was sent twice.
    assert_eq!(downstream.received().len(), emitted.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_before_a_restart_are_delivered_after_it() {
    let dir = DataDir::new("restart");
    let (downstream, endpoint) = Downstream::start(REFUSE).await;
    let first = Processor::start(&dir, &endpoint, quick_retries()).await;
    let emitted = first.handle.violate(1..=5).await;
    let queued = emitted.len() as u64;
    first
        .handle
        .downstream_until(|d| d["queued_events"] == queued)
        .await;
    first.stop().await;
    assert!(downstream.received().is_empty());

    downstream.set(ACCEPT);
    let second = Processor::start(&dir, &endpoint, quick_retries()).await;
    let received = downstream.received_at_least(emitted.len()).await;
    assert_eq!(
        received, emitted,
        "every event queued before the stop, once, in order"
    );
    second
        .handle
        .downstream_until(|d| d["queued_events"] == 0 && d["delivered"] == queued)
        .await;
    second.stop().await;
    assert_eq!(downstream.received().len(), emitted.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_counts_its_overflow_in_metrics_and_health() {
    let dir = DataDir::new("overflow");
    let (downstream, endpoint) = Downstream::start(REFUSE).await;
    let options = LogsQueueOptions {
        max_bytes: 4096,
        ..quick_retries()
    };
    let processor = Processor::start(&dir, &endpoint, options).await;
    let emitted = processor.handle.violate(1..=30).await;
    let status = processor
        .handle
        .downstream_until(|d| d["dropped_overflow"].as_u64() > Some(0))
        .await;
    let queued = status["queued_events"].as_u64().unwrap();
    let overflow = status["dropped_overflow"].as_u64().unwrap();
    assert_eq!(queued + overflow, emitted.len() as u64, "{status}");
    assert!(status["queued_bytes"].as_u64().unwrap() <= 4096, "{status}");
    assert_eq!(status["degraded"], true, "{status}");
    let metrics = processor.handle.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "ironforge_processor_output_overflow_total{output=\"otlp_logs\"} "
        ),
        overflow,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "ironforge_processor_queue_depth{output=\"otlp_logs\"} "
        ),
        queued
    );

    // The oldest events were kept: they arrive once the endpoint is back.
    downstream.set(ACCEPT);
    let received = downstream
        .received_at_least(usize::try_from(queued).unwrap())
        .await;
    assert_eq!(received, emitted[..received.len()]);
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_before_a_kill_are_delivered_after_a_restart() {
    let dir = DataDir::new("kill");
    let (downstream, endpoint) = Downstream::start(REFUSE).await;
    let first = Binary::start(&dir, &endpoint).await;
    let emitted = first.handle.violate(1..=4).await;
    let queued = emitted.len() as u64;
    first
        .handle
        .downstream_until(|d| d["queued_events"] == queued)
        .await;
    first.kill();

    downstream.set(ACCEPT);
    let second = Binary::start(&dir, &endpoint).await;
    let received = downstream.received_at_least(emitted.len()).await;
    assert_eq!(
        received, emitted,
        "every event queued before the kill, once, in order"
    );
    second
        .handle
        .downstream_until(|d| d["queued_events"] == 0 && d["delivered"] == queued)
        .await;
    second.kill();
    assert_eq!(downstream.received().len(), emitted.len());
}
