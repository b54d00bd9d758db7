//! Exactly which spans, attributes and metrics the layer and each helper produce, read back from the
//! SDK's in-memory exporters.

use std::time::Duration;

use crate::support::{
    Harness, attr, gauge_u64, histogram_f64, kv, metric, metric_names, own_keys, span, sum_f64,
    sum_u64,
};
use ironforge_instrument::semconv::{SpanKind, Stage, attr, metric};
use ironforge_instrument::{
    GraphFacts, Sampling, record_authenticity, record_graph, record_memory, record_overhead,
};
use opentelemetry::{Array, StringValue, Value};

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "session",
    ironforge.stage = %stage,
    ironforge.session.id = %id,
))]
fn session(stage: Stage, id: &str, facts: Option<&GraphFacts>) {
    // Work that takes time: each session span lasts at least 5 ms, which the duration checks rely on.
    std::thread::sleep(Duration::from_millis(5));
    if let Some(facts) = facts {
        record_graph(facts);
    }
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = %SpanKind::Stage, ironforge.stage = %stage))]
fn stage(stage: Stage, ids: &[&str]) {
    for id in ids {
        session(stage, id, None);
    }
}

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "run",
    ironforge.run.session_count = ids.len() as i64,
))]
fn run(ids: &[&str]) {
    stage(Stage::Discovery, ids);
    stage(Stage::Confluence, ids);
    record_overhead();
}

fn golden_facts() -> GraphFacts {
    GraphFacts {
        event_types: vec!["Expansion".into(), "Liquidity Taken".into()],
        edge_intents: vec!["TEMPORAL_NEXT".into(), "CONTEXT".into()],
        node_feature_dim: 51,
        edge_feature_dim: 20,
        cross_session_edges: 2,
        htf_open_candle_reads: 1,
    }
}

#[test]
fn dotted_fields_become_attributes_of_the_same_name_and_type() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        session(Stage::Discovery, "NY_AM_2025-08-04", None);
        stage(Stage::Confluence, &[]);
        run(&[]);
        let _s = tracing::info_span!("unsigned", count = 3usize, ratio = 0.5, flag = true);
    });
    let spans = h.finished_spans();

    let s = span(&spans, "session");
    assert_eq!(attr(s, attr::SPAN_KIND), Some(&Value::from("session")));
    assert_eq!(attr(s, attr::STAGE), Some(&Value::from("discovery")));
    assert_eq!(
        attr(s, attr::SESSION_ID),
        Some(&Value::from("NY_AM_2025-08-04"))
    );
    assert_eq!(
        own_keys(s),
        vec![attr::SESSION_ID, attr::SPAN_KIND, attr::STAGE]
    );

    let r = span(&spans, "run");
    assert_eq!(attr(r, attr::SPAN_KIND), Some(&Value::from("run")));
    // tracing-opentelemetry 0.34 turns unsigned fields (u64, usize) into strings, signed ones into
    // integers: pipelines must pass counts as i64.
    assert_eq!(attr(r, attr::RUN_SESSION_COUNT), Some(&Value::I64(0)));
    let unsigned = span(&spans, "unsigned");
    assert_eq!(attr(unsigned, "count"), Some(&Value::from("3")));
    assert_eq!(attr(unsigned, "ratio"), Some(&Value::F64(0.5)));
    assert_eq!(attr(unsigned, "flag"), Some(&Value::Bool(true)));

    // `%SpanKind::Stage` (a Display value) is a string attribute too.
    let stages: Vec<_> = spans.iter().filter(|s| s.name == "stage").collect();
    assert_eq!(stages.len(), 3);
    for s in stages {
        assert_eq!(attr(s, attr::SPAN_KIND), Some(&Value::from("stage")));
    }
}

