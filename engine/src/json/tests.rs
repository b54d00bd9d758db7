// A failed expectation stops the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

/// Keeps each span's name, ids and selected attributes, rendered so that borrowed values can be compared.
#[derive(Default)]
struct Seen(Vec<String>);

impl SpanVisitor<'_> for Seen {
    fn resource(&mut self, attributes: &[(u16, WireValue<'_>)]) {
        self.0.push(format!("resource {attributes:?}"));
    }

    fn span(&mut self, span: &WireSpan<'_>, attributes: &[(u16, WireValue<'_>)]) {
        let elements: Vec<Vec<WireValue<'_>>> = attributes
            .iter()
            .filter_map(|(_, value)| match value {
                WireValue::Array(array) => Some(array.iter().collect()),
                _ => None,
            })
            .collect();
        self.0.push(format!(
            "span {} {:?} {:?} dropped {} {attributes:?} {elements:?}",
            span.name, span.trace_id, span.span_id, span.attributes_dropped
        ));
    }
}

fn keys(key: &str) -> Option<u16> {
    match key {
        "a" => Some(0),
        "b" => Some(1),
        _ => None,
    }
}

fn seen(text: &str) -> Result<Vec<String>, JsonError> {
    let mut seen = Seen::default();
    decode_json_trace_request(text, &keys, &mut seen)?;
    Ok(seen.0)
}

#[test]
fn a_value_before_its_key_and_escaped_keys_are_read() {
    let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s\u0021","traceId":"0A","spanId":"",
        "attributes":[{"value":{"stringValue":"x"},"key":"a"},{"key":"\u0062","value":{"arrayValue":
        {"values":[{"intValue":"7"},{"arrayValue":{"values":[]}}]}}},{"key":"c","value":{"intValue":1}}]}]}]}]}"#;
    let seen = seen(text).unwrap();
    assert_eq!(seen[0], "resource []");
    assert_eq!(
        seen[1],
        "span s! [10] [] dropped 0 [(0, String(\"x\")), (1, Array(WireArray { source: Json([Int(7), Array([])]) }))] [[Int(7), Array(WireArray { source: Json([]) })]]"
    );
}

#[test]
fn errors_tell_where_and_whether_the_text_ended_early() {
    let cut = seen("{\"resourceSpans\":[{\n\"scopeSpans\":[").unwrap_err();
    assert!(cut.eof);
    assert_eq!((cut.line, cut.column), (2, 14));
    let wrong = seen("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"x\"}]}]}]}")
        .unwrap_err();
    assert!(!wrong.eof);
    assert_eq!(wrong.message, "invalid type: string \"x\", expected i32");
    assert_eq!(
        wrong.to_string(),
        "invalid type: string \"x\", expected i32 at line 1 column 54"
    );
    let twice = seen("{\"resourceSpans\":[],\"resourceSpans\":[]}").unwrap_err();
    assert_eq!(twice.message, "duplicate field `resourceSpans`");
}

#[test]
fn ids_of_any_even_length_are_read_and_others_refused() {
    let span = |id: &str| {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{id}"}}]}}]}}]}}"#)
    };
    let long = "ab".repeat(17);
    assert!(seen(&span(&long)).unwrap()[1].contains(&format!("{:?}", [0xab; 17])));
    for bad in ["abc", "0x00", "zz"] {
        let error = seen(&span(bad)).unwrap_err();
        assert!(error.message.starts_with("invalid hex id"), "{error}");
    }
}

#[test]
fn recycling_keeps_the_allocation() {
    let mut values: Vec<(u16, WireValue<'static>)> = Vec::with_capacity(8);
    values.push((0, WireValue::Int(1)));
    let pointer = values.as_ptr() as usize;
    let text = String::from("x");
    let mut borrowed = recycle(values);
    borrowed.push((0, WireValue::String(&text)));
    let back: Vec<(u16, WireValue<'static>)> = recycle(borrowed);
    assert!(back.is_empty());
    assert_eq!(back.capacity(), 8);
    assert_eq!(back.as_ptr() as usize, pointer);
}
