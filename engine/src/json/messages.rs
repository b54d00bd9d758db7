//! The messages of `ExportTraceServiceRequest` in OTLP/JSON, from the request down to a span's fields.
//! Those the engine reads fill the [`Walker`]; the others (scopes, events, links, entity references) are
//! checked and forgotten.

use serde::de::MapAccess;

use super::Walker;
use super::fields::{
    Each, Element, Hex, Integer, Message, NextValue, Object, Repeated, Strings, Text,
};
use super::value::{CheckedAttribute, KeyValue};

fn check_text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.value(Text::check(true)).map(drop)
}

/// A `uint32` or `int32` field (enums included), checked.
fn check_int<'de, T, A>(map: &mut A) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    Integer<T>: serde::de::Visitor<'de>,
{
    map.value(Integer::<T>::NUMBER).map(drop)
}

fn check_attributes<'de, S: ?Sized, A: MapAccess<'de>>(
    state: &mut S,
    map: &mut A,
) -> Result<(), A::Error> {
    map.value(Repeated::<S, CheckedAttribute>::new(state))
}

pub(super) struct Request;

impl<'de> Message<'de, Walker<'de, '_>> for Request {
    const EXPECTING: &'static str = "an OTLP ExportTraceServiceRequest object";
    const FIELDS: &'static [&'static str] = &["resourceSpans"];

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        _: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        map.value(Repeated::<_, Each<ResourceSpans>>::new(walker))
    }
}

struct ResourceSpans;

impl<'de> Message<'de, Walker<'de, '_>> for ResourceSpans {
    const EXPECTING: &'static str = "an OTLP ResourceSpans object";
    const FIELDS: &'static [&'static str] = &["resource", "scopeSpans", "schemaUrl"];

    fn begin(walker: &mut Walker<'de, '_>) {
        walker.resource.clear();
        walker.resource_seen = false;
        walker.pending.clear();
    }

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => {
                if map.value(Object::<_, Resource>::field(walker))? {
                    walker.resource_read();
                }
                Ok(())
            }
            1 => map.value(Repeated::<_, Each<ScopeSpans>>::new(walker)),
            _ => check_text(map),
        }
    }

    fn end(walker: &mut Walker<'de, '_>) {
        if !walker.resource_seen {
            walker.resource_read();
        }
    }
}

struct Resource;

impl<'de> Message<'de, Walker<'de, '_>> for Resource {
    const EXPECTING: &'static str = "an OTLP Resource object";
    const FIELDS: &'static [&'static str] = &["attributes", "droppedAttributesCount", "entityRefs"];

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => map.value(Repeated::<_, ResourceAttribute>::new(walker)),
            1 => check_int::<u32, _>(map),
            _ => map.value(Repeated::<_, Each<EntityRef>>::new(walker)),
        }
    }
}

/// A resource attribute: kept when selected (the count limit applies to spans only).
struct ResourceAttribute;

impl<'de> Element<'de, Walker<'de, '_>> for ResourceAttribute {
    fn next<A: serde::de::SeqAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        seq: &mut A,
    ) -> Result<bool, A::Error> {
        let read = KeyValue {
            keys: walker.keys,
            within: true,
        };
        let Some(read) = seq.next_element_seed(read)? else {
            return Ok(false);
        };
        walker.resource.extend(read);
        Ok(true)
    }
}

struct EntityRef;

impl<'de, S: ?Sized> Message<'de, S> for EntityRef {
    const EXPECTING: &'static str = "an OTLP EntityRef object";
    const FIELDS: &'static [&'static str] = &["schemaUrl", "type", "idKeys", "descriptionKeys"];

    fn field<A: MapAccess<'de>>(state: &mut S, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 | 1 => check_text(map),
            _ => map.value(Repeated::<S, Strings>::new(state)),
        }
    }
}

struct ScopeSpans;

impl<'de> Message<'de, Walker<'de, '_>> for ScopeSpans {
    const EXPECTING: &'static str = "an OTLP ScopeSpans object";
    const FIELDS: &'static [&'static str] = &["scope", "spans", "schemaUrl"];

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => map.value(Object::<_, Scope>::field(walker)).map(drop),
            1 => map.value(Repeated::<_, Each<Span>>::new(walker)),
            _ => check_text(map),
        }
    }
}

struct Scope;

