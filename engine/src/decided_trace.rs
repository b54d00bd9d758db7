//! A decided trace as analysis reads it: the verdict, the spans the engine kept, and what each trace-scoped
//! contract observed. This is the one thing analysis takes from the engine, live or offline.

use std::sync::Arc;

use ironforge_proto::semconv::{SpanKind, Stage};

use crate::model::SpanId;
use crate::verdict::TraceVerdict;

/// A span of a decided trace.
#[derive(Debug, Clone, PartialEq)]
pub struct DecidedSpan {
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub name: Arc<str>,
    pub session_id: Option<Arc<str>>,
    pub kind: Option<SpanKind>,
    pub stage: Option<Stage>,
    /// `process.memory.usage` when the span ended, in bytes.
    pub memory_bytes: Option<u64>,
}

impl DecidedSpan {
    pub fn duration_seconds(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e9
    }
}

/// What a trace-scoped contract measured on the trace, held or broken.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub contract_id: Arc<str>,
    pub value: f64,
}

/// A trace the engine decided, with the spans it kept (spans over the per-trace limits are not among them).
#[derive(Debug, Clone, PartialEq)]
pub struct DecidedTrace {
    pub verdict: TraceVerdict,
    pub spans: Vec<DecidedSpan>,
    pub observations: Vec<Observation>,
}
