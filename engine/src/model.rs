//! Domain types the engine works on: compact spans holding only what contracts and analysis read.
//!
//! The receivers convert OTLP into these; nothing past the receivers sees a protobuf.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use ironforge_proto::semconv::{SpanKind, Stage};

/// A 16-byte OTLP trace id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte OTLP span id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

macro_rules! hex_id {
    ($name:ident, $len:literal, $what:literal) => {
        impl $name {
            /// Parses an id from its wire bytes; `None` unless it has the right length and is not all zeros.
            pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
                let array: [u8; $len] = bytes.try_into().ok()?;
                (array != [0; $len]).then_some(Self(array))
            }

            /// Parses the lowercase or uppercase hex form used by OTLP/JSON and the HTTP API.
            pub fn from_hex(text: &str) -> Option<Self> {
                let mut array = [0u8; $len];
                hex::decode_to_slice(text, &mut array).ok()?;
                Self::from_bytes(&array)
            }

            /// The lowercase hex form.
            pub fn to_hex(&self) -> String {
                self.hex_digits().into_iter().map(char::from).collect()
            }

            /// The lowercase hex digits, on the stack: ids are written into every verdict and analysis
            /// served, and a `String` apiece was a measurable share of writing them.
            fn hex_digits(&self) -> [u8; $len * 2] {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let mut digits = [0u8; $len * 2];
                for (pair, byte) in digits.chunks_exact_mut(2).zip(self.0) {
                    pair[0] = DIGITS[usize::from(byte >> 4)];
                    pair[1] = DIGITS[usize::from(byte & 0xf)];
                }
                digits
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let digits = self.hex_digits();
                f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        /// As its lowercase hex form, the way the APIs and the JSON records spell ids.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let digits = self.hex_digits();
                s.serialize_str(std::str::from_utf8(&digits).map_err(serde::ser::Error::custom)?)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "not a {}: {} hex digits, not all zero",
                        $what,
                        $len * 2
                    ))
                })
            }
        }
    };
}

hex_id!(TraceId, 16, "trace id");
hex_id!(SpanId, 8, "span id");

/// One span, reduced to what the engine reads: what receivers hand the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    pub name: Arc<str>,
    /// `service.name` of the span's resource.
    pub service_name: Option<Arc<str>>,
    pub start_unix_nano: u64,
    /// Never before `start_unix_nano`: receivers reject such spans.
    pub end_unix_nano: u64,
    /// `None` when the span carries no (or an unknown) `ironforge.span.kind`; such spans are kept for the tree
    /// but no span-kind contract applies to them.
    pub kind: Option<SpanKind>,
    pub stage: Option<Stage>,
    pub session_id: Option<Arc<str>>,
    pub facts: Facts,
}

impl SpanRecord {
    /// Approximate bytes the decoded record holds, itself and on the heap: what a request's batch costs
    /// from decoding until it is evaluated.
    pub fn decoded_bytes(&self) -> usize {
        let text = |text: &Option<Arc<str>>| text.as_ref().map_or(0, |text| ARC_BYTES + text.len());
        size_of::<Self>()
            + ARC_BYTES
            + self.name.len()
            + text(&self.service_name)
            + text(&self.session_id)
            + self.facts.heap_bytes()
    }

    /// A span with no facts; fill them with [`Facts::set`].
    pub fn new(trace_id: TraceId, span_id: SpanId, name: &str) -> Self {
        Self {
            trace_id,
            span_id,
            parent_span_id: None,
            name: Arc::from(name),
            service_name: None,
            start_unix_nano: 0,
            end_unix_nano: 0,
            kind: None,
            stage: None,
            session_id: None,
            facts: Facts::default(),
        }
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e9
    }
}

/// The value of a fact attribute, already checked against the type the read plan expects.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    Int(i64),
    Double(f64),
    String(Arc<str>),
    /// Shared: spans that carry the same array (IRONFORGE's event types on every session) share one.
    Strings(Arc<[Arc<str>]>),
}

impl From<i64> for FactValue {
    fn from(value: i64) -> Self {
        FactValue::Int(value)
    }
}

/// Integer literals in code default to `i32`.
impl From<i32> for FactValue {
    fn from(value: i32) -> Self {
        FactValue::Int(i64::from(value))
    }
}

impl From<f64> for FactValue {
    fn from(value: f64) -> Self {
        FactValue::Double(value)
    }
}

impl From<&str> for FactValue {
    fn from(value: &str) -> Self {
        FactValue::String(Arc::from(value))
    }
}

impl<S: AsRef<str>> From<&[S]> for FactValue {
    fn from(values: &[S]) -> Self {
        FactValue::Strings(values.iter().map(|v| Arc::from(v.as_ref())).collect())
    }
}

