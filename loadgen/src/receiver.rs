//! What the baseline and the sink share: an OTLP/gRPC server and an OTLP/HTTP server on listeners the caller
//! bound, run until shut down, and the reading of an OTLP/HTTP body.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::read::GzDecoder;
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;

use crate::export::PROTOBUF;

/// Largest request accepted, after decompression: the processor's default, and tonic's.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Error serving a receiver.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the listener's address: {0}")]
    Address(#[source] std::io::Error),
    #[error("OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("OTLP/HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("a server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The two running servers of a receiver.
#[derive(Debug)]
pub(crate) struct Servers {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<Result<(), ServeError>>,
}

impl Servers {
    /// Serves `service` on `grpc` and `router` (under the request size limit) on `http`.
    pub(crate) fn start<S>(
        grpc: TcpListener,
        service: S,
        http: TcpListener,
        router: Router,
    ) -> Result<Self, ServeError>
    where
        S: Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let grpc_addr = grpc.local_addr().map_err(ServeError::Address)?;
        let http_addr = http.local_addr().map_err(ServeError::Address)?;
        let (shutdown, stop) = watch::channel(false);
        let mut tasks = JoinSet::new();

        // As the processor's listener does: without it, h2's small window updates wait on Nagle's algorithm
        // and a large request stalls for the peer's delayed ACK (40 ms) many times over.
        let grpc = TcpIncoming::from(grpc).with_nodelay(Some(true));
        let grpc_stop = stopped(stop.clone());
        tasks.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(grpc, grpc_stop)
                .await
                .map_err(ServeError::from)
        });

        let router = router.layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES));
        tasks.spawn(async move {
            axum::serve(http, router)
                .with_graceful_shutdown(stopped(stop))
                .await
                .map_err(ServeError::Http)
        });

        Ok(Self {
            grpc_addr,
            http_addr,
            shutdown,
            tasks,
        })
    }

    pub(crate) fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub(crate) fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Resolves when a server stops on its own, which only a failure makes it do.
    pub(crate) async fn failed(&mut self) -> Result<(), ServeError> {
        match self.tasks.join_next().await {
            Some(joined) => joined?,
            None => Ok(()),
        }
    }

    /// Stops both servers once their open requests are answered.
    pub(crate) async fn shutdown(mut self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        while let Some(joined) = self.tasks.join_next().await {
            joined??;
        }
        Ok(())
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// An OTLP/HTTP request's protobuf message, inflated when it came gzipped, or why it is refused: the wrong
/// media type, an unknown encoding, a corrupt or oversized gzip body.
pub(crate) fn protobuf_body(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, (StatusCode, &'static str)> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if content_type != Some(PROTOBUF) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/x-protobuf",
        ));
    }
    match headers.get(CONTENT_ENCODING).map(|value| value.to_str()) {
        None | Some(Ok("identity")) => Ok(body),
        Some(Ok("gzip")) => gunzip(&body)
            .map(Bytes::from)
            .ok_or((StatusCode::BAD_REQUEST, "corrupt or oversized gzip body")),
        Some(_) => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content encoding",
        )),
    }
}

/// The OTLP/HTTP answer to an accepted export.
pub(crate) fn success() -> Response {
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
