//! OTLP/HTTP JSON bodies, as the receiver takes them: parsed into the OTLP types, re-encoded, then the
//! protobuf path.
#![no_main]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(bytes) {
        ironforge_fuzz::judge_request(&request.encode_to_vec());
    }
});
