//! The memory-growth fault end to end. Resident memory is the whole process's, so this runs in a test binary
//! of its own: the growth cannot leak into the verdicts of other tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e_support;

use e2e_support::{TestProcessor, contract_ids};
use ironforge_instrument::{Config, Protocol, Sampling};
use ironforge_replay::{Faults, ReplayOptions};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_past_100_mb_fails_the_run() {
    let processor = TestProcessor::start().await;
    let endpoint = processor.grpc_endpoint();
    let summary = tokio::task::spawn_blocking(move || {
        let config = Config::builder()
            .endpoint(endpoint)
            .protocol(Protocol::Grpc)
            .sampling(Sampling::Always)
            .build();
        let instrumentation = ironforge_instrument::init(config).unwrap();
        let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
        let options = ReplayOptions {
            sessions_limit: Some(4),
            faults: Faults {
                memory_growth_mb: Some(160),
                ..Faults::default()
            },
            ..ReplayOptions::default()
        };
        let summary =
            tracing::subscriber::with_default(subscriber, || ironforge_replay::run(&options))
                .unwrap();
        instrumentation.shutdown().unwrap();
        summary
    })
    .await
    .unwrap();
    let verdict = processor.verdict(&summary.trace_id.unwrap()).await;
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
