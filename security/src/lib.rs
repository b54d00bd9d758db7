//! Transport security and hardening of the IRONFORGE processor's listeners: TLS and mutual TLS, bearer tokens on
//! ingest and on the APIs, time and concurrency limits on every connection, and credentials kept out of log
//! lines.
//!
//! [`Secured`] is resolved once at start from [`SecurityOptions`] (durations and paths, not flags: the
//! command line that fills them is the processor's) and wraps each surface's router: a request deadline
//! ([`ConnectionLimits::request_timeout`]), the token its [`Surface`] requires, and a [`Listener`] that
//! bounds handshakes, header reads, idle connections and HTTP/2 streams. Refused credentials and failed
//! handshakes are counted through `ironforge-telemetry`; [`redact`] strips credentials from URLs before
//! they reach a log line.

mod auth;
mod deadline;
mod events;
mod limits;
mod listener;
pub mod redact;
mod tls;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::{Surface, Tokens};
pub use limits::ConnectionLimits;
pub use listener::Listener;
pub use tls::{TlsError, TlsFiles};
pub use token::{Token, TokenError};

use ironforge_telemetry::Metrics;

/// How the processor's listeners are secured. The default is the command line's: plaintext, no tokens, the
/// default [`ConnectionLimits`], metrics on the admin listener only.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    /// TLS (and with a client CA, mutual TLS) on the OTLP/gRPC and OTLP/HTTP listeners.
    pub tls: Option<TlsFiles>,
    /// Serve the admin and metrics listeners with the same TLS configuration too.
    pub admin_tls: bool,
    pub tokens: Tokens,
    pub limits: ConnectionLimits,
    /// A listener serving only `/metrics`, `/healthz` and `/readyz`, for a scraper that must reach the
    /// processor from another host while the admin listener stays on loopback.
    pub metrics_addr: Option<SocketAddr>,
}

/// The security of a running server, resolved once at start.
#[derive(Debug, Clone)]
pub struct Secured {
    tls: Option<Arc<rustls::ServerConfig>>,
    admin_tls: bool,
    tokens: Arc<Tokens>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
}

impl Secured {
    /// Reads the TLS files; the only step that can fail.
    pub fn new(options: &SecurityOptions, metrics: Arc<Metrics>) -> Result<Self, TlsError> {
        let tls = options
            .tls
            .as_ref()
            .map(TlsFiles::server_config)
            .transpose()?;
        Ok(Self {
            tls,
            admin_tls: options.admin_tls,
            tokens: Arc::new(options.tokens.clone()),
            limits: options.limits.clone(),
            metrics,
        })
    }

    /// `router` bounded by the request timeout and guarded by the tokens its surface requires, with the
    /// listener that serves it.
    pub fn listener(
        &self,
        surface: Surface,
        tcp: tokio::net::TcpListener,
        router: axum::Router,
    ) -> (Listener, axum::Router) {
        let router = deadline::bound(router, surface, self.limits.request_timeout);
        let router = auth::guard(
            router,
            surface,
            Arc::clone(&self.tokens),
            Arc::clone(&self.metrics),
        );
        let tls = match surface {
            Surface::Grpc | Surface::OtlpHttp => self.tls.clone(),
            Surface::Admin | Surface::Metrics => self.tls.clone().filter(|_| self.admin_tls),
        };
        let listener = Listener {
            name: surface.as_str(),
            tcp,
            tls,
            limits: self.limits.clone(),
            metrics: Arc::clone(&self.metrics),
        };
        (listener, router)
    }
}
