//! What both transports do with a trace request's body, and how they report it.

use std::time::Instant;

use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;

use ironforge_engine::decode::decode_json_request;

use super::convert::{decode_request, partial_success};
use super::refusal::Refusal;
use crate::ingest::{RequestReport, Reservation, SpanSink, decoded_bytes};
use ironforge_telemetry::{RequestOutcome, Transport};

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

/// A trace request's body, in either encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    Protobuf(&'a [u8]),
    Json(&'a str),
}

/// Decodes the request with the sink's read plan and hands its valid spans to the sink, answering once they
/// are durable. The response names
/// the refused spans in its partial success; the whole request is refused when it is not a valid request
/// or the sink sheds load. `reservation` holds the body's bytes; it grows by the decoded batch's and goes
/// with the batch (refused when the budget cannot take it).
pub(crate) async fn accept(
    sink: &dyn SpanSink,
    body: Body<'_>,
    mut reservation: Reservation,
) -> Result<(ExportTraceServiceResponse, SpanCounts), Refusal> {
    let plan = sink.read_plan();
    let decoded = match body {
        Body::Protobuf(bytes) => decode_request(bytes, &plan)
            .map_err(|error| Refusal::Undecodable(format!("invalid protobuf body: {error}"))),
        Body::Json(text) => decode_json_request(text, &plan)
            .map_err(|error| Refusal::Undecodable(format!("invalid OTLP/JSON body: {error}"))),
    }?;
    let counts = SpanCounts {
        accepted: decoded.spans.len() as u64,
        rejected: decoded.rejected,
    };
    let partial_success = partial_success(&decoded);
    if !decoded.spans.is_empty() {
        reservation
            .grow(decoded_bytes(&decoded.spans))
            .map_err(Refusal::Overloaded)?;
        let durable = sink
            .submit(decoded.spans, reservation)
            .map_err(Refusal::Overloaded)?;
        durable.wait().await.map_err(Refusal::Overloaded)?;
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
