//! The contract engine: assembles spans into traces, decides span-scoped contracts as spans arrive and
//! trace-scoped ones when a trace completes, and produces verdicts.
//!
//! It is synchronous and knows nothing of transports or clocks: callers pass the time in, so the same engine
//! serves the live processor and batch evaluation of recorded spans. Its state is a function of the spans
//! it accepted, in order, and the times it was given: replaying them rebuilds it.

mod capacity;
mod contracts;
mod deadlines;
mod decide;
mod decided;
mod ingest;
mod judge;
mod kept_ids;
mod state;
mod trace_measures;

use foldhash::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use capacity::{Capacity, RESERVABLE_PART, Reservation, UNCOUNTED_PART};
pub(crate) use contracts::prefix;
pub use contracts::{Contract, ContractSet, SpanView, truncate};
pub use decide::EVICTED;
pub use state::KeptSpan;
pub use state::batch_bytes;

use crate::decided_trace::DecidedTrace;
use crate::intern::Interner;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, Violation};
use deadlines::Deadlines;
use decided::DecidedTraces;
use state::TraceState;

/// The time of an engine call: monotonic for completion, wall clock for the timestamps it reports.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub unix_nano: u64,
}

impl Now {
    pub fn system() -> Self {
        let unix_nano = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self {
            instant: Instant::now(),
            unix_nano,
        }
    }
}

/// What the engine decided in one call, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A contract broke; emitted as soon as it is decided.
    Violation(Violation),
    /// A trace completed (or timed out) and was decided. Shared with the engine's memory of decided traces:
    /// a verdict can hold a thousand violations, and a batch that evicts many traces would otherwise hold
    /// each twice.
    Verdict(Arc<TraceVerdict>),
    /// A decided trace changed because spans arrived after its verdict; `added` violations were appended.
    VerdictRevised {
        verdict: Arc<TraceVerdict>,
        added: usize,
    },
    /// A trace without any IRONFORGE span kind completed: it is not a pipeline run (a web request sent here
    /// by mistake, say), gets no verdict and counts in neither health nor compliance.
    Unmonitored { trace_id: TraceId, spans: u32 },
    /// A trace just decided, with its spans, for analysis: follows its `Verdict`, and only from an engine
    /// asked for them with [`Engine::emit_decided_traces`].
    Decided(Box<DecidedTrace>),
}

impl EngineEvent {
    /// The trace the event is about.
    pub fn trace_id(&self) -> TraceId {
        match self {
            Self::Violation(violation) => violation.trace_id,
            Self::Verdict(verdict) | Self::VerdictRevised { verdict, .. } => verdict.trace_id,
            Self::Unmonitored { trace_id, .. } => *trace_id,
            Self::Decided(trace) => trace.verdict.trace_id,
        }
    }
}

/// Running counts of what the engine did, for the processor's own metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub spans_accepted: u64,
    /// Spans whose trace was given a span of the same id already (a retried export): they change nothing.
    pub spans_duplicate: u64,
    /// Spans that arrived for a trace already decided.
    pub late_spans: u64,
    /// Spans checked but not kept because their trace was over `max_spans_per_trace` or `max_bytes_per_trace`.
    pub spans_over_limit: u64,
    /// Batches refused because they alone would not fit `max_traces_in_flight` or `max_memory_bytes`.
    pub batches_refused: u64,
    /// Traces decided `incomplete` early to stay within `max_traces_in_flight` or `max_memory_bytes`.
    pub traces_evicted: u64,
    /// Traces dropped without a verdict because no span carried an IRONFORGE span kind.
    pub traces_unmonitored: u64,
    /// Violations emitted but left out of their verdicts by `max_violations_per_trace`.
    pub violations_over_limit: u64,
    /// Decided verdicts forgotten to stay within `decided_traces_kept`.
    pub verdicts_forgotten: u64,
}

impl EngineStats {
    /// What happened between `earlier` and these counts, both of one engine.
    pub fn since(&self, earlier: &EngineStats) -> EngineStats {
        let delta = |now: u64, then: u64| now.saturating_sub(then);
        EngineStats {
            spans_accepted: delta(self.spans_accepted, earlier.spans_accepted),
            spans_duplicate: delta(self.spans_duplicate, earlier.spans_duplicate),
            late_spans: delta(self.late_spans, earlier.late_spans),
            spans_over_limit: delta(self.spans_over_limit, earlier.spans_over_limit),
            batches_refused: delta(self.batches_refused, earlier.batches_refused),
            traces_evicted: delta(self.traces_evicted, earlier.traces_evicted),
            traces_unmonitored: delta(self.traces_unmonitored, earlier.traces_unmonitored),
            violations_over_limit: delta(self.violations_over_limit, earlier.violations_over_limit),
            verdicts_forgotten: delta(self.verdicts_forgotten, earlier.verdicts_forgotten),
        }
    }
}

/// The contract engine: one shard's traces, or all of them when run alone.
#[derive(Debug)]
pub struct Engine {
    contracts: Arc<ContractSet>,
    traces: HashMap<TraceId, TraceState>,
    deadlines: Deadlines,
    decided: DecidedTraces,
    capacity: Arc<Capacity>,
    /// Bytes this engine holds of what `capacity` counts over all engines: its own share is what it keeps
    /// within, so its evictions follow from its own spans and times.
    held_bytes: usize,
    stats: EngineStats,
    /// How long after its completion deadline each trace decided complete since the last
    /// [`Engine::take_decision_delays`] was decided.
    decision_delays: Vec<Duration>,
    /// Whether each verdict is followed by an [`EngineEvent::Decided`].
    emit_decided: bool,
    /// The strings traces keep, one address per text whichever thread decoded them.
    strings: Interner,
}

