//! A bounded memory of decided traces: their verdicts for the API, and their ids so late spans are known
//! as late.

use std::collections::VecDeque;

use foldhash::HashMap;

use super::decide::Tally;
use super::state::violation_bytes;
use crate::model::TraceId;
use crate::verdict::TraceVerdict;

#[derive(Debug)]
pub(crate) struct DecidedTraces {
    capacity: usize,
    order: VecDeque<TraceId>,
    verdicts: HashMap<TraceId, (TraceVerdict, Tally)>,
}

impl DecidedTraces {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            verdicts: HashMap::default(),
        }
    }

    /// Stores a verdict and the tally of all its violations (kept or not). Returns how many old verdicts
    /// were forgotten to stay within capacity, and the bytes that freed.
    pub fn insert(&mut self, verdict: TraceVerdict, tally: Tally) -> (u64, usize) {
        let trace_id = verdict.trace_id;
        let replaced = match self.verdicts.insert(trace_id, (verdict, tally)) {
            Some((old, _)) => verdict_bytes(&old),
            None => {
                self.order.push_back(trace_id);
                0
            }
        };
        let (forgotten, freed) = self.forget_beyond_capacity();
        (forgotten, freed + replaced)
    }

    /// Forgets the oldest verdicts until the capacity holds; returns how many, and the bytes that freed.
    fn forget_beyond_capacity(&mut self) -> (u64, usize) {
        let (mut forgotten, mut freed) = (0, 0);
        while self.order.len() > self.capacity {
            let Some(bytes) = self.forget_oldest() else {
                break;
            };
            freed += bytes;
            forgotten += 1;
        }
        (forgotten, freed)
    }

    /// Forgets the oldest verdict; returns the bytes that freed, `None` when none is kept.
    pub fn forget_oldest(&mut self) -> Option<usize> {
        while let Some(oldest) = self.order.pop_front() {
            if let Some((old, _)) = self.verdicts.remove(&oldest) {
                return Some(verdict_bytes(&old));
            }
        }
        None
    }

    pub fn get(&self, trace_id: &TraceId) -> Option<&TraceVerdict> {
        self.verdicts.get(trace_id).map(|(verdict, _)| verdict)
    }

    pub fn get_mut(&mut self, trace_id: &TraceId) -> Option<(&mut TraceVerdict, &mut Tally)> {
        self.verdicts
            .get_mut(trace_id)
            .map(|(verdict, tally)| (verdict, tally))
    }

    pub fn contains(&self, trace_id: &TraceId) -> bool {
        self.verdicts.contains_key(trace_id)
    }

    /// Verdicts, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &TraceVerdict> {
        self.order
            .iter()
            .filter_map(|id| self.verdicts.get(id).map(|(verdict, _)| verdict))
    }

    /// Changes the capacity; returns the verdicts forgotten and bytes freed when it shrank.
    pub fn set_capacity(&mut self, capacity: usize) -> (u64, usize) {
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
        + verdict.stage_durations.len() * 48
        + verdict.incomplete_reason.as_ref().map_or(0, String::len)
        + verdict.service_name.as_ref().map_or(0, String::len)
}
