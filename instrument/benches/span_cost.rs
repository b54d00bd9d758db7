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

/// CPU time of the calling thread: unlike wall time, it leaves out the time the thread waits while
/// other processes hold the (shared, two-core) machine.
#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
        Ok(t) => Duration::from(t),
        Err(e) => panic!("thread CPU clock: {e}"),
    }
}

/// Elsewhere the CPU-time figures read zero; the wall-time ones stand.
#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Duration {
    Duration::ZERO
}

/// One round's cost per span of (b) and of (c): wall time and the caller's CPU time.
#[derive(Debug, Clone, Copy)]
struct Round {
    b_wall: Duration,
    c_wall: Duration,
    b_cpu: Duration,
    c_cpu: Duration,
}

/// The machine is shared, so its load drifts between criterion's runs of (b) and (c). Alternating
/// short rounds of both and taking the median of the per-round ratios cancels most of that drift.
/// The ratio is given over wall time and over the calling thread's CPU time; the latter is also
/// immune to the thread being descheduled, which is most of the noise on a loaded machine.
/// `SPAN_COST_ROUNDS` and `SPAN_COST_ITERS` (spans per variant and round) change the defaults of
/// 41 rounds of 20 000; more, shorter rounds spread a burst of load over both variants.
fn interleaved_ratio(plain: &Dispatch, ours: &Dispatch) {
    let env = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds_n = env("SPAN_COST_ROUNDS", 41) as usize;
    let iters = env("SPAN_COST_ITERS", 20_000);
    let time = |dispatch: &Dispatch, f: fn(Stage, &str)| {
        tracing::dispatcher::with_default(dispatch, || {
            let (wall, cpu) = (Instant::now(), thread_cpu());
            for _ in 0..iters {
                f(Stage::Discovery, black_box("NY_AM_2025-08-04"));
            }
            (wall.elapsed() / iters, (thread_cpu() - cpu) / iters)
        })
    };
    let rounds: Vec<Round> = (0..rounds_n)
        .map(|round| {
            let (b, c) = if round % 2 == 0 {
                let b = time(plain, session_with_set_attribute);
                (b, time(ours, session_with_helper))
            } else {
                let c = time(ours, session_with_helper);
                (time(plain, session_with_set_attribute), c)
            };
            Round {
                b_wall: b.0,
                c_wall: c.0,
                b_cpu: b.1,
                c_cpu: c.1,
            }
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ns = |pick: fn(&Round) -> Duration| {
        median(rounds.iter().map(|r| pick(r).as_secs_f64() * 1e9).collect())
    };
    let ratio = |num: fn(&Round) -> Duration, den: fn(&Round) -> Duration| {
        median(
            rounds
                .iter()
                .map(|r| num(r).as_secs_f64() / den(r).as_secs_f64())
                .collect(),
        )
    };
    println!(
        "interleaved ({rounds_n} rounds x {iters} spans), medians: wall (b) {:.0} ns, (c) {:.0} ns, per-round ratio (c)/(b) = {:.3}; thread CPU (b) {:.0} ns, (c) {:.0} ns, per-round ratio (c)/(b) = {:.3}",
        ns(|r| r.b_wall),
        ns(|r| r.c_wall),
        ratio(|r| r.c_wall, |r| r.b_wall),
        ns(|r| r.b_cpu),
        ns(|r| r.c_cpu),
        ratio(|r| r.c_cpu, |r| r.b_cpu),
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
        let mut ran = false;
        group.bench_function("record_memory", |b| {
            ran = true;
            b.iter(record_memory)
        });
        if ran {
            while_growing();
        }
    });
    group.finish();
}

/// `record_memory` in a process that is growing to a new peak, its least favourable case: each
/// call follows a page fault, so where the peak comes from `VmHWM` it must be read again every
/// time. Each step touches one new page of a fresh region and then times the call alone (page
/// faults on this virtual machine cost several microseconds and vary too much to subtract); the
/// two clock reads add about 40 ns to the figure.
fn while_growing() {
    const PAGES: usize = 16_384;
    const PAGE: usize = 4096;
    let mut region: Vec<u8> = Vec::with_capacity(PAGES * PAGE);
    let mut calls = Duration::ZERO;
    for page in region.spare_capacity_mut().chunks_mut(PAGE) {
        if let Some(byte) = page.first_mut() {
            byte.write(1);
        }
        let start = Instant::now();
        record_memory();
        calls += start.elapsed();
    }
    println!(
        "memory/record_memory while growing: {:?} per call (mean of {PAGES}, each after a new page fault)",
        calls / PAGES as u32
    );
    drop(region);
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
