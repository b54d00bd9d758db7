//! The read plan: the attribute keys the loaded contracts read, each with a slot and an expected type.
//!
//! Decoders keep only these keys and skip every other attribute without copying it, so the cost of a span
//! grows with what the contracts read, not with what the pipeline sends.

use std::fmt;
use std::sync::Arc;

use ironforge_proto::semconv::attr;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{ContractFile, LimitsConfig, MeasureConfig};

/// The type a contract file expects an attribute to carry. A value of another type is kept out of the
/// measures and reported by `attribute_errors` contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    /// A whole number; a double holding a whole number is accepted too (SDKs of dynamic languages).
    Int,
    /// A finite number; an int is accepted too.
    Double,
    String,
    /// An array of strings, checked as a set.
    StringArray,
}

impl AttributeType {
    pub const fn as_str(self) -> &'static str {
        match self {
            AttributeType::Int => "int",
            AttributeType::Double => "double",
            AttributeType::String => "string",
            AttributeType::StringArray => "string_array",
        }
    }

    /// Whether `attribute`, `attribute_max` and `attribute_mean` can read it.
    pub const fn is_numeric(self) -> bool {
        matches!(self, AttributeType::Int | AttributeType::Double)
    }

    /// Whether `values_outside` and `values_missing` can read it (a string is a set of one).
    pub const fn is_set(self) -> bool {
        matches!(self, AttributeType::String | AttributeType::StringArray)
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The attributes of the IRONFORGE conventions and their types: contracts may read them without declaring
/// them. The README's attribute table says the same.
const BUILTIN: &[(&str, AttributeType)] = &[
    (attr::SPAN_KIND, AttributeType::String),
    (attr::STAGE, AttributeType::String),
    (attr::SESSION_ID, AttributeType::String),
    (attr::SERVICE_NAME, AttributeType::String),
    (attr::RUN_SESSION_COUNT, AttributeType::Int),
    (attr::PROCESS_MEMORY_USAGE, AttributeType::Double),
    (attr::MEMORY_PEAK, AttributeType::Double),
    (attr::PATTERN_AUTHENTICITY, AttributeType::Double),
    (attr::GRAPH_EVENT_TYPES, AttributeType::StringArray),
    (attr::GRAPH_EDGE_INTENTS, AttributeType::StringArray),
    (attr::GRAPH_NODE_FEATURE_DIM, AttributeType::Int),
    (attr::GRAPH_EDGE_FEATURE_DIM, AttributeType::Int),
    (attr::GRAPH_CROSS_SESSION_EDGES, AttributeType::Int),
    (attr::HTF_OPEN_CANDLE_READS, AttributeType::Int),
    (attr::INSTRUMENT_OVERHEAD, AttributeType::Double),
    (attr::INSTRUMENT_OPERATIONS, AttributeType::Int),
];

/// The type of an IRONFORGE convention attribute.
pub fn builtin_type(key: &str) -> Option<AttributeType> {
    BUILTIN
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, ty)| *ty)
}

/// The type a contract file gives an attribute: declared under `attributes:`, or an IRONFORGE convention.
pub fn attribute_type(file: &ContractFile, key: &str) -> Option<AttributeType> {
    file.attributes
        .get(key)
        .copied()
        .or_else(|| builtin_type(key))
}

/// Slot of `ironforge.span.kind`.
pub const SLOT_KIND: u16 = 0;
/// Slot of `ironforge.stage`.
pub const SLOT_STAGE: u16 = 1;
/// Slot of `ironforge.session.id`.
pub const SLOT_SESSION: u16 = 2;
/// Slot of the resource attribute `service.name`.
pub const SLOT_SERVICE: u16 = 3;

/// Keys every plan reads whatever the contracts say: the span's place in the run, and the facts the
/// verdict and analysis report (declared sessions, memory over time).
const ALWAYS_READ: &[&str] = &[
    attr::SPAN_KIND,
    attr::STAGE,
    attr::SESSION_ID,
    attr::SERVICE_NAME,
    attr::RUN_SESSION_COUNT,
    attr::PROCESS_MEMORY_USAGE,
    attr::MEMORY_PEAK,
];

