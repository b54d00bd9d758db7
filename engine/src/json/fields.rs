//! How every OTLP/JSON message is read: an object field by field, a repeated field element by element, and
//! the scalars, each checked as its protobuf type and the OTLP/JSON encoding require.
//!
//! `null` stands for the field's default wherever a field may be absent, as the protobuf JSON mapping
//! says; an array element or the document itself may not be `null`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected,
};

/// A message read field by field into the state `S`.
pub(super) trait Message<'de, S: ?Sized> {
    /// The message as errors name it: "an OTLP Span object".
    const EXPECTING: &'static str;
    /// The fields' JSON names, at most 64; any other name is an unknown field, skipped unread.
    const FIELDS: &'static [&'static str];

    /// Told when the object opens.
    fn begin(_state: &mut S) {}

    /// Reads the value of `FIELDS[index]`, which comes once at most.
    fn field<A: MapAccess<'de>>(state: &mut S, index: usize, map: &mut A) -> Result<(), A::Error>;

    /// Told when the object closes.
    fn end(_state: &mut S) {}
}

/// Reads a message `M` into a state; its value is whether there was an object (`false` for `null`).
pub(super) struct Object<'s, S: ?Sized, M> {
    state: &'s mut S,
    nullable: bool,
    message: PhantomData<M>,
}

impl<'s, S: ?Sized, M> Object<'s, S, M> {
    /// The value of a field, which may be `null`.
    pub(super) fn field(state: &'s mut S) -> Self {
        Object {
            state,
            nullable: true,
            message: PhantomData,
        }
    }

    /// An element of a repeated field, or the document: an object it must be.
    pub(super) fn element(state: &'s mut S) -> Self {
        Object {
            state,
            nullable: false,
            message: PhantomData,
        }
    }
}

impl<'de, S: ?Sized, M: Message<'de, S>> de::Visitor<'de> for Object<'_, S, M> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(M::EXPECTING)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        if self.nullable {
            Ok(false)
        } else {
            Err(E::invalid_type(Unexpected::Unit, &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let state = self.state;
        M::begin(state);
        let mut seen = 0u64;
        while let Some(index) = map.next_key_seed(FieldName(M::FIELDS))? {
            let Some(index) = index else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u64 << (index % 64);
            if seen & bit != 0 {
                let name = M::FIELDS.get(index).copied().unwrap_or_default();
                return Err(de::Error::duplicate_field(name));
            }
            seen |= bit;
            M::field(state, index, &mut map)?;
        }
        M::end(state);
        Ok(true)
    }
}

/// A visitor as a seed: the value is read as whatever JSON it is, and each visitor takes `null` or
/// refuses it itself.
pub(super) struct Any<V>(pub(super) V);

impl<'de, V: de::Visitor<'de>> DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

/// Reads the next value of an object with a visitor.
pub(super) trait NextValue<'de>: MapAccess<'de> {
    fn value<V: de::Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, Self::Error> {
        self.next_value_seed(Any(visitor))
    }
}

impl<'de, A: MapAccess<'de>> NextValue<'de> for A {}

/// Reads the next element of an array with a visitor; `None` after the last.
pub(super) trait NextElement<'de>: SeqAccess<'de> {
    fn element<V: de::Visitor<'de>>(
        &mut self,
        visitor: V,
    ) -> Result<Option<V::Value>, Self::Error> {
        self.next_element_seed(Any(visitor))
    }
}

impl<'de, A: SeqAccess<'de>> NextElement<'de> for A {}

/// A key of an object: the index of the field it names, `None` for an unknown field.
pub(super) struct FieldName(pub(super) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl de::Visitor<'_> for FieldName {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|field| *field == name))
    }
}

/// One element of a repeated field, read into the state `S`.
pub(super) trait Element<'de, S: ?Sized> {
    /// Reads the next element; `false` once there is none.
    fn next<A: SeqAccess<'de>>(state: &mut S, seq: &mut A) -> Result<bool, A::Error>;
}

/// Each element a message `M`.
pub(super) struct Each<M>(PhantomData<M>);

impl<'de, S: ?Sized, M: Message<'de, S>> Element<'de, S> for Each<M> {
    fn next<A: SeqAccess<'de>>(state: &mut S, seq: &mut A) -> Result<bool, A::Error> {
        Ok(seq.element(Object::<S, M>::element(state))?.is_some())
    }
}

/// Each element a string.
pub(super) struct Strings;

impl<'de, S: ?Sized> Element<'de, S> for Strings {
    fn next<A: SeqAccess<'de>>(_: &mut S, seq: &mut A) -> Result<bool, A::Error> {
        Ok(seq.element(Text::check(false))?.is_some())
    }
}

/// A repeated field: an array of `E`, or `null` for none.
pub(super) struct Repeated<'s, S: ?Sized, E> {
    state: &'s mut S,
    element: PhantomData<E>,
}

impl<'s, S: ?Sized, E> Repeated<'s, S, E> {
    pub(super) fn new(state: &'s mut S) -> Self {
        Repeated {
            state,
            element: PhantomData,
        }
    }
}

