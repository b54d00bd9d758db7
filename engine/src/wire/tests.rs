//! Edge cases of the wire format, on hand-encoded requests. `tests/wire_differential.rs` checks the
//! decoder against prost on generated and mutated requests.

use super::*;

/// What a visitor saw, in order.
#[derive(Debug, PartialEq)]
enum Seen<'a> {
    Resource(Vec<(u16, WireValue<'a>)>),
    Span(WireSpan<'a>, Vec<(u16, WireValue<'a>)>),
}

#[derive(Debug, Default)]
struct Recorder<'a>(Vec<Seen<'a>>);

impl<'a> SpanVisitor<'a> for Recorder<'a> {
    fn resource(&mut self, attributes: &[(u16, WireValue<'a>)]) {
        self.0.push(Seen::Resource(attributes.to_vec()));
    }
    fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]) {
        self.0.push(Seen::Span(*span, attributes.to_vec()));
    }
}

/// Keys `a` and `b` are read (slots 0 and 1); every other key is skipped.
fn selector(key: &str) -> Option<u16> {
    match key {
        "a" => Some(0),
        "b" => Some(1),
        _ => None,
    }
}

fn decode(bytes: &[u8]) -> Result<Vec<Seen<'_>>, WireError> {
    let mut recorder = Recorder::default();
    decode_trace_request(bytes, &selector, &mut recorder)?;
    Ok(recorder.0)
}

// Encoding helpers: each returns one encoded field.

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

fn key(tag: u32, wire_type: u8) -> Vec<u8> {
    varint(u64::from(tag) << 3 | u64::from(wire_type))
}

fn uint(tag: u32, value: u64) -> Vec<u8> {
    [key(tag, 0), varint(value)].concat()
}

fn fixed64(tag: u32, value: u64) -> Vec<u8> {
    [key(tag, 1), value.to_le_bytes().to_vec()].concat()
}

fn len(tag: u32, body: &[u8]) -> Vec<u8> {
    [key(tag, 2), varint(body.len() as u64), body.to_vec()].concat()
}

/// A request of one `ResourceSpans` body.
fn request(resource_spans: &[u8]) -> Vec<u8> {
    len(1, resource_spans)
}

/// A `ResourceSpans` body without resource holding one scope with these span bodies.
fn spans(spans: &[&[u8]]) -> Vec<u8> {
    let scope: Vec<u8> = spans.iter().flat_map(|span| len(2, span)).collect();
    len(2, &scope)
}

/// A request of one span with these fields.
fn one_span(fields: &[u8]) -> Vec<u8> {
    request(&spans(&[fields]))
}

/// An attribute field (span field 9) with this key and `AnyValue` body.
fn attribute(name: &str, any: &[u8]) -> Vec<u8> {
    len(9, &[len(1, name.as_bytes()), len(2, any)].concat())
}

fn string(value: &str) -> Vec<u8> {
    len(1, value.as_bytes())
}

fn array(elements: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = elements
        .iter()
        .flat_map(|element| len(1, element))
        .collect();
    len(5, &body)
}

/// The attributes of the only span decoded from `bytes`.
fn span_attributes(bytes: &[u8]) -> Vec<(u16, WireValue<'_>)> {
    match decode(bytes).as_deref() {
        Ok([Seen::Resource(_), Seen::Span(_, attributes)]) => attributes.clone(),
        other => panic!("expected one span, got {other:?}"),
    }
}

const EMPTY_SPAN: WireSpan<'static> = WireSpan {
    trace_id: &[],
    span_id: &[],
    parent_span_id: &[],
    name: "",
    start_time_unix_nano: 0,
    end_time_unix_nano: 0,
    status_code: 0,
    attributes_dropped: 0,
};

#[test]
fn empty_request_visits_nothing() {
    assert_eq!(decode(&[]), Ok(vec![]));
    assert_eq!(
        decode(&request(&[])),
        Ok(vec![Seen::Resource(vec![])]),
        "a ResourceSpans without resource still announces its (empty) resource"
    );
}

