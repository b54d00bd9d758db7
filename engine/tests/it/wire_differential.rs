//! `ironforge_engine::wire` against prost: on generated, structurally mutated, damaged and hand-made
//! requests, the wire decoder must accept exactly what `prost::Message::decode` of an
//! `ExportTraceServiceRequest` accepts, and report the same spans and selected attributes when both do.
//!
//! What the two may report differently, by design (documented on `ironforge_engine::wire`):
//! - `string_value_strindex` reads as `WireValue::Empty`; a key-value list as its length alone.
//! - The error: prost's `DecodeError` and the decoder's `WireError` may name different causes.
//!
//! There is no difference in what is accepted; in particular the decoder keeps prost's nesting limit of
//! 100 messages (and groups) exactly, which `nesting_limits_match` pins at the boundary.

use crate::support::properties;

use ironforge_engine::wire::{SpanVisitor, WireError, WireSpan, WireValue, decode_trace_request};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

// ---------------------------------------------------------------------------------------------------
// One owned form for both decoders.

/// The keys the tests select, and their slots. Keys outside it are drawn too (see `arb_key`).
fn slot(key: &str) -> Option<u16> {
    match key {
        "service.name" => Some(0),
        "ironforge.session.id" => Some(1),
        "ironforge.stage" => Some(2),
        "a" => Some(3),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    /// The bits, so that NaNs compare.
    Double(u64),
    Bytes(Vec<u8>),
    Array(Vec<Val>),
    KvList(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct SpanOut {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    name: String,
    start: u64,
    end: u64,
    status_code: i32,
    attributes: Vec<(u16, Val)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct ResourceOut {
    attributes: Vec<(u16, Val)>,
    spans: Vec<SpanOut>,
}

type Decoded = Vec<ResourceOut>;

fn from_prost_value(value: Option<&AnyValue>) -> Val {
    use any_value::Value;
    match value.and_then(|any| any.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => Val::Empty,
        Some(Value::StringValue(s)) => Val::Str(s.clone()),
        Some(Value::BoolValue(b)) => Val::Bool(*b),
        Some(Value::IntValue(i)) => Val::Int(*i),
        Some(Value::DoubleValue(d)) => Val::Double(d.to_bits()),
        Some(Value::BytesValue(b)) => Val::Bytes(b.clone()),
        Some(Value::ArrayValue(array)) => Val::Array(
            array
                .values
                .iter()
                .map(|v| from_prost_value(Some(v)))
                .collect(),
        ),
        Some(Value::KvlistValue(list)) => Val::KvList(list.values.len()),
    }
}

fn from_prost_attributes(attributes: &[KeyValue]) -> Vec<(u16, Val)> {
    attributes
        .iter()
        .filter_map(|kv| Some((slot(&kv.key)?, from_prost_value(kv.value.as_ref()))))
        .collect()
}

fn from_prost(request: &ExportTraceServiceRequest) -> Decoded {
    request
        .resource_spans
        .iter()
        .map(|rs| ResourceOut {
            attributes: rs
                .resource
                .as_ref()
                .map(|r| from_prost_attributes(&r.attributes))
                .unwrap_or_default(),
            spans: rs
                .scope_spans
                .iter()
                .flat_map(|ss| &ss.spans)
                .map(|span| SpanOut {
                    trace_id: span.trace_id.clone(),
                    span_id: span.span_id.clone(),
                    parent_span_id: span.parent_span_id.clone(),
                    name: span.name.clone(),
                    start: span.start_time_unix_nano,
                    end: span.end_time_unix_nano,
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                    attributes: from_prost_attributes(&span.attributes),
                })
                .collect(),
        })
        .collect()
}

fn from_wire_value(value: &WireValue<'_>) -> Val {
    match value {
        WireValue::Empty => Val::Empty,
        WireValue::String(s) => Val::Str((*s).to_owned()),
        WireValue::Bool(b) => Val::Bool(*b),
        WireValue::Int(i) => Val::Int(*i),
        WireValue::Double(d) => Val::Double(d.to_bits()),
        WireValue::Bytes(b) => Val::Bytes(b.to_vec()),
        WireValue::Array(array) => {
            let elements: Vec<Val> = array.iter().map(|v| from_wire_value(&v)).collect();
            assert_eq!(
                elements.len(),
                array.len(),
                "WireArray::len and iter disagree"
            );
            assert_eq!(elements.is_empty(), array.is_empty());
            Val::Array(elements)
        }
        WireValue::KvList { len } => Val::KvList(*len),
    }
}

fn from_wire_attributes(attributes: &[(u16, WireValue<'_>)]) -> Vec<(u16, Val)> {
    attributes
        .iter()
        .map(|(slot, v)| (*slot, from_wire_value(v)))
        .collect()
}

#[derive(Default)]
struct Collect(Decoded);

impl<'a> SpanVisitor<'a> for Collect {
    fn resource(&mut self, attributes: &[(u16, WireValue<'a>)]) {
        self.0.push(ResourceOut {
            attributes: from_wire_attributes(attributes),
            spans: Vec::new(),
        });
    }
    fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]) {
        let resource = self.0.last_mut().expect("resource() comes before span()");
        resource.spans.push(SpanOut {
            trace_id: span.trace_id.to_vec(),
            span_id: span.span_id.to_vec(),
            parent_span_id: span.parent_span_id.to_vec(),
            name: span.name.to_owned(),
            start: span.start_time_unix_nano,
            end: span.end_time_unix_nano,
            status_code: span.status_code,
            attributes: from_wire_attributes(attributes),
        });
    }
}

fn wire_decode(bytes: &[u8]) -> Result<Decoded, WireError> {
    let mut collect = Collect::default();
    decode_trace_request(bytes, &slot, &mut collect)?;
    Ok(collect.0)
}

/// Both decoders on `bytes`: both refuse, or both accept with equal output. Returns whether they accepted.
fn same(bytes: &[u8]) -> Result<bool, TestCaseError> {
    let prost = ExportTraceServiceRequest::decode(bytes);
    let wire = wire_decode(bytes);
    match (&prost, &wire) {
        (Ok(request), Ok(decoded)) => {
            prop_assert_eq!(&from_prost(request), decoded, "bytes {:02x?}", bytes);
            Ok(true)
        }
        (Err(_), Err(_)) => Ok(false),
        _ => Err(TestCaseError::fail(format!(
            "prost {:?} but wire {:?} on {:02x?}",
            prost.map(|_| "ok"),
            wire.map(|_| "ok"),
            bytes
        ))),
    }
}

fn assert_same(bytes: &[u8]) -> bool {
    same(bytes).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------------
// Generated requests.

fn arb_string() -> impl Strategy<Value = String> {
    "[a-zé€😀 .]{0,6}"
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("service.name"),
        Just("ironforge.session.id"),
        Just("ironforge.stage"),
        Just("a"),
        Just("skipped"),
        Just("b"),
        Just(""),
        Just("ключ"),
    ]
    .prop_map(str::to_owned)
}

fn arb_id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 16..=16),
        3 => vec(any::<u8>(), 8..=8),
        1 => vec(any::<u8>(), 0..=20),
    ]
}

fn arb_any_value() -> impl Strategy<Value = AnyValue> {
    use any_value::Value;
    let leaf = prop_oneof![
        Just(None),
        arb_string().prop_map(|s| Some(Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
        any::<f64>().prop_map(|d| Some(Value::DoubleValue(d))),
        vec(any::<u8>(), 0..6).prop_map(|b| Some(Value::BytesValue(b))),
        any::<i32>().prop_map(|i| Some(Value::StringValueStrindex(i))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            vec((arb_key(), proptest::option::of(inner)), 0..3).prop_map(|entries| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: entries
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value,
                            key_strindex: 0,
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn arb_attributes(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (arb_key(), proptest::option::of(arb_any_value()), 0..2i32),
        0..max,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .map(|(key, value, key_strindex)| KeyValue {
                key,
                value,
                key_strindex,
            })
            .collect()
    })
}

fn arb_span() -> impl Strategy<Value = Span> {
    let ids = (arb_id(), arb_id(), arb_id(), arb_string(), arb_string());
    let times = (
        any::<u64>(),
        any::<u64>(),
        0..6i32,
        any::<u32>(),
        any::<u32>(),
    );
    let status = proptest::option::of((arb_string(), prop_oneof![0..3i32, any::<i32>()]));
    let events = vec((any::<u64>(), arb_string(), arb_attributes(2)), 0..2);
    let links = vec((arb_id(), arb_id(), arb_string(), arb_attributes(2)), 0..2);
    (ids, times, status, arb_attributes(8), events, links).prop_map(
        |(
            (trace_id, span_id, parent_span_id, name, trace_state),
            (start, end, kind, flags, dropped),
            status,
            attributes,
            events,
            links,
        )| Span {
            trace_id,
            span_id,
            trace_state,
            parent_span_id,
            flags,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            dropped_attributes_count: dropped,
            events: events
                .into_iter()
                .map(|(time_unix_nano, name, attributes)| span::Event {
                    time_unix_nano,
                    name,
                    attributes,
                    dropped_attributes_count: 0,
                })
                .collect(),
            dropped_events_count: 0,
            links: links
                .into_iter()
                .map(|(trace_id, span_id, trace_state, attributes)| span::Link {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes,
                    dropped_attributes_count: 1,
                    flags: 0x100,
                })
                .collect(),
            dropped_links_count: dropped,
            status: status.map(|(message, code)| Status { message, code }),
        },
    )
}

fn arb_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let resource = proptest::option::of(
        (arb_attributes(4), vec(vec(arb_string(), 0..2), 0..2)).prop_map(
            |(attributes, entity_keys)| Resource {
                attributes,
                dropped_attributes_count: 0,
                entity_refs: entity_keys
                    .into_iter()
                    .map(|id_keys| EntityRef {
                        schema_url: String::new(),
                        r#type: "service".into(),
                        id_keys,
                        description_keys: vec![],
                    })
                    .collect(),
            },
        ),
    );
    let scope = proptest::option::of((arb_string(), arb_attributes(2)).prop_map(
        |(name, attributes)| InstrumentationScope {
            name,
            version: "1.0".into(),
            attributes,
            dropped_attributes_count: 0,
        },
    ));
    let scope_spans = vec((scope, vec(arb_span(), 0..4), arb_string()), 0..3);
    vec((resource, scope_spans, arb_string()), 0..4).prop_map(|resource_spans| {
        ExportTraceServiceRequest {
            resource_spans: resource_spans
                .into_iter()
                .map(|(resource, scope_spans, schema_url)| ResourceSpans {
                    resource,
                    scope_spans: scope_spans
                        .into_iter()
                        .map(|(scope, spans, schema_url)| ScopeSpans {
                            scope,
                            spans,
                            schema_url,
                        })
                        .collect(),
                    schema_url,
                })
                .collect(),
        }
    })
}

// ---------------------------------------------------------------------------------------------------
// Requests as trees of fields, to reorder, repeat, split and extend them.

#[derive(Debug, Clone)]
enum Node {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(Vec<u8>),
    Message(Vec<(u32, Node)>),
    Group(Vec<(u32, Node)>),
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn encode(fields: &[(u32, Node)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, node) in fields {
        let key = |wire_type: u64| (u64::from(*tag) << 3) | wire_type;
        match node {
            Node::Varint(v) => {
                put_varint(&mut out, key(0));
                put_varint(&mut out, *v);
            }
            Node::Fixed64(v) => {
                put_varint(&mut out, key(1));
                out.extend(v.to_le_bytes());
            }
            Node::Fixed32(v) => {
                put_varint(&mut out, key(5));
                out.extend(v.to_le_bytes());
            }
            Node::Bytes(bytes) => {
                put_varint(&mut out, key(2));
                put_varint(&mut out, bytes.len() as u64);
                out.extend(bytes);
            }
            Node::Message(children) => {
                let body = encode(children);
                put_varint(&mut out, key(2));
                put_varint(&mut out, body.len() as u64);
                out.extend(body);
            }
            Node::Group(children) => {
                put_varint(&mut out, key(3));
                out.extend(encode(children));
                put_varint(&mut out, key(4));
            }
        }
    }
    out
}

/// The message types whose fields the tree parser descends into, by protobuf name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum M {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    /// Any other message (`EntityRef`): its fields are kept as bytes.
    Leaf,
}

/// The message type of field `tag` of `m`, when it is an embedded message.
fn child(m: M, tag: u32) -> Option<M> {
    Some(match (m, tag) {
        (M::Request, 1) => M::ResourceSpans,
        (M::ResourceSpans, 1) => M::Resource,
        (M::ResourceSpans, 2) => M::ScopeSpans,
        (M::Resource, 1)
        | (M::Scope, 3)
        | (M::Span, 9)
        | (M::Event, 3)
        | (M::Link, 4)
        | (M::KeyValueList, 1) => M::KeyValue,
        (M::Resource, 3) => M::Leaf,
        (M::ScopeSpans, 1) => M::Scope,
        (M::ScopeSpans, 2) => M::Span,
        (M::Span, 11) => M::Event,
        (M::Span, 13) => M::Link,
        (M::Span, 15) => M::Status,
        (M::KeyValue, 2) | (M::ArrayValue, 1) => M::AnyValue,
        (M::AnyValue, 5) => M::ArrayValue,
        (M::AnyValue, 6) => M::KeyValueList,
        _ => return None,
    })
}

/// Parses a canonical encoding (prost's output: no groups, valid framing) into a tree.
fn parse(m: M, mut bytes: &[u8]) -> Vec<(u32, Node)> {
    fn varint(bytes: &mut &[u8]) -> u64 {
        let mut value = 0;
        for shift in (0..).step_by(7) {
            let (&byte, rest) = bytes.split_first().expect("canonical encoding");
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
        }
        value
    }
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let tag = (key >> 3) as u32;
        let node = match key & 7 {
            0 => Node::Varint(varint(&mut bytes)),
            1 => {
                let (value, rest) = bytes.split_first_chunk::<8>().expect("canonical encoding");
                bytes = rest;
                Node::Fixed64(u64::from_le_bytes(*value))
            }
            5 => {
                let (value, rest) = bytes.split_first_chunk::<4>().expect("canonical encoding");
                bytes = rest;
                Node::Fixed32(u32::from_le_bytes(*value))
            }
            2 => {
                let len = varint(&mut bytes) as usize;
                let (body, rest) = bytes.split_at(len);
                bytes = rest;
                match child(m, tag) {
                    Some(inner) => Node::Message(parse(inner, body)),
                    None => Node::Bytes(body.to_vec()),
                }
            }
            other => panic!("wire type {other} in a canonical encoding"),
        };
        fields.push((tag, node));
    }
    fields
}

/// The mutations' random choices, from a seed proptest draws (and shrinks).
type Rng = proptest::test_runner::TestRng;

fn rng(seed: [u8; 16]) -> Rng {
    Rng::from_seed(proptest::test_runner::RngAlgorithm::XorShift, &seed)
}

/// A number below `n` (0 when `n` is 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.random_range(0..n.max(1))
}

/// A field no message of the schema declares (all stop at 16), of any wire type.
fn unknown_field(rng: &mut Rng) -> (u32, Node) {
    let tag = [17, 99, 1000, (1 << 29) - 1][below(rng, 4)];
    let node = match below(rng, 5) {
        0 => Node::Varint(rng.random::<u64>()),
        1 => Node::Fixed64(rng.random::<u64>()),
        2 => Node::Fixed32(rng.random::<u32>()),
        3 => Node::Bytes(vec![0xff, 0xfe]),
        _ => Node::Group(vec![(1, Node::Varint(1)), (2, Node::Group(vec![]))]),
    };
    (tag, node)
}

/// One field of the `AnyValue` oneof, to interleave with the others.
fn oneof_field(rng: &mut Rng) -> (u32, Node) {
    match below(rng, 6) {
        0 => (1, Node::Bytes("interleaved".into())),
        1 => (2, Node::Varint(1)),
        2 => (3, Node::Varint(rng.random::<u64>())),
        3 => (4, Node::Fixed64(rng.random::<u64>())),
        4 => (7, Node::Bytes(vec![1, 2])),
        _ => (8, Node::Varint(3)),
    }
}

/// Reorders, repeats, splits and extends the fields of every message, each with some probability. The
/// result is still valid protobuf, whose meaning prost defines by merging.
fn mutate(fields: &mut Vec<(u32, Node)>, m: M, rng: &mut Rng) {
    for (tag, node) in fields.iter_mut() {
        if let (Node::Message(children), Some(inner)) = (&mut *node, child(m, *tag)) {
            mutate(children, inner, rng);
        }
    }
    for _ in 0..below(rng, 3) {
        mutate_once(fields, m, rng);
    }
}

fn mutate_once(fields: &mut Vec<(u32, Node)>, m: M, rng: &mut Rng) {
    let n = fields.len();
    match below(rng, 6) {
        0 => {
            for i in (1..n).rev() {
                fields.swap(i, below(rng, i + 1));
            }
        }
        1 if n > 0 => {
            let copy = fields[below(rng, n)].clone();
            fields.insert(below(rng, n + 1), copy);
        }
        2 if n > 0 => {
            let at = below(rng, n);
            if let (tag, Node::Message(children)) = &mut fields[at] {
                let tail = children.split_off(below(rng, children.len() + 1));
                let tag = *tag;
                fields.insert(at + 1, (tag, Node::Message(tail)));
            }
        }
        3 => fields.insert(below(rng, n + 1), unknown_field(rng)),
        4 if m == M::AnyValue => fields.insert(below(rng, n + 1), oneof_field(rng)),
        5 if n > 0 => {
            let moved = fields.remove(below(rng, n));
            fields.push(moved);
        }
        _ => {}
    }
}

fn mutated(request: &ExportTraceServiceRequest, seed: [u8; 16]) -> Vec<u8> {
    let mut tree = parse(M::Request, &request.encode_to_vec());
    mutate(&mut tree, M::Request, &mut rng(seed));
    encode(&tree)
}

/// Arbitrary field trees, mostly on the tags the schema declares, with any wire type where it is.
fn arb_fields() -> impl Strategy<Value = Vec<(u32, Node)>> {
    let tag = prop_oneof![4 => 1u32..4, 2 => 1u32..17, 1 => 17u32..20];
    let leaf = prop_oneof![
        any::<u64>().prop_map(Node::Varint),
        any::<u64>().prop_map(Node::Fixed64),
        any::<u32>().prop_map(Node::Fixed32),
        prop_oneof![Just(b"ok".to_vec()), vec(any::<u8>(), 0..4)].prop_map(Node::Bytes),
    ];
    let node = leaf.prop_recursive(6, 64, 5, move |inner| {
        let fields = vec(
            (
                prop_oneof![4 => 1u32..4, 2 => 1u32..17, 1 => 17u32..20],
                inner,
            ),
            0..5,
        );
        prop_oneof![5 => fields.clone().prop_map(Node::Message), 1 => fields.prop_map(Node::Group)]
    });
    vec((tag, node), 0..5)
}

// ---------------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(properties::config(600))]

    #[test]
    fn generated_requests_decode_alike(request in arb_request()) {
        let bytes = request.encode_to_vec();
        prop_assert!(same(&bytes)?, "a request prost encoded must decode");
    }

    #[test]
    fn reordered_repeated_and_split_fields_decode_alike(request in arb_request(), seed in any::<[u8; 16]>()) {
        prop_assert!(same(&mutated(&request, seed))?, "a mutated request is still valid");
    }

    #[test]
    fn damaged_requests_are_refused_alike(
        request in arb_request(),
        damage in vec((any::<prop::sample::Index>(), 0..3u8, any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        for (at, kind, byte) in damage {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] ^= byte.max(1),
                1 => bytes.insert(i, byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(byte),
            }
        }
        same(&bytes)?;
    }
}

proptest! {
    #![proptest_config(properties::config(1500))]

    #[test]
    fn arbitrary_field_trees_are_judged_alike(fields in arb_fields()) {
        same(&encode(&fields))?;
    }

    #[test]
    fn random_bytes_are_judged_alike(bytes in vec(any::<u8>(), 0..48)) {
        same(&bytes)?;
    }
}

proptest! {
    #![proptest_config(properties::config(40))]

    #[test]
    fn every_truncation_is_judged_alike(request in arb_request(), seed in any::<[u8; 16]>()) {
        let bytes = mutated(&request, seed);
        for end in 0..bytes.len() {
            same(&bytes[..end])?;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Hand-made cases.

fn message(tag: u32, fields: Vec<(u32, Node)>) -> (u32, Node) {
    (tag, Node::Message(fields))
}

fn text(tag: u32, s: &[u8]) -> (u32, Node) {
    (tag, Node::Bytes(s.to_vec()))
}

/// A request of one resource-less `ResourceSpans` holding one span with these fields.
fn one_span(fields: Vec<(u32, Node)>) -> Vec<u8> {
    encode(&[message(1, vec![message(2, vec![message(2, fields)])])])
}

fn attribute(key: &str, value: Vec<(u32, Node)>) -> (u32, Node) {
    message(9, vec![text(1, key.as_bytes()), message(2, value)])
}

#[test]
fn hand_made_cases_are_judged_alike() {
    let bad_utf8 = b"\xe2\x82";
    let name = text(5, b"s");
    let resource = |key: &str| {
        message(
            1,
            vec![message(
                1,
                vec![text(1, key.as_bytes()), message(2, vec![text(1, b"svc")])],
            )],
        )
    };
    let scope_spans = message(2, vec![message(2, vec![name.clone()])]);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "invalid UTF-8 in an unselected value",
            one_span(vec![attribute("skipped", vec![text(1, bad_utf8)])]),
            false,
        ),
        (
            "invalid UTF-8 in a selected value",
            one_span(vec![attribute("a", vec![text(1, bad_utf8)])]),
            false,
        ),
        (
            "invalid UTF-8 in a link's trace state",
            one_span(vec![message(13, vec![text(3, bad_utf8)])]),
            false,
        ),
        (
            "invalid UTF-8 in an unknown field",
            one_span(vec![text(40, bad_utf8)]),
            true,
        ),
        (
            "span name as a varint",
            one_span(vec![(5, Node::Varint(1))]),
            false,
        ),
        (
            "start time as a varint",
            one_span(vec![(7, Node::Varint(1))]),
            false,
        ),
        (
            "status code as bytes",
            one_span(vec![message(15, vec![text(3, b"")])]),
            false,
        ),
        (
            "int value as fixed64",
            one_span(vec![attribute("a", vec![(3, Node::Fixed64(1))])]),
            false,
        ),
        (
            "events as a group",
            one_span(vec![(11, Node::Group(vec![]))]),
            false,
        ),
        (
            "a second status without code keeps the code",
            one_span(vec![
                message(15, vec![(3, Node::Varint(2))]),
                message(15, vec![text(2, b"m")]),
            ]),
            true,
        ),
        (
            "a second status with code 0 clears it",
            one_span(vec![
                message(15, vec![(3, Node::Varint(2))]),
                message(15, vec![(3, Node::Varint(0))]),
            ]),
            true,
        ),
        (
            "status' reserved field 1",
            one_span(vec![message(
                15,
                vec![(1, Node::Varint(2)), (3, Node::Varint(1))],
            )]),
            true,
        ),
        (
            "resource after scope_spans",
            encode(&[message(
                1,
                vec![scope_spans.clone(), resource("service.name")],
            )]),
            true,
        ),
        (
            "duplicated resource",
            encode(&[message(
                1,
                vec![resource("service.name"), scope_spans.clone(), resource("a")],
            )]),
            true,
        ),
        (
            "attribute key after value, then again",
            one_span(vec![message(
                9,
                vec![
                    message(2, vec![(3, Node::Varint(5))]),
                    text(1, b"skipped"),
                    text(1, b"a"),
                ],
            )]),
            true,
        ),
        (
            "array, string, array across two values of one attribute",
            one_span(vec![message(
                9,
                vec![
                    text(1, b"a"),
                    message(
                        2,
                        vec![
                            message(5, vec![message(1, vec![(3, Node::Varint(1))])]),
                            text(1, b"x"),
                        ],
                    ),
                    message(
                        2,
                        vec![message(5, vec![message(1, vec![(3, Node::Varint(2))])])],
                    ),
                    message(
                        2,
                        vec![(17, Node::Varint(0)), message(5, vec![message(1, vec![])])],
                    ),
                ],
            )]),
            true,
        ),
        (
            "overlong varint",
            [
                one_span(vec![]),
                vec![
                    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
                ],
            ]
            .concat(),
            false,
        ),
        (
            "varint above u64::MAX",
            [vec![0x08 << 3], vec![0xff; 9], vec![0x02]].concat(),
            false,
        ),
        (
            "varint of exactly u64::MAX",
            [vec![0x08 << 3], vec![0xff; 9], vec![0x01]].concat(),
            true,
        ),
        ("length past the end", vec![0x0a, 0x10, 0x12, 0x00], false),
        (
            "nested length past its parent",
            vec![0x0a, 0x02, 0x12, 0x02, 0x00, 0x00],
            false,
        ),
        ("end group at the top", vec![0x0c], false),
        ("field number 0", vec![0x00, 0x00], false),
        ("wire type 6", vec![0x0e], false),
        (
            "key above u32::MAX",
            vec![0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00],
            false,
        ),
    ];
    for (what, bytes, accepted) in cases {
        match same(&bytes) {
            Ok(both) => assert_eq!(both, accepted, "{what}: both decoders accepted = {both}"),
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// `depth` arrays nested in one another, the innermost holding `innermost`.
fn nested(depth: usize, innermost: Vec<(u32, Node)>) -> Vec<(u32, Node)> {
    (0..depth).fold(innermost, |inner, _| {
        vec![message(5, vec![message(1, inner)])]
    })
}

/// `depth` groups nested in one another.
fn groups(depth: usize, innermost: Vec<(u32, Node)>) -> Vec<(u32, Node)> {
    (0..depth).fold(innermost, |inner, _| vec![(100, Node::Group(inner))])
}

#[test]
fn nesting_limits_match() {
    let mut accepted = [0usize; 8];
    for depth in 40..=55 {
        let kvlist = vec![message(
            6,
            vec![message(1, vec![text(1, b"k"), message(2, vec![])])],
        )];
        let shapes = [
            one_span(vec![attribute("a", nested(depth, vec![]))]),
            one_span(vec![attribute(
                "skipped",
                nested(depth, vec![(3, Node::Varint(1))]),
            )]),
            one_span(vec![attribute(
                "a",
                nested(depth, vec![(99, Node::Varint(1))]),
            )]),
            one_span(vec![attribute(
                "a",
                nested(depth, vec![message(5, vec![(99, Node::Varint(1))])]),
            )]),
            one_span(vec![attribute(
                "a",
                nested(depth, vec![message(5, vec![])]),
            )]),
            one_span(vec![attribute("a", nested(depth, kvlist))]),
            encode(&groups(depth + 50, vec![])),
            one_span(vec![attribute(
                "a",
                nested(depth - 30, groups(depth, vec![(1, Node::Varint(1))])),
            )]),
        ];
        for (shape, bytes) in shapes.iter().enumerate() {
            accepted[shape] += usize::from(assert_same(bytes));
        }
    }
    // Each shape crosses the limit within the range, so both sides of it were compared.
    assert!(accepted.iter().all(|&n| 0 < n && n < 16), "{accepted:?}");
}
