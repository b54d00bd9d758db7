//! `ironforge_engine::json` against the path it replaces: on generated OTLP/JSON documents, damaged ones
//! and hand-made ones, `decode_json_request` must accept what `serde_json` into opentelemetry-proto's
//! structs accepts, and then give the same `Decoded` as encoding that message and `decode_request`.
//!
//! Documents are written here, not serialized, so that keys come in any order (a `KeyValue`'s value before
//! its key, a resource after its spans), strings hold escapes, and 64-bit integers are numbers or strings.
//! What the two paths treat differently on purpose (documented on `ironforge_engine::json`: a missing or
//! `null` field, `doubleValue` in quotes, URL-safe or unpadded base64, `0x` ids, messages as arrays) is not
//! generated; `deviations_from_opentelemetry_proto` pins each one.

use crate::support::properties;

use std::fmt::Write as _;

use ironforge_engine::decode::{Decoded, decode_json_request, decode_request};
use ironforge_engine::plan::ReadPlan;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

/// A JSON value as written: numbers keep their spelling, objects their key order.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn obj(fields: Vec<(&str, J)>) -> J {
    J::Obj(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Strings whose first byte is odd are written with every character as a `\u` escape (surrogate pairs
/// beyond the BMP), the rest with only the escapes JSON requires.
fn write_str(text: &str, out: &mut String) {
    out.push('"');
    let escape_all = text.as_bytes().first().is_some_and(|byte| byte % 2 == 1);
    for ch in text.chars() {
        if escape_all {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

fn write(value: &J, pretty: bool, out: &mut String) {
    let gap = if pretty { "\n  " } else { "" };
    match value {
        J::Null => out.push_str("null"),
        J::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        J::Num(text) => out.push_str(text),
        J::Str(text) => write_str(text, out),
        J::Arr(values) => {
            out.push('[');
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                write(value, pretty, out);
            }
            out.push(']');
        }
        J::Obj(fields) => {
            out.push('{');
            for (index, (key, value)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                write_str(key, out);
                out.push(':');
                write(value, pretty, out);
            }
            out.push('}');
        }
    }
}

fn text(value: &J, pretty: bool) -> String {
    let mut out = String::new();
    write(value, pretty, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------------
// Generated requests.

/// Fields in a drawn order, some left out.
fn fields(all: Vec<(&'static str, BoxedStrategy<J>)>) -> BoxedStrategy<J> {
    let len = all.len();
    let drawn: Vec<BoxedStrategy<Option<(String, J)>>> = all
        .into_iter()
        .map(|(key, value)| {
            proptest::option::weighted(0.9, value.prop_map(move |v| (key.to_owned(), v))).boxed()
        })
        .collect();
    (
        drawn,
        Just(()).prop_perturb(move |_, mut rng| {
            let mut order: Vec<usize> = (0..len).collect();
            for index in (1..len).rev() {
                order.swap(index, rng.random_range(0..=index));
            }
            order
        }),
    )
        .prop_map(|(drawn, order)| {
            J::Obj(
                order
                    .into_iter()
                    .filter_map(|index| drawn[index].clone())
                    .collect(),
            )
        })
        .boxed()
}

fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-z_.]{0,12}",
        Just("NY_AM_2025-07-28".to_owned()),
        Just("validation".to_owned()),
        Just("session".to_owned()),
        Just("stage".to_owned()),
        "\\PC{0,8}",
        "[\"\\\\\n\t\u{1}é😀]{0,6}",
    ]
    .boxed()
}

fn string() -> BoxedStrategy<J> {
    any_text().prop_map(J::Str).boxed()
}

/// `valid`, or now and then (when `noisy`) one of `invalid`.
fn noisy(valid: BoxedStrategy<J>, invalid: Vec<J>) -> BoxedStrategy<J> {
    if NOISY.with(|noisy| noisy.get()) {
        prop_oneof![12 => valid, 1 => prop::sample::select(invalid)].boxed()
    } else {
        valid
    }
}

thread_local! {
    /// Whether the strategies built on this thread draw invalid values too.
    static NOISY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A 64-bit unsigned integer as a number or a decimal string.
fn fixed64() -> BoxedStrategy<J> {
    let valid = prop_oneof![
        any::<u64>().prop_map(|n| J::Str(n.to_string())),
        any::<u64>().prop_map(|n| J::Num(n.to_string())),
        (0u64..3).prop_map(|n| J::Num(n.to_string())),
        Just(J::Str("+7".to_owned())),
    ];
    let invalid = ["-1", "18446744073709551616", "1.5"].map(|n| J::Num(n.to_owned()));
    noisy(
        valid.boxed(),
        [
            invalid.to_vec(),
            vec![J::Str("-1".to_owned()), J::Str("1e3".to_owned())],
        ]
        .concat(),
    )
}

fn int32(range: std::ops::Range<i64>) -> BoxedStrategy<J> {
    let invalid = vec![
        J::Num("4294967296".to_owned()),
        J::Num("-2147483649".to_owned()),
        J::Str("1".to_owned()),
    ];
    noisy(range.prop_map(|n| J::Num(n.to_string())).boxed(), invalid)
}

/// Hex ids of the right length, of other lengths, all zeros, in either case; and not hex at all.
fn id(bytes: usize) -> BoxedStrategy<J> {
    let valid = prop_oneof![
        6 => vec(any::<u8>(), bytes).prop_map(|id| J::Str(hex(&id))),
        1 => vec(any::<u8>(), 0..20).prop_map(|id| J::Str(hex(&id))),
        1 => vec(any::<u8>(), bytes).prop_map(|id| J::Str(hex(&id).to_uppercase())),
        1 => Just(J::Str("0".repeat(bytes * 2))),
    ];
    noisy(
        valid.boxed(),
        ["abc", "zz", "0g"].map(|s| J::Str(s.to_owned())).to_vec(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

const KEYS: &[&str] = &[
    "ironforge.session.id",
    "ironforge.stage",
    "ironforge.span.kind",
    "service.name",
    "ironforge.run.session_count",
    "process.memory.usage",
    "ironforge.graph.event_types",
    "http.method",
    "",
    "x",
];

fn any_value() -> BoxedStrategy<J> {
    let scalar = prop_oneof![
        string().prop_map(|s| obj(vec![("stringValue", s)])),
        any::<bool>().prop_map(|b| obj(vec![("boolValue", J::Bool(b))])),
        any::<i64>().prop_map(|n| obj(vec![("intValue", J::Str(n.to_string()))])),
        any::<i64>().prop_map(|n| obj(vec![("intValue", J::Num(n.to_string()))])),
        noisy(
            Just(J::Num("-9223372036854775808".to_owned())).boxed(),
            vec![
                J::Str("x1".to_owned()),
                J::Num("9223372036854775808".to_owned()),
                J::Num("2.0".to_owned()),
            ]
        )
        .prop_map(|n| obj(vec![("intValue", n)])),
        noisy(
            prop::sample::select(&["0.87", "2", "-0.0", "1e3", "-5", "1.5e300"][..])
                .prop_map(|d| J::Num(d.to_owned()))
                .boxed(),
            vec![J::Num("1e400".to_owned())]
        )
        .prop_map(|d| obj(vec![("doubleValue", d)])),
        vec(any::<u8>(), 0..6).prop_map(|bytes| {
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            obj(vec![("bytesValue", J::Str(text))])
        }),
        Just(obj(vec![])),
        Just(obj(vec![("stringValue", J::Null)])),
        // Later fields replace earlier ones, `null` ones excepted; unknown ones are skipped.
        (string(), any::<bool>()).prop_map(|(s, b)| obj(vec![
            ("stringValue", s),
            ("boolValue", J::Bool(b)),
            ("stringValue", J::Null),
            ("unknownValue", J::Arr(vec![J::Num("1".to_owned())])),
        ])),
    ];
    scalar
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|values| obj(vec![(
                    "arrayValue",
                    obj(vec![("values", J::Arr(values))])
                )])),
                vec(string(), 0..4).prop_map(|values| {
                    let values = values
                        .into_iter()
                        .map(|s| obj(vec![("stringValue", s)]))
                        .collect();
                    obj(vec![("arrayValue", obj(vec![("values", J::Arr(values))]))])
                }),
                vec((prop::sample::select(KEYS), inner), 0..3).prop_map(|pairs| {
                    let values = pairs
                        .into_iter()
                        .map(|(key, value)| {
                            obj(vec![("key", J::Str(key.to_owned())), ("value", value)])
                        })
                        .collect();
                    obj(vec![("kvlistValue", obj(vec![("values", J::Arr(values))]))])
                }),
            ]
        })
        .boxed()
}

fn attribute() -> BoxedStrategy<J> {
    let value = prop_oneof![
        8 => any_value(),
        1 => Just(J::Null),
        1 => prop::sample::select(&["validation", "session", "stage", "bogus"][..])
            .prop_map(|s| obj(vec![("stringValue", J::Str(s.to_owned()))])),
    ];
    (
        prop::sample::select(KEYS),
        value,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(key, value, value_first, strindex)| {
            let key = ("key", J::Str(key.to_owned()));
            let value = ("value", value);
            let mut fields = if value_first {
                vec![value, key]
            } else {
                vec![key, value]
            };
            if strindex {
                fields.push(("keyStrindex", J::Num("0".to_owned())));
            }
            obj(fields)
        })
        .boxed()
}

fn attributes() -> BoxedStrategy<J> {
    vec(attribute(), 0..6).prop_map(J::Arr).boxed()
}

fn span() -> BoxedStrategy<J> {
    let status = fields(vec![("code", int32(0..3)), ("message", string())]);
    let event = fields(vec![
        ("timeUnixNano", fixed64()),
        ("name", string()),
        ("attributes", attributes()),
        ("droppedAttributesCount", int32(0..3)),
    ]);
    let link = fields(vec![
        ("traceId", id(16)),
        ("spanId", id(8)),
        ("traceState", string()),
        ("attributes", attributes()),
        ("flags", int32(0..300)),
    ]);
    fields(vec![
        ("traceId", id(16)),
        ("spanId", id(8)),
        (
            "parentSpanId",
            prop_oneof![id(8), Just(J::Str(String::new()))].boxed(),
        ),
        ("name", string()),
        ("kind", int32(0..6)),
        ("startTimeUnixNano", fixed64()),
        ("endTimeUnixNano", fixed64()),
        ("attributes", attributes()),
        ("droppedAttributesCount", int32(0..3)),
        ("events", vec(event, 0..2).prop_map(J::Arr).boxed()),
        ("links", vec(link, 0..2).prop_map(J::Arr).boxed()),
        ("status", prop_oneof![status, Just(J::Null)].boxed()),
        ("traceState", string()),
        ("flags", int32(0..300)),
        ("somethingNew", any_value()),
    ])
}

/// Requests that now and then hold a value of the right type but not a valid one.
fn noisy_request() -> BoxedStrategy<J> {
    NOISY.with(|noisy| noisy.set(true));
    let request = request();
    NOISY.with(|noisy| noisy.set(false));
    request
}

fn request() -> BoxedStrategy<J> {
    let scope = fields(vec![
        ("name", string()),
        ("version", string()),
        ("attributes", attributes()),
    ]);
    let scope_spans = fields(vec![
        ("scope", scope),
        ("spans", vec(span(), 1..4).prop_map(J::Arr).boxed()),
        ("schemaUrl", string()),
    ]);
    let entity_ref = (string(), string(), vec(any_text(), 0..2)).prop_map(|(url, ty, keys)| {
        let keys = J::Arr(keys.into_iter().map(J::Str).collect());
        obj(vec![
            ("schemaUrl", url),
            ("type", ty),
            ("idKeys", keys.clone()),
            ("descriptionKeys", keys),
        ])
    });
    let resource = fields(vec![
        ("attributes", attributes()),
        ("droppedAttributesCount", int32(0..3)),
        ("entityRefs", vec(entity_ref, 0..2).prop_map(J::Arr).boxed()),
    ]);
    let resource_spans = fields(vec![
        ("resource", prop_oneof![resource, Just(J::Null)].boxed()),
        (
            "scopeSpans",
            vec(scope_spans, 1..3).prop_map(J::Arr).boxed(),
        ),
        ("schemaUrl", string()),
    ]);
    fields(vec![(
        "resourceSpans",
        vec(resource_spans, 1..3).prop_map(J::Arr).boxed(),
    )])
}

// ---------------------------------------------------------------------------------------------------
// The comparison.

fn plans() -> [ReadPlan; 2] {
    let mut tight = ReadPlan::conventions();
    tight.limits.max_attributes = 2;
    tight.limits.max_value_length = 4;
    tight.limits.max_array_length = 1;
    [ReadPlan::conventions(), tight]
}

/// What the processor did before: parse into the message, encode it, decode that.
fn old_path(text: &str, plan: &ReadPlan) -> Result<Decoded, serde_json::Error> {
    let request: ExportTraceServiceRequest = serde_json::from_str(text)?;
    Ok(decode_request(&request.encode_to_vec(), plan).expect("an encoded message decodes"))
}

/// Both accept with the same outcome, or both refuse; returns whether they accepted.
fn same(text: &str) -> Result<bool, TestCaseError> {
    let mut accepted = false;
    for plan in plans() {
        let old = old_path(text, &plan);
        let new = decode_json_request(text, &plan);
        match (old, new) {
            (Ok(old), Ok(new)) => {
                prop_assert_eq!(old, new, "{}", text);
                accepted = true;
            }
            (Err(_), Err(new)) => {
                prop_assert!(new.line >= 1 && new.column >= 1 && !new.message.is_empty());
            }
            (old, new) => prop_assert!(
                false,
                "the old path says {:?}, the new one {:?}, on {}",
                old.map(|_| "accepted"),
                new.map(|_| "accepted"),
                text
            ),
        }
    }
    Ok(accepted)
}

/// Replaces the `index`th value of the tree (in depth-first order, counting from 1) by `with`.
fn replace(value: &mut J, index: &mut usize, with: &J) -> bool {
    if *index == 0 {
        *value = with.clone();
        return true;
    }
    *index -= 1;
    match value {
        J::Arr(values) => values.iter_mut().any(|value| replace(value, index, with)),
        J::Obj(fields) => fields
            .iter_mut()
            .any(|(_, value)| replace(value, index, with)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(properties::config(512))]

    #[test]
    fn generated_requests_decode_alike(request in request(), pretty in any::<bool>()) {
        prop_assert!(same(&text(&request, pretty))?, "valid requests are accepted");
    }

    #[test]
    fn requests_with_invalid_values_are_judged_alike(request in noisy_request()) {
        same(&text(&request, false))?;
    }

    /// A value of another type anywhere: refused by both, unless it lands where any value is fine.
    #[test]
    fn values_of_the_wrong_type_are_judged_alike(
        request in request(),
        at in 1usize..400,
        with in prop_oneof![
            Just(J::Str("x".to_owned())),
            Just(J::Num("7".to_owned())),
            Just(J::Bool(true)),
        ],
    ) {
        let mut damaged = request;
        let mut index = at;
        replace(&mut damaged, &mut index, &with);
        same(&text(&damaged, false))?;
    }

    /// A document cut anywhere, as `refused_as_cut` says; half the cuts are right after a `-`, `+`, `.` or
    /// `\`, where a number or an escape has more to come.
    #[test]
    fn truncated_requests_are_refused_alike(
        request in request(),
        cut in any::<prop::sample::Index>(),
        inside in any::<bool>(),
    ) {
        let whole = text(&request, false);
        let end = if inside {
            let ends: Vec<usize> = whole
                .match_indices(['-', '+', '.', '\\'])
                .map(|(at, _)| at + 1)
                .collect();
            if ends.is_empty() {
                return Ok(());
            }
            ends[cut.index(ends.len())]
        } else {
            cut.index(whole.len())
        };
        if whole.is_char_boundary(end) {
            refused_as_cut(&whole, end)?;
        }
    }
}

/// `whole` cut before byte `end` is refused by both, as one that ends too soon unless what is left already
/// holds an error: the old path reads an `AnyValue` whole before it checks it, so it may only see the end
/// of the text where this reader sees the error first. Nor does the old path see the end of the text in a
/// number cut after its `-`, `.`, `e` or exponent sign in an unknown field (`somethingNew`): serde_json,
/// skipping it, calls it an invalid number there.
fn refused_as_cut(whole: &str, end: usize) -> Result<(), TestCaseError> {
    let cut = &whole[..end];
    let plan = ReadPlan::conventions();
    let old = serde_json::from_str::<ExportTraceServiceRequest>(cut).unwrap_err();
    let new = decode_json_request(cut, &plan).unwrap_err();
    if !new.eof {
        prop_assert!(
            decode_json_request(whole, &plan).is_err(),
            "{} ({})",
            cut,
            new
        );
    } else {
        let skipped_number = old.to_string().starts_with("invalid number at ")
            && (old.line(), old.column()) == (new.line, new.column);
        prop_assert!(old.is_eof() || skipped_number, "{} ({})", cut, old);
    }
    Ok(())
}

/// A valid document holding every kind of token, in fields read and in fields skipped, cut inside each:
/// right after a number's `-`, `.`, `e`, `E` or exponent sign, inside `true`, `false` and `null`, after a
/// backslash, inside a `\u` escape and between the halves of a surrogate pair; then cut everywhere else.
#[test]
fn requests_cut_inside_a_token_end_too_soon() {
    let value = |inner: &str| {
        format!(
            r#"{{"doubleValue":-0.5e-3,"intValue":-12,"unknownValue":[-1.25E+2,true,false,null,"\u00e9\ud83d\ude00\n"{inner}]}}"#
        )
    };
    let values = format!(
        r#"{{"arrayValue":{{"values":[{},{{"doubleValue":2E+10}},{{"doubleValue":-7e2}},{{"boolValue":false}}]}}}}"#,
        value("")
    );
    let span = format!(
        r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a\"\u0062",
        "somethingNew":{},"attributes":[{{"key":"x","value":{values}}},{{"key":"y","value":null}},
        {{"key":"z","value":{{"boolValue":true}}}}],"status":null,"somethingElse":[-3.0E-1,true,null,{values}]}}"#,
        value(r#",{"x":-1e+5}"#),
    );
    let whole = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{values}}}]}},"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#
    );
    assert!(same(&whole).unwrap(), "{whole}");
    let points = [
        r#""doubleValue":-"#,
        r#""doubleValue":-0."#,
        r#""doubleValue":-0.5e"#,
        r#""doubleValue":-0.5e-"#,
        r#""doubleValue":2E"#,
        r#""doubleValue":2E+"#,
        r#""intValue":-"#,
        r#""unknownValue":[-"#,
        r#""unknownValue":[-1."#,
        r#""unknownValue":[-1.25E"#,
        r#""unknownValue":[-1.25E+"#,
        r#""x":-"#,
        r#""x":-1e"#,
        r#""x":-1e+"#,
        r#""somethingElse":[-"#,
        r#""somethingElse":[-3."#,
        r#""somethingElse":[-3.0E"#,
        r#""somethingElse":[-3.0E-"#,
        "tr",
        "fal",
        "nu",
        r#""a\"#,
        r#""\u00"#,
        r#""\u00e9\ud83d"#,
        r#""\u00e9\ud83d\"#,
        r#""\u00e9\ud83d\ude"#,
    ];
    let plan = ReadPlan::conventions();
    for point in points {
        let ends: Vec<usize> = whole
            .match_indices(point)
            .map(|(at, _)| at + point.len())
            .collect();
        assert!(!ends.is_empty(), "{point}");
        for end in ends {
            let cut = &whole[..end];
            let error = decode_json_request(cut, &plan).unwrap_err();
            assert!(error.eof, "{cut}: {error}");
            refused_as_cut(&whole, end).unwrap();
        }
    }
    for end in (0..whole.len()).filter(|end| whole.is_char_boundary(*end)) {
        refused_as_cut(&whole, end).unwrap();
    }
}

