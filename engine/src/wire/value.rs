//! Attribute values: an `AnyValue` read in place, and arrays walked lazily.

use std::borrow::Cow;

use super::WireValue;
use super::reader::{Field, RECURSION_LIMIT, Reader, Result};
use super::schema::Msg;

/// The encoded pieces of one `AnyValue`.
///
/// Protobuf merges a singular message field that occurs more than once, so a `KeyValue` with two `value`
/// fields holds one value whose fields are those of both pieces in order. The pieces are `first` (part of
/// an `AnyValue` body) followed by the `value` fields (2) found in `rest` (part of a `KeyValue` body).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AnyParts<'a> {
    first: &'a [u8],
    rest: &'a [u8],
}

impl<'a> AnyParts<'a> {
    /// One `AnyValue` body.
    pub(super) fn single(body: &'a [u8]) -> Self {
        AnyParts {
            first: body,
            rest: &[],
        }
    }

    /// The `value` fields of a `KeyValue` body, merged.
    pub(super) fn merged(key_value: &'a [u8]) -> Self {
        AnyParts {
            first: &[],
            rest: key_value,
        }
    }

    fn next_part(&mut self) -> Option<&'a [u8]> {
        if !self.first.is_empty() {
            return Some(std::mem::take(&mut self.first));
        }
        if self.rest.is_empty() {
            return None;
        }
        next_len_field(&mut self.rest, Msg::KeyValue, 2)
    }

    /// The value these pieces hold, as prost's merge leaves it: a scalar field replaces the value; an
    /// `array_value` (or `kvlist_value`) after another one of the same kind appends to it, after any other
    /// kind replaces it. `budget` is the nesting budget of the `AnyValue`'s fields. With `validate`,
    /// everything inside is checked as a full decode would; without, the bytes must already have been.
    pub(super) fn value(mut self, budget: u32, validate: bool) -> Result<WireValue<'a>> {
        let mut value = WireValue::Empty;
        while let Some(part) = self.next_part() {
            let mut any = Reader::new(Msg::AnyValue, part, budget);
            loop {
                let at = any.rest();
                let Some((tag, field)) = any.next()? else {
                    break;
                };
                value = match tag {
                    1 => WireValue::String(any.string(tag, field)?),
                    2 => WireValue::Bool(any.varint_field(tag, field)? != 0),
                    3 => WireValue::Int(any.varint_field(tag, field)? as i64),
                    4 => WireValue::Double(f64::from_bits(any.fixed64(tag, field)?)),
                    5 => {
                        let len = array_len(any.message(tag, field, Msg::ArrayValue)?, validate)?;
                        match value {
                            WireValue::Array(WireArray {
                                source: Source::Wire { parts, len: before },
                            }) => WireValue::Array(WireArray {
                                source: Source::Wire {
                                    parts,
                                    len: before + len,
                                },
                            }),
                            // The array starts at this field: the rest of this piece and the pieces after it
                            // hold no other kind of value, or the array would not be the final value.
                            _ => WireValue::Array(WireArray {
                                source: Source::Wire {
                                    parts: AnyParts {
                                        first: at,
                                        rest: self.rest,
                                    },
                                    len,
                                },
                            }),
                        }
                    }
                    6 => {
                        let len = any.message(tag, field, Msg::KeyValueList)?.walk(validate)?;
                        match value {
                            WireValue::KvList { len: before } => {
                                WireValue::KvList { len: before + len }
                            }
                            _ => WireValue::KvList { len },
                        }
                    }
                    7 => WireValue::Bytes(any.bytes(tag, field)?),
                    8 => {
                        any.varint_field(tag, field)?;
                        WireValue::Empty
                    }
                    _ => {
                        if validate {
                            any.other(tag, field)?;
                        }
                        continue;
                    }
                };
            }
        }
        Ok(value)
    }
}

/// The number of elements of an `ArrayValue`. With `validate`, each element is checked by the code that
/// reads attribute values, which is quicker than the schema-driven check of other fields.
fn array_len(mut array: Reader<'_>, validate: bool) -> Result<usize> {
    if !validate {
        return array.walk(false);
    }
    let mut len = 0;
    while let Some((tag, field)) = array.next()? {
        if tag == 1 {
            let element = array.message(tag, field, Msg::AnyValue)?;
            AnyParts::single(element.rest()).value(element.budget(), true)?;
            len += 1;
        } else {
            array.other(tag, field)?;
        }
    }
    Ok(len)
}

