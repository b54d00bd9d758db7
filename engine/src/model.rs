//! Domain types the engine works on: compact spans holding only what contracts and analysis read.
//!
//! The receivers convert OTLP into these; nothing past the receivers sees a protobuf.

use std::fmt;
use std::sync::Arc;

use ironforge_proto::semconv::{SpanKind, Stage};

/// A 16-byte OTLP trace id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte OTLP span id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

macro_rules! hex_id {
    ($name:ident, $len:literal) => {
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
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
    };
}

hex_id!(TraceId, 16);
hex_id!(SpanId, 8);

/// One span, reduced to what the engine reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    /// `service.name` of the span's resource.
    pub service_name: Option<Arc<str>>,
    pub start_unix_nano: u64,
    /// Never before `start_unix_nano`: receivers reject such spans.
    pub end_unix_nano: u64,
    /// `None` when the span carries no (or an unknown) `ironforge.span.kind`; such spans are kept for the tree
    /// but no span-kind contract applies to them.
    pub kind: Option<SpanKind>,
    pub stage: Option<Stage>,
    pub session_id: Option<String>,
    pub facts: Facts,
}

impl SpanRecord {
    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e9
    }
}

/// The fact attributes of DESIGN.md, each `None` when the span does not carry it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub memory_usage_bytes: Option<f64>,
    pub memory_peak_bytes: Option<f64>,
    pub authenticity: Option<f64>,
    pub event_types: Option<Vec<String>>,
    pub edge_intents: Option<Vec<String>>,
    pub node_feature_dim: Option<i64>,
    pub edge_feature_dim: Option<i64>,
    pub cross_session_edges: Option<i64>,
    pub htf_open_candle_reads: Option<i64>,
    pub run_session_count: Option<i64>,
    pub instrument_overhead_seconds: Option<f64>,
    pub instrument_operations: Option<i64>,
    /// Monitored attributes that were present but unusable (wrong type, unknown kind or stage), each a
    /// readable explanation naming the attribute. The engine reports them instead of dropping them.
    pub attribute_errors: Vec<String>,
}
