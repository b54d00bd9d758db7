use std::sync::Arc;

use ironforge_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::semconv::{SpanKind, Stage, attr};

use ironforge_engine::decode::Decoded;
use ironforge_engine::plan::ReadPlan;

use super::{MAX_ERROR_MESSAGES, convert_request, partial_success};
use crate::model::{SpanId, SpanRecord, TraceId};

const TRACE: [u8; 16] = [0xab; 16];

fn convert(request: ExportTraceServiceRequest) -> Decoded {
    convert_request(&request, &ReadPlan::conventions()).expect("a valid request")
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

fn text_array(values: &[&str]) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values
            .iter()
            .map(|value| AnyValue {
                value: Some(text(value)),
            })
            .collect(),
    })
}

fn span(id: u8, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        name: name.to_owned(),
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 3_000,
        attributes,
        ..Span::default()
    }
}

fn request(service: Option<Value>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: service
                    .map(|name| kv(attr::SERVICE_NAME, name))
                    .into_iter()
                    .collect(),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// A session span carrying every kind of fact, and its run.
fn session_and_run() -> ExportTraceServiceRequest {
    let mut session = span(
        2,
        "process_session",
        vec![
            kv(attr::SPAN_KIND, text("session")),
            kv(attr::STAGE, text("discovery")),
            kv(attr::SESSION_ID, text("NY_AM_2025-08-04")),
            kv(attr::PROCESS_MEMORY_USAGE, Value::IntValue(50_000_000)),
            kv(attr::MEMORY_PEAK, Value::DoubleValue(6.5e7)),
            kv(attr::PATTERN_AUTHENTICITY, Value::DoubleValue(0.91)),
            kv(
                attr::GRAPH_EVENT_TYPES,
                text_array(&["Expansion", "Reversal"]),
            ),
            kv(attr::GRAPH_EDGE_INTENTS, text_array(&["CONTEXT"])),
            kv(attr::GRAPH_NODE_FEATURE_DIM, Value::IntValue(51)),
            kv(attr::GRAPH_EDGE_FEATURE_DIM, Value::DoubleValue(20.0)),
            kv(attr::GRAPH_CROSS_SESSION_EDGES, Value::IntValue(0)),
            kv(attr::HTF_OPEN_CANDLE_READS, Value::IntValue(3)),
            kv("unmonitored.attribute", Value::BoolValue(true)),
        ],
    );
    session.parent_span_id = vec![1; 8];
    let run = span(
        1,
        "run",
        vec![
            kv(attr::SPAN_KIND, text("run")),
            kv(attr::RUN_SESSION_COUNT, Value::IntValue(57)),
            kv(attr::INSTRUMENT_OVERHEAD, Value::DoubleValue(0.002)),
            kv(attr::INSTRUMENT_OPERATIONS, Value::IntValue(4000)),
        ],
    );
    request(Some(text("ironforge")), vec![session, run])
}

#[test]
fn a_session_span_keeps_its_ids_times_and_facts() {
    let decoded = convert(session_and_run());

    assert_eq!(decoded.rejected, 0);
    assert!(decoded.errors.is_empty());
    assert_eq!(partial_success(&decoded), None);
    let [session, run] = decoded.spans.as_slice() else {
        panic!("expected two spans, got {:?}", decoded.spans);
    };
    assert_eq!(session.trace_id, TraceId(TRACE));
    assert_eq!(session.span_id, SpanId([2; 8]));
    assert_eq!(session.parent_span_id, Some(SpanId([1; 8])));
    assert_eq!(run.parent_span_id, None);
    assert_eq!(&*session.name, "process_session");
    assert_eq!(
        (session.start_unix_nano, session.end_unix_nano),
        (1_000, 3_000)
    );
    assert_eq!(session.service_name.as_deref(), Some("ironforge"));
    let (Some(a), Some(b)) = (&session.service_name, &run.service_name) else {
        panic!("service name missing");
    };
    assert!(
        Arc::ptr_eq(a, b),
        "service.name is shared, not copied per span"
    );

    assert_session_facts(session);

    assert_eq!(run.kind, Some(SpanKind::Run));
    assert_eq!(run.facts.int(attr::RUN_SESSION_COUNT), Some(57));
    assert_eq!(run.facts.number(attr::INSTRUMENT_OVERHEAD), Some(0.002));
    assert_eq!(run.facts.int(attr::INSTRUMENT_OPERATIONS), Some(4000));
    assert_eq!(run.facts.number(attr::PATTERN_AUTHENTICITY), None);
}

/// The session span of [`session_and_run`], its kind, stage and session resolved and each fact typed.
fn assert_session_facts(session: &SpanRecord) {
    assert_eq!(session.kind, Some(SpanKind::Session));
    assert_eq!(session.stage, Some(Stage::Discovery));
    assert_eq!(session.session_id.as_deref(), Some("NY_AM_2025-08-04"));
    let facts = &session.facts;
    assert_eq!(facts.attribute_errors, Vec::<String>::new());
    assert_eq!(facts.number(attr::PROCESS_MEMORY_USAGE), Some(5e7));
    assert_eq!(facts.number(attr::MEMORY_PEAK), Some(6.5e7));
    assert_eq!(facts.number(attr::PATTERN_AUTHENTICITY), Some(0.91));
    assert_eq!(
        facts.strings(attr::GRAPH_EVENT_TYPES),
        Some(&[Arc::from("Expansion"), Arc::from("Reversal")][..])
    );
    assert_eq!(
        facts.strings(attr::GRAPH_EDGE_INTENTS),
        Some(&[Arc::from("CONTEXT")][..])
    );
    assert_eq!(facts.int(attr::GRAPH_NODE_FEATURE_DIM), Some(51));
    assert_eq!(facts.int(attr::GRAPH_EDGE_FEATURE_DIM), Some(20));
    assert_eq!(facts.int(attr::GRAPH_CROSS_SESSION_EDGES), Some(0));
    assert_eq!(facts.int(attr::HTF_OPEN_CANDLE_READS), Some(3));
}

#[test]
fn an_int_authenticity_is_a_number() {
    let decoded = convert(request(
        None,
        vec![span(
            1,
            "p",
            vec![kv(attr::PATTERN_AUTHENTICITY, Value::IntValue(1))],
        )],
    ));
    assert_eq!(
        decoded.spans[0].facts.number(attr::PATTERN_AUTHENTICITY),
        Some(1.0)
    );
    assert!(decoded.spans[0].facts.attribute_errors.is_empty());
    assert_eq!(decoded.spans[0].service_name, None);
}

#[test]
fn wrong_types_are_explained_and_the_span_is_kept() {
    let decoded = convert(request(
        Some(text("svc")),
        vec![span(
            1,
            "s",
            vec![
                kv(attr::SPAN_KIND, text("sesion")),
                kv(attr::STAGE, Value::IntValue(1)),
                kv(attr::GRAPH_NODE_FEATURE_DIM, text("51")),
                kv(attr::GRAPH_EDGE_FEATURE_DIM, Value::DoubleValue(19.5)),
                kv(attr::PATTERN_AUTHENTICITY, text("0.9")),
                kv(attr::MEMORY_PEAK, Value::DoubleValue(f64::NAN)),
                kv(attr::GRAPH_EVENT_TYPES, text("Expansion")),
                kv(attr::SESSION_ID, Value::BoolValue(true)),
                KeyValue {
                    key: attr::RUN_SESSION_COUNT.to_owned(),
                    value: None,
                    ..KeyValue::default()
                },
            ],
        )],
    ));
    assert_eq!(decoded.rejected, 0);
    let record = &decoded.spans[0];
    assert_eq!(record.kind, None);
    assert_eq!(record.stage, None);
    assert_eq!(record.session_id, None);
    assert_eq!(record.facts.int(attr::GRAPH_NODE_FEATURE_DIM), None);
    assert_eq!(
        record.facts.attribute_errors,
        vec![
            "attribute `ironforge.span.kind`: expected one of run, init, stage, session, pattern, \
             received string \"sesion\"",
            "attribute `ironforge.stage`: expected string, received int 1",
            "attribute `ironforge.graph.node_feature_dim`: expected int, received string \"51\"",
            "attribute `ironforge.graph.edge_feature_dim`: expected int, received double 19.5",
            "attribute `ironforge.pattern.authenticity`: expected double or int, received string \"0.9\"",
            "attribute `ironforge.memory.peak`: expected a finite double, received double NaN",
            "attribute `ironforge.graph.event_types`: expected array of strings, received string \
             \"Expansion\"",
            "attribute `ironforge.session.id`: expected string, received bool true",
            "attribute `ironforge.run.session_count`: expected int, received an empty value",
        ]
    );
}

#[test]
fn an_array_with_a_non_string_member_names_its_index() {
    let mut array = text_array(&["Expansion", "Reversal"]);
    if let Value::ArrayValue(values) = &mut array {
        values.values.push(AnyValue {
            value: Some(Value::IntValue(7)),
        });
    }
    let decoded = convert(request(
        None,
        vec![span(1, "s", vec![kv(attr::GRAPH_EDGE_INTENTS, array)])],
    ));
    let facts = &decoded.spans[0].facts;
    assert_eq!(facts.strings(attr::GRAPH_EDGE_INTENTS), None);
    assert_eq!(
        facts.attribute_errors,
        vec![
            "attribute `ironforge.graph.edge_intents`: expected array of strings, received array with \
             int 7 at index 2"
        ]
    );
}

#[test]
fn a_service_name_of_the_wrong_type_is_reported_on_each_span() {
    let decoded = convert(request(
        Some(Value::IntValue(5)),
        vec![span(1, "a", vec![]), span(2, "b", vec![])],
    ));
    for record in &decoded.spans {
        assert_eq!(record.service_name, None);
        assert_eq!(
            record.facts.attribute_errors,
            vec!["attribute `service.name`: expected string, received int 5"]
        );
    }
}

#[test]
fn invalid_ids_and_times_refuse_only_their_span() {
    let mut short_trace = span(1, "short_trace", vec![]);
    short_trace.trace_id = vec![1; 15];
    let mut zero_trace = span(2, "zero_trace", vec![]);
    zero_trace.trace_id = vec![0; 16];
    let mut zero_span = span(0, "zero_span", vec![]);
    zero_span.span_id = vec![0; 8];
    let mut long_span = span(4, "long_span", vec![]);
    long_span.span_id = vec![4; 9];
    let mut bad_parent = span(5, "bad_parent", vec![]);
    bad_parent.parent_span_id = vec![0; 8];
    let mut short_parent = span(6, "short_parent", vec![]);
    short_parent.parent_span_id = vec![6; 2];
    let mut backwards = span(7, "backwards", vec![]);
    backwards.start_time_unix_nano = 10;
    backwards.end_time_unix_nano = 9;
    let mut instant = span(8, "instant", vec![]);
    instant.end_time_unix_nano = instant.start_time_unix_nano;

    let decoded = convert(request(
        None,
        vec![
            short_trace,
            zero_trace,
            zero_span,
            span(3, "good", vec![]),
            long_span,
            bad_parent,
            short_parent,
            backwards,
            instant,
        ],
    ));

    let names: Vec<&str> = decoded.spans.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["good", "instant"]);
    assert_eq!(decoded.rejected, 7);
    assert_eq!(
        decoded.errors,
        vec![
            "span \"short_trace\": trace_id has 15 bytes; expected 16",
            "span \"zero_trace\": trace_id is all zeros",
            "span \"zero_span\": span_id is all zeros",
            "span \"long_span\": span_id has 9 bytes; expected 8",
            "span \"bad_parent\": parent_span_id is all zeros",
            "span \"short_parent\": parent_span_id has 2 bytes; expected 8",
            "span \"backwards\" (span_id 0707070707070707): end_time_unix_nano 9 is before \
             start_time_unix_nano 10",
        ]
    );
    let partial = partial_success(&decoded).unwrap();
    assert_eq!(partial.rejected_spans, 7);
    assert_eq!(partial.error_message, decoded.errors.join("; "));
}