#[test]
fn reads_every_kept_span_field_and_skips_the_rest() {
    let status = [len(2, b"boom"), uint(3, 2)].concat();
    let event = [
        fixed64(1, 5),
        len(2, b"exception"),
        attribute("a", &string("x")),
    ]
    .concat();
    let fields = [
        len(1, &[1; 16]),
        len(2, &[2; 8]),
        len(3, b"vendor=1"),
        len(4, &[3; 8]),
        len(5, "séance".as_bytes()),
        uint(6, 1),
        fixed64(7, 10),
        fixed64(8, 20),
        attribute("a", &string("kept")),
        attribute("skipped", &uint(3, 9)),
        attribute("b", &uint(3, u64::MAX)),
        uint(10, 1),
        len(11, &event),
        len(15, &status),
        [key(16, 5), vec![1, 0, 0, 0]].concat(),
    ]
    .concat();
    let span = WireSpan {
        trace_id: &[1; 16],
        span_id: &[2; 8],
        parent_span_id: &[3; 8],
        name: "séance",
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        status_code: 2,
        attributes_dropped: 0,
    };
    assert_eq!(
        decode(&one_span(&fields)),
        Ok(vec![
            Seen::Resource(vec![]),
            Seen::Span(
                span,
                vec![(0, WireValue::String("kept")), (1, WireValue::Int(-1))]
            ),
        ])
    );
}

#[test]
fn resource_is_announced_before_spans_wherever_it_stands_and_merges() {
    let resource_a = len(
        1,
        &len(1, &[len(1, b"a"), len(2, &string("first"))].concat()),
    );
    let resource_b = len(
        1,
        &[
            len(1, &[len(1, b"b"), len(2, &uint(2, 1))].concat()),
            uint(2, 3),
        ]
        .concat(),
    );
    let body = [
        spans(&[&len(5, b"s")]),
        resource_a,
        len(3, b"https://schema"),
        resource_b,
    ]
    .concat();
    let span = WireSpan {
        name: "s",
        ..EMPTY_SPAN
    };
    assert_eq!(
        decode(&request(&body)),
        Ok(vec![
            Seen::Resource(vec![
                (0, WireValue::String("first")),
                (1, WireValue::Bool(true))
            ]),
            Seen::Span(span, vec![]),
        ])
    );
}

#[test]
fn repeated_scalars_keep_the_last_and_repeated_status_merges() {
    let fields = [
        len(5, b"first"),
        len(15, &uint(3, 1)),
        len(5, b"last"),
        len(15, &len(2, b"no code: the code stays")),
        len(15, &uint(3, u64::from(u32::MAX) + 7)),
    ]
    .concat();
    let span = WireSpan {
        name: "last",
        status_code: 6,
        ..EMPTY_SPAN
    };
    assert_eq!(
        decode(&one_span(&fields)),
        Ok(vec![Seen::Resource(vec![]), Seen::Span(span, vec![])])
    );
}

#[test]
fn attribute_key_may_follow_its_value_and_the_last_key_wins() {
    let after = len(9, &[len(2, &string("v")), len(1, b"a")].concat());
    let renamed = len(
        9,
        &[len(1, b"a"), len(2, &string("w")), len(1, b"skipped")].concat(),
    );
    let no_value = len(9, &len(1, b"b"));
    let duplicate = attribute("a", &uint(3, 2));
    let fields = [after, renamed, no_value, duplicate].concat();
    assert_eq!(
        span_attributes(&one_span(&fields)),
        [
            (0, WireValue::String("v")),
            (1, WireValue::Empty),
            (0, WireValue::Int(2))
        ]
    );
}

#[test]
fn values_of_every_kind() {
    let fields = [
        attribute("a", &len(7, &[0, 255])),
        attribute("a", &fixed64(4, 1.5f64.to_bits())),
        attribute("a", &uint(8, 3)),
        attribute("a", &[]),
        attribute(
            "a",
            &len(6, &[len(1, &len(1, b"k")), len(1, &len(1, b"l"))].concat()),
        ),
        attribute("a", &[string("replaced"), uint(2, 0)].concat()),
    ]
    .concat();
    assert_eq!(
        span_attributes(&one_span(&fields)),
        [
            (0, WireValue::Bytes(&[0, 255])),
            (0, WireValue::Double(1.5)),
            (0, WireValue::Empty),
            (0, WireValue::Empty),
            (0, WireValue::KvList { len: 2 }),
            (0, WireValue::Bool(false)),
        ]
    );
}