/// The next length-delimited field `tag` in bytes of a `msg` already validated, skipping other fields;
/// `None` (and nothing left) at the end.
fn next_len_field<'a>(bytes: &mut &'a [u8], msg: Msg, tag: u32) -> Option<&'a [u8]> {
    let mut reader = Reader::new(msg, bytes, RECURSION_LIMIT);
    loop {
        match reader.next() {
            Ok(Some((found, Field::Len(body)))) if found == tag => {
                *bytes = reader.rest();
                return Some(body);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                *bytes = &[];
                return None;
            }
        }
    }
}

/// An attribute value as the OTLP/JSON reader reads it from a document: strings are borrowed from it
/// unless they held escapes. It lives here, beside [`WireArray`], because an array read from JSON holds
/// its elements in this form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonValue<'de> {
    Empty,
    String(Cow<'de, str>),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<JsonValue<'de>>),
    KvList { len: usize },
}

impl JsonValue<'_> {
    /// The value as the visitors of either decoder take it.
    pub(crate) fn wire(&self) -> WireValue<'_> {
        match self {
            JsonValue::Empty => WireValue::Empty,
            JsonValue::String(text) => WireValue::String(text),
            JsonValue::Bool(flag) => WireValue::Bool(*flag),
            JsonValue::Int(int) => WireValue::Int(*int),
            JsonValue::Double(double) => WireValue::Double(*double),
            JsonValue::Bytes(bytes) => WireValue::Bytes(bytes),
            JsonValue::Array(elements) => WireValue::Array(WireArray::json(elements)),
            JsonValue::KvList { len } => WireValue::KvList { len: *len },
        }
    }
}

/// An `ArrayValue`, walked lazily.
///
/// From protobuf it holds the encoded array (validated when the request was decoded) and its element
/// count; the elements are read only when iterated. Arrays merged from repeated `array_value` fields are
/// iterated as one, in wire order. From OTLP/JSON it holds the elements, already read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireArray<'a> {
    source: Source<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source<'a> {
    /// From the first `array_value` field of the final value on.
    Wire {
        parts: AnyParts<'a>,
        len: usize,
    },
    Json(&'a [JsonValue<'a>]),
}

impl<'a> WireArray<'a> {
    pub(crate) fn json(elements: &'a [JsonValue<'a>]) -> Self {
        WireArray {
            source: Source::Json(elements),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self.source {
            Source::Wire { len, .. } => len,
            Source::Json(elements) => elements.len(),
        }
    }

    /// Whether the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded bytes the elements are read from, when they are one run of the request (not merged from
    /// several `value` fields, not from JSON): equal bytes hold equal elements.
    pub fn encoded(&self) -> Option<&'a [u8]> {
        match self.source {
            Source::Wire { parts, .. } if parts.rest.is_empty() => Some(parts.first),
            Source::Wire { .. } | Source::Json(_) => None,
        }
    }

    /// The elements, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = WireValue<'a>> + 'a {
        match self.source {
            Source::Wire { parts, .. } => Iter::Wire(Elements {
                parts,
                any: &[],
                array: &[],
            }),
            Source::Json(elements) => Iter::Json(elements.iter()),
        }
    }
}

#[derive(Debug)]
enum Iter<'a> {
    Wire(Elements<'a>),
    Json(std::slice::Iter<'a, JsonValue<'a>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = WireValue<'a>;

    fn next(&mut self) -> Option<WireValue<'a>> {
        match self {
            Iter::Wire(elements) => elements.next(),
            Iter::Json(elements) => elements.next().map(JsonValue::wire),
        }
    }
}

/// The elements of a [`WireArray`]: those of each `array_value` field (`array`) of each piece of the
/// `AnyValue` (`any`).
#[derive(Debug)]
struct Elements<'a> {
    parts: AnyParts<'a>,
    any: &'a [u8],
    array: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = WireValue<'a>;

    fn next(&mut self) -> Option<WireValue<'a>> {
        loop {
            if let Some(element) = next_len_field(&mut self.array, Msg::ArrayValue, 1) {
                // Validated with the request, so this cannot fail; `Empty` keeps it panic-free regardless.
                let value = AnyParts::single(element).value(RECURSION_LIMIT, false);
                return Some(value.unwrap_or(WireValue::Empty));
            }
            if let Some(array) = next_len_field(&mut self.any, Msg::AnyValue, 5) {
                self.array = array;
                continue;
            }
            self.any = self.parts.next_part()?;
        }
    }
}
