//! When each trace in flight is next due for a look: a min-heap, so a tick costs the traces due, not a scan
//! of every trace.
//!
//! Entries are hints, not promises: a trace fed since its entry was pushed is looked at, found not yet due,
//! and pushed again at its new deadline. That keeps ingest free of heap updates for every span.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::model::TraceId;

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, TraceId)>>,
}

impl Deadlines {
    pub(super) fn push(&mut self, at: Instant, trace_id: TraceId) {
        self.heap.push(Reverse((at, trace_id)));
    }

    /// The next trace whose deadline is at or before `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<TraceId> {
        let Reverse((at, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, trace_id))| trace_id)
    }

    /// The earliest deadline, for a worker deciding how long it may sleep.
    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn clear(&mut self) {
        self.heap.clear();
    }

    /// Gives back the room of a past peak.
    pub(super) fn shrink(&mut self) {
        if self.heap.capacity() > 4 * self.heap.len() + 1024 {
            self.heap.shrink_to(2 * self.heap.len());
        }
    }
}