impl<'de, S: ?Sized, E: Element<'de, S>> de::Visitor<'de> for Repeated<'_, S, E> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_unit<Err: de::Error>(self) -> Result<(), Err> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while E::next(self.state, &mut seq)? {}
        Ok(())
    }
}

/// A string; `None` for `null` where that is allowed. Unless kept, a string that had escapes reads as
/// empty, so that checking it allocates nothing.
pub(super) struct Text {
    keep: bool,
    nullable: bool,
}

impl Text {
    /// A string field, kept.
    pub(super) const KEEP: Text = Text {
        keep: true,
        nullable: true,
    };

    /// A string only checked: a field (`nullable`) or an array element.
    pub(super) const fn check(nullable: bool) -> Text {
        Text {
            keep: false,
            nullable,
        }
    }

    pub(super) const fn kept(keep: bool) -> Text {
        Text {
            keep,
            nullable: true,
        }
    }
}

impl<'de> de::Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(if self.keep {
            Cow::Owned(text.to_owned())
        } else {
            Cow::Borrowed("")
        }))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.nullable {
            Ok(None)
        } else {
            Err(E::invalid_type(Unexpected::Unit, &self))
        }
    }
}

/// An integer field of type `T`, as a JSON number or (with `strings`, for the 64-bit fields the OTLP/JSON
/// encoding spells as strings) a decimal string; `None` for `null`.
pub(super) struct Integer<T> {
    strings: bool,
    ty: PhantomData<T>,
}

impl<T> Integer<T> {
    /// 32-bit integers and enums: numbers only.
    pub(super) const NUMBER: Self = Integer {
        strings: false,
        ty: PhantomData,
    };

    /// 64-bit integers: numbers or decimal strings.
    pub(super) const NUMBER_OR_STRING: Self = Integer {
        strings: true,
        ty: PhantomData,
    };
}

impl<T: TryFrom<u64> + TryFrom<i64> + FromStr<Err: fmt::Display>> de::Visitor<'_> for Integer<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let ty = std::any::type_name::<T>();
        if self.strings {
            write!(f, "{ty} as a number or a decimal string")
        } else {
            f.write_str(ty)
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Option<T>, E> {
        T::try_from(value)
            .map(Some)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Option<T>, E> {
        T::try_from(value)
            .map(Some)
            .map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<T>, E> {
        if !self.strings {
            return Err(E::invalid_type(Unexpected::Str(text), &self));
        }
        text.parse().map(Some).map_err(|error| {
            E::custom(format_args!(
                "invalid {} string {text:?}: {error}",
                std::any::type_name::<T>()
            ))
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
}

/// A `double`: a number, or one of the strings the protobuf JSON mapping allows ("NaN", "Infinity",
/// "-Infinity", or a number in quotes); `None` for `null`.
pub(super) struct Double;

impl de::Visitor<'_> for Double {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Option<f64>, E> {
        Ok(Some(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Option<f64>, E> {
        Ok(Some(value as f64))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Option<f64>, E> {
        Ok(Some(value as f64))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<f64>, E> {
        match text {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            // A number in quotes, in JSON's own syntax (Rust's would also take "inf" or "+1").
            _ => serde_json::from_str::<f64>(text)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Str(text), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }
}

/// A `bool`; `None` for `null`.
pub(super) struct Bool;

impl de::Visitor<'_> for Bool {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Option<bool>, E> {
        Ok(Some(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }
}

/// `bytes` in base64, standard or URL-safe, padded or not, as the protobuf JSON mapping accepts; `None`
/// for `null`.
pub(super) struct Base64;

const BASE64_CONFIG: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, BASE64_CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, BASE64_CONFIG);

impl de::Visitor<'_> for Base64 {
    type Value = Option<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let url_safe = text.contains(['-', '_']);
        let engine = if url_safe { &URL_SAFE } else { &STANDARD };
        engine
            .decode(text)
            .map(Some)
            .map_err(|error| E::custom(format_args!("invalid base64: {error}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A trace or span id: hex digits in either case, any even number of them (an id of the wrong length is
/// the span's problem, not the document's). Ids of the usual lengths are decoded in place.
#[derive(Debug, Clone, Default)]
pub(super) struct Id {
    short: [u8; 16],
    len: usize,
    long: Vec<u8>,
}

impl Id {
    pub(super) fn bytes(&self) -> &[u8] {
        if self.long.is_empty() {
            self.short.get(..self.len).unwrap_or_default()
        } else {
            &self.long
        }
    }
}

/// Reads an [`Id`]; `null` is the empty id.
pub(super) struct Hex;

impl de::Visitor<'_> for Hex {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hex-encoded id")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Id, E> {
        let invalid = |error| E::custom(format_args!("invalid hex id {text:?}: {error}"));
        let mut id = Id::default();
        if !text.len().is_multiple_of(2) {
            return Err(invalid(hex::FromHexError::OddLength));
        }
        match id.short.get_mut(..text.len() / 2) {
            Some(short) => {
                hex::decode_to_slice(text, short).map_err(invalid)?;
                id.len = short.len();
            }
            None => id.long = hex::decode(text).map_err(invalid)?,
        }
        Ok(id)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
        Ok(Id::default())
    }
}
