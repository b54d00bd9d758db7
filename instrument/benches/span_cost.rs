//! Cost on the caller's thread of one instrumented session span, side by side:
//! (a) no subscriber, (b) a registry with the plain tracing-opentelemetry layer over an SDK tracer,
//! (c) a registry with this crate's layer. (b) and (c) run the same span with the same fields and
//! set the same authenticity attribute — (b) directly with `set_attribute`, (c) through
//! `record_authenticity`, which also records the histogram — and both export through a batch span
//! processor to an exporter that discards. Also: the cost of `record_memory`.

// A benchmark that cannot set up has nothing to measure: it stops loudly.
#![allow(clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ironforge_instrument::semconv::{Stage, attr};
use ironforge_instrument::{Config, Instrumentation, Sampling, process_memory, record_memory};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

impl PushMetricExporter for Discard {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        black_box(metrics);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "session",
    ironforge.stage = %stage,
    ironforge.session.id = %id,
))]
fn session_with_helper(stage: Stage, id: &str) {
    ironforge_instrument::record_authenticity(black_box(0.91));
}

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "session",
    ironforge.stage = %stage,
    ironforge.session.id = %id,
))]
fn session_with_set_attribute(stage: Stage, id: &str) {
    tracing::Span::current().set_attribute(attr::PATTERN_AUTHENTICITY, black_box(0.91));
}

fn instrumentation() -> Instrumentation {
    let config = Config::builder()
        .sampling(Sampling::Always)
        .metrics_interval(Duration::from_secs(3600))
        .build();
    match Instrumentation::with_exporters(config, Discard, Discard) {
        Ok(i) => i,
        Err(e) => panic!("instrumentation: {e}"),
    }
}

fn plain_dispatch() -> (Dispatch, SdkTracerProvider) {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(Discard).build())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    (Dispatch::new(subscriber), provider)
}

fn span_cost(c: &mut Criterion) {
    let (plain, provider) = plain_dispatch();
    let inst = instrumentation();
    let ours = Dispatch::new(tracing_subscriber::registry().with(inst.layer()));

    let mut group = c.benchmark_group("instrumented_span");
    group.bench_function("a_no_subscriber", |b| {
        b.iter(|| session_with_helper(Stage::Discovery, black_box("NY_AM_2025-08-04")))
    });
    tracing::dispatcher::with_default(&plain, || {
        group.bench_function("b_tracing_opentelemetry", |b| {
            b.iter(|| session_with_set_attribute(Stage::Discovery, black_box("NY_AM_2025-08-04")))
        });
    });
    tracing::dispatcher::with_default(&ours, || {
        group.bench_function("c_ironforge_instrument", |b| {
            b.iter(|| session_with_helper(Stage::Discovery, black_box("NY_AM_2025-08-04")))
        });
    });
    group.finish();

    interleaved_ratio(&plain, &ours);
    println!(
        "self-measured overhead of (c) so far: {:?}",
        inst.overhead()
    );
    let _ = provider.shutdown();
}

/// The machine is shared, so its load drifts between criterion's runs of (b) and (c). Alternating
/// short rounds of both and taking the median of the per-round ratios cancels most of that drift.
fn interleaved_ratio(plain: &Dispatch, ours: &Dispatch) {
    const ROUNDS: usize = 41;
    const ITERS: u32 = 20_000;
    let time = |dispatch: &Dispatch, f: fn(Stage, &str)| {
        tracing::dispatcher::with_default(dispatch, || {
            let start = Instant::now();
            for _ in 0..ITERS {
                f(Stage::Discovery, black_box("NY_AM_2025-08-04"));
            }
            start.elapsed() / ITERS
        })
    };
    let mut rounds: Vec<(Duration, Duration)> = (0..ROUNDS)
        .map(|round| {
            if round % 2 == 0 {
                let b = time(plain, session_with_set_attribute);
                (b, time(ours, session_with_helper))
            } else {
                let c = time(ours, session_with_helper);
                (time(plain, session_with_set_attribute), c)
            }
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(
        rounds
            .iter()
            .map(|(b, c)| c.as_secs_f64() / b.as_secs_f64())
            .collect(),
    );
    rounds.sort_by_key(|(b, _)| *b);
    let b = rounds[ROUNDS / 2].0;
    rounds.sort_by_key(|(_, c)| *c);
    let c = rounds[ROUNDS / 2].1;
    println!(
        "interleaved ({ROUNDS} rounds x {ITERS} spans): median (b) {b:?}, median (c) {c:?}, median per-round ratio (c)/(b) = {ratio:.3}"
    );
}

fn memory_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    group.bench_function("process_memory", |b| b.iter(|| black_box(process_memory())));

    let inst = instrumentation();
    let ours = tracing_subscriber::registry().with(inst.layer());
    tracing::subscriber::with_default(ours, || {
        let span = tracing::info_span!("session", ironforge.span.kind = "session");
        let _entered = span.enter();
        // Attributes accumulate on the one span; the SDK caps them at 128 and drops the rest,
        // which keeps the measurement on the steady-state path.
        group.bench_function("record_memory", |b| b.iter(record_memory));
    });
    group.finish();
}

fn short() -> Criterion {
    // The machine is shared: short runs, enough samples for stable medians.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = short();
    targets = span_cost, memory_cost
}
criterion_main!(benches);
