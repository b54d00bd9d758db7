//! A reader of OTLP/JSON `ExportTraceServiceRequest` documents that hands a [`SpanVisitor`] what the wire
//! decoder would hand it for the same request in protobuf, without building the request as a message.
//!
//! Parsing a document into opentelemetry-proto's serde structs allocates every string, id and attribute of
//! every span, and most are never read; encoding that message again for the wire decoder costs as much
//! once more. [`decode_json_trace_request`] walks the document once with `serde_json`, borrows strings
//! from it (those holding escapes are copied only when kept), decodes ids in place, and skips the
//! attributes the [`KeySelector`] does not select after checking them.
//!
//! It follows the OTLP/JSON encoding (<https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding>):
//! lowerCamelCase field names, unknown fields skipped unread, ids as hex in either case, enums as
//! integers, 64-bit integers as numbers or decimal strings, `bytes` as base64, and `null` for any absent
//! field. Every field is checked against its type whether it is kept or not, so a document is refused
//! for the same reasons opentelemetry-proto's serde refuses it, except where that is stricter or laxer
//! than the encoding; there the encoding is followed:
//! - accepted: a missing or `null` field of any message (`key`, `values`, the fields of an `EntityRef`),
//!   `doubleValue` as "NaN", "Infinity", "-Infinity" or a number in quotes, `bytesValue` in URL-safe or
//!   unpadded base64;
//! - refused: an id with a `0x` prefix, a message written as an array of its fields.
//!
//! Resource attributes come to the visitor before the spans of their `ResourceSpans`, as in protobuf;
//! spans that come before their resource in the document are held until it is read.

mod fields;
mod messages;
mod value;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde::de::DeserializeSeed;

use crate::wire::{JsonValue, KeySelector, SpanVisitor, WireSpan, WireValue};
use fields::{Any, Id, Object};

/// Why a document is not a valid OTLP/JSON `ExportTraceServiceRequest`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct JsonError {
    /// What is wrong, without the position.
    pub message: String,
    /// 1-based line of the document where reading stopped.
    pub line: usize,
    /// 1-based column on that line.
    pub column: usize,
    /// Whether the text ends before the document does, so that more text could complete it.
    pub eof: bool,
}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        let (line, column) = (error.line(), error.column());
        let mut message = error.to_string();
        let position = format!(" at line {line} column {column}");
        if message.ends_with(&position) {
            message.truncate(message.len() - position.len());
        }
        JsonError {
            message,
            line,
            column,
            eof: error.is_eof(),
        }
    }
}

/// Reads a document. On `Err` the visitor may already have seen part of it: callers must discard what they
/// collected.
pub fn decode_json_trace_request<K, V>(
    text: &str,
    keys: &K,
    visitor: &mut V,
) -> Result<(), JsonError>
where
    K: KeySelector,
    V: for<'s> SpanVisitor<'s>,
{
    let mut walker = Walker {
        keys,
        visitor,
        max_attributes: keys.max_attributes(),
        resource: Vec::new(),
        resource_seen: false,
        span: SpanFields::default(),
        pending: Vec::new(),
        wire: Vec::new(),
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Any(Object::<_, messages::Request>::element(&mut walker))
        .deserialize(&mut deserializer)
        .and_then(|_| deserializer.end())
        .map_err(|error| JsonError::reading(error, text))
}

impl JsonError {
    /// The error `serde_json` met reading `text`, corrected where the text ends inside a number: the
    /// document then ends too soon, but `serde_json` says so only of a number it reads; of one it skips (an
    /// unknown field's) cut after its `-`, its `.`, its exponent's `e` or that exponent's sign, it says
    /// "invalid number". Whether more text could complete the document must not depend on whether the
    /// field is known.
    fn reading(error: serde_json::Error, text: &str) -> Self {
        let syntax = error.classify() == serde_json::error::Category::Syntax;
        let mut read = JsonError::from(error);
        if syntax
            && !read.eof
            && read.message == "invalid number"
            && (read.line, read.column) == end_of(text)
            && ends_inside_number(text)
        {
            // What `serde_json` says of the same cut in a field it reads.
            "EOF while parsing a value".clone_into(&mut read.message);
            read.eof = true;
        }
        read
    }
}

/// The line and column `serde_json` gives the end of `text`: 1-based lines, columns counting bytes.
fn end_of(text: &str) -> (usize, usize) {
    let line_start = text.rfind('\n').map_or(0, |newline| newline + 1);
    (1 + text.matches('\n').count(), text.len() - line_start)
}

/// Whether `text` ends inside a number that more text could complete: right after its `-`, its `.`, its
/// exponent's `e` or `E`, or that exponent's sign.
fn ends_inside_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let start = bytes
        .iter()
        .rposition(|byte| !matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .map_or(0, |at| at + 1);
    let number = &bytes[start..];
    if number.is_empty() {
        return false;
    }
    let unsigned = number.strip_prefix(b"-").unwrap_or(number);
    if unsigned.is_empty() {
        return true;
    }
    let digits = |part: &[u8]| part.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let integer = digits(unsigned);
    if integer == 0 || (integer > 1 && unsigned[0] == b'0') {
        return false;
    }
    let mut rest = &unsigned[integer..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let decimals = digits(fraction);
        if decimals == 0 {
            return fraction.is_empty();
        }
        rest = &fraction[decimals..];
    }
    let Some(exponent) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) else {
        return false;
    };
    let exponent = exponent
        .strip_prefix(b"+")
        .or_else(|| exponent.strip_prefix(b"-"))
        .unwrap_or(exponent);
    exponent.is_empty()
}

