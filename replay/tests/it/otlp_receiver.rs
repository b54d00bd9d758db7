//! The full replay, exported over OTLP/gRPC to a real receiver: one trace, the documented span tree, and the
//! facts the monitor reads on each kind of span.
//!
//! It records the run's spans through a subscriber of its own, and tracing caches each callsite's interest
//! per process: a test of this binary running the pipeline without a subscriber at the same moment could
//! leave spans of this run unrecorded. It runs in a process of its own.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::own_process::run_apart;
use crate::support::{Receiver, double_attr, hex, int_attr, str_array_attr, str_attr};
use ironforge_instrument::{Config, Protocol, Sampling};
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_replay::{ReplayOptions, RunSummary, run};
use tracing_subscriber::layer::SubscriberExt;

const SERVICE: &str = "ironforge-replay-test";

fn kind(span: &Span) -> Option<SpanKind> {
    str_attr(&span.attributes, attr::SPAN_KIND)?.parse().ok()
}

fn stage_of(span: &Span) -> Option<Stage> {
    str_attr(&span.attributes, attr::STAGE)?.parse().ok()
}

fn of_kind<'a>(spans: &[&'a Span], k: SpanKind) -> impl Iterator<Item = &'a Span> {
    spans.iter().copied().filter(move |s| kind(s) == Some(k))
}

fn sessions_of<'a>(spans: &[&'a Span], stage: Stage) -> impl Iterator<Item = &'a Span> {
    of_kind(spans, SpanKind::Session).filter(move |s| stage_of(s) == Some(stage))
}

#[test]
fn the_full_replay_arrives_as_one_trace_with_the_documented_tree() {
    if !run_apart(
        module_path!(),
        "the_full_replay_arrives_as_one_trace_with_the_documented_tree",
    ) {
        return;
    }
    let receiver = Receiver::start();
    let config = Config::builder()
        .service_name(SERVICE)
        .endpoint(receiver.endpoint())
        .protocol(Protocol::Grpc)
        .sampling(Sampling::Always)
        .build();
    let instrumentation = ironforge_instrument::init(config).expect("instrumentation starts");
    let subscriber = tracing_subscriber::registry().with(instrumentation.layer());
    let summary = tracing::subscriber::with_default(subscriber, || run(&ReplayOptions::default()))
        .expect("run");
    let failures_before_shutdown = instrumentation.export_failures();
    instrumentation
        .shutdown()
        .expect("shutdown delivers everything");

    let sessions = summary.sessions_given();
    assert_eq!(sessions, 57);
    assert_eq!(summary.sessions_parsed(), 57);
    assert_eq!(failures_before_shutdown, 0);

    let received = receiver.spans();
    assert!(
        received
            .iter()
            .all(|(service, _)| service.as_deref() == Some(SERVICE))
    );
    let spans: Vec<&Span> = received
        .iter()
        .map(|(_, s)| s)
        .filter(|s| kind(s).is_some())
        .collect();
    assert_eq!(
        spans.len() as u64,
        summary.span_count,
        "every span the run opened arrived"
    );
    assert_eq!(spans.len(), 2 + 4 + 4 * sessions);

    // One trace.
    let trace_id = summary.trace_id.clone().expect("the run has a trace id");
    assert!(
        spans.iter().all(|s| hex(&s.trace_id) == trace_id),
        "all spans share the run's trace id"
    );

    let run_span = assert_tree(&spans, &summary);
    assert_run_facts(run_span);
    assert_discovery_facts(&spans);
    assert_validation_facts(&spans, &summary);
}

/// The tree: run -> init + 4 stages -> sessions, each stage with one session span per session. Returns the run
/// span.
fn assert_tree<'a>(spans: &[&'a Span], summary: &RunSummary) -> &'a Span {
    let sessions = summary.sessions_given();
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
    let runs: Vec<&Span> = of_kind(spans, SpanKind::Run).collect();
    assert_eq!(runs.len(), 1);
    let run_span = runs[0];
    assert!(
        run_span.parent_span_id.is_empty(),
        "the run span is the root"
    );
    let inits: Vec<&Span> = of_kind(spans, SpanKind::Init).collect();
    assert_eq!(inits.len(), 1);
    assert_eq!(inits[0].parent_span_id, run_span.span_id);

    let stages: BTreeMap<Stage, &Span> = of_kind(spans, SpanKind::Stage)
        .map(|s| (stage_of(s).expect("stage attr"), s))
        .collect();
    assert_eq!(stages.keys().copied().collect::<Vec<_>>(), Stage::ALL);
    assert_eq!(of_kind(spans, SpanKind::Stage).count(), 4);
    for s in stages.values() {
        assert_eq!(s.parent_span_id, run_span.span_id);
        assert!(
            int_attr(&s.attributes, attr::PROCESS_MEMORY_USAGE).is_some_and(|m| m > 0),
            "stage memory"
        );
        assert!(
            int_attr(&s.attributes, attr::MEMORY_PEAK).is_some_and(|m| m > 0),
            "stage peak memory"
        );
    }

    let expected_ids: BTreeMap<String, usize> =
        summary.sessions.iter().fold(BTreeMap::new(), |mut m, o| {
            *m.entry(o.id.clone()).or_default() += 1;
            m
        });
    for (stage, stage_span) in &stages {
        let children: Vec<&Span> = of_kind(spans, SpanKind::Session)
            .filter(|s| s.parent_span_id == stage_span.span_id)
            .collect();
        assert_eq!(
            children.len(),
            sessions,
            "{stage}: one session span per session"
        );
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        for child in &children {
            assert_eq!(
                stage_of(child),
                Some(*stage),
                "a session span carries its stage"
            );
            let id = str_attr(&child.attributes, attr::SESSION_ID).expect("session id");
            *ids.entry(id.to_owned()).or_default() += 1;
        }
        assert_eq!(
            ids, expected_ids,
            "{stage}: session ids, duplicates included"
        );
        assert_eq!(
            ids.get("NY_2025-08-05"),
            Some(&2),
            "NY AM and NY PM collide"
        );
    }
    assert!(
        of_kind(spans, SpanKind::Session).all(|s| by_id.contains_key(s.parent_span_id.as_slice()))
    );
    run_span
}

