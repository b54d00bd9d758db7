//! OpenTelemetry's attribute limits, applied as spans are decoded: attributes per span, bytes of a value,
//! members of an array. What is cut is counted on the span and on its trace's verdict.

use std::time::Instant;

use ironforge_engine::decode::decode_request;
use ironforge_engine::model::SpanRecord;
use ironforge_engine::plan::ReadPlan;
use ironforge_engine::verdict::VerdictStatus;
use ironforge_engine::{ContractSet, Engine};
use ironforge_proto::semconv::{SpanKind, attr};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use crate::support::{at, defaults, kv, span, verdicts};

fn string(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

/// A session span with a 5,000-byte session id, a 2,000-member event type array, 200 attributes no
/// contract reads, and last a node feature dimension: 204 attributes in all.
fn oversized_span() -> Span {
    let members = (0..2000)
        .map(|i| AnyValue {
            value: Some(string(&format!("E{i}"))),
        })
        .collect();
    let mut attributes = vec![
        kv(attr::SPAN_KIND, string("session")),
        kv(attr::SESSION_ID, string(&"S".repeat(5000))),
        kv(
            attr::GRAPH_EVENT_TYPES,
            Value::ArrayValue(ArrayValue { values: members }),
        ),
    ];
    attributes.extend((0..200).map(|i| kv(&format!("filler.{i}"), Value::IntValue(i))));
    attributes.push(kv(attr::GRAPH_NODE_FEATURE_DIM, Value::IntValue(51)));
    Span {
        trace_id: vec![30; 16],
        span_id: vec![2; 8],
        parent_span_id: vec![1; 8],
        name: "N".repeat(5000),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes,
        ..Span::default()
    }
}

fn decode_one(plan: &ReadPlan) -> SpanRecord {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![oversized_span()],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let mut decoded = decode_request(&request.encode_to_vec(), plan).unwrap();
    assert_eq!(decoded.spans.len(), 1);
    decoded.spans.remove(0)
}

#[test]
fn the_default_limits_cut_values_arrays_and_attribute_counts() {
    let span = decode_one(defaults().plan());
    assert_eq!(span.session_id.as_deref().map(str::len), Some(4096));
    assert_eq!(span.name.len(), 4096);
    assert_eq!(
        span.facts.strings(attr::GRAPH_EVENT_TYPES).map(<[_]>::len),
        Some(1024)
    );
    assert_eq!(
        span.facts.int(attr::GRAPH_NODE_FEATURE_DIM),
        None,
        "the 204th attribute is past the count limit of 128"
    );
    // The session id, the name, the array, and the 76 attributes past the 128th.
    assert_eq!(span.facts.truncated, 79);
}

#[test]
fn the_contract_file_sets_the_limits() {
    let text = ironforge_engine::config::DEFAULT_CONTRACTS_YAML
        .replace(
            "max_attribute_value_length: 4096",
            "max_attribute_value_length: 8",
        )
        .replace(
            "max_attribute_array_length: 1024",
            "max_attribute_array_length: 3",
        )
        .replace("max_attributes_per_span: 128", "max_attributes_per_span: 2");
    let file = ironforge_engine::config::ContractFile::parse(&text, "limits.yaml").unwrap();
    let set = ContractSet::new(file, None);
    let span = decode_one(set.plan());
    assert_eq!(span.session_id.as_deref(), Some("SSSSSSSS"));
    assert_eq!(span.kind, Some(SpanKind::Session));
    assert_eq!(span.facts.strings(attr::GRAPH_EVENT_TYPES), None);
    assert_eq!(span.facts.truncated, 2 + 202);
}

#[test]
fn the_verdict_counts_what_the_limits_cut() {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let session = decode_one(defaults().plan());
    let root = span(30, 1, None, Some(SpanKind::Run));
    let mut events = engine.ingest(vec![session, root], at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    let verdict = verdicts(&events)[0];
    assert_eq!(verdict.attributes_truncated, 79);
    assert_ne!(verdict.status, VerdictStatus::Incomplete);
}

#[test]
fn a_root_with_a_million_member_array_is_kept_and_decided() {
    let members = (0..1_000_000)
        .map(|i| AnyValue {
            value: Some(string(&format!("E{i}"))),
        })
        .collect();
    let root = Span {
        trace_id: vec![31; 16],
        span_id: vec![1; 8],
        name: "run".into(),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![
            kv(attr::SPAN_KIND, string("run")),
            kv(
                attr::GRAPH_EVENT_TYPES,
                Value::ArrayValue(ArrayValue { values: members }),
            ),
        ],
        ..Span::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![root],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let decoded = decode_request(&request.encode_to_vec(), defaults().plan()).unwrap();
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut events = engine.ingest(decoded.spans, at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    let verdict = verdicts(&events)[0];
    assert!(
        matches!(
            verdict.status,
            VerdictStatus::Pass | VerdictStatus::Fail | VerdictStatus::Warn
        ),
        "{verdict:?}"
    );
    assert_eq!(verdict.span_count, 1);
    assert_eq!(verdict.attributes_truncated, 1);
}

#[test]
fn a_span_repeating_a_mistyped_attribute_yields_one_bounded_violation() {
    let mut session = span(32, 2, Some(1), Some(SpanKind::Session));
    session.facts.attribute_errors = (0..128)
        .map(|i| format!("attribute `ironforge.graph.node_feature_dim`: expected int, received string \"{i}\""))
        .collect();
    let mut engine = Engine::new(defaults());
    let events = engine.ingest(vec![session], at(Instant::now(), 0)).unwrap();
    let broken = crate::support::violations(&events);
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0].message.len() < 2_000,
        "{}",
        broken[0].message.len()
    );
    assert!(
        broken[0].message.contains("and 108 more"),
        "{}",
        broken[0].message
    );
}
