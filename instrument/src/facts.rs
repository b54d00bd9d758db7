//! Helpers that record the monitor's facts on the current span (and in metrics).
//!
//! They act through the subscriber that carries [`Instrumentation::layer`]: with no such subscriber
//! (no instrumentation initialised, or a test without one) they do nothing and cost a thread-local
//! lookup or two. Values go through [`OpenTelemetrySpanExt::set_attribute`] because tracing fields
//! cannot hold arrays, and all facts take the same path for consistency.
//!
//! [`Instrumentation::layer`]: crate::Instrumentation::layer

use std::sync::Arc;

use ironforge_proto::semconv::attr;
use opentelemetry::{Array, StringValue, Value};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::layer::MetricsLayer;
use crate::memory::process_memory;
use crate::overhead::sample_start;
use crate::state::Shared;

/// What a session's event graph holds, as the monitor's golden invariants read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphFacts {
    /// Distinct event types in the graph (the golden set has six).
    pub event_types: Vec<String>,
    /// Distinct edge intents in the graph (the golden set has four).
    pub edge_intents: Vec<String>,
    /// Node feature dimension (golden: 51).
    pub node_feature_dim: u32,
    /// Edge feature dimension (golden: 20).
    pub edge_feature_dim: u32,
    /// Edges whose two ends lie in different sessions (golden: 0).
    pub cross_session_edges: u64,
    /// Higher-timeframe features read from a candle that had not closed (golden: 0).
    pub htf_open_candle_reads: u64,
}

/// Runs `f` with the current span and the instrumentation behind it, if the subscriber carries
/// this crate's layer.
///
/// The instrumentation is found through the span's own subscriber, which for the current span is
/// the current one: that avoids a second dispatcher lookup and a reference count per call. With no
/// span entered, `f` still runs (its span attributes go nowhere, its metrics are recorded); the
/// dispatcher is looked up first then, because a nested lookup inside `get_default` would see no
/// dispatcher.
fn with_current(f: impl FnOnce(&Span, &Shared)) {
    let span = Span::current();
    if span.is_none() {
        if let Some(shared) = tracing::dispatcher::get_default(|dispatch| {
            dispatch
                .downcast_ref::<MetricsLayer>()
                .map(|layer| Arc::clone(&layer.shared))
        }) {
            f(&span, &shared);
        }
        return;
    }
    span.with_subscriber(|(_, dispatch)| {
        if let Some(layer) = dispatch.downcast_ref::<MetricsLayer>() {
            f(&span, &layer.shared);
        }
    });
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn strings(values: &[String]) -> Value {
    Value::Array(Array::String(
        values.iter().cloned().map(StringValue::from).collect(),
    ))
}

/// Records the process's resident memory on the current span — [`attr::PROCESS_MEMORY_USAGE`]
/// (bytes now) and [`attr::MEMORY_PEAK`] (the process's high-water mark, so at least the peak
/// during the span) — and sets the `process.memory.usage` gauge. Call it just before a span ends.
/// Does nothing where memory cannot be read (see [`process_memory`]).
pub fn record_memory() {
    let start = sample_start();
    with_current(|span, shared| {
        if let Some(memory) = process_memory() {
            span.set_attribute(attr::PROCESS_MEMORY_USAGE, int(memory.current));
            span.set_attribute(attr::MEMORY_PEAK, int(memory.peak));
            shared.memory.record(memory.current, &[]);
        }
        shared.overhead.add_sample(start);
    });
}

/// Records an authenticity score (`0..=1`) as [`attr::PATTERN_AUTHENTICITY`] on the current span
/// and in the authenticity histogram. Scores are recorded as given; judging them is the monitor's
/// job.
pub fn record_authenticity(score: f64) {
    let start = sample_start();
    with_current(|span, shared| {
        span.set_attribute(attr::PATTERN_AUTHENTICITY, score);
        shared.authenticity.record(score);
        shared.overhead.add_sample(start);
    });
}

/// Records a session graph's facts on the current span: [`attr::GRAPH_EVENT_TYPES`] and
/// [`attr::GRAPH_EDGE_INTENTS`] as string arrays, [`attr::GRAPH_NODE_FEATURE_DIM`],
/// [`attr::GRAPH_EDGE_FEATURE_DIM`], [`attr::GRAPH_CROSS_SESSION_EDGES`] and
/// [`attr::HTF_OPEN_CANDLE_READS`] as integers.
pub fn record_graph(facts: &GraphFacts) {
    let start = sample_start();
    with_current(|span, shared| {
        span.set_attribute(attr::GRAPH_EVENT_TYPES, strings(&facts.event_types));
        span.set_attribute(attr::GRAPH_EDGE_INTENTS, strings(&facts.edge_intents));
        span.set_attribute(
            attr::GRAPH_NODE_FEATURE_DIM,
            i64::from(facts.node_feature_dim),
        );
        span.set_attribute(
            attr::GRAPH_EDGE_FEATURE_DIM,
            i64::from(facts.edge_feature_dim),
        );
        span.set_attribute(
            attr::GRAPH_CROSS_SESSION_EDGES,
            int(facts.cross_session_edges),
        );
        span.set_attribute(
            attr::HTF_OPEN_CANDLE_READS,
            int(facts.htf_open_candle_reads),
        );
        shared.overhead.add_sample(start);
    });
}

/// Records what the instrumentation has cost so far on the current span:
/// [`attr::INSTRUMENT_OVERHEAD`] (seconds, cumulative, as a float) and
/// [`attr::INSTRUMENT_OPERATIONS`] (monitored operations, an integer). Meant for the run span,
/// just before it ends, so the monitor can judge the overhead per operation.
pub fn record_overhead() {
    let start = sample_start();
    with_current(|span, shared| {
        let overhead = shared.overhead.snapshot();
        span.set_attribute(attr::INSTRUMENT_OVERHEAD, overhead.total.as_secs_f64());
        span.set_attribute(attr::INSTRUMENT_OPERATIONS, int(overhead.operations));
        shared.overhead.add_sample(start);
    });
}