fn elements<'a>(value: &WireValue<'a>) -> Vec<WireValue<'a>> {
    match value {
        WireValue::Array(array) => {
            let elements: Vec<_> = array.iter().collect();
            assert_eq!(elements.len(), array.len());
            assert_eq!(elements.is_empty(), array.is_empty());
            elements
        }
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn arrays_are_walked_lazily_and_merge_like_prost() {
    let inner = array(&[&string("x"), &[]]);
    let nested = array(&[&uint(3, 1), &inner, &uint(2, 1)]);
    // Two `array_value` fields append; one after a string replaces the string.
    let appended = [string("gone"), array(&[&uint(3, 2)]), array(&[&uint(3, 3)])].concat();
    // Two `value` fields of one KeyValue merge, and an array after a string restarts the array.
    let across_values = [
        len(1, b"b"),
        len(2, &array(&[&uint(3, 4)])),
        len(2, &[string("reset"), array(&[&uint(3, 5)])].concat()),
        len(2, &[uint(99, 0), array(&[&uint(3, 6)])].concat()),
    ]
    .concat();
    let fields = [
        attribute("a", &nested),
        attribute("a", &appended),
        len(9, &across_values),
    ]
    .concat();
    let bytes = one_span(&fields);
    let attributes = span_attributes(&bytes);
    let [(0, nested), (0, appended), (1, across_values)] = attributes.as_slice() else {
        panic!("unexpected attributes {attributes:?}");
    };
    let nested = elements(nested);
    assert_eq!(nested.len(), 3);
    assert_eq!(
        (nested[0], nested[2]),
        (WireValue::Int(1), WireValue::Bool(true))
    );
    assert_eq!(
        elements(&nested[1]),
        [WireValue::String("x"), WireValue::Empty]
    );
    assert_eq!(elements(appended), [WireValue::Int(2), WireValue::Int(3)]);
    assert_eq!(
        elements(across_values),
        [WireValue::Int(5), WireValue::Int(6)]
    );
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let unknown = [
        uint(100, u64::MAX),
        fixed64(101, 1),
        [key(102, 5), vec![0; 4]].concat(),
        len(103, b"\xff not utf-8, not declared"),
        [
            key(104, 3),
            uint(1, 1),
            key(105, 3),
            key(105, 4),
            key(104, 4),
        ]
        .concat(),
    ]
    .concat();
    let status = [unknown.clone(), uint(1, 1)].concat();
    let fields = [
        unknown.clone(),
        len(5, b"s"),
        len(15, &status),
        attribute("a", &[unknown.clone(), string("v")].concat()),
    ]
    .concat();
    let body = [unknown.clone(), spans(&[&fields])].concat();
    let bytes = [unknown, request(&body)].concat();
    assert_eq!(span_attributes(&bytes), [(0, WireValue::String("v"))]);
}

#[test]
fn strings_anywhere_must_be_utf8() {
    let bad = b"\xc3\x28";
    let refused = |bytes: Vec<u8>, message: &'static str, field: &'static str| {
        assert_eq!(
            decode(&bytes),
            Err(WireError::InvalidUtf8 { message, field })
        );
    };
    refused(
        one_span(&attribute("skipped", &len(1, bad))),
        "AnyValue",
        "string_value",
    );
    refused(one_span(&len(9, &len(1, bad))), "KeyValue", "key");
    refused(one_span(&len(11, &len(2, bad))), "Span.Event", "name");
    refused(one_span(&len(13, &len(3, bad))), "Span.Link", "trace_state");
    refused(one_span(&len(15, &len(2, bad))), "Status", "message");
    let deep = array(&[&array(&[&len(
        6,
        &len(1, &[len(1, b"k"), len(2, &len(1, bad))].concat()),
    )])]);
    refused(
        one_span(&attribute("skipped", &deep)),
        "AnyValue",
        "string_value",
    );
    let scope = len(2, &len(1, &len(2, bad)));
    refused(request(&scope), "InstrumentationScope", "version");
    let entity = len(1, &len(3, &len(3, bad)));
    refused(request(&entity), "EntityRef", "id_keys");
    // Bytes fields and unknown fields may hold anything.
    assert!(
        decode(&one_span(
            &[len(1, bad), attribute("a", &len(7, bad))].concat()
        ))
        .is_ok()
    );
}

#[test]
fn declared_fields_must_have_their_wire_type() {
    let wrong =
        |bytes: Vec<u8>, message: &'static str, field: &'static str, actual: &'static str| {
            match decode(&bytes) {
                Err(WireError::WrongWireType {
                    message: m,
                    field: f,
                    actual: a,
                    ..
                }) => assert_eq!((m, f, a), (message, field, actual)),
                other => panic!("expected a wrong wire type for {message}.{field}, got {other:?}"),
            }
        };
    wrong(one_span(&uint(5, 1)), "Span", "name", "varint");
    wrong(
        one_span(&len(7, &[0; 8])),
        "Span",
        "start_time_unix_nano",
        "length-delimited",
    );
    wrong(one_span(&fixed64(16, 0)), "Span", "flags", "64-bit");
    wrong(one_span(&len(6, &[])), "Span", "kind", "length-delimited");
    wrong(
        one_span(&[key(11, 3), key(11, 4)].concat()),
        "Span",
        "events",
        "group",
    );
    wrong(
        one_span(&attribute("skipped", &uint(4, 1))),
        "AnyValue",
        "double_value",
        "varint",
    );
    wrong(
        request(&uint(2, 1)),
        "ResourceSpans",
        "scope_spans",
        "varint",
    );
    wrong(
        uint(1, 0),
        "ExportTraceServiceRequest",
        "resource_spans",
        "varint",
    );
}

