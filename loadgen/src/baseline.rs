//! A receiver that only decodes: the floor any OTLP receiver pays, to compare the processor against.
//!
//! OTLP/gRPC is served by the `TraceService` server `opentelemetry-proto` generates, which decodes each request
//! with prost; OTLP/HTTP `POST /v1/traces` decodes `application/x-protobuf` (optionally gzip) with prost. Both
//! count the spans they decoded, drop the request and answer success.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flate2::read::GzDecoder;
use ironforge_proto::otlp::trace_service::trace_service_server::{
    TraceService, TraceServiceServer,
};
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;

/// Largest request accepted, after decompression: the processor's default, and tonic's.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";

/// Error serving the baseline receiver.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the listener's address: {0}")]
    Address(#[source] std::io::Error),
    #[error("OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("OTLP/HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("a server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

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
}

/// The running receiver.
#[derive(Debug)]
pub struct Baseline {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    counters: Arc<Counters>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<Result<(), BaselineError>>,
}

/// Serves OTLP/gRPC on `grpc` and OTLP/HTTP on `http` until [`Baseline::shutdown`].
pub fn serve(grpc: TcpListener, http: TcpListener) -> Result<Baseline, BaselineError> {
    let grpc_addr = grpc.local_addr().map_err(BaselineError::Address)?;
    let http_addr = http.local_addr().map_err(BaselineError::Address)?;
    let counters = Arc::new(Counters::default());
    let (shutdown, stop) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let service = TraceServiceServer::new(DecodeOnly(Arc::clone(&counters)))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .accept_compressed(CompressionEncoding::Gzip);
    let grpc_stop = stopped(stop.clone());
    tasks.spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(TcpIncoming::from(grpc), grpc_stop)
            .await
            .map_err(BaselineError::from)
    });

    let router = Router::new()
        .route("/v1/traces", post(export_http))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(Arc::clone(&counters));
    tasks.spawn(async move {
        axum::serve(http, router)
            .with_graceful_shutdown(stopped(stop))
            .await
            .map_err(BaselineError::Http)
    });

    Ok(Baseline {
        grpc_addr,
        http_addr,
        counters,
        shutdown,
        tasks,
    })
}

impl Baseline {
    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where OTLP/HTTP is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Requests and spans decoded so far.
    pub fn tally(&self) -> Tally {
        Tally {
            requests: self.counters.requests.load(Ordering::Relaxed),
            spans: self.counters.spans.load(Ordering::Relaxed),
        }
    }

    /// Resolves when a server stops on its own, which only a failure makes it do.
    pub async fn failed(&mut self) -> Result<(), BaselineError> {
        match self.tasks.join_next().await {
            Some(joined) => joined?,
            None => Ok(()),
        }
    }

    /// Stops both servers once their open requests are answered.
    pub async fn shutdown(mut self) -> Result<Tally, BaselineError> {
        let _ = self.shutdown.send(true);
        while let Some(joined) = self.tasks.join_next().await {
            joined??;
        }
        Ok(self.tally())
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
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
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if content_type != Some(PROTOBUF) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/x-protobuf",
        )
            .into_response();
    }
    let gzip = match headers.get(CONTENT_ENCODING).map(|value| value.to_str()) {
        None | Some(Ok("identity")) => false,
        Some(Ok("gzip")) => true,
        Some(_) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported content encoding",
            )
                .into_response();
        }
    };
    let decoded = if gzip {
        gunzip(&body).and_then(|plain| ExportTraceServiceRequest::decode(plain.as_slice()).ok())
    } else {
        ExportTraceServiceRequest::decode(body).ok()
    };
    let Some(request) = decoded else {
        return (StatusCode::BAD_REQUEST, "undecodable request").into_response();
    };
    counters.count(&request);
    drop(request);
    (
        [(CONTENT_TYPE, PROTOBUF)],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

/// Inflates a gzip body; `None` when it is corrupt or inflates past [`MAX_REQUEST_BYTES`].
fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut plain = Vec::new();
    GzDecoder::new(body)
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .ok()?;
    (plain.len() <= MAX_REQUEST_BYTES).then_some(plain)
}
