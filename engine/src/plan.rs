//! The read plan: the attribute keys the loaded contracts read, each with a slot and an expected type.
//!
//! Decoders keep only these keys and skip every other attribute without copying it, so the cost of a span
//! grows with what the contracts read, not with what the pipeline sends.

use ironforge_proto::semconv::attr;

use crate::config::{
    AttributeType, BUILTIN, ContractFile, LimitsConfig, MeasureConfig, attribute_type,
};
use crate::model::fact_key;

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
    /// Keys from [`fact_key`], as facts are keyed.
    keys: Vec<(&'static str, AttributeType)>,
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

/// A key's length and its last (up to) 8 bytes as one number, little-endian.
fn fingerprint(bytes: &[u8]) -> (usize, u64) {
    // One eight-byte load for the usual key; copying a tail of any length into a zeroed word compiled to a
    // call to `memcpy` per attribute read, a third of this function's time.
    let word = match bytes.last_chunk::<8>() {
        Some(tail) => u64::from_le_bytes(*tail),
        None => bytes
            .iter()
            .rev()
            .fold(0, |word, &byte| word << 8 | u64::from(byte)),
    };
    (bytes.len(), word)
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
                .map(|(key, ty)| (fact_key(key), *ty))
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
            self.keys.push((fact_key(key), ty));
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
    pub fn get(&self, slot: u16) -> Option<(&'static str, AttributeType)> {
        self.keys
            .get(usize::from(slot))
            .map(|(key, ty)| (*key, *ty))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key with its type, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = (&'static str, AttributeType)> {
        self.keys.iter().map(|(key, ty)| (*key, *ty))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_plan_finds_its_slot_and_no_other_key_finds_one() {
        let plan = ReadPlan::conventions();
        for (slot, (key, _)) in plan.keys().enumerate() {
            assert_eq!(plan.slot(key), u16::try_from(slot).ok(), "{key}");
            let mut other = key.to_owned();
            other.push('x');
            assert_eq!(plan.slot(&other), None);
            assert_eq!(plan.slot(&key[..key.len() - 1]), None);
        }
        for unread in ["", "a", "thread.id", "code.function", "ironforge.unknown"] {
            assert_eq!(plan.slot(unread), None, "{unread}");
        }
    }

    #[test]
    fn a_fingerprint_is_the_length_and_the_last_eight_bytes_whatever_the_length() {
        assert_eq!(fingerprint(b""), (0, 0));
        assert_eq!(fingerprint(b"abc"), (3, 0x0063_6261));
        assert_eq!(
            fingerprint(b"abcdefgh"),
            (8, u64::from_le_bytes(*b"abcdefgh"))
        );
        assert_eq!(
            fingerprint(b"session.stage.name"),
            (18, u64::from_le_bytes(*b"age.name"))
        );
    }
}
