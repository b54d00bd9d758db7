//! A bounded memory of decided traces: their verdicts for the API, and their ids so late spans are known
//! as late.
//!
//! Fragments (traces decided without ever seeing their root) are forgotten before runs: a flood of them,
//! misrouted or cut off upstream, must not push out the verdicts of the runs judged before it.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::HashMap;

use super::decide::Tally;
use super::state::violation_bytes;
use crate::model::{SpanId, TraceId};
use crate::verdict::{TraceVerdict, Violation};

#[derive(Debug)]
pub(crate) struct DecidedTraces {
    capacity: usize,
    /// Traces that had a root, oldest decision first.
    runs: VecDeque<TraceId>,
    /// Traces decided without a root, oldest decision first.
    fragments: VecDeque<TraceId>,
    verdicts: HashMap<TraceId, Decided>,
}

/// A decided trace as the engine remembers it.
#[derive(Debug)]
pub(crate) struct Decided {
    pub verdict: Arc<TraceVerdict>,
    /// What all its violations add up to, those left out of the verdict included.
    pub tally: Tally,
    /// The ids of the spans it was given, sorted: a span that comes again after the verdict changes nothing.
    span_ids: Vec<SpanId>,
}

impl Decided {
    /// Records a span id given after the verdict; `None` when the trace had it already, else the bytes
    /// the record added.
    pub(super) fn first_sight(&mut self, span_id: SpanId) -> Option<usize> {
        let at = self.span_ids.binary_search(&span_id).err()?;
        self.span_ids.insert(at, span_id);
        Some(size_of::<SpanId>())
    }

    fn bytes(&self) -> usize {
        verdict_bytes(&self.verdict) + self.span_ids.len() * size_of::<SpanId>()
    }
}

impl DecidedTraces {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            runs: VecDeque::new(),
            fragments: VecDeque::new(),
            verdicts: HashMap::default(),
        }
    }

    /// Stores a verdict, the tally of all its violations (kept or not) and the sorted ids of its spans;
    /// `fragment` when the trace never showed its root. Returns the bytes it holds, how many old verdicts
    /// were forgotten to stay within capacity, and the bytes that freed.
    pub(super) fn insert(
        &mut self,
        verdict: Arc<TraceVerdict>,
        tally: Tally,
        span_ids: Box<[SpanId]>,
        fragment: bool,
    ) -> (usize, u64, usize) {
        let trace_id = verdict.trace_id;
        let decided = Decided {
            verdict,
            tally,
            span_ids: span_ids.into_vec(),
        };
        let held = decided.bytes();
        let replaced = match self.verdicts.insert(trace_id, decided) {
            Some(old) => old.bytes(),
            None => {
                if fragment {
                    self.fragments.push_back(trace_id);
                } else {
                    self.runs.push_back(trace_id);
                }
                0
            }
        };
        let (forgotten, freed) = self.forget_beyond_capacity();
        (held, forgotten, freed + replaced)
    }

    /// Forgets the oldest verdicts until the capacity holds; returns how many, and the bytes that freed.
    fn forget_beyond_capacity(&mut self) -> (u64, usize) {
        let (mut forgotten, mut freed) = (0, 0);
        while self.runs.len() + self.fragments.len() > self.capacity {
            let Some(bytes) = self.forget_oldest() else {
                break;
            };
            freed += bytes;
            forgotten += 1;
        }
        (forgotten, freed)
    }

    /// Forgets the oldest fragment's verdict, or the oldest run's when no fragment is kept; returns the
    /// bytes that freed, `None` when none is kept.
    pub(super) fn forget_oldest(&mut self) -> Option<usize> {
        while let Some(oldest) = self.fragments.pop_front().or_else(|| self.runs.pop_front()) {
            if let Some(old) = self.verdicts.remove(&oldest) {
                return Some(old.bytes());
            }
        }
        None
    }

    pub(super) fn get(&self, trace_id: &TraceId) -> Option<&TraceVerdict> {
        self.verdicts.get(trace_id).map(|decided| &*decided.verdict)
    }

    pub(super) fn get_mut(&mut self, trace_id: &TraceId) -> Option<&mut Decided> {
        self.verdicts.get_mut(trace_id)
    }

    pub(super) fn contains(&self, trace_id: &TraceId) -> bool {
        self.verdicts.contains_key(trace_id)
    }

    /// Verdicts, oldest decision first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &TraceVerdict> {
        let mut runs = self.runs.iter().filter_map(|id| self.get(id)).peekable();
        let mut fragments = self
            .fragments
            .iter()
            .filter_map(|id| self.get(id))
            .peekable();
        std::iter::from_fn(move || match (runs.peek(), fragments.peek()) {
            (Some(run), Some(fragment)) if fragment.decided_unix_nano < run.decided_unix_nano => {
                fragments.next()
            }
            (Some(_), _) => runs.next(),
            (None, _) => fragments.next(),
        })
    }

    /// Changes the capacity; returns the verdicts forgotten and bytes freed when it shrank.
    pub(super) fn set_capacity(&mut self, capacity: usize) -> (u64, usize) {
        self.capacity = capacity.max(1);
        self.forget_beyond_capacity()
    }
}

/// Approximate bytes a kept verdict holds, for the memory budget.
pub(crate) fn verdict_bytes(verdict: &TraceVerdict) -> usize {
    size_of::<TraceVerdict>()
        + size_of::<TraceId>() * 2
        + verdict
            .violations
            .iter()
            .map(violation_bytes)
            .sum::<usize>()
        + (verdict.violations.capacity() - verdict.violations.len()) * size_of::<Violation>()
        + verdict.stage_durations.len() * 48
        + verdict.incomplete_reason.as_ref().map_or(0, String::len)
        + verdict.service_name.as_ref().map_or(0, String::len)
}
