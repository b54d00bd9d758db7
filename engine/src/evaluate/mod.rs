//! The contract engine: assembles spans into traces, decides span-scoped contracts as spans arrive and
//! trace-scoped ones when a trace completes, and produces verdicts.
//!
//! It is synchronous and knows nothing of transports or clocks: callers pass the time in, so the same engine
//! serves the live processor and batch evaluation of recorded spans.

mod contracts;
mod decide;
mod decided;
mod state;
mod trace_measures;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use contracts::{Contract, ContractSet};

use crate::Overloaded;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, VerdictStatus, Violation};
use decide::{incomplete_reason, span_violations, stage_durations, status_of, trace_violation};
use decided::DecidedTraces;
use state::{TraceState, span_bytes};

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
}

/// Running counts of what the engine did, for the processor's own metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub spans_accepted: u64,
    /// Spans that arrived for a trace already decided.
    pub late_spans: u64,
    /// Spans checked but not kept because their trace was over `max_spans_per_trace` or `max_bytes_per_trace`.
    pub spans_over_limit: u64,
    /// Batches refused because `max_traces_in_flight` was reached.
    pub batches_refused: u64,
    /// Decided verdicts forgotten to stay within `decided_traces_kept`.
    pub verdicts_forgotten: u64,
}

/// The contract engine.
#[derive(Debug)]
pub struct Engine {
    contracts: Arc<ContractSet>,
    traces: HashMap<TraceId, TraceState>,
    decided: DecidedTraces,
    stats: EngineStats,
}

impl Engine {
    pub fn new(contracts: Arc<ContractSet>) -> Self {
        let kept = contracts.file().limits.decided_traces_kept;
        Self {
            contracts,
            traces: HashMap::new(),
            decided: DecidedTraces::new(kept),
            stats: EngineStats::default(),
        }
    }

    /// Replaces the contracts; traces in flight are decided under the new ones.
    pub fn set_contracts(&mut self, contracts: Arc<ContractSet>) {
        self.decided
            .set_capacity(contracts.file().limits.decided_traces_kept);
        self.contracts = contracts;
    }

