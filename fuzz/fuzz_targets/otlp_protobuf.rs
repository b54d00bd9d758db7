//! OTLP/gRPC and OTLP/HTTP protobuf bodies: wire decoder → trace assembly → evaluation.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    ironforge_fuzz::judge_request(bytes);
});