impl<S: AsRef<str>> From<Vec<S>> for FactValue {
    fn from(values: Vec<S>) -> Self {
        FactValue::from(values.as_slice())
    }
}

/// The one copy of a fact key's text, for the life of the process.
///
/// Facts hold their keys by reference rather than by `Arc`: every decoding thread keys its spans with the
/// read plan's keys, and counting references to them made each fact an atomic write to a cache line all
/// those threads share (with the key's text on it). Keys come from the read plans of contract files and
/// from logs those plans wrote, a few dozen texts, so keeping each for good costs next to nothing.
pub fn fact_key(text: &str) -> &'static str {
    static KEYS: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut keys = KEYS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(key) = keys.get(text) {
        return key;
    }
    let key: &'static str = Box::leak(Box::from(text));
    keys.insert(key);
    key
}

/// The fact attributes a span carries that the read plan reads, by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Keys from [`fact_key`], so one text is one address.
    values: Vec<(&'static str, FactValue)>,
    /// Read attributes that were present but unusable (wrong type, unknown kind or stage), each a
    /// readable explanation naming the attribute. The engine reports them instead of dropping them.
    pub attribute_errors: Vec<String>,
    /// Attribute values (and the span name) the attribute limits cut or dropped on this span.
    pub truncated: u32,
}

/// The counts an `Arc<str>`'s allocation holds besides its text.
const ARC_BYTES: usize = 2 * size_of::<usize>();

impl Facts {
    /// No facts yet, with room for `facts` of them: a decoder knows how many planned attributes a span has.
    pub fn with_capacity(facts: usize) -> Self {
        Self {
            values: Vec::with_capacity(facts),
            ..Self::default()
        }
    }

    /// Approximate bytes the facts hold on the heap (their keys are the read plan's, shared).
    pub fn heap_bytes(&self) -> usize {
        let value = |value: &FactValue| match value {
            FactValue::Int(_) | FactValue::Double(_) => 0,
            FactValue::String(text) => ARC_BYTES + text.len(),
            FactValue::Strings(texts) => texts
                .iter()
                .map(|text| size_of::<Arc<str>>() + ARC_BYTES + text.len())
                .sum(),
        };
        self.values.capacity() * size_of::<(&str, FactValue)>()
            + self.values.iter().map(|(_, v)| value(v)).sum::<usize>()
            + self
                .attribute_errors
                .iter()
                .map(|error| size_of::<String>() + error.capacity())
                .sum::<usize>()
    }

    /// Sets a fact, replacing an earlier value of the same key (the last occurrence wins, as in OTLP).
    pub fn set(&mut self, key: impl AsRef<str>, value: impl Into<FactValue>) {
        let key = fact_key(key.as_ref());
        let value = value.into();
        match self.values.iter_mut().find(|(k, _)| std::ptr::eq(*k, key)) {
            Some(slot) => slot.1 = value,
            None => self.values.push((key, value)),
        }
    }

    /// [`Facts::set`] for a key from [`fact_key`] (a read plan's): compared by address, not text.
    // In line with the decoder that builds the value, which then writes it once, in place: called, the value
    // went through the stack and its load waited on the stores that wrote it.
    #[inline]
    pub(crate) fn set_planned(&mut self, key: &'static str, value: FactValue) {
        match self.values.iter_mut().find(|(k, _)| std::ptr::eq(*k, key)) {
            Some(slot) => slot.1 = value,
            None => self.values.push((key, value)),
        }
    }

    /// Removes a fact keyed as [`Facts::set_planned`] keys them (an earlier occurrence of a key whose last
    /// occurrence was unusable).
    pub(crate) fn remove_planned(&mut self, key: &'static str) {
        self.values.retain(|(k, _)| !std::ptr::eq(*k, key));
    }

    pub fn get(&self, key: &str) -> Option<&FactValue> {
        // Keys are `fact_key`s and contracts look up through the same ones, so an address match settles
        // most lookups before any text is compared.
        self.values
            .iter()
            .find(|(k, _)| std::ptr::eq(*k, key))
            .or_else(|| self.values.iter().find(|(k, _)| *k == key))
            .map(|(_, value)| value)
    }

    /// A numeric fact as f64 (ints convert).
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            FactValue::Int(value) => Some(*value as f64),
            FactValue::Double(value) => Some(*value),
            FactValue::String(_) | FactValue::Strings(_) => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            FactValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// A set fact: a string array, or a string as a set of one.
    pub fn strings(&self, key: &str) -> Option<&[Arc<str>]> {
        match self.get(key)? {
            FactValue::Strings(values) => Some(values),
            FactValue::String(value) => Some(std::slice::from_ref(value)),
            FactValue::Int(_) | FactValue::Double(_) => None,
        }
    }

    /// Every fact, in the order first set.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &FactValue)> {
        self.values.iter().map(|(key, value)| (*key, value))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many facts there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }
}
