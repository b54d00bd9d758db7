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

/// A number cut short is an early end wherever it lies: in a field read, in an unknown field skipped (where
/// `serde_json` itself calls it invalid), in an unknown field of an `AnyValue`, on any line.
#[test]
fn a_number_cut_short_is_an_early_end_in_any_field() {
    let attribute =
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"a","value":"#;
    let span = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"#;
    let fields = [
        format!(r#"{attribute}{{"doubleValue":"#),
        format!(r#"{attribute}{{"unknownValue":"#),
        format!(r#"{span}"somethingNew":{{"doubleValue":"#),
        format!(r#"{span}"somethingNew":[1,"#),
        format!("{span}\n\"somethingNew\":\n  "),
        r#"{"unknown":"#.to_owned(),
    ];
    for field in &fields {
        for number in [
            "-", "0.", "-0.", "12.", "1e", "1E", "1e+", "1e-", "-1.5e", "2.25E-",
        ] {
            let text = format!("{field}{number}");
            let error = seen(&text).unwrap_err();
            assert!(error.eof, "{text}: {error}");
            assert_eq!(error.message, "EOF while parsing a value", "{text}");
            assert_eq!((error.line, error.column), end_of(&text), "{text}");
        }
        // What no text could complete stays invalid.
        for number in [
            "-x", "--", "-.", "1.-", "1.e", "00", "01.", "1e+-", "1ee", "-\n", "1. ",
        ] {
            let text = format!("{field}{number}");
            let error = seen(&text).unwrap_err();
            assert!(!error.eof, "{text}: {error}");
        }
    }
    // An invalid number before the end of the text is not the end's.
    for text in [
        r#"{"unknown":00,"other":-"#,
        r#"{"unknown":1 -"#,
        r#"{"unknown":[1 -"#,
        r#"{"unknown":1,-"#,
    ] {
        let error = seen(text).unwrap_err();
        assert!(!error.eof, "{text}: {error}");
    }
}

#[test]
fn numbers_cut_short_are_told_from_others() {
    for text in ["-", "x:-", "0.", "-12.", "1e", "1.5E", "1e+", "[1.0e-"] {
        assert!(ends_inside_number(text), "{text}");
    }
    for text in [
        "", "x", "1", "-0", "1.5", "1e5", "1.-", "-.", "00", "01.", "1e+-", "--", "1-", "1 ",
    ] {
        assert!(!ends_inside_number(text), "{text}");
    }
    assert_eq!(end_of(""), (1, 0));
    assert_eq!(end_of("{\n  \"a\":-"), (2, 7));
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
