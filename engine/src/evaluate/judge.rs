//! Deciding traces: which are due at a tick, the trace-scoped contracts of each, and its verdict.

use std::sync::Arc;
use std::time::Duration;

use super::decide::{
    Ending, Tally, evicted_reason, incomplete_reason, missing_parts, stage_durations,
    trace_violation,
};
use super::state::TraceState;
use super::trace_measures::observe_trace;
use super::{Engine, EngineEvent, Now};
use crate::decided_trace::{DecidedTrace, Observation};
use crate::model::TraceId;
use crate::verdict::TraceVerdict;

impl Engine {
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
    pub(super) fn decide(
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
        let mut observations = Vec::new();
        let incomplete_reason = if ending == Ending::Complete {
            self.judge_trace_scoped(&mut trace, trace_id, now, &mut observations, events);
            missing_parts(&trace)
        } else if ending == Ending::Evicted {
            Some(evicted_reason(&trace))
        } else {
            Some(incomplete_reason(&trace))
        };
        let incomplete_reason = with_over_limit_note(incomplete_reason, trace.spans_over_limit);
        self.stats.violations_over_limit += trace.violations_over_limit;
        let decided_spans = self.emit_decided.then(|| trace.decided_spans());
        let span_ids = trace.seen_ids();
        let fragment = trace.root_seen_at.is_none();
        let (verdict, tally) = verdict_of(trace, trace_id, ending, now, incomplete_reason);
        let verdict = Arc::new(verdict);
        let (held, forgotten, freed) =
            self.decided
                .insert(Arc::clone(&verdict), tally, span_ids, fragment);
        self.add_bytes(held);
        self.stats.verdicts_forgotten += forgotten;
        self.release_bytes(freed);
        let decided = decided_spans.map(|spans| DecidedTrace {
            verdict: (*verdict).clone(),
            spans,
            observations,
        });
        events.push(EngineEvent::Verdict(verdict));
        if let Some(decided) = decided {
            events.push(EngineEvent::Decided(Box::new(decided)));
        }
    }

    /// Decides the trace-scoped contracts of a complete trace, keeping what each observed when decided
    /// traces are emitted.
    fn judge_trace_scoped(
        &self,
        trace: &mut TraceState,
        trace_id: TraceId,
        now: Now,
        observations: &mut Vec<Observation>,
        events: &mut Vec<EngineEvent>,
    ) {
        let max_violations = trace.contracts.file().limits.max_violations_per_trace;
        let contracts = Arc::clone(&trace.contracts);
        for (index, contract) in contracts.contracts().iter().enumerate() {
            if !contract.config.measure.is_trace_scoped() {
                continue;
            }
            let Some(observation) = trace
                .accumulators
                .get(index)
                .and_then(|accumulator| observe_trace(contract, accumulator, trace))
            else {
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
    }
}

/// The verdict of a decided trace, and the tally of its violations it was judged by.
fn verdict_of(
    trace: TraceState,
    trace_id: TraceId,
    ending: Ending,
    now: Now,
    incomplete_reason: Option<String>,
) -> (TraceVerdict, Tally) {
    let (status, production_ready) = trace.tally.status(incomplete_reason.is_some());
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
    (verdict, trace.tally)
}

/// A trace past its limits was judged on part of its spans: it is incomplete, whatever that part showed,
/// so it never reads as production-ready.
fn with_over_limit_note(reason: Option<String>, spans_over_limit: u64) -> Option<String> {
    if spans_over_limit == 0 {
        return reason;
    }
    let note = format!(
        "{spans_over_limit} spans over the per-trace limits were checked span by span but left out of trace-scoped contracts"
    );
    Some(match reason {
        Some(reason) => format!("{reason}; {note}"),
        None => note,
    })
}