fn assert_run_facts(run_span: &Span) {
    assert_eq!(
        int_attr(&run_span.attributes, attr::RUN_SESSION_COUNT),
        Some(57)
    );
    assert!(double_attr(&run_span.attributes, attr::INSTRUMENT_OVERHEAD).is_some_and(|s| s > 0.0));
    assert!(int_attr(&run_span.attributes, attr::INSTRUMENT_OPERATIONS).is_some_and(|n| n > 0));
    assert!(int_attr(&run_span.attributes, attr::PROCESS_MEMORY_USAGE).is_some_and(|m| m > 0));
}

/// Discovery: graph facts on every session span.
fn assert_discovery_facts(spans: &[&Span]) {
    let mut run_types = BTreeSet::new();
    let mut run_intents = BTreeSet::new();
    for s in sessions_of(spans, Stage::Discovery) {
        let a = &s.attributes;
        let types = str_array_attr(a, attr::GRAPH_EVENT_TYPES).expect("event types");
        let intents = str_array_attr(a, attr::GRAPH_EDGE_INTENTS).expect("edge intents");
        assert!(intents.contains(&"TEMPORAL_NEXT".to_owned()));
        run_types.extend(types);
        run_intents.extend(intents);
        assert_eq!(int_attr(a, attr::GRAPH_NODE_FEATURE_DIM), Some(51));
        assert_eq!(int_attr(a, attr::GRAPH_EDGE_FEATURE_DIM), Some(20));
        assert_eq!(int_attr(a, attr::GRAPH_CROSS_SESSION_EDGES), Some(0));
        assert_eq!(int_attr(a, attr::HTF_OPEN_CANDLE_READS), Some(0));
        assert!(crate::support::attr(a, attr::PATTERN_AUTHENTICITY).is_none());
    }
    assert_eq!(
        run_types.len(),
        6,
        "the run sees all six event types: {run_types:?}"
    );
    assert_eq!(
        run_intents.into_iter().collect::<Vec<_>>(),
        ["LIQ_LINK", "MOVEMENT_TRANSITION", "TEMPORAL_NEXT"],
        "never CONTEXT"
    );
}

/// Validation: authenticity on every session span, matching the summary, and the data defects as span events;
/// confluence and reporting sessions carry no graph facts or scores.
fn assert_validation_facts(spans: &[&Span], summary: &RunSummary) {
    let mut scores = Vec::new();
    for s in sessions_of(spans, Stage::Validation) {
        let score = double_attr(&s.attributes, attr::PATTERN_AUTHENTICITY).expect("authenticity");
        assert!((0.0..=1.0).contains(&score));
        scores.push(score);
    }
    let mut expected_scores: Vec<f64> = summary
        .sessions
        .iter()
        .filter_map(|o| o.authenticity.map(|a| a.score))
        .collect();
    scores.sort_by(f64::total_cmp);
    expected_scores.sort_by(f64::total_cmp);
    assert_eq!(scores, expected_scores);

    for s in of_kind(spans, SpanKind::Session)
        .filter(|s| matches!(stage_of(s), Some(Stage::Confluence | Stage::Reporting)))
    {
        assert!(crate::support::attr(&s.attributes, attr::GRAPH_EVENT_TYPES).is_none());
        assert!(crate::support::attr(&s.attributes, attr::PATTERN_AUTHENTICITY).is_none());
    }

    let defect_events = sessions_of(spans, Stage::Validation)
        .filter(|s| s.events.iter().any(|e| e.name.contains("defects")))
        .count();
    assert!(defect_events > 0);
}
