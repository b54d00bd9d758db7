//! Every default contract and invariant: a run that passes and a run that fails, at the boundary.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironforge_engine::{ContractSet, Engine, EngineEvent, Now, evaluate_batch};
use ironforge_processor::config::{ContractFile, Profile};
use ironforge_processor::model::{SpanId, SpanRecord, TraceId};
use ironforge_processor::verdict::{Severity, TraceVerdict, VerdictStatus};
use ironforge_proto::semconv::{EdgeIntent, EventType, SpanKind, Stage, attr};

const SECOND: u64 = 1_000_000_000;
const SESSIONS: usize = 3;

fn contracts(profile: Option<Profile>) -> Arc<ContractSet> {
    Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        profile,
    ))
}

fn now() -> Now {
    Now {
        instant: Instant::now(),
        unix_nano: 1_700_000_000 * SECOND,
    }
}

/// Edits a set attribute of a span in place.
fn edit_set(span: &mut SpanRecord, key: &str, edit: impl FnOnce(&mut Vec<String>)) {
    let mut set: Vec<String> = span
        .facts
        .strings(key)
        .unwrap()
        .iter()
        .map(|value| value.to_string())
        .collect();
    edit(&mut set);
    span.facts.set(key, set);
}

struct RunBuilder {
    trace_id: TraceId,
    spans: Vec<SpanRecord>,
    next_id: u64,
}

impl RunBuilder {
    fn span(
        &mut self,
        parent: Option<SpanId>,
        kind: SpanKind,
        start: u64,
        seconds: f64,
    ) -> SpanRecord {
        self.next_id += 1;
        SpanRecord {
            trace_id: self.trace_id,
            span_id: SpanId(self.next_id.to_be_bytes()),
            parent_span_id: parent,
            name: kind.as_str().into(),
            service_name: Some("test-pipeline".into()),
            start_unix_nano: start,
            end_unix_nano: start + (seconds * 1e9) as u64,
            kind: Some(kind),
            stage: None,
            session_id: None,
            facts: Default::default(),
        }
    }

    /// A run that keeps every default contract: run → init + 4 stages → 3 sessions each.
    fn clean(trace_byte: u8) -> Self {
        let mut builder = RunBuilder {
            trace_id: TraceId([trace_byte; 16]),
            spans: Vec::new(),
            next_id: 0,
        };
        let t0 = 1_700_000_000 * SECOND;
        let mut run = builder.span(None, SpanKind::Run, t0, 60.0);
        run.facts.set(attr::RUN_SESSION_COUNT, SESSIONS as i64);
        run.facts.set(attr::INSTRUMENT_OVERHEAD, 0.01);
        run.facts.set(attr::INSTRUMENT_OPERATIONS, 100);
        run.facts.set(attr::MEMORY_PEAK, 50e6);
        let run_id = run.span_id;
        let init = builder.span(Some(run_id), SpanKind::Init, t0, 0.5);
        builder.spans.extend([run, init]);
        for (index, stage) in Stage::ALL.iter().enumerate() {
            let stage_start = t0 + (index as u64 + 1) * 10 * SECOND;
            let mut stage_span = builder.span(Some(run_id), SpanKind::Stage, stage_start, 5.0);
            stage_span.stage = Some(*stage);
            let stage_id = stage_span.span_id;
            builder.spans.push(stage_span);
            for session in 0..SESSIONS {
                let mut span = builder.span(Some(stage_id), SpanKind::Session, stage_start, 1.0);
                span.stage = Some(*stage);
                span.session_id = Some(format!("S{session}_2025-08-0{session}").into());
                let facts = &mut span.facts;
                facts.set(attr::MEMORY_PEAK, 60e6);
                facts.set(attr::PATTERN_AUTHENTICITY, 0.95);
                let events: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                facts.set(attr::GRAPH_EVENT_TYPES, events);
                let intents: Vec<&str> = EdgeIntent::ALL.iter().map(|e| e.as_str()).collect();
                facts.set(attr::GRAPH_EDGE_INTENTS, intents);
                facts.set(attr::GRAPH_NODE_FEATURE_DIM, 51);
                facts.set(attr::GRAPH_EDGE_FEATURE_DIM, 20);
                facts.set(attr::GRAPH_CROSS_SESSION_EDGES, 0);
                facts.set(attr::HTF_OPEN_CANDLE_READS, 0);
                builder.spans.push(span);
            }
        }
        builder
    }

    fn first(&mut self, kind: SpanKind) -> &mut SpanRecord {
        self.spans
            .iter_mut()
            .find(|span| span.kind == Some(kind))
            .unwrap()
    }

    fn set_duration(&mut self, kind: SpanKind, seconds: f64) -> &mut Self {
        let span = self.first(kind);
        span.end_unix_nano = span.start_unix_nano + (seconds * 1e9) as u64;
        self
    }