#[test]
fn hand_made_documents_decode_alike() {
    let span = r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"session",
        "startTimeUnixNano":"1","endTimeUnixNano":2,"attributes":[
        {"value":{"stringValue":"NY_AM_2025-07-28"},"key":"ironforge.session.id"},
        {"key":"ironforge.graph.event_types","value":{"arrayValue":{"values":[{"stringValue":"a\u00e9"},{"intValue":"3"}]}}},
        {"key":"ironforge.run.session_count","value":{"doubleValue":4}},
        {"key":"process.memory.usage","value":{"intValue":"-12"}}],
        "status":{"code":2}}"#;
    let documents = [
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"ironforge"}}}}]}},"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#
        ),
        // The resource after its spans still names their service.
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span},{span}]}}]}},{{"scopeSpans":[{{"spans":[{span}]}}],"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"late"}}}}]}}}}]}}"#
        ),
        "{}".to_owned(),
        r#"{"resourceSpans":[]}"#.to_owned(),
        r#"{"resource_spans":[{"scope_spans":[]}]}"#.to_owned(),
        // Refused by both.
        r#"{"resourceSpans":[{"scopeSpans":[],"scopeSpans":[]}]}"#.to_owned(),
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}"#.to_owned(),
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}"#
            .to_owned(),
        r#"{"resourceSpans":[]} x"#.to_owned(),
        "null".to_owned(),
    ];
    for document in &documents {
        same(document).unwrap();
    }
    assert!(same(&documents[1]).unwrap());
    let decoded = decode_json_request(&documents[1], &ReadPlan::conventions()).unwrap();
    let services: Vec<_> = decoded
        .spans
        .iter()
        .map(|span| span.service_name.as_deref())
        .collect();
    assert_eq!(services, [None, None, Some("late")]);
}

