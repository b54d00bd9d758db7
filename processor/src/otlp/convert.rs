//! OTLP trace requests → [`SpanRecord`](crate::model::SpanRecord)s: the engine's wire decoder, and the
//! answer it implies.
//!
//! Protobuf bodies are read in place by [`ironforge_engine::decode`], which keeps only what the contracts
//! read, and OTLP/JSON bodies by its OTLP/JSON reader, which hands the same spans to the same visitor. A
//! request that arrives as a message (the `Evaluate` API) is encoded first, so every transport reads a
//! span the same way.

#[cfg(test)]
mod tests;

use ironforge_engine::plan::ReadPlan;
use ironforge_engine::wire::WireError;
use ironforge_proto::otlp::trace_service::{ExportTracePartialSuccess, ExportTraceServiceRequest};
use prost::Message;

pub use ironforge_engine::decode::{Decoded, MAX_ERROR_MESSAGES, decode_request};

/// The OTLP `partial_success` to answer with: `None` when every span was accepted.
pub fn partial_success(decoded: &Decoded) -> Option<ExportTracePartialSuccess> {
    (decoded.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(decoded.rejected).unwrap_or(i64::MAX),
        error_message: decoded.error_message(),
    })
}

/// Decodes a request already parsed into a message.
pub fn convert_request(
    request: &ExportTraceServiceRequest,
    plan: &ReadPlan,
) -> Result<Decoded, WireError> {
    decode_request(&request.encode_to_vec(), plan)
}
