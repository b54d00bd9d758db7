//! The engine on its own: contracts over any declared attribute, scopes by pipeline, which traces are
//! monitored, and the bounds that keep one trace from taking the engine's memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironforge_engine::decode::decode_request;
use ironforge_engine::model::{SpanId, TraceId};
use ironforge_engine::verdict::{VerdictStatus, Violation};
use ironforge_engine::{Engine, EngineEvent};
use ironforge_proto::semconv::{SpanKind, attr};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use crate::support::{at, contracts, defaults, kv, span, verdicts, violations};

#[test]
fn a_contract_holds_an_attribute_the_project_has_never_seen() {
    let set = contracts(
        "attributes:\n  ironforge.tgat.loss: double\n",
        "",
        "  - id: tgat_loss\n    category: quality\n    scope: { kind: session }\n    measure: { attribute: ironforge.tgat.loss }\n    comparison: lt\n    threshold: 0.5\n    severity: critical\n    blocks_production: true\n  - id: tgat_loss_peak\n    category: quality\n    scope: { kind: session }\n    measure: { attribute_max: ironforge.tgat.loss }\n    comparison: lt\n    threshold: 0.5\n    severity: warning\n",
    );
    // Over the wire, as any OTLP SDK would send it: the plan keeps the new key and skips the others.
    let session = |id: u8, loss: f64| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: vec![1; 8],
        name: "train".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![
            kv(attr::SPAN_KIND, Value::StringValue("session".into())),
            kv("ironforge.tgat.loss", Value::DoubleValue(loss)),
            kv("thread.name", Value::StringValue("worker-1".into())),
        ],
        ..Span::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(attr::SERVICE_NAME, Value::StringValue("tgat".into()))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![session(2, 0.31), session(3, 0.74)],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let decoded = decode_request(&request.encode_to_vec(), set.plan()).unwrap();
    assert_eq!(decoded.spans.len(), 2);
    assert_eq!(
        decoded.spans[1].facts.number("ironforge.tgat.loss"),
        Some(0.74)
    );
    assert_eq!(
        decoded.spans[1].facts.get("thread.name"),
        None,
        "attributes no contract reads are not kept"
    );

    let start = Instant::now();
    let mut engine = Engine::new(set);
    let mut events = engine.ingest(decoded.spans, at(start, 0)).unwrap();
    let mut run = span(7, 1, None, Some(SpanKind::Run));
    run.service_name = Some("tgat".into());
    events.extend(engine.ingest(vec![run], at(start, 0)).unwrap());
    events.extend(engine.tick(at(start, 2)));

    let broken = violations(&events);
    let ids: Vec<&str> = broken.iter().map(|v| v.contract_id.as_str()).collect();
    assert_eq!(ids, ["tgat_loss", "tgat_loss_peak"]);
    assert_eq!(broken[0].observed, 0.74);
    assert!(
        broken[0]
            .message
            .starts_with("session \"train\" has ironforge.tgat.loss = 0.74"),
        "{}",
        broken[0].message
    );
    assert_eq!(verdicts(&events)[0].status, VerdictStatus::Fail);
}

#[test]
fn a_declared_attribute_of_another_type_is_reported_not_measured() {
    let set = contracts(
        "attributes:\n  ironforge.tgat.loss: double\n",
        "",
        "  - id: tgat_loss\n    category: quality\n    scope: { kind: session }\n    measure: { attribute: ironforge.tgat.loss }\n    comparison: lt\n    threshold: 0.5\n    severity: critical\n  - id: attribute_types\n    category: system\n    measure: attribute_errors\n    comparison: eq\n    threshold: 0\n    severity: critical\n",
    );
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![8; 16],
                    span_id: vec![2; 8],
                    name: "train".into(),
                    attributes: vec![
                        kv(attr::SPAN_KIND, Value::StringValue("session".into())),
                        kv("ironforge.tgat.loss", Value::StringValue("high".into())),
                    ],
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let decoded = decode_request(&request.encode_to_vec(), set.plan()).unwrap();
    let mut engine = Engine::new(set);
    let events = engine.ingest(decoded.spans, at(Instant::now(), 0)).unwrap();
    let broken = violations(&events);
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].contract_id, "attribute_types");
    assert!(
        broken[0].message.contains(
            "attribute `ironforge.tgat.loss`: expected double or int, received string \"high\""
        ),
        "{}",
        broken[0].message
    );
}

