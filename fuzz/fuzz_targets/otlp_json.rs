//! OTLP/HTTP JSON bodies, as the receiver and `check` take them: the engine's OTLP/JSON reader, then the
//! same judging as the protobuf path.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    ironforge_fuzz::judge_json_request(bytes);
});