    pub fn contracts(&self) -> &Arc<ContractSet> {
        &self.contracts
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    pub fn traces_in_flight(&self) -> usize {
        self.traces.len()
    }

    pub fn verdict(&self, trace_id: &TraceId) -> Option<&TraceVerdict> {
        self.decided.get(trace_id)
    }

    /// Decided verdicts still held, oldest first.
    pub fn verdicts(&self) -> impl Iterator<Item = &TraceVerdict> {
        self.decided.iter()
    }

    /// Whether a batch would be accepted: refused when it would start more traces than
    /// `max_traces_in_flight` allows. Counts the refusal.
    fn admit(&mut self, spans: &[SpanRecord]) -> Result<(), Overloaded> {
        let completion_grace = self.contracts.file().completion.grace_seconds;
        let max_traces = self.contracts.file().limits.max_traces_in_flight;
        let mut new_traces: Vec<TraceId> = spans
            .iter()
            .map(|span| span.trace_id)
            .filter(|id| !self.traces.contains_key(id) && !self.decided.contains(id))
            .collect();
        new_traces.sort_unstable();
        new_traces.dedup();
        if self.traces.len() + new_traces.len() > max_traces {
            self.stats.batches_refused += 1;
            // Traces leave the state when decided, at the earliest a grace after their root arrives.
            return Err(Overloaded {
                retry_after: Duration::from_secs_f64(completion_grace.max(1.0)),
            });
        }
        Ok(())
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
    /// span metrics from it), so a refused batch is seen by no one.
    pub fn ingest_observed(
        &mut self,
        spans: Vec<SpanRecord>,
        now: Now,
        mut observe: impl FnMut(&SpanRecord),
    ) -> Result<Vec<EngineEvent>, Overloaded> {
        self.admit(&spans)?;
        let mut events = Vec::new();
        for span in spans {
            observe(&span);
            self.ingest_span(span, now, &mut events);
        }
        Ok(events)
    }

    fn ingest_span(&mut self, span: SpanRecord, now: Now, events: &mut Vec<EngineEvent>) {
        self.stats.spans_accepted += 1;
        let violations = span_violations(&self.contracts, &span, now.unix_nano);
        events.extend(violations.iter().cloned().map(EngineEvent::Violation));

        if let Some(verdict) = self.decided.get_mut(&span.trace_id) {
            self.stats.late_spans += 1;
            if !violations.is_empty() {
                let added = violations.len();
                verdict.violations.extend(violations);
                let incomplete = verdict.status == VerdictStatus::Incomplete;
                (verdict.status, verdict.production_ready) =
                    status_of(&verdict.violations, incomplete);
                events.push(EngineEvent::VerdictRevised {
                    verdict: verdict.clone(),
                    added,
                });
            }
            return;
        }

        let limits = &self.contracts.file().limits;
        let trace = self
            .traces
            .entry(span.trace_id)
            .or_insert_with(|| TraceState::new(now.instant));
        trace.last_seen_at = now.instant;
        trace.violations.extend(violations);
        let bytes = span_bytes(&span);
        if trace.spans.len() >= limits.max_spans_per_trace
            || trace.bytes + bytes > limits.max_bytes_per_trace
        {
            trace.spans_over_limit += 1;
            self.stats.spans_over_limit += 1;
            return;
        }
        if span.parent_span_id.is_none() && trace.root_seen_at.is_none() {
            trace.root_seen_at = Some(now.instant);
        }
        trace.bytes += bytes;
        trace.spans.push(span);
    }

    /// Decides every trace whose root arrived more than the grace ago, or that has been idle too long.
    pub fn tick(&mut self, now: Now) -> Vec<EngineEvent> {
        let completion = &self.contracts.file().completion;
        let grace = Duration::from_secs_f64(completion.grace_seconds);
        let idle = Duration::from_secs_f64(completion.idle_timeout_seconds);
        let due: Vec<(TraceId, bool)> = self
            .traces
            .iter()
            .filter_map(|(id, trace)| {
                let complete = trace
                    .root_seen_at
                    .is_some_and(|at| now.instant.duration_since(at) >= grace);
                let idle_out = now.instant.duration_since(trace.last_seen_at) >= idle;
                (complete || idle_out).then_some((*id, complete))
            })
            .collect();
        due.into_iter()
            .flat_map(|(id, complete)| self.decide(id, complete, now))
            .collect()
    }

    /// Decides every trace now: those with a root as complete, the rest as incomplete. For batch evaluation.
    pub fn finish_all(&mut self, now: Now) -> Vec<EngineEvent> {
        let ids: Vec<(TraceId, bool)> = self
            .traces
            .iter()
            .map(|(id, trace)| (*id, trace.root_seen_at.is_some()))
            .collect();
        ids.into_iter()
            .flat_map(|(id, complete)| self.decide(id, complete, now))
            .collect()
    }

    /// Decides one trace: its trace-scoped violations (each an event of its own), then its verdict.
    fn decide(&mut self, trace_id: TraceId, complete: bool, now: Now) -> Vec<EngineEvent> {
        let Some(trace) = self.traces.remove(&trace_id) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut violations = trace.violations;
        let incomplete_reason = if complete {
            for contract in self.contracts.contracts() {
                if let Some(violation) =
                    trace_violation(contract, trace_id, &trace.spans, now.unix_nano)
                {
                    events.push(EngineEvent::Violation(violation.clone()));
                    violations.push(violation);
                }
            }
            None
        } else {
            Some(incomplete_reason(&trace.spans))
        };
        let (status, production_ready) = status_of(&violations, incomplete_reason.is_some());
        let mut incomplete_reason = incomplete_reason;
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
        let verdict = TraceVerdict {
            trace_id,
            status,
            production_ready,
            violations,
            stage_durations: stage_durations(&trace.spans),
            span_count: u32::try_from(trace.spans.len()).unwrap_or(u32::MAX),
            incomplete_reason,
            decided_unix_nano: now.unix_nano,
            service_name: trace
                .spans
                .iter()
                .find_map(|span| span.service_name.as_deref().map(str::to_owned)),
        };
        self.stats.verdicts_forgotten += self.decided.insert(verdict.clone());
        events.push(EngineEvent::Verdict(verdict));
        events
    }
}

/// Verdicts for a batch of recorded spans, each trace taken as complete if it has a root: the engine without
/// a server, for `Evaluate` and offline checks.
pub fn evaluate_batch(
    contracts: Arc<ContractSet>,
    spans: Vec<SpanRecord>,
    now: Now,
) -> Vec<TraceVerdict> {
    let mut contracts_unbounded = (*contracts).clone();
    contracts_unbounded.file.limits.max_traces_in_flight = usize::MAX;
    let mut engine = Engine::new(Arc::new(contracts_unbounded));
    // Cannot be refused: the in-flight bound was lifted above.
    let _ = engine.ingest(spans, now);
    engine
        .finish_all(now)
        .into_iter()
        .filter_map(|event| match event {
            EngineEvent::Verdict(verdict) => Some(verdict),
            _ => None,
        })
        .collect()
}
