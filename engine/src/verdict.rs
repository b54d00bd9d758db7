//! Verdicts and violations as plain data: what the engine decides, before any transport sees it.
//!
//! They serialize to JSON for the HTTP API and console (and read back from it, so the processor can keep
//! decided verdicts across restarts), and convert to the `ironforge.monitor.v1` protobuf messages for gRPC
//! and OTLP logs.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{SpanId, TraceId};

/// What a contract measures.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Timing,
    Memory,
    Quality,
    System,
    Invariant,
}

impl Category {
    /// The lowercase name used in the API, metrics labels, logs and the contract file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Timing => "timing",
            Category::Memory => "memory",
            Category::Quality => "quality",
            Category::System => "system",
            Category::Invariant => "invariant",
        }
    }
}

/// How bad a violation is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    /// The lowercase name used in the API, metrics labels, logs and the contract file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One broken contract on one span (or a whole trace, when `span_id` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub trace_id: TraceId,
    pub span_id: Option<SpanId>,
    pub contract_id: String,
    /// The pipeline (`service.name`) whose run broke the contract; `None` for a run that names none.
    /// Absent from violations recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Arc<str>>,
    pub category: Category,
    pub severity: Severity,
    pub blocks_production: bool,
    pub observed: f64,
    pub threshold: f64,
    pub unit: String,
    pub stage: Option<String>,
    pub session_id: Option<String>,
    pub message: String,
    pub time_unix_nano: u64,
}

/// The outcome of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Pass,
    Warn,
    Fail,
    Incomplete,
}

impl VerdictStatus {
    /// Every status, best first.
    pub const ALL: &'static [Self] = &[Self::Pass, Self::Warn, Self::Fail, Self::Incomplete];

    /// The lowercase name used in the API, metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Pass => "pass",
            VerdictStatus::Warn => "warn",
            VerdictStatus::Fail => "fail",
            VerdictStatus::Incomplete => "incomplete",
        }
    }
}

/// Wall time of one stage within a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDuration {
    pub stage: String,
    pub seconds: f64,
}

/// The decision on one completed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceVerdict {
    pub trace_id: TraceId,
    pub status: VerdictStatus,
    pub production_ready: bool,
    pub violations: Vec<Violation>,
    /// Violations decided on this trace beyond `limits.max_violations_per_trace`: emitted and counted, left
    /// out of `violations`. `status` and `production_ready` account for them.
    pub violations_over_limit: u64,
    pub stage_durations: Vec<StageDuration>,
    pub span_count: u32,
    /// Set when `status` is `Incomplete`: what was missing.
    pub incomplete_reason: Option<String>,
    pub decided_unix_nano: u64,
    pub service_name: Option<String>,
    /// Decided `incomplete` early, to keep the engine within `limits.max_traces_in_flight` or
    /// `limits.max_memory_bytes`: a verdict on the monitor's capacity, not on the pipeline.
    /// (Defaults when absent, so verdicts a write-ahead log kept from an older version still read back.)
    #[serde(default)]
    pub evicted: bool,
    /// Attribute values (and span names) the attribute limits cut or dropped on the trace's spans.
    #[serde(default)]
    pub attributes_truncated: u64,
}
