//! The contract file: what it may say, how it is read, and how its errors are reported.
//!
//! These are plain configuration structs; [`crate::ContractSet`] is the runtime form built from them.

mod attributes;
mod contract;
mod error;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use ironforge_proto::semconv::Stage;
use schemars::JsonSchema;
use serde::Deserialize;

pub use attributes::AttributeType;
pub(crate) use attributes::{BUILTIN, attribute_type};
pub use contract::{Comparison, ContractConfig, MeasureConfig, ScopeConfig, SetRule};
pub use error::ConfigError;

/// The contract file embedded in the binary: the DESIGN.md thresholds.
pub const DEFAULT_CONTRACTS_YAML: &str = include_str!("../../contracts/default.yaml");

/// Name used in errors for the embedded default file.
pub const DEFAULT_CONTRACTS_NAME: &str = "<embedded default contracts>";

/// A whole contract file.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    /// Format version; only `1` exists.
    pub version: u32,
    /// `production` (strict) or `development` (tolerant: violations are reported as warnings and block nothing).
    #[serde(default)]
    pub profile: Profile,
    /// When a trace counts as complete.
    #[serde(default)]
    pub completion: CompletionConfig,
    /// Bounds on the state the processor keeps.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Aggregation and rate limits of violation events.
    #[serde(default)]
    pub events: EventsConfig,
    /// Types of attributes the contracts read beyond the IRONFORGE conventions, e.g.
    /// `ironforge.tgat.loss: double`. A value of another type is reported by `attribute_errors` contracts.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeType>,
    /// The contracts themselves.
    pub contracts: Vec<ContractConfig>,
}

/// How strictly contracts are enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Severities and `blocks_production` as written.
    #[default]
    Production,
    /// Every violation is a warning and none blocks production: for pipelines under development.
    Development,
}

/// When a trace is decided, and what a whole one holds.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CompletionConfig {
    /// Seconds to wait after the root span arrives for the remaining spans.
    pub grace_seconds: f64,
    /// Seconds without a new span after which a trace is decided as incomplete.
    pub idle_timeout_seconds: f64,
    /// The stages a whole run holds, and how each works: `per_session` (a stage span with one session span
    /// per session the run declares in `ironforge.run.session_count`) or `whole_run` (the stage span alone,
    /// its work done once over all sessions). A run that declares its sessions and misses a stage, or a
    /// per-session stage's sessions, is decided `incomplete`. Stages not listed are not required.
    #[schemars(with = "BTreeMap<String, StageWork>")]
    pub stages: BTreeMap<Stage, StageWork>,
}

impl Default for CompletionConfig {
    fn default() -> Self {
        Self {
            grace_seconds: 5.0,
            idle_timeout_seconds: 300.0,
            // IRONFORGE, as the replay emits it: every stage works session by session.
            stages: Stage::ALL
                .iter()
                .map(|&stage| (stage, StageWork::PerSession))
                .collect(),
        }
    }
}

/// How a stage does its work, as far as a whole run's spans show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageWork {
    /// A stage span with a session span under it for each session the run declares.
    PerSession,
    /// One stage span over all sessions, with no session spans required.
    WholeRun,
}

/// Bounds on the processor's state; each overflow is counted in the metrics.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Traces being assembled at once. A new trace beyond it first evicts the trace idle the longest, which
    /// is decided `incomplete` ("evicted under memory pressure"); a batch is refused with UNAVAILABLE / 503
    /// only when it alone would start more traces than this.
    pub max_traces_in_flight: usize,
    /// Spans kept per trace. Spans beyond it are still checked against span-scoped contracts, counted, and
    /// the verdict says the trace was truncated.
    pub max_spans_per_trace: usize,
    /// Approximate bytes of span state kept per trace; the same overflow rule as `max_spans_per_trace`.
    pub max_bytes_per_trace: usize,
    /// Verdicts of decided traces kept for the API and for spans that arrive late.
    pub decided_traces_kept: usize,
    /// Violations kept per trace (in its verdict); beyond it they are still emitted and counted, and the
    /// verdict says how many it left out.
    pub max_violations_per_trace: usize,
    /// Bytes of engine state (spans in flight, their violations, kept verdicts) across all shards. Over it,
    /// the traces idle the longest are decided `incomplete` early, then the oldest kept verdicts are
    /// forgotten; a batch is refused with UNAVAILABLE / 503 only when it alone would not fit.
    pub max_memory_bytes: usize,
    /// Attributes kept per span, as OpenTelemetry's `AttributeCountLimit`: those after the first this many
    /// (in wire order) are dropped before anything is stored, and the verdict counts them.
    pub max_attributes_per_span: usize,
    /// Bytes kept of a string attribute value (each member of an array too) and of a span name, as
    /// OpenTelemetry's `AttributeValueLengthLimit`: longer values are cut on a character boundary.
    pub max_attribute_value_length: usize,
    /// Members kept of an array attribute value; the rest are dropped and counted.
    pub max_attribute_array_length: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_traces_in_flight: 10_000,
            max_spans_per_trace: 50_000,
            max_bytes_per_trace: 16 * 1024 * 1024,
            decided_traces_kept: 10_000,
            max_violations_per_trace: 1_000,
            max_memory_bytes: 256 * 1024 * 1024,
            max_attributes_per_span: 128,
            max_attribute_value_length: 4096,
            max_attribute_array_length: 1024,
        }
    }
}

/// How violation events (console, OTLP logs, the gRPC stream) are aggregated and rate-limited. Metrics and
/// verdicts always count every violation.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Violations of one contract on one stage within this many seconds are folded into one event that
    /// carries the count of the others.
    pub aggregation_window_seconds: f64,
    /// Events allowed per hour across all contracts; the excess is counted as suppressed.
    pub max_events_per_hour: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            aggregation_window_seconds: 10.0,
            max_events_per_hour: 3600,
        }
    }
}

impl ContractFile {
    /// Parses and validates a contract file. `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let file: ContractFile = serde_yaml::from_str(text)
            .map_err(|err| ConfigError::from_yaml(source_name, &err).at_offending_key(text))?;
        validate::validate(&file, text, source_name)?;
        Ok(file)
    }

    /// Reads, parses and validates the contract file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The embedded default contracts.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::parse(DEFAULT_CONTRACTS_YAML, DEFAULT_CONTRACTS_NAME)
    }

    /// JSON Schema of the contract file, for editors.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(ContractFile)
    }
}