#[test]
fn a_scope_can_name_the_pipeline() {
    let set = contracts(
        "",
        "",
        "  - id: nightly_session\n    category: timing\n    scope: { kind: session, service: nightly }\n    measure: duration\n    comparison: lt\n    threshold: 0.5\n    severity: critical\n",
    );
    let mut engine = Engine::new(set);
    let mut nightly = span(1, 2, Some(1), Some(SpanKind::Session));
    nightly.service_name = Some("nightly".into());
    let mut hourly = span(2, 2, Some(1), Some(SpanKind::Session));
    hourly.service_name = Some("hourly".into());
    let events = engine
        .ingest(vec![nightly, hourly], at(Instant::now(), 0))
        .unwrap();
    let broken = violations(&events);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0].trace_id, TraceId([1; 16]));
    assert_eq!(
        broken[0].pipeline.as_deref(),
        Some("nightly"),
        "a violation names its pipeline"
    );
}

#[test]
fn a_trace_with_no_ironforge_span_gets_no_verdict() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let web = vec![span(3, 1, None, None), span(3, 2, Some(1), None)];
    let mut events = engine.ingest(web, at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    assert!(verdicts(&events).is_empty(), "{events:?}");
    assert!(events.contains(&EngineEvent::Unmonitored {
        trace_id: TraceId([3; 16]),
        spans: 2
    }));
    assert_eq!(engine.verdict(&TraceId([3; 16])), None);
    assert_eq!(engine.stats().traces_unmonitored, 1);
    assert_eq!(engine.traces_in_flight(), 0);
    assert_eq!(engine.capacity().bytes(), 0, "nothing is kept of it");
}

#[test]
fn a_run_that_declared_sessions_and_reached_no_stage_is_short() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut run = span(4, 1, None, Some(SpanKind::Run));
    run.facts.set(attr::RUN_SESSION_COUNT, 57);
    let mut events = engine.ingest(vec![run], at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    let verdict = verdicts(&events)[0];
    let short: Vec<&Violation> = verdict
        .violations
        .iter()
        .filter(|v| v.contract_id == "sessions_complete")
        .collect();
    assert_eq!(short.len(), 1, "{:?}", verdict.violations);
    assert_eq!(short[0].observed, 57.0);
}

#[test]
fn the_deadline_queue_decides_each_trace_when_due_and_not_before() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut events = engine
        .ingest(vec![span(5, 1, None, Some(SpanKind::Run))], at(start, 0))
        .unwrap();
    // Grace is 5 s: nothing at 4 s, the verdict at 5 s.
    events.extend(engine.tick(at(start, 4)));
    assert!(verdicts(&events).is_empty());
    assert_eq!(engine.next_deadline(), Some(start + Duration::from_secs(5)));
    events.extend(engine.tick(at(start, 5)));
    assert_eq!(verdicts(&events).len(), 1);

    // A trace without root is decided incomplete once idle for 300 s, counted from its last span.
    let mut engine = Engine::new(defaults());
    engine
        .ingest(
            vec![span(6, 2, Some(1), Some(SpanKind::Session))],
            at(start, 0),
        )
        .unwrap();
    engine
        .ingest(
            vec![span(6, 3, Some(1), Some(SpanKind::Session))],
            at(start, 200),
        )
        .unwrap();
    assert!(verdicts(&engine.tick(at(start, 300))).is_empty());
    let late = engine.tick(at(start, 500));
    assert_eq!(verdicts(&late)[0].status, VerdictStatus::Incomplete);
}

#[test]
fn violations_per_trace_are_bounded_and_still_decide_the_status() {
    let set = contracts(
        "",
        "limits: { max_violations_per_trace: 3 }\n",
        "  - id: session_duration\n    category: timing\n    scope: { kind: session }\n    measure: duration\n    comparison: lt\n    threshold: 0.5\n    severity: critical\n    blocks_production: true\n",
    );
    let start = Instant::now();
    let mut engine = Engine::new(set);
    let mut spans = vec![span(9, 1, None, Some(SpanKind::Run))];
    spans.extend((2..12).map(|id| span(9, id, Some(1), Some(SpanKind::Session))));
    let mut events = engine.ingest(spans, at(start, 0)).unwrap();
    assert_eq!(violations(&events).len(), 10, "every violation is emitted");
    events.extend(engine.tick(at(start, 2)));
    let verdict = verdicts(&events)[0].clone();
    assert_eq!(verdict.violations.len(), 3);
    assert_eq!(verdict.violations_over_limit, 7);
    assert_eq!(verdict.status, VerdictStatus::Fail);
    assert!(!verdict.production_ready);

    // Late spans revise the verdict within the same bound.
    let late = engine
        .ingest(
            vec![span(9, 20, Some(1), Some(SpanKind::Session))],
            at(start, 3),
        )
        .unwrap();
    let revised = late
        .iter()
        .find_map(|event| match event {
            EngineEvent::VerdictRevised { verdict, .. } => Some(verdict),
            _ => None,
        })
        .unwrap();
    assert_eq!(revised.violations.len(), 3);
    assert_eq!(revised.violations_over_limit, 8);
}

