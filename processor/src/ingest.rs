//! The seam between the receivers and the engine.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ironforge_engine::batch_bytes;
use ironforge_engine::plan::ReadPlan;
pub use ironforge_engine::{Overloaded, Reservation};

use crate::model::SpanRecord;
use ironforge_telemetry::{RequestOutcome, Transport};

/// Where receivers hand decoded spans. The engine implements it; receiver tests use a collecting sink.
pub trait SpanSink: Send + Sync + 'static {
    /// Accepts a batch of spans, all decoded and validated. Fails only when the processor is shedding load;
    /// the receiver then answers UNAVAILABLE (gRPC) or 503 (HTTP) with the retry delay. The receiver
    /// acknowledges the batch only once the returned [`Durable`] resolves. The request's reservation goes
    /// with the batch and is given back once its spans are evaluated.
    fn submit(
        &self,
        spans: Vec<SpanRecord>,
        reservation: Reservation,
    ) -> Result<Durable, Overloaded>;

    /// Reserves `bytes` of the process's memory budget for a request about to be read and decoded;
    /// refused, the receiver sheds the request as it does for [`submit`](Self::submit). A sink without
    /// a budget reserves nothing.
    fn reserve(&self, bytes: usize) -> Result<Reservation, Overloaded> {
        let _ = bytes;
        Ok(Reservation::none())
    }

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

/// Resolves once an accepted batch is durable as the write-ahead log's policy defines it; at once for a
/// sink that keeps no log. Awaited by the receivers, so no runtime thread blocks on a disk.
#[derive(Debug, Default)]
#[must_use = "a batch is acknowledged only once durable"]
pub struct Durable {
    waits: Vec<tokio::sync::oneshot::Receiver<Result<(), Overloaded>>>,
}

/// How long a client waits before retrying a batch the log could not write.
const RETRY_AFTER_LOG_FAILURE: Duration = Duration::from_secs(1);

impl Durable {
    /// Waits on `wait` too: each shard that took part of the batch answers for its part.
    pub fn and(&mut self, wait: tokio::sync::oneshot::Receiver<Result<(), Overloaded>>) {
        self.waits.push(wait);
    }

    /// Fails when a part could not be written (the client retries it; nothing was acknowledged) or its
    /// shard stopped before answering.
    pub async fn wait(self) -> Result<(), Overloaded> {
        for wait in self.waits {
            wait.await.unwrap_or(Err(Overloaded {
                retry_after: RETRY_AFTER_LOG_FAILURE,
            }))?;
        }
        Ok(())
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

/// Estimated bytes a decoded batch holds until evaluated: the records with what they hold on the heap, and
/// what the engine will keep of them.
pub fn decoded_bytes(spans: &[SpanRecord]) -> usize {
    spans.iter().map(SpanRecord::decoded_bytes).sum::<usize>() + batch_bytes(spans)
}

/// The read plan of every IRONFORGE convention attribute, for sinks that hold no contracts of their own.
pub fn default_plan() -> Arc<ReadPlan> {
    static PLAN: LazyLock<Arc<ReadPlan>> = LazyLock::new(|| Arc::new(ReadPlan::conventions()));
    Arc::clone(&PLAN)
}
