//! Admission that cannot be starved: over its trace or memory limit the engine decides the traces idle the
//! longest `incomplete` (evicted) rather than refusing new ones, and refuses only a batch that alone would
//! not fit.

use std::time::{Duration, Instant};

use ironforge_engine::model::{SpanRecord, TraceId};
use ironforge_engine::verdict::{TraceVerdict, VerdictStatus};
use ironforge_engine::{EVICTED, Engine, EngineEvent};
use ironforge_proto::semconv::{SpanKind, attr};

use crate::support::{SECOND, at, contracts, span, verdicts};

const SESSION_DURATION: &str = "  - id: session_duration\n    category: timing\n    scope: { kind: session }\n    measure: duration\n    comparison: lt\n    threshold: 5\n    severity: critical\n";

fn engine(limits: &str) -> Engine {
    Engine::new(contracts(
        "",
        &format!("limits: {{ {limits} }}\n"),
        SESSION_DURATION,
    ))
}

/// Forty spans of a trace whose root never arrives.
fn rootless_batch(trace: u8) -> Vec<SpanRecord> {
    (2..42).map(|id| rootless(trace, id)).collect()
}

/// A span of a trace whose root never arrives.
fn rootless(trace: u8, id: u8) -> SpanRecord {
    span(trace, id, Some(1), Some(SpanKind::Session))
}

fn evicted(events: &[EngineEvent]) -> Vec<TraceId> {
    verdicts(events)
        .into_iter()
        .filter(|verdict| verdict.evicted)
        .map(|verdict| verdict.trace_id)
        .collect()
}

fn assert_evicted(verdict: &TraceVerdict) {
    assert!(verdict.evicted, "{verdict:?}");
    assert_eq!(verdict.status, VerdictStatus::Incomplete);
    assert!(!verdict.production_ready);
    let reason = verdict.incomplete_reason.as_deref().unwrap();
    assert!(reason.starts_with(EVICTED), "{reason}");
}

#[test]
fn at_the_trace_bound_the_trace_idle_longest_is_evicted_first() {
    let start = Instant::now();
    let mut engine = engine("max_traces_in_flight: 3");
    for (second, trace) in [(0, 1), (1, 2), (2, 3)] {
        let events = engine
            .ingest(vec![rootless(trace, 2)], at(start, second))
            .unwrap();
        assert!(events.is_empty());
    }
    // Trace 1 is fed again: trace 2 is now the one idle the longest.
    engine.ingest(vec![rootless(1, 3)], at(start, 3)).unwrap();
    let events = engine.ingest(vec![rootless(4, 2)], at(start, 4)).unwrap();
    assert_eq!(evicted(&events), [TraceId([2; 16])]);
    assert_evicted(verdicts(&events)[0]);
    let events = engine.ingest(vec![rootless(5, 2)], at(start, 5)).unwrap();
    assert_eq!(evicted(&events), [TraceId([3; 16])]);
    assert_eq!(engine.traces_in_flight(), 3);
    assert_eq!(engine.stats().traces_evicted, 2);
    assert_eq!(engine.stats().batches_refused, 0);
    assert_evicted(engine.verdict(&TraceId([2; 16])).unwrap());
}

#[test]
fn a_flood_of_rootless_traces_does_not_starve_a_real_run() {
    let start = Instant::now();
    let mut engine = engine("max_traces_in_flight: 100");
    for trace in 0..250u8 {
        let flood: Vec<SpanRecord> = (2..7).map(|id| rootless(trace, id)).collect();
        engine.ingest(flood, at(start, 0)).unwrap();
    }
    assert!(engine.traces_in_flight() <= 100);
    let mut run = span(255, 1, None, Some(SpanKind::Run));
    run.facts.set(attr::MEMORY_PEAK, 1e6);
    let mut events = engine
        .ingest(vec![rootless(255, 2), run], at(start, 1))
        .unwrap();
    events.extend(engine.tick(at(start, 3)));
    let real = engine.verdict(&TraceId([255; 16])).unwrap();
    assert!(!real.evicted);
    assert_eq!(real.status, VerdictStatus::Pass, "{real:?}");
    assert_eq!(engine.stats().batches_refused, 0);
    assert!(engine.stats().traces_evicted >= 150);
}

#[test]
fn over_the_memory_budget_the_trace_idle_longest_is_evicted() {
    let start = Instant::now();
    // The engine keeps to half the budget: 7,500 bytes.
    let mut engine = engine("max_memory_bytes: 15000");
    let batch = |trace: u8| -> Vec<SpanRecord> { (2..120).map(|id| rootless(trace, id)).collect() };
    engine.ingest(batch(12), at(start, 0)).unwrap();
    let events = engine.ingest(batch(13), at(start, 1)).unwrap();
    assert_eq!(evicted(&events), [TraceId([12; 16])]);
    assert_evicted(verdicts(&events)[0]);
    assert!(
        engine.capacity().bytes() <= 7_500,
        "{}",
        engine.capacity().bytes()
    );
    assert_eq!(engine.traces_in_flight(), 1);
}

