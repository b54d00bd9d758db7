//! A decoder of OTLP `ExportTraceServiceRequest` protobuf bytes that reads only what the contracts need.
//!
//! Decoding a request into the generated `opentelemetry-proto` types allocates a `String` or a `Vec` for
//! every id, name and attribute of every span, and most attributes are never read by any contract: on a
//! busy receiver that costs more than judging the spans. [`decode_trace_request`] instead walks the
//! protobuf wire format over the request bytes and hands a [`SpanVisitor`] each span's ids, name, times and
//! status code, with only the attributes a [`KeySelector`] asks for, all borrowed from the request. It
//! copies nothing out of the buffer; one scratch vector per call holds the attributes of the span at hand.
//!
//! It accepts exactly the requests prost accepts, so whether a request is refused does not depend on the
//! decoder behind the receiver: every field it does not keep is still checked (wire types, lengths, the
//! UTF-8 of every string, nesting depth), and repeated or out-of-order fields are merged as protobuf
//! prescribes (the last scalar wins, a repeated singular message merges, a repeated field appends). What
//! it reports differs from a full decode only where documented on the item concerned:
//! [`WireValue::Empty`] for `string_value_strindex`, [`WireValue::KvList`] for a key-value list, and
//! errors that name the offending message and field in their own words.
//!
//! ```
//! use ironforge_engine::wire::{SpanVisitor, WireSpan, WireValue, decode_trace_request};
//! use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
//! use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
//! use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
//! use prost::Message;
//!
//! fn attribute(key: &str, value: any_value::Value) -> KeyValue {
//!     KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
//! }
//! let span = Span {
//!     trace_id: vec![1; 16],
//!     span_id: vec![2; 8],
//!     name: "session".into(),
//!     attributes: vec![
//!         attribute("ironforge.session.id", any_value::Value::StringValue("NY_AM_2025-07-28".into())),
//!         attribute("thread.id", any_value::Value::IntValue(7)),
//!         attribute("ironforge.pattern.authenticity", any_value::Value::DoubleValue(0.91)),
//!     ],
//!     ..Default::default()
//! };
//! let request = ExportTraceServiceRequest {
//!     resource_spans: vec![ResourceSpans {
//!         scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
//!         ..Default::default()
//!     }],
//! };
//! let bytes = request.encode_to_vec();
//!
//! /// Keeps each span's name and its selected attributes.
//! #[derive(Default)]
//! struct Names<'a>(Vec<(&'a str, Vec<(u16, WireValue<'a>)>)>);
//! impl<'a> SpanVisitor<'a> for Names<'a> {
//!     fn resource(&mut self, _attributes: &[(u16, WireValue<'a>)]) {}
//!     fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]) {
//!         self.0.push((span.name, attributes.to_vec()));
//!     }
//! }
//!
//! // A closure is a selector: slot 0 for the session id, slot 1 for the authenticity, skip the rest.
//! let keys = |key: &str| match key {
//!     "ironforge.session.id" => Some(0),
//!     "ironforge.pattern.authenticity" => Some(1),
//!     _ => None,
//! };
//! let mut names = Names::default();
//! decode_trace_request(&bytes, &keys, &mut names)?;
//! assert_eq!(
//!     names.0,
//!     [("session", vec![(0, WireValue::String("NY_AM_2025-07-28")), (1, WireValue::Double(0.91))])]
//! );
//! # Ok::<(), ironforge_engine::wire::WireError>(())
//! ```

mod reader;
mod schema;
mod value;

#[cfg(test)]
mod tests;

use reader::{RECURSION_LIMIT, Reader};
use schema::Msg;
use value::AnyParts;
pub(crate) use value::JsonValue;
pub use value::WireArray;

/// Chooses which attribute keys are kept; the contract engine's read plan implements it.
pub trait KeySelector {
    /// The slot of an attribute key the caller reads, or `None` to skip it. The key is given as its bytes,
    /// not yet checked as UTF-8: a key equal to one the caller spelled is valid by being equal, and only the
    /// keys it skips need the check, which the decoder does.
    fn slot(&self, key: &[u8]) -> Option<u16>;

    /// Attributes read per span at most, as OpenTelemetry's `AttributeCountLimit`: those after the first
    /// this many in wire order are checked but not kept, and counted in [`WireSpan::attributes_dropped`].
    fn max_attributes(&self) -> usize {
        usize::MAX
    }
}

/// Any `Fn(&str) -> Option<u16>` selects keys, which suits tests and one-off readers.
impl<F: Fn(&str) -> Option<u16>> KeySelector for F {
    fn slot(&self, key: &[u8]) -> Option<u16> {
        std::str::from_utf8(key).ok().and_then(self)
    }
}

/// An attribute value, borrowed from the request bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    /// `AnyValue` with no value set, or a value this decoder does not model: `string_value_strindex`
    /// (an index into a dictionary that trace requests do not carry).
    Empty,
    String(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    Array(WireArray<'a>),
    /// A key-value list; only its length is exposed, since no contract reads inside one.
    KvList {
        len: usize,
    },
}

/// The fields of one span the engine reads. Ids are raw bytes as on the wire (length not checked here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireSpan<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub name: &'a str,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    /// `Status.code`; 0 (unset) when there is no status. An unknown code is kept as sent.
    pub status_code: i32,
    /// Attributes past [`KeySelector::max_attributes`], dropped unread.
    pub attributes_dropped: u32,
}

