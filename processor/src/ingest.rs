//! The seam between the receivers and the engine.

pub use ironforge_engine::Overloaded;

use crate::model::SpanRecord;
use crate::telemetry::{RequestOutcome, Transport};

/// Where receivers hand decoded spans. The engine implements it; receiver tests use a collecting sink.
pub trait SpanSink: Send + Sync + 'static {
    /// Accepts a batch of spans, all decoded and validated. Fails only when the processor is shedding load;
    /// the receiver then answers UNAVAILABLE (gRPC) or 503 (HTTP) with the retry delay.
    fn submit(&self, spans: Vec<SpanRecord>) -> Result<(), Overloaded>;

    /// Told once per answered request, whatever its outcome, for the processor's own metrics.
    fn record_request(&self, report: RequestReport) {
        let _ = report;
    }

    /// Told how many metric data points an accepted OTLP metrics request carried. The processor judges
    /// traces only; it acknowledges metrics so that a pipeline exporting both to it sees no failures.
    fn record_metric_points(&self, transport: Transport, points: u64) {
        let _ = (transport, points);
    }
}

/// How one OTLP request went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestReport {
    pub transport: Transport,
    pub outcome: RequestOutcome,
    /// Spans handed to the sink.
    pub accepted: u64,
    /// Spans refused (invalid ids, end before start); a request refused whole counts none here.
    pub rejected: u64,
    /// Time from receiving the request to answering it.
    pub seconds: f64,
}