#[test]
fn under_memory_pressure_kept_verdicts_are_forgotten_before_traces_are_evicted() {
    let start = Instant::now();
    // Three decided runs whose verdicts hold a violation per slow session, then two traces in flight.
    let fill = |engine: &mut Engine| {
        for trace in 1..=3u8 {
            let mut spans: Vec<SpanRecord> = (2..32)
                .map(|id| {
                    let mut slow = rootless(trace, id);
                    slow.end_unix_nano += 9 * SECOND;
                    slow
                })
                .collect();
            spans.push(span(trace, 1, None, Some(SpanKind::Run)));
            engine.ingest(spans, at(start, 0)).unwrap();
            engine.tick(at(start, 2));
        }
        let verdicts = engine.capacity().bytes();
        engine.ingest(rootless_batch(20), at(start, 3)).unwrap();
        (verdicts, engine.capacity().bytes() - verdicts)
    };
    let (verdicts, trace) = fill(&mut engine("max_memory_bytes: 100000000"));
    assert!(
        verdicts > trace,
        "{verdicts} bytes of verdicts, {trace} of a trace"
    );
    // A budget the second trace goes over by half a trace: forgetting verdicts makes room.
    let mut engine = engine(&format!("max_memory_bytes: {}", verdicts + trace * 3 / 2));
    fill(&mut engine);
    let events = engine.ingest(rootless_batch(21), at(start, 4)).unwrap();
    assert!(engine.stats().verdicts_forgotten >= 1);
    assert!(
        engine.verdict(&TraceId([1; 16])).is_none(),
        "the oldest verdict goes first"
    );
    assert!(engine.verdict(&TraceId([3; 16])).is_some());
    assert!(
        evicted(&events).is_empty(),
        "no trace in flight was evicted"
    );
    assert_eq!(engine.traces_in_flight(), 2);
}

#[test]
fn a_batch_that_alone_exceeds_the_budget_is_refused_whole() {
    let start = Instant::now();
    let mut engine = engine("max_memory_bytes: 10000, max_traces_in_flight: 4");
    engine.ingest(vec![rootless(1, 2)], at(start, 0)).unwrap();
    let held = engine.capacity().bytes();
    let huge: Vec<SpanRecord> = (2..250).map(|id| rootless(2, id)).collect();
    let refused = engine.ingest(huge, at(start, 1)).unwrap_err();
    assert!(refused.retry_after >= Duration::from_secs(1));
    let many: Vec<SpanRecord> = (10..15).map(|trace| rootless(trace, 2)).collect();
    assert!(engine.ingest(many, at(start, 1)).is_err());
    assert_eq!(
        engine.capacity().bytes(),
        held,
        "a refused batch keeps nothing"
    );
    assert_eq!(engine.traces_in_flight(), 1);
    assert_eq!(engine.stats().batches_refused, 2);
    assert_eq!(engine.stats().traces_evicted, 0);
}

#[test]
fn replaying_the_same_spans_and_times_evicts_the_same_traces() {
    let start = Instant::now();
    let run_all = || {
        let mut engine = engine("max_traces_in_flight: 8");
        let mut events = Vec::new();
        for trace in 0..40u8 {
            let spans = vec![rootless(trace, 2), rootless(trace % 5, 3 + trace)];
            events.extend(
                engine
                    .ingest(spans, at(start, u64::from(trace / 3)))
                    .unwrap(),
            );
        }
        events
    };
    let first = run_all();
    assert!(!evicted(&first).is_empty());
    assert_eq!(first, run_all());
}

#[test]
fn a_flood_of_rootless_traces_does_not_push_out_the_verdicts_of_runs() {
    let start = Instant::now();
    let mut engine = engine("decided_traces_kept: 10");
    let mut runs = Vec::new();
    for trace in 200..203u8 {
        engine
            .ingest(
                vec![span(trace, 1, None, Some(SpanKind::Run))],
                at(start, 0),
            )
            .unwrap();
        runs.push(TraceId([trace; 16]));
    }
    engine.tick(at(start, 2));
    for trace in 0..50u8 {
        engine
            .ingest(vec![rootless(trace, 2)], at(start, 3))
            .unwrap();
    }
    engine.tick(at(start, 30));
    assert_eq!(engine.verdicts().count(), 10);
    for run in &runs {
        assert!(engine.verdict(run).is_some(), "{run:?} forgotten");
    }
    assert_eq!(engine.stats().verdicts_forgotten, 43);
    // Oldest decision first, runs and fragments together.
    let decided: Vec<u64> = engine.verdicts().map(|v| v.decided_unix_nano).collect();
    assert!(decided.is_sorted(), "{decided:?}");
}