impl Engine {
    pub fn new(contracts: Arc<ContractSet>) -> Self {
        Self::with_capacity(contracts, Arc::new(Capacity::new()))
    }

    /// An engine that counts its state in `capacity`, shared with the other shards of one processor.
    pub fn with_capacity(contracts: Arc<ContractSet>, capacity: Arc<Capacity>) -> Self {
        let kept = contracts.file().limits.decided_traces_kept;
        Self {
            contracts,
            traces: HashMap::default(),
            deadlines: Deadlines::default(),
            decided: DecidedTraces::new(kept),
            capacity,
            held_bytes: 0,
            stats: EngineStats::default(),
            decision_delays: Vec::new(),
            emit_decided: false,
            strings: Interner::default(),
        }
    }

    /// Follows each verdict with the decided trace's spans ([`EngineEvent::Decided`]), for analysis. Off by
    /// default: building them costs a copy of the trace's span table.
    pub fn emit_decided_traces(&mut self, on: bool) {
        self.emit_decided = on;
    }

    /// The delays between each completed trace's deadline (its root's arrival plus the grace) and its
    /// verdict, since the last call: how late the engine's decisions come.
    pub fn take_decision_delays(&mut self) -> Vec<Duration> {
        std::mem::take(&mut self.decision_delays)
    }

    /// Replaces the contracts. Traces in flight are decided under the contracts they began with, whose
    /// accumulators they hold; their completion times follow the new file from the next tick.
    pub fn set_contracts(&mut self, contracts: Arc<ContractSet>) {
        let (forgotten, freed) = self
            .decided
            .set_capacity(contracts.file().limits.decided_traces_kept);
        self.stats.verdicts_forgotten += forgotten;
        self.release_bytes(freed);
        self.contracts = contracts;
        // Deadlines were computed with the old grace and idle timeout: look at every trace again.
        self.deadlines.clear();
        for (id, trace) in &self.traces {
            self.deadlines.push(trace.last_seen_at, *id);
        }
    }

    pub fn contracts(&self) -> &Arc<ContractSet> {
        &self.contracts
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    pub fn capacity(&self) -> &Arc<Capacity> {
        &self.capacity
    }

    pub fn traces_in_flight(&self) -> usize {
        self.traces.len()
    }

    /// Whether a span of this trace would join a trace the engine holds (in flight or decided) rather than
    /// start a new one.
    pub fn knows(&self, trace_id: &TraceId) -> bool {
        self.traces.contains_key(trace_id) || self.decided.contains(trace_id)
    }

    /// When [`Engine::tick`] next has something to look at.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    pub fn verdict(&self, trace_id: &TraceId) -> Option<&TraceVerdict> {
        self.decided.get(trace_id)
    }

    /// Decided verdicts still held, oldest first.
    pub fn verdicts(&self) -> impl Iterator<Item = &TraceVerdict> {
        self.decided.iter()
    }

    fn add_bytes(&mut self, bytes: usize) {
        self.held_bytes += bytes;
        self.capacity.add_bytes(bytes);
    }

    fn release_bytes(&mut self, bytes: usize) {
        self.held_bytes = self.held_bytes.saturating_sub(bytes);
        self.capacity.release_bytes(bytes);
    }
}

impl Drop for Engine {
    /// Gives back what this engine counted, so shards that are replaced leave the shared budget exact.
    fn drop(&mut self) {
        self.capacity.release_bytes(self.held_bytes);
        for _ in 0..self.traces.len() {
            self.capacity.release_trace();
        }
    }
}

/// Verdicts for a batch of recorded spans, each trace taken as complete if it has a root: the engine without
/// a server, for `Evaluate` and offline checks.
pub fn evaluate_batch(
    contracts: Arc<ContractSet>,
    spans: Vec<SpanRecord>,
    now: Now,
) -> Vec<TraceVerdict> {
    finish_batch(contracts, spans, now, false)
        .into_iter()
        .filter_map(|event| match event {
            EngineEvent::Verdict(verdict) => Some(Arc::unwrap_or_clone(verdict)),
            _ => None,
        })
        .collect()
}

/// [`evaluate_batch`] with each trace's spans, for analysis of recorded traces.
pub fn decide_batch(
    contracts: Arc<ContractSet>,
    spans: Vec<SpanRecord>,
    now: Now,
) -> Vec<DecidedTrace> {
    finish_batch(contracts, spans, now, true)
        .into_iter()
        .filter_map(|event| match event {
            EngineEvent::Decided(decided) => Some(*decided),
            _ => None,
        })
        .collect()
}

fn finish_batch(
    contracts: Arc<ContractSet>,
    spans: Vec<SpanRecord>,
    now: Now,
    emit_decided: bool,
) -> Vec<EngineEvent> {
    let mut unbounded = (*contracts).clone();
    unbounded.file.limits.max_traces_in_flight = usize::MAX;
    unbounded.file.limits.max_memory_bytes = usize::MAX;
    let mut engine = Engine::new(Arc::new(unbounded));
    engine.emit_decided_traces(emit_decided);
    // Cannot be refused: the in-flight bounds were lifted above.
    let _ = engine.ingest(spans, now);
    engine.finish_all(now)
}