#[test]
fn refusals_beyond_the_cap_are_counted_not_listed() {
    let spans = (0..100)
        .map(|_| {
            let mut bad = span(1, "bad", vec![]);
            bad.trace_id.clear();
            bad
        })
        .collect();
    let decoded = convert(request(None, spans));
    assert_eq!(decoded.rejected, 100);
    assert_eq!(decoded.errors.len(), MAX_ERROR_MESSAGES);
    assert!(
        decoded
            .error_message()
            .ends_with("; and 92 more rejected span(s)"),
        "{}",
        decoded.error_message()
    );
}

#[test]
fn long_values_are_cut_in_explanations() {
    let long = "é".repeat(1000);
    let decoded = convert(request(
        None,
        vec![span(
            1,
            &long,
            vec![kv(attr::GRAPH_NODE_FEATURE_DIM, text(&long))],
        )],
    ));
    let error = &decoded.spans[0].facts.attribute_errors[0];
    assert!(error.len() < 200, "{error}");
    assert!(error.ends_with("… (2000 bytes)"), "{error}");
}

#[test]
fn an_empty_request_has_nothing_to_refuse() {
    let decoded = convert(ExportTraceServiceRequest::default());
    assert!(decoded.spans.is_empty());
    assert_eq!(decoded.rejected, 0);
    assert_eq!(partial_success(&decoded), None);
}
