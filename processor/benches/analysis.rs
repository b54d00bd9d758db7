//! What analysing a decided run costs, off the receive path: the analysis of one IRONFORGE-shaped trace
//! (run, init, 4 stages, 57 sessions each: 234 spans), and the analysis thread's whole work per run
//! (analysis, a row in the SQLite history on disk, change points over the last 200 runs of each measure,
//! the memory trend across runs).
//!
//! Run with `cargo bench -p ironforge-processor --bench analysis`.

// A bench that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ironforge_analysis::{AnalysisOptions, Budgets, analyse, analyse_unplanned};
use ironforge_engine::config::ContractFile;
use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::{ContractSet, DecidedTrace, Now, decide_batch};
use ironforge_processor::analysis::{AnalysisConfig, Analyst};
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_telemetry::Metrics;

const SESSIONS: u64 = 57;
const MS: u64 = 1_000_000;

fn contracts() -> Arc<ContractSet> {
    Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        None,
    ))
}

/// Run `number` as the replay shapes it: sessions one after another in each stage, 1 to 9 ms each.
fn run(number: u64) -> DecidedTrace {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&(number + 1).to_be_bytes());
    let trace_id = TraceId(id);
    let start = 1_800_000_000_000 * MS + number * 60_000 * MS;
    let span =
        |id: u64, parent: Option<u64>, kind: SpanKind, stage: Option<Stage>, from: u64, to: u64| {
            let mut span = SpanRecord::new(trace_id, SpanId(id.to_be_bytes()), kind.as_str());
            span.parent_span_id = parent.map(|p| SpanId(p.to_be_bytes()));
            span.kind = Some(kind);
            span.stage = stage;
            span.service_name = Some(Arc::from("ironforge"));
            span.start_unix_nano = start + from;
            span.end_unix_nano = start + to;
            span.facts
                .set(attr::PROCESS_MEMORY_USAGE, 30e6 + (to / MS) as f64 * 1e3);
            span
        };
    let mut spans = vec![span(2, Some(1), SpanKind::Init, None, 0, 5 * MS)];
    let mut at = 5 * MS;
    let mut next_id = 3;
    for stage in Stage::ALL {
        let (stage_id, stage_start) = (next_id, at);
        next_id += 1;
        for _ in 0..SESSIONS {
            let took = (1 + (next_id * 7 + number) % 9) * MS;
            spans.push(span(
                next_id,
                Some(stage_id),
                SpanKind::Session,
                Some(*stage),
                at,
                at + took,
            ));
            next_id += 1;
            at += took;
        }
        spans.push(span(
            stage_id,
            Some(1),
            SpanKind::Stage,
            Some(*stage),
            stage_start,
            at,
        ));
    }
    spans.push(span(1, None, SpanKind::Run, None, 0, at));
    for (index, session) in spans
        .iter_mut()
        .filter(|s| s.kind == Some(SpanKind::Session))
        .enumerate()
    {
        session.session_id = Some(Arc::from(
            format!("SESSION_{:02}", index as u64 % SESSIONS).as_str(),
        ));
    }
    let now = Now {
        instant: Instant::now(),
        unix_nano: start + at + 1000 * MS,
    };
    let decided = decide_batch(contracts(), spans, now).pop().unwrap();
    assert_eq!(decided.spans.len(), 234);
    decided
}

fn analysis(c: &mut Criterion) {
    let trace = run(0);
    let budgets = Budgets::from_contracts(&contracts());
    let options = AnalysisOptions::default();
    c.bench_function("analyse one 234-span run", |b| {
        b.iter(|| black_box(analyse(black_box(&trace), &budgets, &options)))
    });
    // What the analysis thread does for every run; the plan waits for a reader.
    c.bench_function("analyse one 234-span run, unplanned", |b| {
        b.iter(|| black_box(analyse_unplanned(black_box(&trace), &options)))
    });
    // What the history stores of every run (compressed after), and the API serves.
    let analysed = analyse(&trace, &budgets, &options).unwrap();
    c.bench_function("one run's analysis as JSON", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&analysed)).unwrap()))
    });

    // The analysis thread with a history of 200 runs already on disk, as a pipeline that has run for a while.
    let dir = std::env::temp_dir().join(format!("ironforge-bench-analysis-{}", std::process::id()));
    let analyst = Analyst::start(
        AnalysisConfig::default(),
        &dir,
        contracts(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    for number in 0..200 {
        analyst.submit(Box::new(run(number)));
        analyst.flush();
    }
    let mut number = 200;
    c.bench_function(
        "analysis thread, per run (history of 200 runs on disk)",
        |b| {
            b.iter_custom(|iterations| {
                let traces: Vec<DecidedTrace> = (0..iterations).map(|i| run(number + i)).collect();
                number += iterations;
                let started = Instant::now();
                for trace in traces {
                    analyst.submit(Box::new(trace));
                    // One at a time: the queue holds 1024, and the cost of each run is what is measured.
                    analyst.flush();
                }
                started.elapsed()
            })
        },
    );
    drop(analyst);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    targets = analysis
}
criterion_main!(benches);
