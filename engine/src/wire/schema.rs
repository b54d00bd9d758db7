//! The messages of `ExportTraceServiceRequest` and their fields, as opentelemetry-proto 0.33 declares them.
//!
//! Every field the decoder does not extract is still checked against this table, so a request is refused
//! for the same wrong wire types and malformed strings that make a full decode refuse it.

/// A message type of the request tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
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
}

/// How a field is encoded, and so which wire type it must arrive with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Any varint field: (u)int32/64, bool, enum.
    Varint,
    /// `fixed64` or `double`.
    Fixed64,
    /// `fixed32`.
    Fixed32,
    /// `bytes`: any content.
    Bytes,
    /// `string`: must be UTF-8.
    Str,
    /// An embedded message, walked with one more level of nesting.
    Message(Msg),
}

impl Kind {
    /// The wire type this kind arrives with, as named in errors.
    pub(super) fn wire_type(self) -> &'static str {
        match self {
            Kind::Varint => "varint",
            Kind::Fixed64 => "64-bit",
            Kind::Fixed32 => "32-bit",
            Kind::Bytes | Kind::Str | Kind::Message(_) => "length-delimited",
        }
    }
}

impl Msg {
    /// The protobuf name of the message, for errors.
    pub(super) fn name(self) -> &'static str {
        match self {
            Msg::Request => "ExportTraceServiceRequest",
            Msg::ResourceSpans => "ResourceSpans",
            Msg::Resource => "Resource",
            Msg::EntityRef => "EntityRef",
            Msg::ScopeSpans => "ScopeSpans",
            Msg::Scope => "InstrumentationScope",
            Msg::Span => "Span",
            Msg::Event => "Span.Event",
            Msg::Link => "Span.Link",
            Msg::Status => "Status",
            Msg::KeyValue => "KeyValue",
            Msg::AnyValue => "AnyValue",
            Msg::ArrayValue => "ArrayValue",
            Msg::KeyValueList => "KeyValueList",
        }
    }

    /// The name and kind of field `tag`, or `None` for a field the schema does not declare (skipped like
    /// any unknown field). Repeated fields are listed like singular ones: no repeated scalar is declared,
    /// so packing never arises.
    pub(super) fn field(self, tag: u32) -> Option<(&'static str, Kind)> {
        use Kind::{Bytes, Fixed32, Fixed64, Message, Str, Varint};
        Some(match (self, tag) {
            (Msg::Request, 1) => ("resource_spans", Message(Msg::ResourceSpans)),

            (Msg::ResourceSpans, 1) => ("resource", Message(Msg::Resource)),
            (Msg::ResourceSpans, 2) => ("scope_spans", Message(Msg::ScopeSpans)),
            (Msg::ResourceSpans, 3) => ("schema_url", Str),

            (Msg::Resource, 1) => ("attributes", Message(Msg::KeyValue)),
            (Msg::Resource, 2) => ("dropped_attributes_count", Varint),
            (Msg::Resource, 3) => ("entity_refs", Message(Msg::EntityRef)),

            (Msg::EntityRef, 1) => ("schema_url", Str),
            (Msg::EntityRef, 2) => ("type", Str),
            (Msg::EntityRef, 3) => ("id_keys", Str),
            (Msg::EntityRef, 4) => ("description_keys", Str),

            (Msg::ScopeSpans, 1) => ("scope", Message(Msg::Scope)),
            (Msg::ScopeSpans, 2) => ("spans", Message(Msg::Span)),
            (Msg::ScopeSpans, 3) => ("schema_url", Str),

            (Msg::Scope, 1) => ("name", Str),
            (Msg::Scope, 2) => ("version", Str),
            (Msg::Scope, 3) => ("attributes", Message(Msg::KeyValue)),
            (Msg::Scope, 4) => ("dropped_attributes_count", Varint),

            (Msg::Span, 1) => ("trace_id", Bytes),
            (Msg::Span, 2) => ("span_id", Bytes),
            (Msg::Span, 3) => ("trace_state", Str),
            (Msg::Span, 4) => ("parent_span_id", Bytes),
            (Msg::Span, 5) => ("name", Str),
            (Msg::Span, 6) => ("kind", Varint),
            (Msg::Span, 7) => ("start_time_unix_nano", Fixed64),
            (Msg::Span, 8) => ("end_time_unix_nano", Fixed64),
            (Msg::Span, 9) => ("attributes", Message(Msg::KeyValue)),
            (Msg::Span, 10) => ("dropped_attributes_count", Varint),
            (Msg::Span, 11) => ("events", Message(Msg::Event)),
            (Msg::Span, 12) => ("dropped_events_count", Varint),
            (Msg::Span, 13) => ("links", Message(Msg::Link)),
            (Msg::Span, 14) => ("dropped_links_count", Varint),
            (Msg::Span, 15) => ("status", Message(Msg::Status)),
            (Msg::Span, 16) => ("flags", Fixed32),

            (Msg::Event, 1) => ("time_unix_nano", Fixed64),
            (Msg::Event, 2) => ("name", Str),
            (Msg::Event, 3) => ("attributes", Message(Msg::KeyValue)),
            (Msg::Event, 4) => ("dropped_attributes_count", Varint),

            (Msg::Link, 1) => ("trace_id", Bytes),
            (Msg::Link, 2) => ("span_id", Bytes),
            (Msg::Link, 3) => ("trace_state", Str),
            (Msg::Link, 4) => ("attributes", Message(Msg::KeyValue)),
            (Msg::Link, 5) => ("dropped_attributes_count", Varint),
            (Msg::Link, 6) => ("flags", Fixed32),

            // Field 1 is reserved: it arrives, if at all, as an unknown field.
            (Msg::Status, 2) => ("message", Str),
            (Msg::Status, 3) => ("code", Varint),

            (Msg::KeyValue, 1) => ("key", Str),
            (Msg::KeyValue, 2) => ("value", Message(Msg::AnyValue)),
            (Msg::KeyValue, 3) => ("key_strindex", Varint),

            (Msg::AnyValue, 1) => ("string_value", Str),
            (Msg::AnyValue, 2) => ("bool_value", Varint),
            (Msg::AnyValue, 3) => ("int_value", Varint),
            (Msg::AnyValue, 4) => ("double_value", Fixed64),
            (Msg::AnyValue, 5) => ("array_value", Message(Msg::ArrayValue)),
            (Msg::AnyValue, 6) => ("kvlist_value", Message(Msg::KeyValueList)),
            (Msg::AnyValue, 7) => ("bytes_value", Bytes),
            (Msg::AnyValue, 8) => ("string_value_strindex", Varint),

            (Msg::ArrayValue, 1) => ("values", Message(Msg::AnyValue)),

            (Msg::KeyValueList, 1) => ("values", Message(Msg::KeyValue)),

            _ => return None,
        })
    }
}
