//! Shared test helpers: an instrumentation over the SDK's in-memory exporters, metric lookups, and
//! a gRPC OTLP sink on 127.0.0.1.

// The footprint bench compiles this module too; it and the tests use different parts of it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ironforge_instrument::{Config, Instrumentation, Sampling};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, Temporality};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tracing_subscriber::layer::SubscriberExt;

/// An instrumentation over in-memory exporters, with a subscriber scoped to each `run`.
pub(crate) struct Harness {
    pub spans: InMemorySpanExporter,
    pub metrics: InMemoryMetricExporter,
    pub instrumentation: Instrumentation,
}

impl Harness {
    pub(crate) fn new(sampling: Sampling) -> Self {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let config = Config::builder()
            .service_name("test-pipeline")
            .sampling(sampling)
            // Metrics leave only when a test flushes.
            .metrics_interval(Duration::from_secs(3600))
            .timeout(Duration::from_secs(5))
            .build();
        let instrumentation =
            Instrumentation::with_exporters(config, spans.clone(), metrics.clone()).unwrap();
        Harness {
            spans,
            metrics,
            instrumentation,
        }
    }

    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let subscriber = tracing_subscriber::registry().with(self.instrumentation.layer());
        tracing::subscriber::with_default(subscriber, f)
    }

    pub(crate) fn flush(&self) {
        self.instrumentation.force_flush().unwrap();
    }

    pub(crate) fn finished_spans(&self) -> Vec<SpanData> {
        self.flush();
        self.spans.get_finished_spans().unwrap()
    }

    /// The latest cumulative snapshot of every metric.
    pub(crate) fn latest_metrics(&self) -> ResourceMetrics {
        self.flush();
        self.metrics
            .get_finished_metrics()
            .unwrap()
            .pop()
            .expect("a flush exports one snapshot")
    }
}

pub(crate) fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "exactly one span named {name}: {spans:#?}");
    found[0]
}

pub(crate) fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The attribute keys of a span, minus those the OpenTelemetry layer adds about code location,
/// thread and timing.
pub(crate) fn own_keys(span: &SpanData) -> Vec<&str> {
    let mut keys: Vec<&str> = span
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .filter(|k| {
            !k.starts_with("code.")
                && !k.starts_with("thread.")
                && !matches!(*k, "target" | "busy_ns" | "idle_ns")
        })
        .collect();
    keys.sort_unstable();
    keys
}

pub(crate) fn metric<'a>(rm: &'a ResourceMetrics, name: &str) -> Option<&'a Metric> {
    rm.scope_metrics()
        .flat_map(|s| s.metrics())
        .find(|m| m.name() == name)
}

pub(crate) fn metric_names(rm: &ResourceMetrics) -> Vec<String> {
    let mut names: Vec<String> = rm
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .map(|m| m.name().to_owned())
        .collect();
    names.sort();
    names
}

fn sorted(attrs: impl Iterator<Item = KeyValue>) -> Vec<KeyValue> {
    let mut v: Vec<KeyValue> = attrs.collect();
    v.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    v
}

/// Histogram points as (attributes, count, sum).
pub(crate) fn histogram_f64(m: &Metric) -> Vec<(Vec<KeyValue>, u64, f64)> {
    match m.data() {
        AggregatedMetrics::F64(MetricData::Histogram(h)) => h
            .data_points()
            .map(|p| (sorted(p.attributes().cloned()), p.count(), p.sum()))
            .collect(),
        other => panic!("{} is not an f64 histogram: {other:?}", m.name()),
    }
}

pub(crate) fn sum_u64(m: &Metric) -> Vec<(Vec<KeyValue>, u64)> {
    match m.data() {
        AggregatedMetrics::U64(MetricData::Sum(s)) => {
            assert!(s.is_monotonic());
            assert_eq!(s.temporality(), Temporality::Cumulative);
            s.data_points()
                .map(|p| (sorted(p.attributes().cloned()), p.value()))
                .collect()
        }
        other => panic!("{} is not a u64 sum: {other:?}", m.name()),
    }
}

pub(crate) fn sum_f64(m: &Metric) -> Vec<(Vec<KeyValue>, f64)> {
    match m.data() {
        AggregatedMetrics::F64(MetricData::Sum(s)) => s
            .data_points()
            .map(|p| (sorted(p.attributes().cloned()), p.value()))
            .collect(),
        other => panic!("{} is not an f64 sum: {other:?}", m.name()),
    }
}

pub(crate) fn gauge_u64(m: &Metric) -> Vec<(Vec<KeyValue>, u64)> {
    match m.data() {
        AggregatedMetrics::U64(MetricData::Gauge(g)) => g
            .data_points()
            .map(|p| (sorted(p.attributes().cloned()), p.value()))
            .collect(),
        other => panic!("{} is not a u64 gauge: {other:?}", m.name()),
    }
}

pub(crate) fn kv(key: &'static str, value: impl Into<Value>) -> KeyValue {
    KeyValue::new(Key::from_static_str(key), value)
}

/// What the sink received.
#[derive(Default)]
pub(crate) struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub metadata: Vec<tonic::metadata::MetadataMap>,
}

#[derive(Clone, Default)]
struct Sink {
    received: Arc<Mutex<Received>>,
    /// Whether requests are kept; a discarding sink only counts spans.
    keep: bool,
    spans: Arc<std::sync::atomic::AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request_spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.spans
            .fetch_add(request_spans as u64, std::sync::atomic::Ordering::Relaxed);
        if self.keep {
            let mut received = self.received.lock().unwrap();
            received.metadata.push(request.metadata().clone());
            received.traces.push(request.into_inner());
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        if self.keep {
            self.received
                .lock()
                .unwrap()
                .metrics
                .push(request.into_inner());
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The name of the sink's thread, so tests can tell its own tracing from the pipeline's.
pub(crate) const SINK_THREAD: &str = "test-grpc-sink";

/// An OTLP/gRPC collector on 127.0.0.1 that keeps what it receives. It runs on a runtime of its
/// own thread, so tests on any runtime flavour (or none) can use it, and stops when dropped.
pub(crate) struct GrpcSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    spans: Arc<std::sync::atomic::AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GrpcSink {
    /// A sink that keeps every request.
    pub(crate) fn start() -> Self {
        Self::start_with(true)
    }

    /// A sink that only counts spans, so it holds no memory for what it receives.
    pub(crate) fn start_discarding() -> Self {
        Self::start_with(false)
    }

    fn start_with(keep: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = Sink {
            keep,
            ..Sink::default()
        };
        let received = Arc::clone(&sink.received);
        let spans = Arc::clone(&sink.spans);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(SINK_THREAD.to_owned())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(sink.clone()))
                        .add_service(MetricsServiceServer::new(sink))
                        .serve_with_incoming_shutdown(
                            tonic::transport::server::TcpIncoming::from(listener),
                            async {
                                let _ = stopped.await;
                            },
                        )
                        .await
                        .unwrap();
                });
            })
            .unwrap();
        GrpcSink {
            addr,
            received,
            spans,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn spans_received(&self) -> u64 {
        self.spans.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn with_received<R>(&self, f: impl FnOnce(&Received) -> R) -> R {
        f(&self.received.lock().unwrap())
    }
}

impl Drop for GrpcSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on 127.0.0.1 where nothing listens: bound once to get a free number, then released.
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