#[test]
fn malformed_framing_is_refused() {
    let request_name = "ExportTraceServiceRequest";
    assert_eq!(
        decode(&[0x0a, 0x05, 0x00]),
        Err(WireError::LengthOverflow {
            message: request_name,
            tag: 1,
            len: 5,
            remaining: 1
        })
    );
    assert_eq!(
        decode(&[0x0a]),
        Err(WireError::Truncated {
            message: request_name
        })
    );
    assert_eq!(
        decode(&[0x0a, 0x80]),
        Err(WireError::Truncated {
            message: request_name
        })
    );
    assert_eq!(
        decode(&one_span(&[key(7, 1), vec![0; 7]].concat())),
        Err(WireError::Truncated { message: "Span" })
    );
    // Varints: ten bytes at most, and the tenth may only carry bit 63.
    let ten = [key(100, 0), vec![0xff; 9], vec![0x01]].concat();
    assert_eq!(decode(&ten), Ok(vec![]));
    let overflow = [key(100, 0), vec![0xff; 9], vec![0x02]].concat();
    assert_eq!(
        decode(&overflow),
        Err(WireError::InvalidVarint {
            message: request_name
        })
    );
    let eleven = [key(100, 0), vec![0x80; 10], vec![0x00]].concat();
    assert_eq!(
        decode(&eleven),
        Err(WireError::InvalidVarint {
            message: request_name
        })
    );
    // Keys: tag 0, wire types 6 and 7, and keys above u32::MAX.
    for bad in [
        key(0, 0),
        key(1, 6),
        key(100, 7),
        varint(u64::from(u32::MAX) + 1),
    ] {
        assert!(
            matches!(decode(&bad), Err(WireError::InvalidKey { .. })),
            "{bad:?}"
        );
    }
    // Groups: an end without a start, an end of another group, a group left open.
    assert!(matches!(
        decode(&key(100, 4)),
        Err(WireError::UnexpectedEndGroup { .. })
    ));
    assert!(matches!(
        decode(&[key(100, 3), key(101, 4)].concat()),
        Err(WireError::UnexpectedEndGroup { tag: 101, .. })
    ));
    assert!(matches!(
        decode(&key(100, 3)),
        Err(WireError::Truncated { .. })
    ));
    // A nested message's length reaching past its parent's end.
    let inner_too_long = request(&[key(2, 2), vec![9], vec![0; 3]].concat());
    assert!(matches!(
        decode(&inner_too_long),
        Err(WireError::LengthOverflow { tag: 2, .. })
    ));
}

/// An attribute whose value is `depth` arrays nested in one another around an empty value.
fn nested_arrays(depth: usize) -> Vec<u8> {
    (0..depth).fold(Vec::new(), |inner, _| array(&[&inner]))
}

