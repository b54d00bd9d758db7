//! How long a connection may take over each step, and how much it may ask for at once.

use std::time::Duration;

/// Time and concurrency limits every listener applies to its connections, so a client that stalls or floods
/// holds a bounded share of the processor for a bounded time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
    /// An HTTP/1 request's headers must arrive within this, from its first byte.
    pub header_read_timeout: Duration,
    /// A request must be read and answered within this: a body that trickles in is cut off here. gRPC
    /// answers DEADLINE_EXCEEDED, HTTP 408. A streaming call's stream is not bounded by it.
    pub request_timeout: Duration,
    /// A connection whose reads wait this long for a byte is closed; HTTP/2 pings keep long streams alive.
    pub idle_timeout: Duration,
    /// Requests in flight on one HTTP/2 connection (streams); more wait for one to finish.
    pub max_concurrent_streams: u32,
    /// How often an HTTP/2 connection is pinged; one whose peer does not answer within the same interval is
    /// closed.
    pub http2_keepalive_interval: Duration,
}

impl ConnectionLimits {
    /// 10 s: far longer than a TLS handshake takes over any network the processor serves.
    pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// 10 s for headers of a few hundred bytes.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// 30 s: OTLP exporters give up on a request after 10 s by default, so a request still open after 30 s
    /// has no client waiting for it.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// 120 s: above the request timeout and the keep-alive interval, so only a silent connection reaches it.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
    /// 100, the HTTP/2 specification's recommended minimum.
    pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
    /// 30 s.
    pub const DEFAULT_HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Self::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_concurrent_streams: Self::DEFAULT_MAX_CONCURRENT_STREAMS,
            http2_keepalive_interval: Self::DEFAULT_HTTP2_KEEPALIVE_INTERVAL,
        }
    }
}
