//! Taking spans in: admission against the shared budget, each span's span-scoped contracts as it arrives,
//! late spans of decided traces, and eviction when a span takes the engine over its share.

use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::decide::{Ending, span_violations};
use super::decided::verdict_bytes;
use super::state::{TraceState, batch_bytes, span_bytes_estimate};
use super::{Engine, EngineEvent, Now};
use crate::Overloaded;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::VerdictStatus;

impl Engine {
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

    /// Takes a batch of spans. Refuses the whole batch, keeping nothing, when `Engine::admit` refuses it,
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
    /// `Capacity`: the live processor admits a batch whole before splitting it across shards.
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
        // Unshared by now (the events of the batch that decided it are handed on), so this copies nothing.
        let (verdict, tally) = (Arc::make_mut(&mut decided.verdict), &mut decided.tally);
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
            verdict: Arc::clone(&decided.verdict),
            added,
        });
        self.add_bytes(id_bytes + grown);
    }
}
