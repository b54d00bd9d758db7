//! The violation-event queue of the OTLP logs output: what appending an event costs while the downstream is
//! away, what an event takes on disk, and how fast a new exporter on the same queue delivers the backlog
//! once a logs receiver (a tonic server on loopback) is there.
//!
//! ```sh
//! cargo bench -p ironforge-processor --bench logs_queue
//! EVENTS=50000 cargo bench -p ironforge-processor --bench logs_queue
//! ```
//!
//! Under `cargo test --all-targets` it runs once with a few events, as a check that it still works.

// A bench that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ironforge_outputs::otlp_logs::{OtlpLogsConfig, OtlpLogsExporter};
use ironforge_outputs::test_support::slow_session;
use ironforge_processor::model::{SpanId, TraceId};
use ironforge_proto::otlp::logs_service::logs_service_server::{LogsService, LogsServiceServer};
use ironforge_proto::otlp::logs_service::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use ironforge_telemetry::Metrics;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// A logs receiver that counts the records it is given.
#[derive(Debug, Clone, Default)]
struct Receiver {
    records: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let records = request
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .map(|scope| scope.log_records.len())
            .sum::<usize>();
        self.records.fetch_add(records, Ordering::Relaxed);
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// An endpoint nothing listens on.
async fn away() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    endpoint
}

async fn serve(receiver: Receiver) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(LogsServiceServer::new(receiver))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    endpoint
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let events: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if measuring { 10_000 } else { 200 });
    let queue_dir =
        std::env::temp_dir().join(format!("ironforge-logs-queue-{}", std::process::id()));
    let config = OtlpLogsConfig {
        endpoint: away().await,
        batch_size: 512,
        flush_interval: Duration::from_millis(200),
        queue_dir: queue_dir.clone(),
        queue_max_bytes: 64 << 20,
        timeout: Duration::from_secs(2),
        // The downstream stays away while the queue fills: no attempt in between.
        retry_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
    };

    let (exporter, _task) =
        OtlpLogsExporter::spawn(config.clone(), Arc::new(Metrics::new())).unwrap();
    let violation = slow_session(
        TraceId([0x0a; 16]),
        SpanId([0xb7; 8]),
        1_754_300_000_500_000_000,
    );
    let started = Instant::now();
    for _ in 0..events {
        exporter.send(&violation);
    }
    let appended = started.elapsed();
    let queued_bytes = exporter.status().queued_bytes;
    exporter.shutdown().await;

    let receiver = Receiver::default();
    let endpoint = serve(receiver.clone()).await;
    let started = Instant::now();
    let (exporter, _task) = OtlpLogsExporter::spawn(
        OtlpLogsConfig { endpoint, ..config },
        Arc::new(Metrics::new()),
    )
    .unwrap();
    while receiver.records.load(Ordering::Relaxed) < events {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the backlog was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = started.elapsed();
    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(queue_dir);

    println!(
        "{events} events: append {:.1} µs an event (wall), {} bytes an event on disk; \
         delivered after a restart in {:.2} s ({:.0} events/s)",
        appended.as_secs_f64() * 1e6 / events as f64,
        queued_bytes / events as u64,
        drained.as_secs_f64(),
        events as f64 / drained.as_secs_f64()
    );
}
