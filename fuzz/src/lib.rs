//! What the fuzz targets share: the engine as the processor runs it, on the embedded default contracts.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ironforge_engine::config::ContractFile;
use ironforge_engine::decode::{Decoded, decode_json_request, decode_request};
use ironforge_engine::{ContractSet, Engine, Now};

static CONTRACTS: LazyLock<Option<Arc<ContractSet>>> = LazyLock::new(|| {
    ContractFile::embedded_default()
        .ok()
        .map(|file| Arc::new(ContractSet::new(file, None)))
});

/// The processor's path for one OTLP protobuf request: decode with the contracts' read plan, admit and
/// ingest, then let time pass so every trace completes or times out and is decided.
pub fn judge_request(bytes: &[u8]) {
    let Some(contracts) = CONTRACTS.as_ref() else {
        return;
    };
    if let Ok(decoded) = decode_request(bytes, contracts.plan()) {
        judge(contracts, decoded);
    }
}

/// The same for one OTLP/JSON request, read as the OTLP/HTTP receiver and `check` read it.
pub fn judge_json_request(bytes: &[u8]) {
    let Some(contracts) = CONTRACTS.as_ref() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(decoded) = decode_json_request(text, contracts.plan()) {
        judge(contracts, decoded);
    }
}

fn judge(contracts: &Arc<ContractSet>, decoded: Decoded) {
    let mut engine = Engine::new(Arc::clone(contracts));
    let start = Now::system();
    // A refused batch is a valid outcome (over the in-flight bounds); it must not panic either.
    let _ = engine.ingest(decoded.spans, start);
    let later = |by: Duration| Now {
        instant: start.instant + by,
        unix_nano: start
            .unix_nano
            .saturating_add(u64::try_from(by.as_nanos()).unwrap_or(u64::MAX)),
    };
    let _ = engine.tick(later(Duration::from_secs(10)));
    let _ = engine.finish_all(later(Duration::from_secs(3600)));
}
