//! Semantic conventions: the names both sides of the wire agree on.
//!
//! OpenTelemetry's own names are used where one exists (`process.memory.usage`, `service.name`); everything
//! else carries the `ironforge.` prefix. These names are the public contract documented in the README: a
//! pipeline in any language can emit them with a stock OpenTelemetry SDK.

use std::fmt;
use std::str::FromStr;

/// Span attribute names.
pub mod attr {
    /// What a span is: one of [`SpanKind`](super::SpanKind). Spans without it are not monitored.
    pub const SPAN_KIND: &str = "ironforge.span.kind";
    /// The pipeline stage of a stage or session span: one of [`Stage`](super::Stage).
    pub const STAGE: &str = "ironforge.stage";
    /// The session a session span (or its graph facts) belongs to, e.g. `NY_AM_2025-08-04`.
    pub const SESSION_ID: &str = "ironforge.session.id";
    /// On the run span: how many sessions the run was given.
    pub const RUN_SESSION_COUNT: &str = "ironforge.run.session_count";
    /// Resident memory in bytes when the span ended (OpenTelemetry process semantic convention).
    pub const PROCESS_MEMORY_USAGE: &str = "process.memory.usage";
    /// Peak resident memory in bytes during the span.
    pub const MEMORY_PEAK: &str = "ironforge.memory.peak";
    /// Authenticity score of a pattern or session, in `0..=1`.
    pub const PATTERN_AUTHENTICITY: &str = "ironforge.pattern.authenticity";
    /// String array: the event types the session's graph holds.
    pub const GRAPH_EVENT_TYPES: &str = "ironforge.graph.event_types";
    /// String array: the edge intents the session's graph holds.
    pub const GRAPH_EDGE_INTENTS: &str = "ironforge.graph.edge_intents";
    /// Integer: the node feature dimension of the session's graph.
    pub const GRAPH_NODE_FEATURE_DIM: &str = "ironforge.graph.node_feature_dim";
    /// Integer: the edge feature dimension of the session's graph.
    pub const GRAPH_EDGE_FEATURE_DIM: &str = "ironforge.graph.edge_feature_dim";
    /// Integer: edges whose two ends lie in different sessions.
    pub const GRAPH_CROSS_SESSION_EDGES: &str = "ironforge.graph.cross_session_edges";
    /// Integer: higher-timeframe features read from a candle that had not closed.
    pub const HTF_OPEN_CANDLE_READS: &str = "ironforge.htf.open_candle_reads";
    /// On the run span: seconds the instrumentation itself spent during the run.
    pub const INSTRUMENT_OVERHEAD: &str = "ironforge.instrument.overhead";
    /// Integer: the number of operations the instrumentation monitored during the run, so the overhead can
    /// be judged per operation.
    pub const INSTRUMENT_OPERATIONS: &str = "ironforge.instrument.operations";
    /// Resource attribute naming the pipeline (OpenTelemetry resource semantic convention).
    pub const SERVICE_NAME: &str = "service.name";
}

/// Attributes of the OTLP log records the processor emits, one per violation. The record's trace and span
/// ids link it to the violating span; its stage and session use the span attributes' own names
/// ([`attr::STAGE`], [`attr::SESSION_ID`]), so one query covers both.
pub mod violation_attr {
    /// The `event_name` of every violation log record.
    pub const EVENT_NAME: &str = "ironforge.violation";
    /// String: the id of the broken contract.
    pub const CONTRACT_ID: &str = "ironforge.violation.contract_id";
    /// String: the contract's category (`timing`, `memory`, `quality`, `system`, `invariant`).
    pub const CATEGORY: &str = "ironforge.violation.category";
    /// String: `warning` or `critical`.
    pub const SEVERITY: &str = "ironforge.violation.severity";
    /// Bool: whether the violation keeps the run out of production.
    pub const BLOCKS_PRODUCTION: &str = "ironforge.violation.blocks_production";
    /// Double: the value measured.
    pub const OBSERVED: &str = "ironforge.violation.observed";
    /// Double: the contract's threshold.
    pub const THRESHOLD: &str = "ironforge.violation.threshold";
    /// String: the unit of `observed` and `threshold`, as the contract file names it.
    pub const UNIT: &str = "ironforge.violation.unit";
}

