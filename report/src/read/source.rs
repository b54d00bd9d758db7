//! Where each trace came from: the input file its first span was read from, and the span times that
//! give its start and length. Held only while a trace is undecided (and for spans that come late), so it
//! follows the traces in flight, not the input's size.

use std::collections::HashMap;

use hashlink::LinkedHashMap;

use crate::model::{SpanRecord, TraceId};

/// The input file and span extent of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    /// Index into the check's input files.
    pub file: usize,
    pub first_start_unix_nano: u64,
    pub last_end_unix_nano: u64,
}

impl Seen {
    /// From the earliest span start to the latest span end, in seconds.
    pub(super) fn seconds(&self) -> f64 {
        self.last_end_unix_nano
            .saturating_sub(self.first_start_unix_nano) as f64
            / 1e9
    }
}

/// The undecided traces' sources, and those of the last decided ones, which late spans may revise.
#[derive(Debug)]
pub(super) struct Sources {
    traces: HashMap<TraceId, Seen>,
    /// In the order they were first decided: a revision keeps a trace's place.
    decided: LinkedHashMap<TraceId, Seen>,
    decided_kept: usize,
}

impl Sources {
    /// Keeps the sources of the last `decided_kept` decided traces: as many as the engine may revise.
    pub(super) fn new(decided_kept: usize) -> Self {
        Self {
            traces: HashMap::new(),
            decided: LinkedHashMap::new(),
            decided_kept,
        }
    }

    /// Notes spans read from input file `file`.
    pub(super) fn see(&mut self, file: usize, spans: &[SpanRecord]) {
        for span in spans {
            let seen = self.traces.entry(span.trace_id).or_insert(Seen {
                file,
                first_start_unix_nano: span.start_unix_nano,
                last_end_unix_nano: span.end_unix_nano,
            });
            seen.first_start_unix_nano = seen.first_start_unix_nano.min(span.start_unix_nano);
            seen.last_end_unix_nano = seen.last_end_unix_nano.max(span.end_unix_nano);
        }
    }

    /// The source of a trace just decided (or revised by late spans, which widen it).
    pub(super) fn decided(&mut self, trace_id: &TraceId) -> Option<Seen> {
        let late = self.traces.remove(trace_id);
        let seen = match (self.decided.get(trace_id), late) {
            (Some(earlier), Some(late)) => Some(Seen {
                file: earlier.file,
                first_start_unix_nano: earlier
                    .first_start_unix_nano
                    .min(late.first_start_unix_nano),
                last_end_unix_nano: earlier.last_end_unix_nano.max(late.last_end_unix_nano),
            }),
            (earlier, late) => earlier.copied().or(late),
        }?;
        if self.decided.replace(*trace_id, seen).is_none() && self.decided.len() > self.decided_kept
        {
            self.decided.pop_front();
        }
        Some(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanId;

    fn span(trace: u8, start: u64, end: u64) -> SpanRecord {
        let mut span = SpanRecord::new(TraceId([trace; 16]), SpanId([start as u8 + 1; 8]), "s");
        span.start_unix_nano = start;
        span.end_unix_nano = end;
        span
    }

    #[test]
    fn a_trace_keeps_its_first_file_and_late_spans_widen_it() {
        let mut sources = Sources::new(1);
        sources.see(0, &[span(1, 10, 20)]);
        sources.see(1, &[span(1, 5, 15), span(2, 30, 40)]);
        let first = sources.decided(&TraceId([1; 16])).unwrap();
        assert_eq!(
            (
                first.file,
                first.first_start_unix_nano,
                first.last_end_unix_nano
            ),
            (0, 5, 20)
        );
        sources.see(2, &[span(1, 18, 60)]);
        let revised = sources.decided(&TraceId([1; 16])).unwrap();
        assert_eq!((revised.file, revised.last_end_unix_nano), (0, 60));
        assert_eq!(revised.seconds(), 55e-9);
        // Only one decided trace is kept: the second pushes the first out.
        assert_eq!(sources.decided(&TraceId([2; 16])).unwrap().file, 1);
        assert_eq!(sources.decided(&TraceId([1; 16])), None);
    }
}