/// Receives what the decoder keeps, in request order.
pub trait SpanVisitor<'a> {
    /// Called once per `ResourceSpans`, before its spans, with the resource attributes the selector kept
    /// (empty when there is no resource). Slots as given by the selector.
    fn resource(&mut self, attributes: &[(u16, WireValue<'a>)]);
    /// Called once per span, with the span's selected attributes in wire order (duplicates kept, in order).
    fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]);
}

/// Why a request is not valid protobuf for `ExportTraceServiceRequest`.
///
/// prost refuses exactly the same requests; the variants name what is wrong in this decoder's terms, which
/// need not be the error prost would report first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end inside a field key, a varint, a fixed-width value or a group.
    #[error("{message} is truncated: its bytes end inside a field")]
    Truncated { message: &'static str },
    /// A length prefix reaches past the end of the enclosing message.
    #[error("field {tag} of {message} declares {len} bytes but only {remaining} remain")]
    LengthOverflow {
        message: &'static str,
        tag: u32,
        len: u64,
        remaining: usize,
    },
    /// A varint longer than 10 bytes, or one whose value does not fit in 64 bits.
    #[error("{message} has a varint longer than 10 bytes or above 2^64")]
    InvalidVarint { message: &'static str },
    /// A field key above `u32::MAX`, with field number 0 or with wire type 6 or 7.
    #[error("{message} has an invalid field key {key}")]
    InvalidKey { message: &'static str, key: u64 },
    /// A field of the schema arrives with another wire type than its declaration's.
    #[error("{message}.{field} arrives as {actual}, but is declared {expected}")]
    WrongWireType {
        message: &'static str,
        field: &'static str,
        expected: &'static str,
        actual: &'static str,
    },
    /// A `string` field (kept or not) that is not UTF-8.
    #[error("{message}.{field} is not valid UTF-8")]
    InvalidUtf8 {
        message: &'static str,
        field: &'static str,
    },
    /// An end-group key without a matching start-group key.
    #[error("{message} has an end-group key for field {tag} that closes no group")]
    UnexpectedEndGroup { message: &'static str, tag: u32 },
    /// Messages (or groups) nested deeper than prost's limit of 100.
    #[error("{message} is nested more than 100 messages deep")]
    RecursionLimit { message: &'static str },
}

/// Decodes a request. On `Err` the visitor may already have seen part of it: callers must discard what
/// they collected (the receivers then refuse the request whole with INVALID_ARGUMENT / 400).
pub fn decode_trace_request<'a, V: SpanVisitor<'a>>(
    bytes: &'a [u8],
    keys: &impl KeySelector,
    visitor: &mut V,
) -> Result<(), WireError> {
    decode(bytes, keys, visitor).map_err(|error| *error)
}

fn decode<'a, V: SpanVisitor<'a>>(
    bytes: &'a [u8],
    keys: &impl KeySelector,
    visitor: &mut V,
) -> reader::Result<()> {
    let mut decoder = Decoder {
        keys,
        visitor,
        attributes: Vec::new(),
        arrays: Vec::new(),
    };
    let mut request = Reader::new(Msg::Request, bytes, RECURSION_LIMIT);
    while let Some((tag, field)) = request.next()? {
        if tag == 1 {
            decoder.resource_spans(request.message(tag, field, Msg::ResourceSpans)?)?;
        } else {
            request.other(tag, field)?;
        }
    }
    Ok(())
}

/// One call's state: the selector, the visitor, the scratch vector of the attributes being collected, and
/// the array values read so far.
struct Decoder<'a, 'c, K, V> {
    keys: &'c K,
    visitor: &'c mut V,
    attributes: Vec<(u16, WireValue<'a>)>,
    /// Selected array values already read (and their elements checked) in this request, by the bytes of
    /// their `AnyValue` and the nesting budget they were checked under. Spans repeat their arrays whole
    /// (IRONFORGE's event types and edge intents on every session span): a value whose bytes equal one
    /// read before is that value, found by one comparison instead of a walk over each element.
    arrays: Vec<(&'a [u8], u32, WireValue<'a>)>,
}

/// Array values a request remembers at most (the oldest gives way).
const REMEMBERED_ARRAYS: usize = 8;

/// `AnyValue` bodies shorter than this are read again rather than looked up.
const REMEMBER_ARRAYS_FROM: usize = 24;

impl<'a, K: KeySelector, V: SpanVisitor<'a>> Decoder<'a, '_, K, V> {
    /// The resource comes first for the visitor but may come anywhere in the bytes, more than once (the
    /// occurrences merge): a first pass reads the resources and checks every field but the scope spans
    /// (whose framing alone is read, at no cost), a second pass reads the scope spans.
    fn resource_spans(&mut self, resource_spans: Reader<'a>) -> reader::Result<()> {
        self.attributes.clear();
        let mut first = resource_spans;
        while let Some((tag, field)) = first.next()? {
            match tag {
                1 => {
                    let mut resource = first.message(tag, field, Msg::Resource)?;
                    while let Some((tag, field)) = resource.next()? {
                        if tag == 1 {
                            self.key_value(resource.message(tag, field, Msg::KeyValue)?, true)?;
                        } else {
                            resource.other(tag, field)?;
                        }
                    }
                }
                2 => {
                    first.bytes(tag, field)?;
                }
                _ => first.other(tag, field)?,
            }
        }
        self.visitor.resource(&self.attributes);

        let mut second = resource_spans;
        while let Some((tag, field)) = second.next()? {
            if tag == 2 {
                let mut scope_spans = second.message(tag, field, Msg::ScopeSpans)?;
                while let Some((tag, field)) = scope_spans.next()? {
                    if tag == 2 {
                        self.span(scope_spans.message(tag, field, Msg::Span)?)?;
                    } else {
                        scope_spans.other(tag, field)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn span(&mut self, mut fields: Reader<'a>) -> reader::Result<()> {
        self.attributes.clear();
        let mut span = WireSpan {
            trace_id: &[],
            span_id: &[],
            parent_span_id: &[],
            name: "",
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            status_code: 0,
            attributes_dropped: 0,
        };
        let max_attributes = self.keys.max_attributes();
        let mut attributes = 0usize;
        while let Some((tag, field)) = fields.next()? {
            match tag {
                1 => span.trace_id = fields.bytes(tag, field)?,
                2 => span.span_id = fields.bytes(tag, field)?,
                4 => span.parent_span_id = fields.bytes(tag, field)?,
                5 => span.name = fields.string(tag, field)?,
                7 => span.start_time_unix_nano = fields.fixed64(tag, field)?,
                8 => span.end_time_unix_nano = fields.fixed64(tag, field)?,
                9 => {
                    let within = attributes < max_attributes;
                    attributes += 1;
                    if !within {
                        span.attributes_dropped = span.attributes_dropped.saturating_add(1);
                    }
                    self.key_value(fields.message(tag, field, Msg::KeyValue)?, within)?;
                }
                15 => {
                    // A second status merges into the first: a code, when present, replaces the code.
                    let mut status = fields.message(tag, field, Msg::Status)?;
                    while let Some((tag, field)) = status.next()? {
                        if tag == 3 {
                            span.status_code = status.varint_field(tag, field)? as i32;
                        } else {
                            status.other(tag, field)?;
                        }
                    }
                }
                _ => fields.other(tag, field)?,
            }
        }
        self.visitor.span(&span, &self.attributes);
        Ok(())
    }

    /// The value of a selected attribute held in one `AnyValue`, checked as a full decode would; an array
    /// equal byte for byte to one read before (under the same budget) is taken as read then.
    fn selected_value(&mut self, any: Reader<'a>) -> reader::Result<WireValue<'a>> {
        let (body, budget) = (any.rest(), any.budget());
        if body.len() < REMEMBER_ARRAYS_FROM {
            return AnyParts::single(body).value(budget, true);
        }
        if let Some((_, _, value)) = (self.arrays.iter())
            .find(|(seen, seen_budget, _)| *seen_budget == budget && *seen == body)
        {
            return Ok(*value);
        }
        let value = AnyParts::single(body).value(budget, true)?;
        if let WireValue::Array(_) = value {
            if self.arrays.len() == REMEMBERED_ARRAYS {
                self.arrays.remove(0);
            }
            self.arrays.push((body, budget, value));
        }
        Ok(value)
    }

    /// Reads one attribute, keeping it when the selector selects its key. The key is known only at the end
    /// (it may follow the value, or occur twice), so the value is read after the fields; it is checked
    /// whether kept or not. An attribute past the count limit (`within` false) is checked the same way
    /// and never kept.
    fn key_value(&mut self, mut fields: Reader<'a>, within: bool) -> reader::Result<()> {
        let body = fields.rest();
        let mut key: &[u8] = &[];
        let mut value: Option<Reader<'a>> = None;
        let mut merged = false;
        while let Some((tag, field)) = fields.next()? {
            match tag {
                1 => key = fields.bytes(tag, field)?,
                2 => {
                    let any = fields.message(tag, field, Msg::AnyValue)?;
                    if value.is_some() {
                        merged = true;
                    } else {
                        value = Some(any);
                    }
                }
                _ => fields.other(tag, field)?,
            }
        }
        let slot = self.keys.slot(key).filter(|_| within);
        if slot.is_none() {
            fields.check_utf8(key)?;
        }
        let value = match value {
            None => WireValue::Empty,
            Some(any) if merged => AnyParts::merged(body).value(any.budget(), true)?,
            // Most attributes are not selected: checked as a full decode would, but not read.
            Some(any) if slot.is_none() => {
                any.walk(true)?;
                WireValue::Empty
            }
            Some(any) => self.selected_value(any)?,
        };
        if let Some(slot) = slot {
            self.attributes.push((slot, value));
        }
        Ok(())
    }
}