#[test]
fn a_huge_session_id_does_not_make_huge_violations() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut session = span(10, 2, Some(1), Some(SpanKind::Session));
    session.session_id = Some("S".repeat(4_000_000).into());
    session.facts.set(attr::GRAPH_NODE_FEATURE_DIM, 45);
    session.facts.set(attr::PATTERN_AUTHENTICITY, 0.1);
    let events = engine.ingest(vec![session], at(start, 0)).unwrap();
    let broken = violations(&events);
    assert_eq!(broken.len(), 2);
    for violation in broken {
        assert!(violation.message.len() < 400, "{}", violation.message.len());
        assert!(violation.session_id.as_ref().unwrap().len() < 200);
    }
}

#[test]
fn a_root_with_a_huge_array_is_still_the_root() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut run = span(11, 1, None, Some(SpanKind::Run));
    let members: Vec<String> = (0..1_000_000).map(|i| format!("E{i}")).collect();
    run.facts.set(attr::GRAPH_EVENT_TYPES, members);
    let mut events = engine.ingest(vec![run], at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    let verdict = verdicts(&events)[0];
    assert_ne!(verdict.status, VerdictStatus::Incomplete, "{verdict:?}");
    assert!(
        engine.capacity().bytes() < 64 * 1024,
        "the array is not kept"
    );
}

/// A kept span is 48 bytes, its place in the trace's table of ids (which makes a retried export harmless)
/// about 8, and the trace's own state and strings spread over its spans the rest.
#[test]
fn a_kept_span_costs_about_64_bytes_of_engine_state() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut spans = vec![span(14, 1, None, Some(SpanKind::Run))];
    // As the decoder hands them over: each session id interned once, shared by its four stages.
    let sessions: Vec<Arc<str>> = (0..57)
        .map(|session| Arc::from(format!("NY_AM_2025-08-{session:02}").as_str()))
        .collect();
    let name: Arc<str> = Arc::from("process_session");
    for stage in 0..4u8 {
        for (index, session) in sessions.iter().enumerate() {
            let mut s = span(14, 0, Some(1), Some(SpanKind::Session));
            s.name = Arc::clone(&name);
            s.span_id = SpanId([stage, index as u8, 1, 1, 1, 1, 1, 1]);
            s.session_id = Some(Arc::clone(session));
            spans.push(s);
        }
    }
    let count = spans.len();
    engine.ingest(spans, at(start, 0)).unwrap();
    let per_span = engine.capacity().bytes() / count;
    assert!(per_span <= 72, "{per_span} bytes per span");
}

#[test]
fn a_text_decoded_on_several_threads_is_kept_once_per_trace() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    // Each span's name and session at an address of its own, as when decoding threads interned them apart.
    let spans: Vec<_> = (2..202u8)
        .map(|id| {
            let mut s = span(15, id, Some(1), Some(SpanKind::Session));
            s.name = Arc::from("process_session");
            s.session_id = Some(Arc::from("NY_AM_2025-08-04"));
            s
        })
        .collect();
    let count = spans.len();
    engine.ingest(spans, at(start, 0)).unwrap();
    let per_span = engine.capacity().bytes() / count;
    assert!(per_span <= 64, "{per_span} bytes per span");
}

#[test]
fn replaying_the_accepted_spans_in_order_rebuilds_the_same_decisions() {
    let start = Instant::now();
    let mut batches = Vec::new();
    for trace in 20..24u8 {
        let mut run = span(trace, 1, None, Some(SpanKind::Run));
        run.facts.set(attr::RUN_SESSION_COUNT, 2);
        let mut session = span(trace, 2, Some(1), Some(SpanKind::Session));
        session
            .facts
            .set(attr::PATTERN_AUTHENTICITY, f64::from(trace) / 30.0);
        batches.push((u64::from(trace - 20), vec![session]));
        batches.push((u64::from(trace - 20) + 1, vec![run]));
    }
    let run_all = || {
        let mut engine = Engine::new(defaults());
        let mut events = Vec::new();
        for (second, spans) in &batches {
            events.extend(engine.ingest(spans.clone(), at(start, *second)).unwrap());
            events.extend(engine.tick(at(start, *second)));
        }
        events.extend(engine.tick(at(start, 60)));
        events
    };
    let first = run_all();
    assert_eq!(verdicts(&first).len(), 4);
    assert_eq!(first, run_all());
}