impl<'de, S: ?Sized> Message<'de, S> for Scope {
    const EXPECTING: &'static str = "an OTLP InstrumentationScope object";
    const FIELDS: &'static [&'static str] =
        &["name", "version", "attributes", "droppedAttributesCount"];

    fn field<A: MapAccess<'de>>(state: &mut S, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 | 1 => check_text(map),
            2 => check_attributes(state, map),
            _ => check_int::<u32, _>(map),
        }
    }
}

struct Span;

impl<'de> Message<'de, Walker<'de, '_>> for Span {
    const EXPECTING: &'static str = "an OTLP Span object";
    const FIELDS: &'static [&'static str] = &[
        "traceId",
        "spanId",
        "traceState",
        "parentSpanId",
        "flags",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "droppedAttributesCount",
        "events",
        "droppedEventsCount",
        "links",
        "droppedLinksCount",
        "status",
    ];

    fn begin(walker: &mut Walker<'de, '_>) {
        walker.span.clear();
    }

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let span = &mut walker.span;
        match index {
            0 => span.trace_id = map.value(Hex)?,
            1 => span.span_id = map.value(Hex)?,
            3 => span.parent_span_id = map.value(Hex)?,
            5 => span.name = map.value(Text::KEEP)?.unwrap_or_default(),
            6 => check_int::<i32, _>(map)?,
            7 => {
                let start = map.value(Integer::<u64>::NUMBER_OR_STRING)?;
                span.start = start.unwrap_or_default();
            }
            8 => {
                let end = map.value(Integer::<u64>::NUMBER_OR_STRING)?;
                span.end = end.unwrap_or_default();
            }
            9 => map.value(Repeated::<_, SpanAttribute>::new(walker))?,
            11 => map.value(Repeated::<_, Each<Event>>::new(walker))?,
            13 => map.value(Repeated::<_, Each<Link>>::new(walker))?,
            15 => {
                map.value(Object::<_, Status>::field(walker))?;
            }
            // The flags are a fixed32, the counts uint32s.
            4 | 10 | 12 | 14 => check_int::<u32, _>(map)?,
            _ => check_text(map)?,
        }
        Ok(())
    }

    fn end(walker: &mut Walker<'de, '_>) {
        walker.span_read();
    }
}

/// A span attribute: kept when selected and within the count limit; counted in any case.
struct SpanAttribute;

impl<'de> Element<'de, Walker<'de, '_>> for SpanAttribute {
    fn next<A: serde::de::SeqAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        seq: &mut A,
    ) -> Result<bool, A::Error> {
        let within = walker.span.read < walker.max_attributes;
        let read = KeyValue {
            keys: walker.keys,
            within,
        };
        let Some(read) = seq.next_element_seed(read)? else {
            return Ok(false);
        };
        let span = &mut walker.span;
        span.read += 1;
        if !within {
            span.dropped = span.dropped.saturating_add(1);
        }
        span.attributes.extend(read);
        Ok(true)
    }
}

struct Status;

impl<'de> Message<'de, Walker<'de, '_>> for Status {
    const EXPECTING: &'static str = "an OTLP Status object";
    const FIELDS: &'static [&'static str] = &["message", "code"];

    fn field<A: MapAccess<'de>>(
        walker: &mut Walker<'de, '_>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        if index == 0 {
            return check_text(map);
        }
        let code = map.value(Integer::<i32>::NUMBER)?;
        walker.span.status_code = code.unwrap_or_default();
        Ok(())
    }
}

struct Event;

impl<'de, S: ?Sized> Message<'de, S> for Event {
    const EXPECTING: &'static str = "an OTLP Span.Event object";
    const FIELDS: &'static [&'static str] = &[
        "timeUnixNano",
        "name",
        "attributes",
        "droppedAttributesCount",
    ];

    fn field<A: MapAccess<'de>>(state: &mut S, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 => map.value(Integer::<u64>::NUMBER_OR_STRING).map(drop),
            1 => check_text(map),
            2 => check_attributes(state, map),
            _ => check_int::<u32, _>(map),
        }
    }
}

struct Link;

impl<'de, S: ?Sized> Message<'de, S> for Link {
    const EXPECTING: &'static str = "an OTLP Span.Link object";
    const FIELDS: &'static [&'static str] = &[
        "traceId",
        "spanId",
        "traceState",
        "attributes",
        "droppedAttributesCount",
        "flags",
    ];

    fn field<A: MapAccess<'de>>(state: &mut S, index: usize, map: &mut A) -> Result<(), A::Error> {
        match index {
            0 | 1 => map.value(Hex).map(drop),
            2 => check_text(map),
            3 => check_attributes(state, map),
            _ => check_int::<u32, _>(map),
        }
    }
}
