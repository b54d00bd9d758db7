//! An in-process OTLP/gRPC receiver for the end-to-end tests: it keeps every trace export request it gets and
//! accepts metric exports so those do not count as failures, unless it is started as a trace-only receiver (as
//! Jaeger's or Tempo's OTLP endpoints are), which has no metrics service at all.

// The footprint bench compiles this module too and uses only the receiver.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ironforge_proto::otlp::common::any_value::Value;
use ironforge_proto::otlp::common::{AnyValue, KeyValue};
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::trace_service_server::{
    TraceService, TraceServiceServer,
};
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone, Default)]
struct Traces {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    /// Never answer a trace export, as an overloaded receiver may not.
    hang: bool,
}

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.received.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[derive(Debug, Clone, Default)]
struct Metrics(Arc<Mutex<usize>>);

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        *self.0.lock().unwrap() += 1;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running receiver on a free loopback port.
pub(crate) struct Receiver {
    pub addr: SocketAddr,
    traces: Traces,
    metrics: Metrics,
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        Self::start_with(false, true)
    }

    /// A receiver that takes metrics but never answers a trace export.
    pub(crate) fn start_hanging_traces() -> Receiver {
        Self::start_with(true, true)
    }

    /// A receiver that implements the trace service only: metric exports get gRPC `UNIMPLEMENTED`.
    pub(crate) fn start_traces_only() -> Receiver {
        Self::start_with(false, false)
    }

    fn start_with(hang: bool, with_metrics: bool) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let traces = Traces {
            hang,
            ..Traces::default()
        };
        let metrics = Metrics::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(traces.clone()))
            .add_optional_service(with_metrics.then(|| MetricsServiceServer::new(metrics.clone())))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            );
        runtime.spawn(server);
        Receiver {
            addr,
            traces,
            metrics,
            stop: Some(stop),
            runtime: Some(runtime),
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.traces.received.lock().unwrap().clone()
    }

    pub(crate) fn metric_exports(&self) -> usize {
        *self.metrics.0.lock().unwrap()
    }

    /// Every span received, with its resource's `service.name`.
    pub(crate) fn spans(&self) -> Vec<(Option<String>, Span)> {
        let mut out = Vec::new();
        for request in self.requests() {
            for rs in request.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| str_attr(&r.attributes, "service.name"))
                    .map(str::to_owned);
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

/// A loopback port nothing listens on.
pub(crate) fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A loopback endpoint that never answers: the listener is never accepted from, the kernel completes the
/// handshake for its backlog, and exports hang until their timeout. Keep the listener alive while it is used.
pub(crate) fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

pub(crate) fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

pub(crate) fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

pub(crate) fn double_attr(attrs: &[KeyValue], key: &str) -> Option<f64> {
    match attr(attrs, key)? {
        Value::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

pub(crate) fn str_array_attr(attrs: &[KeyValue], key: &str) -> Option<Vec<String>> {
    match attr(attrs, key)? {
        Value::ArrayValue(array) => Some(
            array
                .values
                .iter()
                .filter_map(|v| match v.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