/// Where the OTLP/JSON encoding and opentelemetry-proto's serde disagree, the encoding is followed.
#[test]
fn deviations_from_opentelemetry_proto() {
    let plan = ReadPlan::conventions();
    let wrap =
        |span: &str| format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#);
    let valid = r#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174""#;
    let attribute = |value: &str| {
        wrap(&format!(
            r#"{{{valid},"attributes":[{{"key":"ironforge.pattern.authenticity","value":{value}}}]}}"#
        ))
    };
    let accepted_only_here = [
        wrap(&format!(
            r#"{{{valid},"attributes":[{{"value":{{"stringValue":"keyless"}}}}]}}"#
        )),
        wrap(&format!(
            r#"{{{valid},"name":null,"startTimeUnixNano":null,"attributes":null,"events":null}}"#
        )),
        attribute(r#"{"arrayValue":{}}"#),
        attribute(r#"{"doubleValue":"NaN"}"#),
        attribute(r#"{"doubleValue":"0.5"}"#),
        attribute(r#"{"bytesValue":"-_8"}"#),
        r#"{"resourceSpans":[{"resource":{"entityRefs":[{"type":"service"}]}}]}"#.to_owned(),
    ];
    for document in &accepted_only_here {
        assert!(old_path(document, &plan).is_err(), "{document}");
        decode_json_request(document, &plan).unwrap_or_else(|error| panic!("{document}: {error}"));
    }
    let refused_only_here = [
        wrap(r#"{"traceId":"0x5b8efff798038103d269b633813fc60c"}"#),
        r#"[[{"scopeSpans":[]}]]"#.to_owned(),
        "[]".to_owned(),
    ];
    for document in &refused_only_here {
        assert!(old_path(document, &plan).is_ok(), "{document}");
        assert!(decode_json_request(document, &plan).is_err(), "{document}");
    }
    let half = decode_json_request(&attribute(r#"{"doubleValue":"0.5"}"#), &plan).unwrap();
    assert_eq!(half.spans.len(), 1);
}