    fn sessions(&mut self) -> impl Iterator<Item = &mut SpanRecord> {
        self.spans
            .iter_mut()
            .filter(|span| span.kind == Some(SpanKind::Session))
    }

    fn verdict(self, profile: Option<Profile>) -> TraceVerdict {
        let mut verdicts = evaluate_batch(contracts(profile), self.spans, now());
        assert_eq!(verdicts.len(), 1);
        verdicts.remove(0)
    }
}

fn violated(verdict: &TraceVerdict) -> Vec<&str> {
    let mut ids: Vec<&str> = verdict
        .violations
        .iter()
        .map(|v| v.contract_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Builds a clean run, applies `edit`, and returns the contracts it broke.
fn broken_by(edit: impl FnOnce(&mut RunBuilder)) -> Vec<String> {
    let mut run = RunBuilder::clean(7);
    edit(&mut run);
    violated(&run.verdict(None))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn clean_run_passes_with_no_violation() {
    let verdict = RunBuilder::clean(1).verdict(None);
    assert_eq!(verdict.violations, vec![], "{:#?}", verdict.violations);
    assert_eq!(verdict.status, VerdictStatus::Pass);
    assert!(verdict.production_ready);
    assert_eq!(verdict.span_count, 2 + 4 + 4 * SESSIONS as u32);
    let stages: Vec<&str> = verdict
        .stage_durations
        .iter()
        .map(|d| d.stage.as_str())
        .collect();
    assert_eq!(
        stages,
        ["discovery", "confluence", "validation", "reporting"]
    );
    assert_eq!(verdict.stage_durations[0].seconds, 5.0);
    assert_eq!(verdict.service_name.as_deref(), Some("test-pipeline"));
}

#[test]
fn session_duration_boundary() {
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Session, 2.999);
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Session, 3.0);
        }),
        ["session_duration"]
    );
}

#[test]
fn run_duration_boundary() {
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Run, 179.9);
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Run, 180.0);
        }),
        ["run_duration"]
    );
}

#[test]
fn init_duration_boundary() {
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Init, 1.999);
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| {
            r.set_duration(SpanKind::Init, 2.0);
        }),
        ["init_duration"]
    );
}

#[test]
fn memory_boundary_per_span_and_per_run() {
    let limit = 104_857_600.0;
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::MEMORY_PEAK, limit - 1.0)),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::MEMORY_PEAK, limit)),
        ["run_memory_peak", "span_memory_peak"]
    );
}

#[test]
fn authenticity_boundary_per_session_and_mean() {
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::PATTERN_AUTHENTICITY, 0.8701)),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::PATTERN_AUTHENTICITY, 0.87)),
        ["pattern_authenticity"]
    );
    let low_mean = broken_by(|r| {
        r.sessions()
            .for_each(|s| s.facts.set(attr::PATTERN_AUTHENTICITY, 0.87))
    });
    assert_eq!(low_mean, ["pattern_authenticity", "run_mean_authenticity"]);
}

#[test]
fn instrument_overhead_boundary() {
    // 100 operations: 0.0999 s is 0.999 ms each; 0.1 s is exactly 1 ms.
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Run)
            .facts
            .set(attr::INSTRUMENT_OVERHEAD, 0.0999)),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Run)
            .facts
            .set(attr::INSTRUMENT_OVERHEAD, 0.1)),
        ["instrument_overhead"]
    );
}

#[test]
fn unknown_event_type_and_edge_intent() {
    let event = broken_by(|r| {
        edit_set(r.first(SpanKind::Session), attr::GRAPH_EVENT_TYPES, |set| {
            set.push("Breakout".into())
        })
    });
    assert_eq!(event, ["event_types_known"]);
    let intent = broken_by(|r| {
        edit_set(
            r.first(SpanKind::Session),
            attr::GRAPH_EDGE_INTENTS,
            |set| set.push("SIMILARITY".into()),
        )
    });
    assert_eq!(intent, ["edge_intents_known"]);
}

#[test]
fn run_that_never_sees_a_member_is_warned() {
    let mut run = RunBuilder::clean(9);
    run.sessions().for_each(|s| {
        edit_set(s, attr::GRAPH_EDGE_INTENTS, |set| {
            set.retain(|i| i != "CONTEXT")
        })
    });
    let verdict = run.verdict(None);
    assert_eq!(violated(&verdict), ["edge_intents_complete"]);
    assert_eq!(verdict.status, VerdictStatus::Warn);
    assert!(
        verdict.production_ready,
        "a warning does not block production"
    );
    assert!(
        verdict.violations[0].message.contains("[CONTEXT]"),
        "{}",
        verdict.violations[0].message
    );

    let events = broken_by(|r| {
        r.sessions().for_each(|s| {
            edit_set(s, attr::GRAPH_EVENT_TYPES, |set| {
                set.retain(|e| e != "Redelivery")
            })
        })
    });
    assert_eq!(events, ["event_types_complete"]);
}

