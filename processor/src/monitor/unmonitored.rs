//! The traces that arrived without any IRONFORGE span kind, remembered so a reader asking for one of their
//! verdicts learns it was received and left unjudged, not lost.

use std::collections::VecDeque;

use foldhash::HashMap;

use crate::model::TraceId;

/// How many unmonitored traces are remembered: 32 bytes or so each, the newest kept.
const KEPT: usize = 10_000;

/// The most recent unmonitored traces, with the spans each had.
#[derive(Debug, Default)]
pub(super) struct UnmonitoredTraces {
    spans: HashMap<TraceId, u32>,
    order: VecDeque<TraceId>,
}

impl UnmonitoredTraces {
    pub(super) fn record(&mut self, trace_id: TraceId, spans: u32) {
        let std::collections::hash_map::Entry::Vacant(entry) = self.spans.entry(trace_id) else {
            return;
        };
        entry.insert(spans);
        self.order.push_back(trace_id);
        if self.order.len() > KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.spans.remove(&oldest);
        }
    }

    pub(super) fn spans(&self, trace_id: &TraceId) -> Option<u32> {
        self.spans.get(trace_id).copied()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_oldest_are_forgotten_past_the_bound() {
        let mut traces = UnmonitoredTraces::default();
        let id = |n: usize| TraceId((n as u128 + 1).to_be_bytes());
        for n in 0..=KEPT {
            traces.record(id(n), 3);
        }
        traces.record(id(KEPT), 9);
        assert_eq!(traces.spans(&id(0)), None);
        assert_eq!(traces.spans(&id(1)), Some(3));
        assert_eq!(traces.spans(&id(KEPT)), Some(3), "a repeat keeps the first");
        assert_eq!(traces.order.len(), KEPT);
    }
}
