//! A bounded memory of decided traces: their verdicts for the API, and their ids so late spans are known
//! as late.

use std::collections::{HashMap, VecDeque};

use crate::model::TraceId;
use crate::verdict::TraceVerdict;

#[derive(Debug)]
pub(crate) struct DecidedTraces {
    capacity: usize,
    order: VecDeque<TraceId>,
    verdicts: HashMap<TraceId, TraceVerdict>,
}

impl DecidedTraces {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            verdicts: HashMap::new(),
        }
    }

    /// Stores a verdict; returns how many old verdicts were forgotten to stay within capacity.
    pub fn insert(&mut self, verdict: TraceVerdict) -> u64 {
        let mut forgotten = 0;
        if self
            .verdicts
            .insert(verdict.trace_id, verdict.clone())
            .is_none()
        {
            self.order.push_back(verdict.trace_id);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.verdicts.remove(&oldest);
                forgotten += 1;
            }
        }
        forgotten
    }

    pub fn get(&self, trace_id: &TraceId) -> Option<&TraceVerdict> {
        self.verdicts.get(trace_id)
    }

    pub fn get_mut(&mut self, trace_id: &TraceId) -> Option<&mut TraceVerdict> {
        self.verdicts.get_mut(trace_id)
    }

    pub fn contains(&self, trace_id: &TraceId) -> bool {
        self.verdicts.contains_key(trace_id)
    }

    /// Verdicts, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &TraceVerdict> {
        self.order.iter().filter_map(|id| self.verdicts.get(id))
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }
}
