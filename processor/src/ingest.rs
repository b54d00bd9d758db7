//! The seam between the receivers and the engine.

use std::time::Duration;

use crate::model::SpanRecord;

/// Where receivers hand decoded spans. The engine implements it; receiver tests use a collecting sink.
pub trait SpanSink: Send + Sync + 'static {
    /// Accepts a batch of spans, all decoded and validated. Fails only when the processor is shedding load;
    /// the receiver then answers UNAVAILABLE (gRPC) or 503 (HTTP) with the retry delay.
    fn submit(&self, spans: Vec<SpanRecord>) -> Result<(), Overloaded>;
}

/// The processor is over its in-flight bounds; the client should retry after the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("processor overloaded; retry after {retry_after:?}")]
pub struct Overloaded {
    pub retry_after: Duration,
}
