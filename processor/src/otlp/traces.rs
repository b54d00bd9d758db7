//! What both transports do with a decoded trace request, and how they report it.

use std::time::Instant;

use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};

use super::convert::convert_request;
use crate::ingest::{Overloaded, RequestReport, SpanSink};
use crate::telemetry::{RequestOutcome, Transport};

/// What became of the spans of a trace request answered with success.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanCounts {
    pub accepted: u64,
    pub rejected: u64,
}

impl SpanCounts {
    fn outcome(self) -> RequestOutcome {
        if self.rejected > 0 {
            RequestOutcome::PartialSuccess
        } else {
            RequestOutcome::Ok
        }
    }
}

/// Converts the request and hands its valid spans to the sink. The response names the refused spans in its
/// partial success; the whole request is refused only when the sink sheds load.
pub(crate) fn accept(
    sink: &dyn SpanSink,
    request: ExportTraceServiceRequest,
) -> Result<(ExportTraceServiceResponse, SpanCounts), Overloaded> {
    let decoded = convert_request(request);
    let counts = SpanCounts {
        accepted: decoded.spans.len() as u64,
        rejected: decoded.rejected,
    };
    let partial_success = decoded.partial_success();
    if !decoded.spans.is_empty() {
        sink.submit(decoded.spans)?;
    }
    Ok((ExportTraceServiceResponse { partial_success }, counts))
}

/// Tells the sink how one trace request was answered: with success and these counts, or refused whole with
/// this outcome, in which case its spans count as neither accepted nor rejected.
pub(crate) fn report(
    sink: &dyn SpanSink,
    transport: Transport,
    answered: Result<SpanCounts, RequestOutcome>,
    arrived: Instant,
) {
    let (outcome, counts) = match answered {
        Ok(counts) => (counts.outcome(), counts),
        Err(outcome) => (outcome, SpanCounts::default()),
    };
    sink.record_request(RequestReport {
        transport,
        outcome,
        accepted: counts.accepted,
        rejected: counts.rejected,
        seconds: arrived.elapsed().as_secs_f64(),
    });
}
