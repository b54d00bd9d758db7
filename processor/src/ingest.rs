//! The seam between the receivers and the engine.

use std::sync::{Arc, LazyLock};

pub use ironforge_engine::Overloaded;
use ironforge_engine::plan::ReadPlan;

use crate::model::SpanRecord;
use crate::telemetry::{RequestOutcome, Transport};

/// Where receivers hand decoded spans. The engine implements it; receiver tests use a collecting sink.
pub trait SpanSink: Send + Sync + 'static {
    /// Accepts a batch of spans, all decoded and validated. Fails only when the processor is shedding load;
    /// the receiver then answers UNAVAILABLE (gRPC) or 503 (HTTP) with the retry delay.
    fn submit(&self, spans: Vec<SpanRecord>) -> Result<(), Overloaded>;

    /// The attributes the contracts in force read: receivers decode those and skip the rest.
    fn read_plan(&self) -> Arc<ReadPlan> {
        default_plan()
    }

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

/// The read plan of every IRONFORGE convention attribute, for sinks that hold no contracts of their own.
pub fn default_plan() -> Arc<ReadPlan> {
    static PLAN: LazyLock<Arc<ReadPlan>> = LazyLock::new(|| Arc::new(ReadPlan::conventions()));
    Arc::clone(&PLAN)
}