/// One call's state.
struct Walker<'de, 'c> {
    keys: &'c dyn KeySelector,
    visitor: &'c mut dyn for<'s> SpanVisitor<'s>,
    max_attributes: usize,
    /// The selected attributes of the resource at hand.
    resource: Vec<(u16, JsonValue<'de>)>,
    /// Whether the visitor has been given the resource at hand.
    resource_seen: bool,
    /// The span being read.
    span: SpanFields<'de>,
    /// Spans read before their resource.
    pending: Vec<SpanFields<'de>>,
    /// Allocation reused for the attributes handed to the visitor.
    wire: Vec<(u16, WireValue<'static>)>,
}

impl Walker<'_, '_> {
    /// Hands the visitor the resource, then the spans that waited for it.
    fn resource_read(&mut self) {
        self.resource_seen = true;
        let visitor = &mut *self.visitor;
        with_wire(&mut self.wire, &self.resource, |attributes| {
            visitor.resource(attributes);
        });
        for span in std::mem::take(&mut self.pending) {
            emit(visitor, &mut self.wire, &span);
        }
    }

    fn span_read(&mut self) {
        if self.resource_seen {
            emit(&mut *self.visitor, &mut self.wire, &self.span);
        } else {
            self.pending.push(std::mem::take(&mut self.span));
        }
    }
}

/// A span's fields as read, whatever their order in the document.
#[derive(Debug, Default)]
struct SpanFields<'de> {
    trace_id: Id,
    span_id: Id,
    parent_span_id: Id,
    name: Cow<'de, str>,
    start: u64,
    end: u64,
    status_code: i32,
    /// The selected attributes within the count limit.
    attributes: Vec<(u16, JsonValue<'de>)>,
    /// Attributes read, selected or not.
    read: usize,
    /// Attributes past the count limit.
    dropped: u32,
}

impl SpanFields<'_> {
    fn clear(&mut self) {
        let mut attributes = std::mem::take(&mut self.attributes);
        attributes.clear();
        *self = SpanFields {
            attributes,
            ..SpanFields::default()
        };
    }
}

fn emit(
    visitor: &mut dyn for<'s> SpanVisitor<'s>,
    scratch: &mut Vec<(u16, WireValue<'static>)>,
    span: &SpanFields<'_>,
) {
    let wire = WireSpan {
        trace_id: span.trace_id.bytes(),
        span_id: span.span_id.bytes(),
        parent_span_id: span.parent_span_id.bytes(),
        name: &span.name,
        start_time_unix_nano: span.start,
        end_time_unix_nano: span.end,
        status_code: span.status_code,
        attributes_dropped: span.dropped,
    };
    with_wire(scratch, &span.attributes, |attributes| {
        visitor.span(&wire, attributes);
    });
}

/// Calls `f` with the attributes as the visitor takes them, built in `scratch`'s allocation.
fn with_wire(
    scratch: &mut Vec<(u16, WireValue<'static>)>,
    attributes: &[(u16, JsonValue<'_>)],
    f: impl FnOnce(&[(u16, WireValue<'_>)]),
) {
    let mut wire = recycle(std::mem::take(scratch));
    wire.extend(attributes.iter().map(|(slot, value)| (*slot, value.wire())));
    f(&wire);
    *scratch = recycle(wire);
}

/// The same allocation, emptied, for values of another lifetime: collecting an empty vector's iterator
/// into a vector of a type of the same layout reuses its buffer.
// The lint sees a filter; the point is the new item type.
#[allow(clippy::unnecessary_filter_map)]
fn recycle<'to>(mut values: Vec<(u16, WireValue<'_>)>) -> Vec<(u16, WireValue<'to>)> {
    values.clear();
    values.into_iter().filter_map(|_| None).collect()
}
