//! With nothing listening at the endpoint, the pipeline still completes and the failed exports are counted.
//!
//! It records the run's spans through a subscriber of its own, and tracing caches each callsite's interest
//! per process: a test of this binary running the pipeline without a subscriber at the same moment could
//! leave spans of this run unrecorded. It runs in a process of its own.

use std::time::{Duration, Instant};

use crate::own_process::run_apart;
use ironforge_instrument::{Config, Protocol, Sampling};
use ironforge_replay::{ReplayOptions, run};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn the_run_completes_and_counts_export_failures() {
    if !run_apart(
        module_path!(),
        "the_run_completes_and_counts_export_failures",
    ) {
        return;
    }
    let config = Config::builder()
        .service_name("ironforge-replay-test")
        .endpoint(crate::support::dead_endpoint())
        .protocol(Protocol::Grpc)
        .sampling(Sampling::Always)
        .timeout(Duration::from_secs(1))
        .build();
    let instrumentation =
        ironforge_instrument::init(config).expect("init does not need the endpoint");
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    let started = Instant::now();
    let summary = tracing::subscriber::with_default(subscriber, || run(&ReplayOptions::default()))
        .expect("run");
    let run_time = started.elapsed();

    assert_eq!(summary.sessions_given(), 57);
    assert_eq!(summary.sessions_parsed(), 57);
    assert!(summary.trace_id.is_some());
    assert!(
        run_time < Duration::from_secs(30),
        "a dead endpoint does not stall the pipeline: {run_time:?}"
    );

    // Whatever the flush reports, the failed attempts must show in the count.
    let _ = instrumentation.force_flush();
    let failures = instrumentation.export_failures();
    assert!(failures > 0, "export failures are counted");
    let _ = instrumentation.shutdown();
}
