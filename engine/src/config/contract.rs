//! One contract as written in the contract file.

use ironforge_proto::semconv::{SpanKind, Stage};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::verdict::{Category, Severity};

/// A performance contract or golden invariant.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    /// Stable identifier, used in violations, metrics labels and the API. Unique within the file.
    pub id: String,
    /// One sentence saying what the contract promises.
    #[serde(default)]
    pub description: String,
    /// Which group the contract belongs to.
    pub category: Category,
    /// Which spans the contract reads. An empty scope reads every monitored span.
    #[serde(default)]
    pub scope: ScopeConfig,
    /// What is measured on the spans in scope.
    pub measure: MeasureConfig,
    /// The contract holds when `observed <comparison> threshold`.
    pub comparison: Comparison,
    /// The limit, in `unit`.
    pub threshold: f64,
    /// Unit of the measure and threshold (`s`, `By`, `1`).
    #[serde(default = "default_unit")]
    pub unit: String,
    /// How bad a violation is.
    pub severity: Severity,
    /// Whether a violation keeps the run out of production.
    #[serde(default)]
    pub blocks_production: bool,
}

fn default_unit() -> String {
    "1".to_owned()
}

/// Which spans a contract applies to. All given conditions must match.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// One span kind (`run`, `init`, `stage`, `session`, `pattern`).
    #[serde(default, deserialize_with = "opt_from_str")]
    #[schemars(with = "Option<String>")]
    pub kind: Option<SpanKind>,
    /// Several span kinds; a span matches when it has any of them.
    #[serde(default, deserialize_with = "vec_from_str")]
    #[schemars(with = "Vec<String>")]
    pub kinds: Vec<SpanKind>,
    /// Only spans of this stage (`discovery`, `confluence`, `validation`, `reporting`).
    #[serde(default, deserialize_with = "opt_from_str")]
    #[schemars(with = "Option<String>")]
    pub stage: Option<Stage>,
    /// Only spans with exactly this name.
    #[serde(default)]
    pub name: Option<String>,
    /// Only spans whose resource's `service.name` is exactly this: one pipeline among several.
    #[serde(default)]
    pub service: Option<String>,
}

/// How a contract compares what it observed with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Comparison {
    /// Whether `observed <self> threshold` holds.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Comparison::Lt => observed < threshold,
            Comparison::Le => observed <= threshold,
            Comparison::Gt => observed > threshold,
            Comparison::Ge => observed >= threshold,
            Comparison::Eq => observed == threshold,
            Comparison::Ne => observed != threshold,
        }
    }

    /// The operator as people write it, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
        }
    }
}

/// What a contract measures. Written as a bare name (`duration`) or a one-key map
/// (`{ attribute: ironforge.memory.peak }`).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureConfig {
    /// Span duration in seconds (span-scoped).
    Duration,
    /// A numeric attribute of each span in scope (span-scoped).
    Attribute(String),
    /// The largest value of a numeric attribute over the trace (trace-scoped).
    AttributeMax(String),
    /// The mean of a numeric attribute over the trace (trace-scoped).
    AttributeMean(String),
    /// How many values of a set attribute lie outside the allowed set (span-scoped).
    ValuesOutside(SetRule),
    /// How many required values never appear in the trace (trace-scoped).
    ValuesMissing(SetRule),
    /// `ironforge.instrument.overhead` divided by `ironforge.instrument.operations` (span-scoped).
    OverheadPerOperation,
    /// How many monitored attributes had the wrong type or an unknown value (span-scoped).
    AttributeErrors,
    /// How many session ids occur on more than one span of the same stage (trace-scoped).
    DuplicateSessionIds,
    /// How many sessions a stage is short of the run's `ironforge.run.session_count` (trace-scoped).
    MissingSessions,
}

impl MeasureConfig {
    /// The attribute the measure reads, if it reads one.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            MeasureConfig::Attribute(key)
            | MeasureConfig::AttributeMax(key)
            | MeasureConfig::AttributeMean(key) => Some(key),
            MeasureConfig::ValuesOutside(rule) | MeasureConfig::ValuesMissing(rule) => {
                Some(&rule.attribute)
            }
            MeasureConfig::Duration
            | MeasureConfig::OverheadPerOperation
            | MeasureConfig::AttributeErrors
            | MeasureConfig::DuplicateSessionIds
            | MeasureConfig::MissingSessions => None,
        }
    }

    /// Whether the measure can only be decided once the whole trace is known.
    pub fn is_trace_scoped(&self) -> bool {
        matches!(
            self,
            MeasureConfig::AttributeMax(_)
                | MeasureConfig::AttributeMean(_)
                | MeasureConfig::ValuesMissing(_)
                | MeasureConfig::DuplicateSessionIds
                | MeasureConfig::MissingSessions
        )
    }
}

impl<'de> Deserialize<'de> for MeasureConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MeasureVisitor)
    }
}

const BARE_MEASURES: &[&str] = &[
    "duration",
    "overhead_per_operation",
    "attribute_errors",
    "duplicate_session_ids",
    "missing_sessions",
];
const MAP_MEASURES: &[&str] = &[
    "attribute",
    "attribute_max",
    "attribute_mean",
    "values_outside",
    "values_missing",
];

/// serde_yaml writes enum variants with data as YAML tags (`!attribute x`); contract files use the one-key
/// map form people expect, so the measure is read by hand.
struct MeasureVisitor;

impl<'de> serde::de::Visitor<'de> for MeasureVisitor {
    type Value = MeasureConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "one of {} or a one-key map with one of {}",
            BARE_MEASURES.join(", "),
            MAP_MEASURES.join(", ")
        )
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(match name {
            "duration" => MeasureConfig::Duration,
            "overhead_per_operation" => MeasureConfig::OverheadPerOperation,
            "attribute_errors" => MeasureConfig::AttributeErrors,
            "duplicate_session_ids" => MeasureConfig::DuplicateSessionIds,
            "missing_sessions" => MeasureConfig::MissingSessions,
            other => return Err(E::unknown_variant(other, BARE_MEASURES)),
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let key: String = map
            .next_key()?
            .ok_or_else(|| A::Error::custom("empty measure map"))?;
        let measure = match key.as_str() {
            "attribute" => MeasureConfig::Attribute(map.next_value()?),
            "attribute_max" => MeasureConfig::AttributeMax(map.next_value()?),
            "attribute_mean" => MeasureConfig::AttributeMean(map.next_value()?),
            "values_outside" => MeasureConfig::ValuesOutside(map.next_value()?),
            "values_missing" => MeasureConfig::ValuesMissing(map.next_value()?),
            other => return Err(A::Error::unknown_variant(other, MAP_MEASURES)),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(A::Error::custom("a measure map has exactly one key"));
        }
        Ok(measure)
    }
}

/// A set attribute and the members it is checked against.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRule {
    /// A string-array attribute, e.g. `ironforge.graph.event_types`; a string attribute counts as a set of one.
    pub attribute: String,
    /// For `values_outside`: the members a span may report.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// For `values_missing`: the members a run must see.
    #[serde(default)]
    pub required: Vec<String>,
}

fn opt_from_str<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    Option::<String>::deserialize(deserializer)?
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .transpose()
}

fn vec_from_str<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    Vec::<String>::deserialize(deserializer)?
        .into_iter()
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .collect()
}
