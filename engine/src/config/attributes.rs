//! The types a contract file gives attributes: declared under `attributes:`, or fixed by the IRONFORGE
//! conventions.

use std::fmt;

use ironforge_proto::semconv::attr;
use schemars::JsonSchema;
use serde::Deserialize;

use super::ContractFile;

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
pub(crate) const BUILTIN: &[(&str, AttributeType)] = &[
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
pub(crate) fn builtin_type(key: &str) -> Option<AttributeType> {
    BUILTIN
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, ty)| *ty)
}

/// The type a contract file gives an attribute: declared under `attributes:`, or an IRONFORGE convention.
pub(crate) fn attribute_type(file: &ContractFile, key: &str) -> Option<AttributeType> {
    file.attributes
        .get(key)
        .copied()
        .or_else(|| builtin_type(key))
}
