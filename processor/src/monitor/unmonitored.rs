//! The traces that arrived without any IRONFORGE span kind, remembered so a reader asking for one of their
//! verdicts learns it was received and left unjudged, not lost.

use hashlink::LinkedHashMap;

use crate::model::TraceId;

/// How many unmonitored traces are remembered: about 50 bytes each, the newest kept.
const KEPT: usize = 10_000;

/// The most recent unmonitored traces, with the spans each had.
#[derive(Debug, Default)]
pub(super) struct UnmonitoredTraces {
    /// Oldest first.
    spans: LinkedHashMap<TraceId, u32>,
}

impl UnmonitoredTraces {
    pub(super) fn record(&mut self, trace_id: TraceId, spans: u32) {
        if self.spans.contains_key(&trace_id) {
            return;
        }
        self.spans.insert(trace_id, spans);
        if self.spans.len() > KEPT {
            self.spans.pop_front();
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
        assert_eq!(traces.spans.len(), KEPT);
    }
}