#[test]
fn feature_dimensions_are_exact() {
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::GRAPH_NODE_FEATURE_DIM, 45)),
        ["node_feature_dim"]
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::GRAPH_NODE_FEATURE_DIM, 52)),
        ["node_feature_dim"]
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::GRAPH_EDGE_FEATURE_DIM, 19)),
        ["edge_feature_dim"]
    );
}

#[test]
fn open_candle_reads_and_cross_session_edges() {
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::HTF_OPEN_CANDLE_READS, 1)),
        ["htf_closed_candles"]
    );
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Session)
            .facts
            .set(attr::GRAPH_CROSS_SESSION_EDGES, 1)),
        ["no_cross_session_edges"]
    );
}

#[test]
fn duplicate_session_ids_within_a_stage() {
    let broken = broken_by(|r| {
        let ids: Vec<Arc<str>> = r
            .sessions()
            .take(2)
            .map(|s| s.session_id.clone().unwrap())
            .collect();
        r.sessions().nth(1).unwrap().session_id = Some(ids[0].clone());
    });
    assert_eq!(broken, ["sessions_complete", "unique_session_ids"]);
}

#[test]
fn missing_sessions_against_the_declared_count() {
    assert_eq!(
        broken_by(|r| r
            .first(SpanKind::Run)
            .facts
            .set(attr::RUN_SESSION_COUNT, SESSIONS as i64)),
        Vec::<String>::new()
    );
    let broken = broken_by(|r| {
        r.first(SpanKind::Run)
            .facts
            .set(attr::RUN_SESSION_COUNT, SESSIONS as i64 + 1)
    });
    assert_eq!(broken, ["sessions_complete"]);
}

#[test]
fn wrong_attribute_types_are_reported_not_dropped() {
    let mut run = RunBuilder::clean(3);
    run.first(SpanKind::Session).facts.attribute_errors =
        vec!["ironforge.graph.node_feature_dim: expected int, got string".into()];
    let verdict = run.verdict(None);
    assert_eq!(violated(&verdict), ["attribute_types"]);
    assert!(
        verdict.violations[0]
            .message
            .contains("expected int, got string")
    );
}

#[test]
fn violation_carries_the_facts_of_its_span() {
    let mut run = RunBuilder::clean(4);
    run.set_duration(SpanKind::Session, 3.5);
    let span_id = run.first(SpanKind::Session).span_id;
    let verdict = run.verdict(None);
    let violation = &verdict.violations[0];
    assert_eq!(violation.span_id, Some(span_id));
    assert_eq!(violation.trace_id, TraceId([4; 16]));
    assert_eq!(violation.stage.as_deref(), Some("discovery"));
    assert_eq!(violation.session_id.as_deref(), Some("S0_2025-08-00"));
    assert_eq!(
        (
            violation.observed,
            violation.threshold,
            violation.unit.as_str()
        ),
        (3.5, 3.0, "s")
    );
    assert_eq!(violation.severity, Severity::Critical);
    assert!(violation.blocks_production);
    assert_eq!(
        violation.message,
        "session S0_2025-08-00 (discovery) took 3.500 s; session_duration requires < 3 s"
    );
    assert_eq!(verdict.status, VerdictStatus::Fail);
    assert!(!verdict.production_ready);
}

#[test]
fn development_profile_warns_and_blocks_nothing() {
    let mut run = RunBuilder::clean(5);
    run.set_duration(SpanKind::Session, 10.0);
    let verdict = run.verdict(Some(Profile::Development));
    assert_eq!(violated(&verdict), ["session_duration"]);
    assert_eq!(verdict.violations[0].severity, Severity::Warning);
    assert_eq!(verdict.status, VerdictStatus::Warn);
    assert!(verdict.production_ready);
}

#[test]
fn span_contracts_are_decided_as_spans_arrive() {
    let mut engine = Engine::new(contracts(None));
    let mut run = RunBuilder::clean(6);
    run.set_duration(SpanKind::Session, 4.0);
    let slow = run
        .spans
        .iter()
        .position(|s| s.kind == Some(SpanKind::Session))
        .unwrap();
    let rest = run.spans.split_off(slow + 1);
    let events = engine.ingest(run.spans, now()).unwrap();
    assert!(
        matches!(&events[..], [EngineEvent::Violation(v)] if v.contract_id == "session_duration"),
        "{events:?}"
    );
    assert_eq!(engine.traces_in_flight(), 1);
    assert!(engine.verdict(&TraceId([6; 16])).is_none());
    assert!(engine.ingest(rest, now()).unwrap().is_empty());
}

