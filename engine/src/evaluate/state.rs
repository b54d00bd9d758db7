//! What the engine keeps for one trace while it is being assembled.

use std::time::Instant;

use crate::model::SpanRecord;
use crate::verdict::Violation;

/// A trace in flight: its spans (up to the limits), when it was last fed, and what was already decided.
#[derive(Debug)]
pub(crate) struct TraceState {
    pub spans: Vec<SpanRecord>,
    /// When the root span (a span without parent) arrived.
    pub root_seen_at: Option<Instant>,
    pub last_seen_at: Instant,
    /// Approximate bytes held in `spans`.
    pub bytes: usize,
    /// Spans checked against span-scoped contracts but not kept, because the trace was over its limits.
    pub spans_over_limit: u64,
    /// Span-scoped violations already emitted.
    pub violations: Vec<Violation>,
}

impl TraceState {
    pub fn new(now: Instant) -> Self {
        Self {
            spans: Vec::new(),
            root_seen_at: None,
            last_seen_at: now,
            bytes: 0,
            spans_over_limit: 0,
            violations: Vec::new(),
        }
    }
}

/// Approximate heap and inline size of a span record, for the per-trace byte bound.
pub(crate) fn span_bytes(span: &SpanRecord) -> usize {
    let strings = |values: &Option<Vec<String>>| {
        values
            .as_ref()
            .map_or(0, |v| v.iter().map(|s| s.len() + size_of::<String>()).sum())
    };
    size_of::<SpanRecord>()
        + span.name.len()
        + span.session_id.as_ref().map_or(0, String::len)
        + strings(&span.facts.event_types)
        + strings(&span.facts.edge_intents)
        + span
            .facts
            .attribute_errors
            .iter()
            .map(String::len)
            .sum::<usize>()
}
