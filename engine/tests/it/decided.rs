//! What the engine hands analysis: each decided trace's spans, memory samples and trace-scoped observations,
//! only when asked for.

use std::time::Instant;

use crate::support::{at, defaults, span};
use ironforge_engine::{Engine, EngineEvent, decide_batch};
use ironforge_proto::semconv::{SpanKind, Stage, attr};

fn run_of_two_spans() -> Vec<ironforge_engine::model::SpanRecord> {
    let mut run = span(30, 1, None, Some(SpanKind::Run));
    run.facts.set(attr::PROCESS_MEMORY_USAGE, 52_428_800.0);
    run.facts.set(attr::MEMORY_PEAK, 60_000_000.0);
    let mut session = span(30, 2, Some(1), Some(SpanKind::Session));
    session.stage = Some(Stage::Discovery);
    session.session_id = Some("NY_AM_2025-08-05".into());
    session.facts.set(attr::PROCESS_MEMORY_USAGE, 1_000_000.0);
    vec![run, session]
}

#[test]
fn decided_traces_follow_their_verdicts_only_when_asked_for() {
    let start = Instant::now();
    let mut quiet = Engine::new(defaults());
    quiet.ingest(run_of_two_spans(), at(start, 0)).unwrap();
    let events = quiet.finish_all(at(start, 1));
    assert!(!events.iter().any(|e| matches!(e, EngineEvent::Decided(_))));

    let mut engine = Engine::new(defaults());
    engine.emit_decided_traces(true);
    engine.ingest(run_of_two_spans(), at(start, 0)).unwrap();
    let events = engine.finish_all(at(start, 1));
    let verdict_at = events
        .iter()
        .position(|e| matches!(e, EngineEvent::Verdict(_)));
    let decided_at = events
        .iter()
        .position(|e| matches!(e, EngineEvent::Decided(_)));
    assert_eq!(decided_at, verdict_at.map(|v| v + 1), "{events:?}");
    let Some(EngineEvent::Decided(decided)) = decided_at.and_then(|i| events.get(i)) else {
        panic!("no decided trace");
    };
    assert_eq!(decided.spans.len(), 2);
    let session = decided
        .spans
        .iter()
        .find(|s| s.kind == Some(SpanKind::Session))
        .unwrap();
    assert_eq!(session.session_id.as_deref(), Some("NY_AM_2025-08-05"));
    assert_eq!(session.stage, Some(Stage::Discovery));
    // Kept in KiB: 1,000,000 bytes reads back within a KiB.
    assert!(session.memory_bytes.unwrap().abs_diff(1_000_000) < 1024);
    let run = decided
        .spans
        .iter()
        .find(|s| s.kind == Some(SpanKind::Run))
        .unwrap();
    assert_eq!(run.memory_bytes, Some(52_428_800));
    // The run's memory peak is a trace-scoped contract of the defaults: its observation comes along.
    let peak = decided
        .observations
        .iter()
        .find(|o| &*o.contract_id == "run_memory_peak")
        .expect("run_memory_peak observed");
    assert_eq!(peak.value, 60_000_000.0);
}

#[test]
fn decide_batch_gives_each_recorded_trace_with_its_spans() {
    let decided = decide_batch(defaults(), run_of_two_spans(), at(Instant::now(), 0));
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].spans.len(), 2);
}