#[test]
fn trace_completes_after_the_grace_and_late_spans_revise_it() {
    let mut engine = Engine::new(contracts(None));
    let run = RunBuilder::clean(8);
    // One more session span, sent after the verdict.
    let mut late = run.spans.last().unwrap().clone();
    late.span_id = SpanId([0xee; 8]);
    let start = now();
    engine.ingest(run.spans, start).unwrap();
    let before_grace = Now {
        instant: start.instant + Duration::from_secs(4),
        ..start
    };
    assert!(engine.tick(before_grace).is_empty());
    let after_grace = Now {
        instant: start.instant + Duration::from_secs(5),
        ..start
    };
    let events = engine.tick(after_grace);
    assert!(
        matches!(&events[..], [EngineEvent::Verdict(verdict)]
            if verdict.status == VerdictStatus::Pass && verdict.violations.is_empty()),
        "{events:?}"
    );

    late.end_unix_nano = late.start_unix_nano + 9 * SECOND;
    let events = engine.ingest(vec![late], after_grace).unwrap();
    assert!(matches!(&events[0], EngineEvent::Violation(v) if v.contract_id == "session_duration"));
    match &events[1] {
        EngineEvent::VerdictRevised { verdict, added: 1 } => {
            assert_eq!(verdict.status, VerdictStatus::Fail)
        }
        other => panic!("expected a revised verdict, got {other:?}"),
    }
    assert_eq!(engine.stats().late_spans, 1);
    assert_eq!(
        engine.verdict(&TraceId([8; 16])).unwrap().status,
        VerdictStatus::Fail
    );
}

#[test]
fn trace_without_root_is_incomplete_after_idle_timeout() {
    let mut engine = Engine::new(contracts(None));
    let mut run = RunBuilder::clean(10);
    run.spans.remove(0);
    let start = now();
    engine.ingest(run.spans, start).unwrap();
    assert!(
        engine
            .tick(Now {
                instant: start.instant + Duration::from_secs(299),
                ..start
            })
            .is_empty()
    );
    let events = engine.tick(Now {
        instant: start.instant + Duration::from_secs(300),
        ..start
    });
    let EngineEvent::Verdict(verdict) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(verdict.status, VerdictStatus::Incomplete);
    assert!(!verdict.production_ready);
    let reason = verdict.incomplete_reason.as_deref().unwrap();
    assert!(reason.contains("no root span"), "{reason}");
    assert!(reason.contains("5 whose parent never arrived"), "{reason}");
}

#[test]
fn at_the_in_flight_bound_a_new_trace_evicts_the_idle_one() {
    let yaml = ironforge_processor::config::DEFAULT_CONTRACTS_YAML
        .replace("max_traces_in_flight: 10000", "max_traces_in_flight: 1");
    let file = ContractFile::parse(&yaml, "test").unwrap();
    let mut engine = Engine::new(Arc::new(ContractSet::new(file, None)));
    engine.ingest(RunBuilder::clean(11).spans, now()).unwrap();
    let events = engine.ingest(RunBuilder::clean(12).spans, now()).unwrap();
    assert!(
        matches!(&events[..], [EngineEvent::Verdict(verdict)]
            if verdict.trace_id == TraceId([11; 16]) && verdict.evicted
            && verdict.status == VerdictStatus::Incomplete),
        "{events:?}"
    );
    assert_eq!(engine.stats().batches_refused, 0);
    assert_eq!(engine.stats().traces_evicted, 1);
    // More spans of the evicted trace revise its verdict, which stays incomplete.
    let mut more = RunBuilder::clean(11);
    more.next_id = 1000;
    let extra = more.span(None, SpanKind::Pattern, 0, 0.1);
    assert!(engine.ingest(vec![extra], now()).is_ok());
    assert_eq!(engine.stats().late_spans, 1);
}

#[test]
fn spans_over_the_per_trace_bound_are_checked_counted_and_noted() {
    let yaml = ironforge_processor::config::DEFAULT_CONTRACTS_YAML
        .replace("max_spans_per_trace: 50000", "max_spans_per_trace: 4");
    let file = ContractFile::parse(&yaml, "test").unwrap();
    let mut run = RunBuilder::clean(13);
    run.sessions().last().unwrap().end_unix_nano += 10 * SECOND;
    let verdicts = evaluate_batch(Arc::new(ContractSet::new(file, None)), run.spans, now());
    let verdict = &verdicts[0];
    assert_eq!(verdict.span_count, 4);
    assert!(
        violated(verdict).contains(&"session_duration"),
        "over-limit spans are still checked"
    );
    let note = verdict.incomplete_reason.as_deref().unwrap();
    assert!(
        note.starts_with("14 spans over the per-trace limits"),
        "{note}"
    );
}