#[test]
fn spans_keep_their_tree() {
    let h = Harness::new(Sampling::Always);
    h.run(|| run(&["A", "B"]));
    let spans = h.finished_spans();
    assert_eq!(spans.len(), 1 + 2 + 4);
    let r = span(&spans, "run");
    for s in &spans {
        assert_eq!(s.span_context.trace_id(), r.span_context.trace_id());
        match s.name.as_ref() {
            "run" => assert_eq!(s.parent_span_id, opentelemetry::trace::SpanId::INVALID),
            "stage" => assert_eq!(s.parent_span_id, r.span_context.span_id()),
            "session" => assert!(
                spans
                    .iter()
                    .any(|p| p.name == "stage" && p.span_context.span_id() == s.parent_span_id)
            ),
            other => panic!("unexpected span {other}"),
        }
    }
}

#[test]
fn record_graph_sets_exactly_the_graph_attributes() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        session(
            Stage::Validation,
            "LONDON_2025-08-04",
            Some(&golden_facts()),
        )
    });
    let spans = h.finished_spans();
    let s = span(&spans, "session");

    let strings = |v: &[&'static str]| {
        Value::Array(Array::String(
            v.iter().map(|s| StringValue::from(*s)).collect(),
        ))
    };
    assert_eq!(
        attr(s, attr::GRAPH_EVENT_TYPES),
        Some(&strings(&["Expansion", "Liquidity Taken"]))
    );
    assert_eq!(
        attr(s, attr::GRAPH_EDGE_INTENTS),
        Some(&strings(&["TEMPORAL_NEXT", "CONTEXT"]))
    );
    assert_eq!(attr(s, attr::GRAPH_NODE_FEATURE_DIM), Some(&Value::I64(51)));
    assert_eq!(attr(s, attr::GRAPH_EDGE_FEATURE_DIM), Some(&Value::I64(20)));
    assert_eq!(
        attr(s, attr::GRAPH_CROSS_SESSION_EDGES),
        Some(&Value::I64(2))
    );
    assert_eq!(attr(s, attr::HTF_OPEN_CANDLE_READS), Some(&Value::I64(1)));

    let mut expected = vec![
        attr::GRAPH_CROSS_SESSION_EDGES,
        attr::GRAPH_EDGE_FEATURE_DIM,
        attr::GRAPH_EDGE_INTENTS,
        attr::GRAPH_EVENT_TYPES,
        attr::GRAPH_NODE_FEATURE_DIM,
        attr::HTF_OPEN_CANDLE_READS,
        attr::SESSION_ID,
        attr::SPAN_KIND,
        attr::STAGE,
    ];
    expected.sort_unstable();
    assert_eq!(own_keys(s), expected);
    assert_eq!(s.dropped_attributes_count, 0);

    // Graph facts produce no metric of their own.
    let names = metric_names(&h.latest_metrics());
    assert!(!names.iter().any(|n| n.contains("graph")), "{names:?}");
}

#[test]
fn empty_graph_facts_are_empty_arrays_and_zeros() {
    let h = Harness::new(Sampling::Always);
    h.run(|| session(Stage::Reporting, "X", Some(&GraphFacts::default())));
    let spans = h.finished_spans();
    let s = span(&spans, "session");
    assert_eq!(
        attr(s, attr::GRAPH_EVENT_TYPES),
        Some(&Value::Array(Array::String(Vec::new())))
    );
    assert_eq!(attr(s, attr::GRAPH_NODE_FEATURE_DIM), Some(&Value::I64(0)));
}

#[test]
fn record_authenticity_sets_the_attribute_and_the_histogram() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        for score in [0.91, 0.84] {
            let pattern = tracing::info_span!("pattern", ironforge.span.kind = "pattern");
            pattern.in_scope(|| record_authenticity(score));
        }
    });
    let spans = h.finished_spans();
    let scores: Vec<_> = spans
        .iter()
        .map(|s| attr(s, attr::PATTERN_AUTHENTICITY).cloned())
        .collect();
    assert_eq!(scores, vec![Some(Value::F64(0.91)), Some(Value::F64(0.84))]);
    for s in &spans {
        assert_eq!(
            own_keys(s),
            vec![attr::PATTERN_AUTHENTICITY, attr::SPAN_KIND]
        );
    }

    let rm = h.latest_metrics();
    let m = metric(&rm, metric::PATTERN_AUTHENTICITY).unwrap();
    assert_eq!(m.unit(), "1");
    let points = histogram_f64(m);
    assert_eq!(points.len(), 1);
    let (attrs, count, sum) = &points[0];
    assert!(attrs.is_empty());
    assert_eq!(*count, 2);
    assert!((sum - 1.75).abs() < 1e-9);
}

