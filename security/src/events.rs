//! What the listeners report: refused credentials, failed handshakes, failed accepts.

use ironforge_telemetry::{InternalEvent, Metrics};

/// A request was refused for its credentials. Logged at debug level only: anyone who can reach a port can
/// cause one, and the counter already tells how many.
#[derive(Debug)]
pub(crate) struct AuthRefused<'a> {
    pub(crate) surface: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for AuthRefused<'_> {
    fn emit(self) {
        self.metrics
            .transport()
            .auth_refused(self.surface, self.reason);
        tracing::debug!(
            listener = self.surface,
            reason = self.reason,
            "request refused: bearer token {}",
            self.reason
        );
    }
}

/// A TLS handshake failed or timed out. Logged at debug level for the same reason as [`AuthRefused`].
#[derive(Debug)]
pub(crate) struct TlsHandshakeFailed<'a> {
    pub(crate) listener: &'static str,
    pub(crate) peer: std::net::SocketAddr,
    pub(crate) error: &'a str,
    pub(crate) metrics: &'a Metrics,
}

impl InternalEvent for TlsHandshakeFailed<'_> {
    fn emit(self) {
        self.metrics.transport().tls_handshake_failed(self.listener);
        tracing::debug!(
            listener = self.listener,
            peer = %self.peer,
            "TLS handshake failed: {}",
            self.error
        );
    }
}

/// A listener could not accept a connection (out of file descriptors, say); it pauses and goes on.
#[derive(Debug)]
pub(crate) struct AcceptFailed<'a> {
    pub(crate) listener: &'static str,
    pub(crate) error: &'a std::io::Error,
}

impl InternalEvent for AcceptFailed<'_> {
    fn emit(self) {
        tracing::warn!(
            listener = self.listener,
            "cannot accept a connection: {}",
            self.error
        );
    }
}
