//! With nothing listening at the endpoint, the pipeline still completes and the failed exports are counted.

// Helpers outside `#[test]` functions may fail loudly too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use ironforge_instrument::{Config, Protocol, Sampling};
use ironforge_replay::{ReplayOptions, run};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn the_run_completes_and_counts_export_failures() {
    let config = Config::builder()
        .service_name("ironforge-replay-test")
        .endpoint(support::dead_endpoint())
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
