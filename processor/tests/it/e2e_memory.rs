//! The memory-growth fault end to end. Resident memory is the whole process's, so this runs in a process of
//! its own: the growth cannot leak into the verdicts of other tests.

use crate::e2e_support::{TestProcessor, contract_ids, replay, trace_hex};
use crate::own_process::run_apart;
use ironforge_instrument::Protocol;
use ironforge_replay::{Faults, ReplayOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_past_100_mb_fails_the_run() {
    if !run_apart(module_path!(), "memory_growth_past_100_mb_fails_the_run") {
        return;
    }
    let processor = TestProcessor::start().await;
    let options = ReplayOptions {
        sessions_limit: Some(4),
        faults: Faults {
            memory_growth_mb: Some(160),
            ..Faults::default()
        },
        ..ReplayOptions::default()
    };
    let summary = replay(processor.grpc_endpoint(), Protocol::Grpc, options).await;
    let verdict = processor.verdict(&trace_hex(&summary)).await;
    let broken = contract_ids(&verdict.violations);
    assert!(broken.contains(&"run_memory_peak".to_owned()), "{broken:?}");
    assert!(
        broken.contains(&"span_memory_peak".to_owned()),
        "{broken:?}"
    );
    let peak = verdict
        .violations
        .iter()
        .find(|v| v.contract_id == "run_memory_peak")
        .unwrap();
    assert!(peak.observed >= 160.0 * 1024.0 * 1024.0, "{}", peak.message);
    assert!(!verdict.production_ready);
    processor.stop().await;
}
