//! A receiver that only decodes: what a receiver built on the generated OTLP types pays, to compare the
//! processor against.
//!
//! OTLP/gRPC is served by the `TraceService` server `opentelemetry-proto` generates, which decodes each request
//! with prost; OTLP/HTTP `POST /v1/traces` decodes `application/x-protobuf` (optionally gzip) with prost. Both
//! count the spans they decoded, drop the request and answer success.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ironforge_proto::otlp::trace_service::trace_service_server::{
    TraceService, TraceServiceServer,
};
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

pub use crate::receiver::{MAX_REQUEST_BYTES, ServeError};
use crate::receiver::{Servers, protobuf_body, success};

/// What the receiver has decoded so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Requests decoded.
    pub requests: u64,
    /// Spans in the requests decoded.
    pub spans: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    spans: AtomicU64,
}

impl Counters {
    fn count(&self, request: &ExportTraceServiceRequest) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
    }

    fn tally(&self) -> Tally {
        Tally {
            requests: self.requests.load(Ordering::Relaxed),
            spans: self.spans.load(Ordering::Relaxed),
        }
    }
}

/// The running receiver.
#[derive(Debug)]
pub struct Baseline {
    servers: Servers,
    counters: Arc<Counters>,
}

/// Serves OTLP/gRPC on `grpc` and OTLP/HTTP on `http` until [`Baseline::shutdown`].
pub fn serve(grpc: TcpListener, http: TcpListener) -> Result<Baseline, ServeError> {
    let counters = Arc::new(Counters::default());
    let service = TraceServiceServer::new(DecodeOnly(Arc::clone(&counters)))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .accept_compressed(CompressionEncoding::Gzip);
    let router = Router::new()
        .route("/v1/traces", post(export_http))
        .with_state(Arc::clone(&counters));
    let servers = Servers::start(grpc, service, http, router)?;
    Ok(Baseline { servers, counters })
}

impl Baseline {
    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.servers.grpc_addr()
    }

    /// Where OTLP/HTTP is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.servers.http_addr()
    }

    /// Requests and spans decoded so far.
    pub fn tally(&self) -> Tally {
        self.counters.tally()
    }

    /// Resolves when a server stops on its own, which only a failure makes it do.
    pub async fn failed(&mut self) -> Result<(), ServeError> {
        self.servers.failed().await
    }

    /// Stops both servers once their open requests are answered.
    pub async fn shutdown(self) -> Result<Tally, ServeError> {
        self.servers.shutdown().await?;
        Ok(self.counters.tally())
    }
}

#[derive(Debug)]
struct DecodeOnly(Arc<Counters>);

#[tonic::async_trait]
impl TraceService for DecodeOnly {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.count(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn export_http(
    State(counters): State<Arc<Counters>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plain = match protobuf_body(&headers, body) {
        Ok(plain) => plain,
        Err(refused) => return refused.into_response(),
    };
    let Ok(request) = ExportTraceServiceRequest::decode(plain) else {
        return (StatusCode::BAD_REQUEST, "undecodable request").into_response();
    };
    counters.count(&request);
    drop(request);
    success()
}
