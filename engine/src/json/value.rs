//! Attributes in OTLP/JSON: `KeyValue`s, and the `AnyValue`s they hold, kept when selected and only
//! checked otherwise.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected,
};

use super::fields::{
    Base64, Bool, Double, Element, FieldName, Integer, Message, NextElement, NextValue, Object,
    Repeated, Text,
};
use crate::wire::{JsonValue, KeySelector};

/// Selects no key: the attributes of scopes, events, links and key-value lists are only checked.
struct Unselected;

impl KeySelector for Unselected {
    fn slot(&self, _: &[u8]) -> Option<u16> {
        None
    }
}

/// Reads one `KeyValue`: its slot and value when its key is selected and it is `within` the attribute
/// count limit, else `None` (its value then checked, not kept).
pub(super) struct KeyValue<'k> {
    pub(super) keys: &'k dyn KeySelector,
    pub(super) within: bool,
}

impl<'de> DeserializeSeed<'de> for KeyValue<'_> {
    type Value = Option<(u16, JsonValue<'de>)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let mut read = KeyValueFields {
            keys: self.keys,
            within: self.within,
            slot: None,
            value: None,
        };
        deserializer.deserialize_any(Object::<_, KeyValueMessage>::element(&mut read))?;
        let slot = match read.slot {
            Some(slot) => slot,
            // A missing key is the empty key (protobuf's default), where opentelemetry-proto's serde
            // refuses the document.
            None => read.slot_of(""),
        };
        Ok(slot.map(|slot| (slot, read.value.unwrap_or(JsonValue::Empty))))
    }
}

struct KeyValueFields<'k, 'de> {
    keys: &'k dyn KeySelector,
    within: bool,
    /// `Some` once the key is read.
    slot: Option<Option<u16>>,
    value: Option<JsonValue<'de>>,
}

impl KeyValueFields<'_, '_> {
    fn slot_of(&self, key: &str) -> Option<u16> {
        self.keys.slot(key.as_bytes()).filter(|_| self.within)
    }
}

struct KeyValueMessage;

impl<'de> Message<'de, KeyValueFields<'_, 'de>> for KeyValueMessage {
    const EXPECTING: &'static str = "an OTLP KeyValue object";
    const FIELDS: &'static [&'static str] = &["key", "value", "keyStrindex"];

    fn field<A: MapAccess<'de>>(
        state: &mut KeyValueFields<'_, 'de>,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => state.slot = Some(map.value(KeySlot(state))?),
            1 => {
                // A value before its key is kept until the key tells whether it is wanted.
                let keep = state.slot.map_or(state.within, |slot| slot.is_some());
                state.value = Some(map.value(AnyValue {
                    keep,
                    nullable: true,
                })?);
            }
            _ => {
                map.value(Integer::<i32>::NUMBER)?;
            }
        }
        Ok(())
    }
}

/// The slot of a key, read where it lies: a key with escapes is matched unescaped without being copied.
struct KeySlot<'r, 'k, 'de>(&'r KeyValueFields<'k, 'de>);

impl de::Visitor<'_> for KeySlot<'_, '_, '_> {
    type Value = Option<u16>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<u16>, E> {
        Ok(self.0.slot_of(key))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u16>, E> {
        Ok(self.0.slot_of(""))
    }
}

/// Attributes only checked, whatever state they are read in.
pub(super) struct CheckedAttribute;

impl<'de, S: ?Sized> Element<'de, S> for CheckedAttribute {
    fn next<A: SeqAccess<'de>>(_: &mut S, seq: &mut A) -> Result<bool, A::Error> {
        let check = KeyValue {
            keys: &Unselected,
            within: false,
        };
        Ok(seq.next_element_seed(check)?.is_some())
    }
}

const ANY_FIELDS: &[&str] = &[
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "arrayValue",
    "kvlistValue",
    "bytesValue",
];

/// Reads an `AnyValue`; unless `keep`, only checks it (and reads `Empty`). `null` is the empty value where
/// `nullable` (a `KeyValue`'s value); an array element must be an object.
///
/// As in opentelemetry-proto's serde, a field may come more than once and a field set to `null` is
/// skipped; the last other one is the value.
struct AnyValue {
    keep: bool,
    nullable: bool,
}

impl<'de> de::Visitor<'de> for AnyValue {
    type Value = JsonValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OTLP AnyValue object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.nullable {
            Ok(JsonValue::Empty)
        } else {
            Err(E::invalid_type(Unexpected::Unit, &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let keep = self.keep;
        let mut value = JsonValue::Empty;
        while let Some(field) = map.next_key_seed(FieldName(ANY_FIELDS))? {
            let read = match field {
                Some(0) => map.value(Text::kept(keep))?.map(JsonValue::String),
                Some(1) => map.value(Bool)?.map(JsonValue::Bool),
                Some(2) => map
                    .value(Integer::<i64>::NUMBER_OR_STRING)?
                    .map(JsonValue::Int),
                Some(3) => map.value(Double)?.map(JsonValue::Double),
                Some(4) => {
                    let mut array = ArrayFields {
                        keep,
                        values: Vec::new(),
                    };
                    map.value(Object::<_, ArrayMessage>::field(&mut array))?
                        .then_some(JsonValue::Array(array.values))
                }
                Some(5) => {
                    let mut len = 0usize;
                    map.value(Object::<_, KvListFields>::field(&mut len))?
                        .then_some(JsonValue::KvList { len })
                }
                Some(6) => map.value(Base64)?.map(JsonValue::Bytes),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            if let Some(read) = read {
                value = read;
            }
        }
        Ok(value)
    }
}

/// An `ArrayValue` being read: its elements, collected when kept.
struct ArrayFields<'de> {
    keep: bool,
    values: Vec<JsonValue<'de>>,
}

struct ArrayMessage;

impl<'de> Message<'de, ArrayFields<'de>> for ArrayMessage {
    const EXPECTING: &'static str = "an OTLP ArrayValue object";
    const FIELDS: &'static [&'static str] = &["values"];

    fn field<A: MapAccess<'de>>(
        state: &mut ArrayFields<'de>,
        _: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        map.value(Repeated::<_, ArrayMessage>::new(state))
    }
}

impl<'de> Element<'de, ArrayFields<'de>> for ArrayMessage {
    fn next<A: SeqAccess<'de>>(
        state: &mut ArrayFields<'de>,
        seq: &mut A,
    ) -> Result<bool, A::Error> {
        let element = AnyValue {
            keep: state.keep,
            nullable: false,
        };
        let Some(value) = seq.element(element)? else {
            return Ok(false);
        };
        if state.keep {
            state.values.push(value);
        }
        Ok(true)
    }
}

/// A `KeyValueList` being read: only its length is kept.
struct KvListFields;

impl<'de> Message<'de, usize> for KvListFields {
    const EXPECTING: &'static str = "an OTLP KeyValueList object";
    const FIELDS: &'static [&'static str] = &["values"];

    fn field<A: MapAccess<'de>>(len: &mut usize, _: usize, map: &mut A) -> Result<(), A::Error> {
        map.value(Repeated::<_, KvListFields>::new(len))
    }
}

impl<'de> Element<'de, usize> for KvListFields {
    fn next<A: SeqAccess<'de>>(len: &mut usize, seq: &mut A) -> Result<bool, A::Error> {
        let more = <CheckedAttribute as Element<'de, ()>>::next(&mut (), seq)?;
        *len += usize::from(more);
        Ok(more)
    }
}
