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
mod state;
mod trace_measures;

use foldhash::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use capacity::Capacity;
pub(crate) use contracts::prefix;
pub use contracts::{Contract, ContractSet, SpanView, truncate};
pub use state::KeptSpan;

use crate::Overloaded;
use crate::decided_trace::{DecidedTrace, Observation};
use crate::intern::Interner;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, VerdictStatus, Violation};
use deadlines::Deadlines;
pub use decide::EVICTED;
use decide::{
    Ending, evicted_reason, incomplete_reason, missing_parts, span_violations, stage_durations,
    trace_violation,
};
use decided::{DecidedTraces, verdict_bytes};
pub use state::batch_bytes;
use state::{TraceState, span_bytes_estimate};

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
    /// A trace completed (or timed out) and was decided.
    Verdict(TraceVerdict),
    /// A decided trace changed because spans arrived after its verdict; `added` violations were appended.
    VerdictRevised { verdict: TraceVerdict, added: usize },
    /// A trace without any IRONFORGE span kind completed: it is not a pipeline run (a web request sent here
    /// by mistake, say), gets no verdict and counts in neither health nor compliance.
    Unmonitored { trace_id: TraceId, spans: u32 },
    /// A trace just decided, with its spans, for analysis: follows its `Verdict`, and only from an engine
    /// asked for them with [`Engine::emit_decided_traces`].
    Decided(Box<DecidedTrace>),
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

    /// Whether a batch would be accepted: refused only when it alone would start more traces than this
    /// engine's share of `max_traces_in_flight`, or hold more than its share of `max_memory_bytes`. Any
    /// other pressure is relieved by eviction as the batch is taken. Counts the refusal.
    fn admit(&mut self, spans: &[SpanRecord]) -> Result<(), Overloaded> {
        let mut new_traces: Vec<TraceId> = spans
            .iter()
            .map(|span| span.trace_id)
            .filter(|id| !self.knows(id))
            .collect();
        new_traces.sort_unstable();
        new_traces.dedup();
        let refused = self
            .capacity
            .admits(&self.contracts, new_traces.len(), batch_bytes(spans));
        if refused.is_err() {
            self.stats.batches_refused += 1;
        }
        refused
    }

    /// Takes a batch of spans. Refuses the whole batch, keeping nothing, when [`Engine::admit`] refuses it,
    /// so the client's retry loses nothing.
    pub fn ingest(
        &mut self,
        spans: Vec<SpanRecord>,
        now: Now,
    ) -> Result<Vec<EngineEvent>, Overloaded> {
        self.ingest_observed(spans, now, |_| {})
    }

    /// [`Engine::ingest`], showing each accepted span to `observe` first (the live processor feeds its
    /// span metrics from it), so a refused batch is seen by no one, and a duplicate span not twice.
    pub fn ingest_observed(
        &mut self,
        spans: Vec<SpanRecord>,
        now: Now,
        observe: impl FnMut(&SpanRecord),
    ) -> Result<Vec<EngineEvent>, Overloaded> {
        self.admit(&spans)?;
        Ok(self.ingest_admitted(spans, now, observe))
    }

    /// [`Engine::ingest_observed`] for a batch its owner already admitted against the shared
    /// [`Capacity`]: the live processor admits a batch whole before splitting it across shards.
    pub fn ingest_admitted(
        &mut self,
        spans: Vec<SpanRecord>,
        now: Now,
        mut observe: impl FnMut(&SpanRecord),
    ) -> Vec<EngineEvent> {
        let mut events = Vec::new();
        for span in &spans {
            self.ingest_span(span, now, &mut observe, &mut events);
        }
        events
    }

    fn ingest_span(
        &mut self,
        span: &SpanRecord,
        now: Now,
        observe: &mut impl FnMut(&SpanRecord),
        events: &mut Vec<EngineEvent>,
    ) {
        self.stats.spans_accepted += 1;
        let max_violations = self.contracts.file().limits.max_violations_per_trace;
        if self.decided.contains(&span.trace_id) {
            self.ingest_late(span, now, max_violations, observe, events);
            return;
        }

        let trace = match self.traces.entry(span.trace_id) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let trace = TraceState::new(Arc::clone(&self.contracts), now.instant);
                self.capacity.add_trace();
                self.capacity.add_bytes(trace.bytes);
                self.held_bytes += trace.bytes;
                let idle = self.contracts.file().completion.idle_timeout_seconds;
                self.deadlines
                    .push(now.instant + Duration::from_secs_f64(idle), span.trace_id);
                entry.insert(trace)
            }
        };
        if trace.has_seen(span.span_id) {
            self.stats.spans_duplicate += 1;
            return;
        }
        observe(span);
        trace.last_seen_at = now.instant;
        trace.accumulate(span);
        let mut added = 0;
        let contracts = Arc::clone(&trace.contracts);
        span_violations(&contracts, span, now.unix_nano, |violation| {
            events.push(EngineEvent::Violation(violation.clone()));
            trace.tally.add(&violation);
            added += trace.keep_violation(violation, max_violations);
        });
        if span.parent_span_id.is_none() && trace.root_seen_at.is_none() {
            trace.root_seen_at = Some(now.instant);
            let grace = trace.contracts.file().completion.grace_seconds;
            self.deadlines
                .push(now.instant + Duration::from_secs_f64(grace), span.trace_id);
        }
        let limits = &trace.contracts.file().limits;
        if trace.spans.len() >= limits.max_spans_per_trace
            || trace.bytes + span_bytes_estimate(span) > limits.max_bytes_per_trace
        {
            added += trace.over_limit(span.span_id);
            self.stats.spans_over_limit += 1;
        } else {
            added += trace.keep(span, &mut self.strings);
        }
        self.add_bytes(added);
        self.relieve(span.trace_id, now, events);
    }

    fn add_bytes(&mut self, bytes: usize) {
        self.held_bytes += bytes;
        self.capacity.add_bytes(bytes);
    }

    fn release_bytes(&mut self, bytes: usize) {
        self.held_bytes = self.held_bytes.saturating_sub(bytes);
        self.capacity.release_bytes(bytes);
    }

    /// Brings the engine back within its share of the limits once a span took it over, sparing the trace
    /// that span joined. Over the memory share, the oldest kept verdicts are forgotten first: they were
    /// reported already, and forgetting one loses only its answer to the API. Then, over either share, the
    /// traces idle the longest are decided `incomplete` (evicted). It frees a little more than needed, so
    /// a flood pays for the scan of the traces once per many new traces rather than for each.
    fn relieve(&mut self, spare: TraceId, now: Now, events: &mut Vec<EngineEvent>) {
        let (max_traces, max_bytes) = self.capacity.shares(&self.contracts.file().limits);
        if self.traces.len() <= max_traces && self.held_bytes <= max_bytes {
            return;
        }
        let (max_traces, max_bytes) = (max_traces - max_traces / 64, max_bytes - max_bytes / 64);
        while self.held_bytes > max_bytes {
            let Some(freed) = self.decided.forget_oldest() else {
                break;
            };
            self.stats.verdicts_forgotten += 1;
            self.release_bytes(freed);
        }
        let mut idle: Vec<(Instant, TraceId)> = self
            .traces
            .iter()
            .filter(|(id, _)| **id != spare)
            .map(|(id, trace)| (trace.last_seen_at, *id))
            .collect();
        // Ties broken by trace id, so a replay of the same spans and times evicts the same traces.
        idle.sort_unstable();
        for (_, id) in idle {
            if self.traces.len() <= max_traces && self.held_bytes <= max_bytes {
                break;
            }
            self.stats.traces_evicted += 1;
            self.decide(id, Ending::Evicted, now, events);
        }
    }

    /// A span for a decided trace: checked, and its violations revise the stored verdict, within the
    /// per-trace bound; one the trace was given already changes nothing.
    fn ingest_late(
        &mut self,
        span: &SpanRecord,
        now: Now,
        max_violations: usize,
        observe: &mut impl FnMut(&SpanRecord),
        events: &mut Vec<EngineEvent>,
    ) {
        let Some(decided) = self.decided.get_mut(&span.trace_id) else {
            return;
        };
        let Some(id_bytes) = decided.first_sight(span.span_id) else {
            self.stats.spans_duplicate += 1;
            return;
        };
        self.stats.late_spans += 1;
        observe(span);
        let (verdict, tally) = (&mut decided.verdict, &mut decided.tally);
        let before = verdict_bytes(verdict);
        let mut added = 0;
        span_violations(&self.contracts, span, now.unix_nano, |violation| {
            events.push(EngineEvent::Violation(violation.clone()));
            tally.add(&violation);
            if verdict.violations.len() < max_violations {
                verdict.violations.push(violation);
                added += 1;
            } else {
                verdict.violations_over_limit += 1;
                self.stats.violations_over_limit += 1;
            }
        });
        if !tally.any || (added == 0 && verdict.violations_over_limit == 0) {
            self.add_bytes(id_bytes);
            return;
        }
        let incomplete = verdict.status == VerdictStatus::Incomplete;
        (verdict.status, verdict.production_ready) = tally.status(incomplete);
        let grown = verdict_bytes(verdict).saturating_sub(before);
        events.push(EngineEvent::VerdictRevised {
            verdict: verdict.clone(),
            added,
        });
        self.add_bytes(id_bytes + grown);
    }

    /// Decides every trace whose root arrived more than the grace ago, or that has been idle too long.
    pub fn tick(&mut self, now: Now) -> Vec<EngineEvent> {
        let events = self.decide_due(now);
        // A load's traces leave the map when decided, but its table would stay at its peak size for good.
        if self.traces.capacity() > 4 * self.traces.len() + 1024 {
            self.traces.shrink_to(2 * self.traces.len());
        }
        self.deadlines.shrink();
        events
    }

    fn decide_due(&mut self, now: Now) -> Vec<EngineEvent> {
        let completion = &self.contracts.file().completion;
        let grace = Duration::from_secs_f64(completion.grace_seconds);
        let idle = Duration::from_secs_f64(completion.idle_timeout_seconds);
        let mut events = Vec::new();
        while let Some(id) = self.deadlines.pop_due(now.instant) {
            let Some(trace) = self.traces.get(&id) else {
                continue;
            };
            let complete_at = trace.root_seen_at.map(|at| at + grace);
            let idle_at = trace.last_seen_at + idle;
            if let Some(at) = complete_at.filter(|at| *at <= now.instant) {
                self.decision_delays.push(now.instant.duration_since(at));
                self.decide(id, Ending::Complete, now, &mut events);
            } else if idle_at <= now.instant {
                self.decide(id, Ending::TimedOut, now, &mut events);
            } else {
                let next = complete_at.map_or(idle_at, |at| at.min(idle_at));
                self.deadlines.push(next, id);
            }
        }
        events
    }

    /// Decides every trace now: those with a root as complete, the rest as incomplete. For batch evaluation.
    pub fn finish_all(&mut self, now: Now) -> Vec<EngineEvent> {
        let ids: Vec<(TraceId, Ending)> = self
            .traces
            .iter()
            .map(|(id, trace)| {
                let ending = if trace.root_seen_at.is_some() {
                    Ending::Complete
                } else {
                    Ending::TimedOut
                };
                (*id, ending)
            })
            .collect();
        let mut events = Vec::new();
        for (id, ending) in ids {
            self.decide(id, ending, now, &mut events);
        }
        self.deadlines.clear();
        events
    }

    /// Decides one trace: its trace-scoped violations (each an event of its own), then its verdict. A
    /// complete trace whose run declared sessions it does not hold is decided, but `incomplete`.
    fn decide(
        &mut self,
        trace_id: TraceId,
        ending: Ending,
        now: Now,
        events: &mut Vec<EngineEvent>,
    ) {
        let Some(mut trace) = self.traces.remove(&trace_id) else {
            return;
        };
        self.capacity.release_trace();
        self.release_bytes(trace.bytes);
        if !trace.monitored {
            self.stats.traces_unmonitored += 1;
            events.push(EngineEvent::Unmonitored {
                trace_id,
                spans: u32::try_from(trace.spans.len()).unwrap_or(u32::MAX),
            });
            return;
        }
        let max_violations = trace.contracts.file().limits.max_violations_per_trace;
        let mut observations = Vec::new();
        let mut incomplete_reason = if ending == Ending::Complete {
            let contracts = Arc::clone(&trace.contracts);
            for (index, contract) in contracts.contracts().iter().enumerate() {
                if !contract.config.measure.is_trace_scoped() {
                    continue;
                }
                let Some(observation) = trace.accumulators.get(index).and_then(|accumulator| {
                    trace_measures::observe_trace(contract, accumulator, &trace)
                }) else {
                    continue;
                };
                if self.emit_decided {
                    observations.push(Observation {
                        contract_id: Arc::clone(&contract.id),
                        value: observation.value(),
                    });
                }
                if let Some(violation) = trace_violation(
                    contract,
                    trace_id,
                    trace.service_name.as_ref(),
                    &observation,
                    now.unix_nano,
                ) {
                    events.push(EngineEvent::Violation(violation.clone()));
                    trace.tally.add(&violation);
                    trace.keep_violation(violation, max_violations);
                }
            }
            missing_parts(&trace)
        } else if ending == Ending::Evicted {
            Some(evicted_reason(&trace))
        } else {
            Some(incomplete_reason(&trace))
        };
        // A trace past its limits was judged on part of its spans: it is incomplete, whatever that part
        // showed, so it never reads as production-ready.
        if trace.spans_over_limit > 0 {
            let note = format!(
                "{} spans over the per-trace limits were checked span by span but left out of trace-scoped contracts",
                trace.spans_over_limit
            );
            incomplete_reason = Some(match incomplete_reason {
                Some(reason) => format!("{reason}; {note}"),
                None => note,
            });
        }
        let (status, production_ready) = trace.tally.status(incomplete_reason.is_some());
        self.stats.violations_over_limit += trace.violations_over_limit;
        let decided_spans = self.emit_decided.then(|| trace.decided_spans());
        let span_ids = trace.seen_ids();
        let fragment = trace.root_seen_at.is_none();
        let verdict = TraceVerdict {
            trace_id,
            status,
            production_ready,
            violations: trace.violations,
            violations_over_limit: trace.violations_over_limit,
            stage_durations: stage_durations(&trace.spans),
            span_count: u32::try_from(trace.spans.len()).unwrap_or(u32::MAX),
            incomplete_reason,
            decided_unix_nano: now.unix_nano,
            service_name: trace.service_name.as_deref().map(str::to_owned),
            evicted: ending == Ending::Evicted,
            attributes_truncated: trace.attributes_truncated,
        };
        let (held, forgotten, freed) =
            self.decided
                .insert(verdict.clone(), trace.tally, span_ids, fragment);
        self.add_bytes(held);
        self.stats.verdicts_forgotten += forgotten;
        self.release_bytes(freed);
        let decided = decided_spans.map(|spans| DecidedTrace {
            verdict: verdict.clone(),
            spans,
            observations,
        });
        events.push(EngineEvent::Verdict(verdict));
        if let Some(decided) = decided {
            events.push(EngineEvent::Decided(Box::new(decided)));
        }
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
            EngineEvent::Verdict(verdict) => Some(verdict),
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