/// The keys a contract set reads, in slot order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPlan {
    keys: Vec<(Arc<str>, AttributeType)>,
    /// Per key, its length and last (up to) 8 bytes: the lookup compares these before the key itself, since
    /// most keys share the `ironforge.` prefix and many share a length.
    fingerprints: Vec<(usize, u64)>,
    /// The file's attribute limits, applied as spans are decoded.
    pub limits: AttributeLimits,
}

/// OpenTelemetry's attribute limits, as the contract file sets them (see [`crate::config::LimitsConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeLimits {
    /// Attributes read per span (`AttributeCountLimit`).
    pub max_attributes: usize,
    /// Bytes kept of a string value, each array member and a span name (`AttributeValueLengthLimit`).
    pub max_value_length: usize,
    /// Members kept of an array value.
    pub max_array_length: usize,
}

impl AttributeLimits {
    fn of(limits: &LimitsConfig) -> Self {
        Self {
            max_attributes: limits.max_attributes_per_span,
            max_value_length: limits.max_attribute_value_length,
            max_array_length: limits.max_attribute_array_length,
        }
    }
}

impl Default for AttributeLimits {
    fn default() -> Self {
        Self::of(&LimitsConfig::default())
    }
}

/// A key's length and its last (up to) 8 bytes as one number.
fn fingerprint(bytes: &[u8]) -> (usize, u64) {
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    let mut word = [0u8; 8];
    word[..tail.len()].copy_from_slice(tail);
    (bytes.len(), u64::from_le_bytes(word))
}

impl ReadPlan {
    /// The plan of a validated contract file: the conventions' structural keys first (at the `SLOT_*`
    /// constants), then every attribute a contract measures.
    pub fn new(file: &ContractFile) -> Self {
        let mut plan = Self {
            keys: Vec::new(),
            fingerprints: Vec::new(),
            limits: AttributeLimits::of(&file.limits),
        };
        for key in ALWAYS_READ {
            plan.add(file, key);
        }
        for contract in &file.contracts {
            if let Some(key) = contract.measure.attribute() {
                plan.add(file, key);
            }
            if contract.measure == MeasureConfig::OverheadPerOperation {
                plan.add(file, attr::INSTRUMENT_OVERHEAD);
                plan.add(file, attr::INSTRUMENT_OPERATIONS);
            }
        }
        plan
    }

    /// A plan reading every IRONFORGE convention attribute, whatever contracts exist.
    pub fn conventions() -> Self {
        Self {
            keys: BUILTIN
                .iter()
                .map(|(key, ty)| (Arc::from(*key), *ty))
                .collect(),
            fingerprints: BUILTIN
                .iter()
                .map(|(key, _)| fingerprint(key.as_bytes()))
                .collect(),
            limits: AttributeLimits::default(),
        }
    }

    /// Adds a key the file types (validation guarantees every measured key is typed).
    fn add(&mut self, file: &ContractFile, key: &str) {
        if self.slot(key).is_none()
            && let Some(ty) = attribute_type(file, key)
        {
            self.keys.push((Arc::from(key), ty));
            self.fingerprints.push(fingerprint(key.as_bytes()));
        }
    }

    pub fn slot(&self, key: &str) -> Option<u16> {
        self.slot_of_bytes(key.as_bytes())
    }

    fn slot_of_bytes(&self, key: &[u8]) -> Option<u16> {
        // A linear scan over fingerprints beats hashing here: plans hold a few dozen keys.
        let wanted = fingerprint(key);
        self.fingerprints
            .iter()
            .zip(&self.keys)
            .position(|(print, (name, _))| *print == wanted && name.as_bytes() == key)
            .and_then(|index| u16::try_from(index).ok())
    }

    /// The key and type of a slot.
    pub fn get(&self, slot: u16) -> Option<(&Arc<str>, AttributeType)> {
        self.keys.get(usize::from(slot)).map(|(key, ty)| (key, *ty))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key with its type, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, AttributeType)> {
        self.keys.iter().map(|(key, ty)| (&**key, *ty))
    }
}

impl crate::wire::KeySelector for ReadPlan {
    fn slot(&self, key: &[u8]) -> Option<u16> {
        self.slot_of_bytes(key)
    }

    fn max_attributes(&self) -> usize {
        self.limits.max_attributes
    }
}
