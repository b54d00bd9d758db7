//! Resident memory the instrumentation adds to a process: RSS before `init`, after it, while a
//! replay-sized workload of instrumented spans runs, and after the last export. Exports go over
//! OTLP/gRPC to a sink on 127.0.0.1 in this process that counts spans and keeps nothing, so its
//! own footprint is in the baseline and does not grow.
//!
//! Run with `cargo bench -p ironforge-instrument --bench footprint`.

// A measurement that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Duration;

use ironforge_instrument::semconv::{EdgeIntent, EventType, Stage};
use ironforge_instrument::{Config, GraphFacts, ProcessMemory, init, process_memory};
use support::GrpcSink;
use tracing_subscriber::layer::SubscriberExt;

const RUNS: usize = 20;
const SESSIONS: usize = 57;
/// Pause between runs (milliseconds, `FOOTPRINT_PAUSE_MS`, default 100) so the batch processor
/// drains as it would between a real pipeline's runs; 0 replays the runs back to back.
fn pause() -> Duration {
    let ms = std::env::var("FOOTPRINT_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    Duration::from_millis(ms)
}

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "session",
    ironforge.stage = %stage,
    ironforge.session.id = %id,
))]
fn session(stage: Stage, id: &str, facts: &GraphFacts) {
    ironforge_instrument::record_graph(facts);
    ironforge_instrument::record_authenticity(0.91);
    ironforge_instrument::record_memory();
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "stage", ironforge.stage = %stage))]
fn stage(stage: Stage, facts: &GraphFacts) {
    for i in 0..SESSIONS {
        session(stage, &format!("NY_AM_2025-08-{i:02}"), facts);
    }
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "run", ironforge.run.session_count = SESSIONS as i64))]
fn run(facts: &GraphFacts) {
    for s in Stage::ALL {
        stage(*s, facts);
    }
    ironforge_instrument::record_memory();
    ironforge_instrument::record_overhead();
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn delta(from: ProcessMemory, to: ProcessMemory) -> f64 {
    mib(to.current) - mib(from.current)
}

fn main() {
    // Criterion passes its own flags to every bench target; this one takes none.
    let facts = GraphFacts {
        event_types: EventType::ALL
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        edge_intents: EdgeIntent::ALL
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        node_feature_dim: 51,
        edge_feature_dim: 20,
        cross_session_edges: 0,
        htf_open_candle_reads: 0,
    };
    let sink = GrpcSink::start_discarding();
    std::thread::sleep(Duration::from_millis(100));
    let Some(baseline) = process_memory() else {
        println!("footprint: no memory readings on this platform");
        return;
    };

    let instrumentation = init(
        Config::builder()
            .service_name("footprint")
            .endpoint(sink.endpoint())
            .metrics_interval(Duration::from_secs(1))
            .build(),
    )
    .unwrap();
    let after_init = process_memory().unwrap();

    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    let mut during = after_init;
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..RUNS {
            run(&facts);
            std::thread::sleep(pause());
            let now = process_memory().unwrap();
            if now.current > during.current {
                during = now;
            }
        }
    });
    let after_spans = process_memory().unwrap();
    instrumentation.force_flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let after_flush = process_memory().unwrap();
    let overhead = instrumentation.overhead();
    let failures = instrumentation.export_failures();
    instrumentation.shutdown().unwrap();
    let spans = sink.spans_received();

    let expected = RUNS * (1 + Stage::ALL.len() * (1 + SESSIONS));
    println!(
        "footprint: {RUNS} runs x {SESSIONS} sessions x 4 stages = {expected} spans ({:?} between runs), {spans} received, {failures} failed exports",
        pause()
    );
    println!(
        "  baseline (sink running)        {:>8.1} MiB",
        mib(baseline.current)
    );
    println!(
        "  after init                     {:>+8.1} MiB",
        delta(baseline, after_init)
    );
    println!(
        "  highest between runs           {:>+8.1} MiB",
        delta(baseline, during)
    );
    println!(
        "  after the spans                {:>+8.1} MiB",
        delta(baseline, after_spans)
    );
    println!(
        "  after the last export          {:>+8.1} MiB",
        delta(baseline, after_flush)
    );
    println!(
        "  process peak (VmHWM)           {:>8.1} MiB",
        mib(after_flush.peak)
    );
    println!(
        "  self-measured overhead: {:?} over {} operations ({:?} each)",
        overhead.total,
        overhead.operations,
        overhead.per_operation().unwrap_or_default()
    );
}
