//! Trace time for the engine's completion: a recorded input is read far faster than it was produced, so the
//! wall clock would never let a run's grace pass before the input ends. The spans' own end times stand in
//! for it, and a run is decided once the input has moved past its root by the grace, as the live processor
//! would have decided it.

use std::time::{Duration, Instant};

use crate::model::SpanRecord;
use ironforge_engine::Now;

/// The latest span end seen so far, as the engine's monotonic [`Now`]: `origin` (the first end seen) maps to
/// the instant the clock was made, later ends to as much after it. It never goes back, so a span that ended
/// before others already read leaves it where it is.
#[derive(Debug)]
pub(super) struct TraceClock {
    base: Instant,
    origin: Option<u64>,
    /// Nanoseconds past `origin` of the latest end seen.
    elapsed: u64,
}

impl TraceClock {
    pub(super) fn new() -> Self {
        Self {
            base: Instant::now(),
            origin: None,
            elapsed: 0,
        }
    }

    /// Moves the clock to the latest end among `spans`, when it is later than the clock.
    pub(super) fn advance(&mut self, spans: &[SpanRecord]) {
        let Some(latest) = spans.iter().map(|span| span.end_unix_nano).max() else {
            return;
        };
        let origin = *self.origin.get_or_insert(latest);
        self.elapsed = self.elapsed.max(latest.saturating_sub(origin));
    }

    /// The engine's time: trace time for completion, the wall clock for the timestamps verdicts report.
    pub(super) fn now(&self) -> Now {
        let wall = Now::system();
        // An instant that far ahead (centuries of trace time) does not exist on every platform: the clock
        // then stops at the furthest one it can reach, which is past every deadline already set.
        let mut step = Duration::from_nanos(self.elapsed);
        let instant = loop {
            match self.base.checked_add(step) {
                Some(instant) => break instant,
                None if step.is_zero() => break self.base,
                None => step /= 2,
            }
        };
        Now {
            instant,
            unix_nano: wall.unix_nano,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, TraceId};

    fn ending_at(end: u64) -> SpanRecord {
        let mut span = SpanRecord::new(TraceId([1; 16]), SpanId([1; 8]), "s");
        span.start_unix_nano = end.saturating_sub(1);
        span.end_unix_nano = end;
        span
    }

    #[test]
    fn the_clock_follows_the_latest_end_and_never_goes_back() {
        let mut clock = TraceClock::new();
        let start = clock.now().instant;
        clock.advance(&[ending_at(10_000_000_000)]);
        assert_eq!(clock.now().instant, start);
        clock.advance(&[ending_at(12_000_000_000), ending_at(13_000_000_000)]);
        assert_eq!(clock.now().instant - start, Duration::from_secs(3));
        clock.advance(&[ending_at(1)]);
        assert_eq!(clock.now().instant - start, Duration::from_secs(3));
        clock.advance(&[]);
        assert_eq!(clock.now().instant - start, Duration::from_secs(3));
    }

    #[test]
    fn an_end_centuries_away_stops_the_clock_instead_of_overflowing() {
        let mut clock = TraceClock::new();
        clock.advance(&[ending_at(0)]);
        clock.advance(&[ending_at(u64::MAX)]);
        assert!(clock.now().instant >= clock.base);
    }
}