#[test]
fn record_memory_sets_current_and_peak_and_the_gauge() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        let s = tracing::info_span!("session", ironforge.span.kind = "session");
        s.in_scope(record_memory);
    });
    let spans = h.finished_spans();
    let s = span(&spans, "session");
    let (Some(Value::I64(current)), Some(Value::I64(peak))) = (
        attr(s, attr::PROCESS_MEMORY_USAGE).cloned(),
        attr(s, attr::MEMORY_PEAK).cloned(),
    ) else {
        panic!("memory attributes missing or mistyped: {:?}", s.attributes);
    };
    assert!(current > 1 << 20, "{current}");
    assert!(peak >= current);
    assert_eq!(
        own_keys(s),
        vec![
            attr::MEMORY_PEAK,
            attr::SPAN_KIND,
            attr::PROCESS_MEMORY_USAGE
        ]
    );

    let rm = h.latest_metrics();
    let m = metric(&rm, metric::PROCESS_MEMORY_USAGE).unwrap();
    assert_eq!(m.unit(), "By");
    assert_eq!(gauge_u64(m), vec![(vec![], current as u64)]);
}

#[test]
fn stage_and_session_spans_record_durations_and_counts_by_stage() {
    let h = Harness::new(Sampling::Always);
    h.run(|| run(&["A", "B"]));
    let rm = h.latest_metrics();

    let stage_attr = |s: Stage| vec![kv(attr::STAGE, s.as_str())];

    let m = metric(&rm, metric::STAGE_DURATION).unwrap();
    assert_eq!(m.unit(), "s");
    let mut points = histogram_f64(m);
    points.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    assert_eq!(points.len(), 2);
    for (attrs, count, sum) in &points {
        assert_eq!(*count, 1);
        // Each stage held two sessions of at least 5 ms.
        assert!(*sum >= 0.010 && *sum < 5.0, "{attrs:?}: {sum}");
    }
    assert_eq!(points[0].0, stage_attr(Stage::Confluence));
    assert_eq!(points[1].0, stage_attr(Stage::Discovery));

    let m = metric(&rm, metric::SESSION_DURATION).unwrap();
    assert_eq!(m.unit(), "s");
    let mut points = histogram_f64(m);
    points.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    assert_eq!(
        points
            .iter()
            .map(|p| (p.0.clone(), p.1))
            .collect::<Vec<_>>(),
        vec![
            (stage_attr(Stage::Confluence), 2),
            (stage_attr(Stage::Discovery), 2)
        ]
    );
    assert!(points.iter().all(|p| p.2 >= 0.010));

    let mut counts = sum_u64(metric(&rm, metric::SESSIONS_PROCESSED).unwrap());
    counts.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    assert_eq!(
        counts,
        vec![
            (stage_attr(Stage::Confluence), 2),
            (stage_attr(Stage::Discovery), 2)
        ]
    );
}

#[test]
fn record_overhead_reports_what_was_measured_before_the_run_ended() {
    let h = Harness::new(Sampling::Always);
    h.run(|| run(&["A", "B", "C"]));
    let spans = h.finished_spans();
    let r = span(&spans, "run");

    // Six sessions and two stages had closed when the run span recorded it.
    assert_eq!(attr(r, attr::INSTRUMENT_OPERATIONS), Some(&Value::I64(8)));
    let Some(Value::F64(seconds)) = attr(r, attr::INSTRUMENT_OVERHEAD).cloned() else {
        panic!("overhead missing: {:?}", r.attributes);
    };
    assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");

    // The run itself is the ninth operation; the total only grows.
    let total = h.instrumentation.overhead();
    assert_eq!(total.operations, 9);
    assert!(total.total.as_secs_f64() >= seconds);

    let rm = h.latest_metrics();
    let m = metric(&rm, metric::INSTRUMENT_OVERHEAD).unwrap();
    assert_eq!(m.unit(), "s");
    let points = sum_f64(m);
    assert_eq!(points.len(), 1);
    assert!(points[0].1 >= total.total.as_secs_f64() - 1e-9);
}