/// Names of the metrics the instrumentation exports beside its spans (OpenTelemetry naming).
pub mod metric {
    /// Histogram, seconds: duration of each stage span. Attribute: [`attr::STAGE`](super::attr::STAGE).
    pub const STAGE_DURATION: &str = "ironforge.stage.duration";
    /// Histogram, seconds: duration of each session span. Attribute: [`attr::STAGE`](super::attr::STAGE).
    pub const SESSION_DURATION: &str = "ironforge.session.duration";
    /// Gauge, bytes: resident memory of the process at the last `record_memory` call.
    pub const PROCESS_MEMORY_USAGE: &str = "process.memory.usage";
    /// Histogram, 1: authenticity scores recorded.
    pub const PATTERN_AUTHENTICITY: &str = "ironforge.pattern.authenticity";
    /// Counter: session spans closed. Attribute: [`attr::STAGE`](super::attr::STAGE).
    pub const SESSIONS_PROCESSED: &str = "ironforge.sessions.processed";
    /// Counter, seconds: time the instrumentation spent on the caller's threads.
    pub const INSTRUMENT_OVERHEAD: &str = "ironforge.instrument.overhead";
    /// Counter: export attempts that failed.
    pub const EXPORT_FAILURES: &str = "ironforge.instrument.export.failures";
}

/// Error returned when a string names no member of a convention enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of: {expected}")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
    expected: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// As its wire spelling, so reports and APIs read the same names as the attributes.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        what: $what,
                        value: s.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

string_enum! {
    /// Value of [`attr::SPAN_KIND`].
    SpanKind, "span kind" {
        /// The whole pipeline run; the root of its trace.
        Run => "run",
        /// Start-up of the pipeline.
        Init => "init",
        /// One of the four [`Stage`]s.
        Stage => "stage",
        /// One session processed within a stage.
        Session => "session",
        /// One scored pattern.
        Pattern => "pattern",
    }
}

string_enum! {
    /// Value of [`attr::STAGE`].
    Stage, "stage" {
        Discovery => "discovery",
        Confluence => "confluence",
        Validation => "validation",
        Reporting => "reporting",
    }
}

string_enum! {
    /// The six golden event types a session graph may hold.
    EventType, "event type" {
        Expansion => "Expansion",
        Consolidation => "Consolidation",
        Retracement => "Retracement",
        Reversal => "Reversal",
        LiquidityTaken => "Liquidity Taken",
        Redelivery => "Redelivery",
    }
}

string_enum! {
    /// The four golden edge intents a session graph may hold.
    EdgeIntent, "edge intent" {
        TemporalNext => "TEMPORAL_NEXT",
        MovementTransition => "MOVEMENT_TRANSITION",
        LiqLink => "LIQ_LINK",
        Context => "CONTEXT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_round_trips_through_its_spelling() {
        for kind in SpanKind::ALL {
            assert_eq!(kind.as_str().parse::<SpanKind>(), Ok(*kind));
        }
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(*stage));
        }
        for event in EventType::ALL {
            assert_eq!(event.as_str().parse::<EventType>(), Ok(*event));
        }
        for intent in EdgeIntent::ALL {
            assert_eq!(intent.as_str().parse::<EdgeIntent>(), Ok(*intent));
        }
    }

    #[test]
    fn golden_sets_have_their_documented_sizes() {
        assert_eq!(EventType::ALL.len(), 6);
        assert_eq!(EdgeIntent::ALL.len(), 4);
        assert_eq!(Stage::ALL.len(), 4);
    }

    #[test]
    fn unknown_values_name_what_was_expected() {
        let err = "Breakout".parse::<EventType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown event type `Breakout`; expected one of: Expansion, Consolidation, Retracement, \
             Reversal, Liquidity Taken, Redelivery"
        );
    }
}
