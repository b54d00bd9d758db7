//! Serving one listener: accept, TLS handshake, then HTTP/1 or HTTP/2 (gRPC) as the client speaks it, each
//! connection under the [`ConnectionLimits`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;

use super::ConnectionLimits;
use super::events::{AcceptFailed, TlsHandshakeFailed};
use ironforge_telemetry::{InternalEvent, Metrics};

/// Largest HTTP/2 header block a request may send: gRPC metadata and OTLP headers take a few hundred bytes,
/// and hyper's default (16 MiB per stream) would let one connection hold 1.6 GB across its streams.
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// A pause after a failed accept (out of file descriptors, say), so the loop does not spin on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One listener, ready to serve.
#[derive(Debug)]
pub struct Listener {
    /// Named in log lines and metrics.
    pub name: &'static str,
    pub tcp: TcpListener,
    /// `None` for plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub limits: ConnectionLimits,
    pub metrics: Arc<Metrics>,
}

impl Listener {
    /// Serves `router` until `stop` resolves, then lets open requests finish (the caller bounds how long).
    pub async fn serve(
        self,
        router: axum::Router,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let graceful = GracefulShutdown::new();
        let connection = Arc::new(Connection {
            name: self.name,
            tls: self.tls.map(TlsAcceptor::from),
            builder: builder(&self.limits),
            limits: self.limits,
            metrics: self.metrics,
        });
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                () = &mut stop => break,
                accepted = self.tcp.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let serve =
                        Arc::clone(&connection).serve(stream, peer, router.clone(), &graceful);
                    tokio::spawn(serve);
                }
                Err(error) => {
                    AcceptFailed {
                        listener: self.name,
                        error: &error,
                    }
                    .emit();
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
        drop(self.tcp);
        graceful.shutdown().await;
        Ok(())
    }
}

/// What every connection of one listener shares.
struct Connection {
    name: &'static str,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
}

impl Connection {
    /// The connection's whole life, as a task; watched by `graceful` so shutdown can close it politely.
    fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        router: axum::Router,
        graceful: &GracefulShutdown,
    ) -> impl Future<Output = ()> + Send + 'static {
        let watcher = graceful.watcher();
        async move {
            // Small answers (acknowledgements, statuses) should not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            // Every read, including the handshake's and the bytes that tell HTTP/1 from HTTP/2, waits at most
            // the idle timeout: a peer that connects and says nothing is closed.
            let mut stream = TimeoutStream::new(stream);
            stream.set_read_timeout(Some(self.limits.idle_timeout));
            let stream = Box::pin(stream);
            let Some(tls) = &self.tls else {
                return self.http(stream, router, watcher).await;
            };
            let handshake =
                tokio::time::timeout(self.limits.tls_handshake_timeout, tls.accept(stream)).await;
            match handshake {
                Ok(Ok(stream)) => self.http(stream, router, watcher).await,
                Ok(Err(error)) => TlsHandshakeFailed {
                    listener: self.name,
                    peer,
                    error: &error.to_string(),
                    metrics: &self.metrics,
                }
                .emit(),
                Err(_) => TlsHandshakeFailed {
                    listener: self.name,
                    peer,
                    error: "timed out",
                    metrics: &self.metrics,
                }
                .emit(),
            }
        }
    }

    async fn http<I>(
        &self,
        io: I,
        router: axum::Router,
        watcher: hyper_util::server::graceful::Watcher,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(router);
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        // A connection ends with an error whenever a peer goes away mid-request or a timeout closes it:
        // routine, and counted where it matters (requests, handshakes), so not logged.
        let _ = watcher.watch(connection.into_owned()).await;
    }
}

fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_interval)
        .max_header_list_size(MAX_HEADER_LIST_BYTES);
    builder
}