#[test]
fn a_full_run_exports_exactly_these_metrics() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        run(&["A"]);
        let s = tracing::info_span!("session", ironforge.span.kind = "session");
        s.in_scope(|| {
            record_memory();
            record_authenticity(0.9);
        });
    });
    let rm = h.latest_metrics();
    let mut expected = vec![
        metric::EXPORT_FAILURES,
        metric::INSTRUMENT_OVERHEAD,
        metric::PATTERN_AUTHENTICITY,
        metric::PROCESS_MEMORY_USAGE,
        metric::SESSION_DURATION,
        metric::SESSIONS_PROCESSED,
        metric::STAGE_DURATION,
    ];
    expected.sort_unstable();
    assert_eq!(metric_names(&rm), expected);
    assert_eq!(
        sum_u64(metric(&rm, metric::EXPORT_FAILURES).unwrap()),
        vec![(vec![], 0)]
    );
}

#[test]
fn unmonitored_spans_produce_no_metrics_and_no_operations() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        let s = tracing::info_span!("helper", rows = 3);
        s.in_scope(|| tracing::info!("inside"));
    });
    let spans = h.finished_spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(h.instrumentation.overhead().operations, 0);
    assert!(h.instrumentation.overhead().total > Duration::ZERO);
    let names = metric_names(&h.latest_metrics());
    assert_eq!(
        names,
        vec![
            metric::EXPORT_FAILURES.to_owned(),
            metric::INSTRUMENT_OVERHEAD.to_owned()
        ]
    );
}

#[test]
fn a_kind_recorded_after_creation_still_feeds_the_metrics() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        let s = tracing::info_span!(
            "late",
            ironforge.span.kind = tracing::field::Empty,
            ironforge.stage = tracing::field::Empty
        );
        s.record(attr::SPAN_KIND, "stage");
        s.record(attr::STAGE, "validation");
        s.in_scope(|| {});
    });
    let rm = h.latest_metrics();
    let points = histogram_f64(metric(&rm, metric::STAGE_DURATION).unwrap());
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].0, vec![kv(attr::STAGE, "validation")]);
}

#[test]
fn helpers_do_nothing_without_the_layer() {
    // No subscriber at all: nothing to record on, and no panic.
    record_memory();
    record_authenticity(0.5);
    record_graph(&golden_facts());
    record_overhead();

    // A subscriber with a plain OpenTelemetry layer but not this crate's: the helpers act only
    // through the instrumentation they belong to.
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("plain")));
    tracing::subscriber::with_default(subscriber, || {
        let s = tracing::info_span!("session", ironforge.span.kind = "session");
        s.in_scope(|| record_authenticity(0.5));
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(attr(&spans[0], attr::PATTERN_AUTHENTICITY), None);
}

#[test]
fn a_stage_outside_the_conventions_is_labelled_as_given() {
    let h = Harness::new(Sampling::Always);
    h.run(|| {
        for _ in 0..2 {
            let s = tracing::info_span!(
                "session",
                ironforge.span.kind = "session",
                ironforge.stage = "backtest"
            );
            s.in_scope(|| {});
        }
        let s = tracing::info_span!("session", ironforge.span.kind = "session");
        s.in_scope(|| {});
    });
    let rm = h.latest_metrics();
    let mut counts = sum_u64(metric(&rm, metric::SESSIONS_PROCESSED).unwrap());
    counts.sort_by_key(|(attrs, _)| attrs.len());
    assert_eq!(
        counts,
        vec![(vec![], 1), (vec![kv(attr::STAGE, "backtest")], 2)]
    );
    let mut points = histogram_f64(metric(&rm, metric::SESSION_DURATION).unwrap());
    points.sort_by_key(|(attrs, _, _)| attrs.len());
    assert_eq!(points[0].0, vec![]);
    assert_eq!(points[0].1, 1);
    assert_eq!(points[1].0, vec![kv(attr::STAGE, "backtest")]);
    assert_eq!(points[1].1, 2);
}