#[test]
fn nesting_is_limited_as_in_prost() {
    // Span fields have 97 levels left, the attribute's AnyValue 95, and each array costs two
    // (ArrayValue, AnyValue): 47 arrays still decode, 48 do not.
    let decoded = decode(&one_span(&attribute("a", &nested_arrays(47)))).map(|seen| seen.len());
    assert_eq!(decoded, Ok(2));
    assert_eq!(
        decode(&one_span(&attribute("a", &nested_arrays(48)))),
        Err(WireError::RecursionLimit {
            message: "AnyValue"
        })
    );
    assert!(decode(&one_span(&attribute("a", &nested_arrays(1_000)))).is_err());
    // Groups spend the same budget.
    let groups = (0..200).fold(Vec::new(), |inner, _| {
        [key(100, 3), inner, key(100, 4)].concat()
    });
    assert!(matches!(
        decode(&groups),
        Err(WireError::RecursionLimit { .. })
    ));
    let shallow = (0..99).fold(Vec::new(), |inner, _| {
        [key(100, 3), inner, key(100, 4)].concat()
    });
    assert_eq!(decode(&shallow), Ok(vec![]));
}

#[test]
fn errors_read_as_sentences() {
    let error = decode(&one_span(&uint(5, 1))).err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("Span.name arrives as varint, but is declared length-delimited")
    );
}

#[test]
fn selector_sees_every_key_once() {
    use std::cell::RefCell;
    let asked = RefCell::new(Vec::new());
    let keys = |key: &str| {
        asked.borrow_mut().push(key.to_owned());
        None
    };
    let fields = [
        attribute("a", &[]),
        attribute("x", &string("y")),
        len(9, &[]),
    ]
    .concat();
    let bytes = one_span(&fields);
    let mut recorder = Recorder::default();
    assert_eq!(decode_trace_request(&bytes, &keys, &mut recorder), Ok(()));
    assert_eq!(asked.into_inner(), ["a", "x", ""]);
}

#[test]
fn an_array_repeated_across_spans_reads_the_same_and_a_changed_one_is_checked_again() {
    let members = [
        "fvg",
        "sweep",
        "displacement",
        "liquidity",
        "structure",
        "imbalance",
    ];
    let elements: Vec<Vec<u8>> = members.iter().map(|member| string(member)).collect();
    let element_refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    let events = array(&element_refs);
    let span = attribute("a", &events);
    let bytes = request(&spans(&[&span, &span]));
    let seen = decode(&bytes).unwrap_or_else(|err| panic!("{err}"));
    let [_, Seen::Span(_, first), Seen::Span(_, second)] = seen.as_slice() else {
        panic!("unexpected {seen:?}");
    };
    let expected: Vec<WireValue<'_>> = members.iter().map(|m| WireValue::String(m)).collect();
    assert_eq!(elements_of(first), expected);
    assert_eq!(elements_of(second), expected);

    // The same array but one member that is not UTF-8: refused, though it differs by a byte.
    let mut bad = events.clone();
    let at = bad.len() - 1;
    bad[at] = 0xff;
    let bytes = request(&spans(&[&span, &attribute("a", &bad)]));
    assert_eq!(
        decode(&bytes),
        Err(WireError::InvalidUtf8 {
            message: "AnyValue",
            field: "string_value"
        })
    );
}

fn elements_of<'a>(attributes: &[(u16, WireValue<'a>)]) -> Vec<WireValue<'a>> {
    match attributes {
        [(0, value)] => elements(value),
        other => panic!("unexpected attributes {other:?}"),
    }
}

#[test]
fn an_array_read_on_the_resource_is_checked_again_deeper_in_a_span() {
    // The resource's attributes have one more level of budget than a span's: 48 nested arrays fit there.
    let deep = nested_arrays(48);
    let resource = len(1, &len(1, &[len(1, b"a"), len(2, &deep)].concat()));
    assert!(decode(&request(&resource)).is_ok());
    let bytes = request(&[resource, spans(&[&attribute("a", &deep)])].concat());
    assert_eq!(
        decode(&bytes),
        Err(WireError::RecursionLimit {
            message: "AnyValue"
        })
    );
}
