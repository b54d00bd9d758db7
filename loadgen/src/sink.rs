//! A receiver that takes each OTLP request's bytes without reading them: what any receiver on this transport
//! pays before it looks at a span, and, with a log, what making the request durable before answering adds.
//! The processor's cost above it is its own work: decode, evaluation, the log's records, analysis.
//!
//! OTLP/gRPC `TraceService/Export` is served by the processor's own receiving path, [`RawTraceExport`], which
//! hands over the message as bytes (tonic frames it and inflates gzip); OTLP/HTTP `POST /v1/traces` takes the
//! body as bytes (inflating gzip).
//! With a log file, each request's bytes are appended after their length and the file is synced before the
//! answer. Requests that arrive while a sync runs share the next one, as the processor's `--wal-fsync batch`
//! group commit does, and the file starts over past [`LOG_SEGMENT_BYTES`] as the processor's log releases
//! its segments.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use ironforge_proto::raw_export::RawTraceExport;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Status;
use tonic::codegen::BoxFuture;
use tonic::server::UnaryService;

use crate::receiver::{MAX_REQUEST_BYTES, ServeError, Servers, protobuf_body, success};

/// The log file is emptied once it holds this much: the processor's segment size.
pub const LOG_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Error serving the sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open the log {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// What the sink has taken so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Taken {
    /// Requests answered with success.
    pub requests: u64,
    /// Their messages' bytes, after inflating.
    pub bytes: u64,
}

/// Takes requests: counts them and, with a log, waits until they are on disk.
#[derive(Debug)]
struct Taker {
    requests: AtomicU64,
    bytes: AtomicU64,
    log: Option<mpsc::Sender<Append>>,
}

impl Taker {
    fn taken(&self) -> Taken {
        Taken {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    async fn take(&self, message: Bytes) -> Result<(), io::Error> {
        let length = message.len() as u64;
        if let Some(log) = &self.log {
            let (done, synced) = oneshot::channel();
            let writer_stopped = || io::Error::other("the log's writer has stopped");
            log.send(Append { message, done })
                .map_err(|_| writer_stopped())?;
            synced
                .await
                .map_err(|_| writer_stopped())?
                .map_err(|err| io::Error::new(err.kind(), err.to_string()))?;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(length, Ordering::Relaxed);
        Ok(())
    }
}

/// A request's bytes for the log's writer, and where to say they are synced.
struct Append {
    message: Bytes,
    done: oneshot::Sender<Result<(), Arc<io::Error>>>,
}

/// The running sink.
#[derive(Debug)]
pub struct Sink {
    servers: Servers,
    taker: Arc<Taker>,
}

/// Serves OTLP/gRPC on `grpc` and OTLP/HTTP on `http` until [`Sink::shutdown`], appending each request to
/// `log` (created or emptied) when one is given.
pub fn serve(grpc: TcpListener, http: TcpListener, log: Option<&Path>) -> Result<Sink, SinkError> {
    let log = log.map(start_log).transpose()?;
    let taker = Arc::new(Taker {
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        log,
    });
    let router = Router::new()
        .route("/v1/traces", post(export_http))
        .with_state(Arc::clone(&taker));
    let export = RawTraceExport::new(TakeExport(Arc::clone(&taker)), MAX_REQUEST_BYTES);
    let servers = Servers::start(grpc, export, http, router)?;
    Ok(Sink { servers, taker })
}

impl Sink {
    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.servers.grpc_addr()
    }

    /// Where OTLP/HTTP is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.servers.http_addr()
    }

    /// Requests and bytes taken so far.
    pub fn taken(&self) -> Taken {
        self.taker.taken()
    }

    /// Resolves when a server stops on its own, which only a failure makes it do.
    pub async fn failed(&mut self) -> Result<(), ServeError> {
        self.servers.failed().await
    }

    /// Stops both servers once their open requests are answered.
    pub async fn shutdown(self) -> Result<Taken, ServeError> {
        self.servers.shutdown().await?;
        Ok(self.taker.taken())
    }
}

/// Opens `path` empty and starts the thread that writes and syncs it; the thread ends when the sink is dropped.
fn start_log(path: &Path) -> Result<mpsc::Sender<Append>, SinkError> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|source| SinkError::Log {
            path: path.to_owned(),
            source,
        })?;
    let (appends, arrived) = mpsc::channel();
    std::thread::Builder::new()
        .name("sink-log".into())
        .spawn(move || write_log(file, &arrived))
        .map_err(|source| SinkError::Log {
            path: path.to_owned(),
            source,
        })?;
    Ok(appends)
}

/// Writes every request that has arrived, syncs once for all of them, answers them, and waits for more.
fn write_log(mut file: File, arrived: &mpsc::Receiver<Append>) {
    let mut held = 0u64;
    while let Ok(first) = arrived.recv() {
        let batch: Vec<Append> = std::iter::once(first).chain(arrived.try_iter()).collect();
        let written = batch
            .iter()
            .try_for_each(|append| append_framed(&mut file, &append.message))
            .and_then(|()| file.sync_data())
            .and_then(|()| {
                held += batch
                    .iter()
                    .map(|append| append.message.len() as u64)
                    .sum::<u64>();
                if held < LOG_SEGMENT_BYTES {
                    return Ok(());
                }
                held = 0;
                file.set_len(0)?;
                file.rewind().map(drop)
            })
            .map_err(Arc::new);
        for append in batch {
            let _ = append.done.send(written.clone());
        }
    }
}

/// Appends the message after its length (four bytes, little-endian), in one system call when the kernel
/// takes it all.
fn append_framed(file: &mut File, message: &[u8]) -> io::Result<()> {
    let length = u32::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 4 GiB"))?
        .to_le_bytes();
    let written = file.write_vectored(&[IoSlice::new(&length), IoSlice::new(message)])?;
    match written.checked_sub(length.len()) {
        Some(of_message) => file.write_all(&message[of_message..]),
        None => {
            file.write_all(&length[written..])?;
            file.write_all(message)
        }
    }
}

async fn export_http(State(taker): State<Arc<Taker>>, headers: HeaderMap, body: Bytes) -> Response {
    let message = match protobuf_body(&headers, body) {
        Ok(message) => message,
        Err(refused) => return refused.into_response(),
    };
    match taker.take(message).await {
        Ok(()) => success(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
}

/// `TraceService/Export`'s handler: takes the message's bytes.
#[derive(Debug, Clone)]
struct TakeExport(Arc<Taker>);

impl UnaryService<Bytes> for TakeExport {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<tonic::Response<ExportTraceServiceResponse>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let taker = Arc::clone(&self.0);
        Box::pin(async move {
            taker
                .take(request.into_inner())
                .await
                .map_err(|err| Status::unavailable(err.to_string()))?;
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        })
    }
}
