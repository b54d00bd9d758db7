//! Self-measurement: the time the instrumentation spends on the caller's threads.
//!
//! Timing every callback would cost about as much as a third of the work it measures (two clock
//! reads of ~20 ns each, four or more callbacks per span). Instead each thread times one measured
//! piece of work in [`TIMING_PERIOD`] — the first, then every seventeenth — and counts its duration
//! `TIMING_PERIOD` times: a sampling estimate whose relative error shrinks with the number of
//! operations. The period is prime so that it shares no factor with the repeating pattern of
//! callbacks a pipeline produces (4 for a bare span, 5 to 7 with the helpers): every kind of
//! callback is timed in turn, and the estimate stays unbiased when their costs differ. Sums go into
//! relaxed atomics: no lock, no allocation.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the instrumentation has cost so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overhead {
    /// Time spent in the instrumentation's layer callbacks (the OpenTelemetry layer's included)
    /// and in the `record_*` helpers, summed over all threads.
    pub total: Duration,
    /// Monitored operations: spans that carry a valid `ironforge.span.kind`, counted as they end
    /// (those the sampler drops, as they start; a kind recorded after a dropped span started is
    /// not seen).
    pub operations: u64,
}

impl Overhead {
    /// The mean cost per monitored operation, if there was any.
    pub fn per_operation(&self) -> Option<Duration> {
        let ops = u32::try_from(self.operations).ok().filter(|&n| n > 0)?;
        Some(self.total / ops)
    }
}

#[derive(Debug, Default)]
pub(crate) struct OverheadStats {
    nanos: AtomicU64,
    operations: AtomicU64,
}

impl OverheadStats {
    /// Adds a sampled measurement, weighted by the sampling period.
    pub(crate) fn add_sample(&self, start: Option<Instant>) {
        if let Some(start) = start {
            self.add_nanos(nanos(start.elapsed()).saturating_mul(u64::from(TIMING_PERIOD)));
        }
    }

    pub(crate) fn add_nanos(&self, n: u64) {
        self.nanos.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_operation(&self) -> u64 {
        self.operations.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn total_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }

    pub(crate) fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot(&self) -> Overhead {
        Overhead {
            total: Duration::from_nanos(self.total_nanos()),
            operations: self.operations(),
        }
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One measured piece of work in this many is timed, per thread. Prime, see the module docs; the
/// adaptive sampler's window (8 operations of at least 4 callbacks each) still holds a sample.
pub(crate) const TIMING_PERIOD: u32 = 17;

thread_local! {
    // Set by the layer that runs before the OpenTelemetry layer, taken by the one that runs after
    // it, so one pair of clock reads covers both layers' work for a callback.
    static STAMP: Cell<Option<Instant>> = const { Cell::new(None) };
    static TICK: Cell<u32> = const { Cell::new(0) };
}

/// The start of a measurement if this piece of work is one of the sampled ones, and not on the
/// export path (whose work is not the pipeline's).
pub(crate) fn sample_start() -> Option<Instant> {
    let n = TICK.with(|t| {
        let n = t.get();
        t.set(n.wrapping_add(1));
        n
    });
    (n.is_multiple_of(TIMING_PERIOD) && !crate::export::on_export_thread()).then(Instant::now)
}

/// Opens the measurement of a layer callback (see [`sample_start`]).
pub(crate) fn stamp() {
    if let Some(start) = sample_start() {
        STAMP.with(|s| s.set(Some(start)));
    }
}

/// The start of the callback being measured on this thread, if the opening layer ran. A nested
/// callback (tracing emitted from inside the OpenTelemetry layer) consumes the stamp of its outer
/// one; the outer slice then goes uncounted, which under-reports by that slice rather than
/// double-counting.
pub(crate) fn take_stamp() -> Option<Instant> {
    STAMP.with(Cell::take)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_operation_divides_and_handles_zero() {
        let o = Overhead {
            total: Duration::from_micros(30),
            operations: 3,
        };
        assert_eq!(o.per_operation(), Some(Duration::from_micros(10)));
        assert_eq!(Overhead::default().per_operation(), None);
    }

    #[test]
    fn one_callback_in_a_period_is_timed_and_its_stamp_consumed_once() {
        // A fresh test thread starts its period here.
        let timed: Vec<bool> = (0..2 * TIMING_PERIOD)
            .map(|_| {
                stamp();
                let taken = take_stamp().is_some();
                assert!(take_stamp().is_none());
                taken
            })
            .collect();
        let expected: Vec<bool> = (0..2 * TIMING_PERIOD)
            .map(|i| i.is_multiple_of(TIMING_PERIOD))
            .collect();
        assert_eq!(timed, expected);
    }

    #[test]
    fn samples_are_weighted_by_the_period() {
        let s = OverheadStats::default();
        s.add_sample(None);
        assert_eq!(s.total_nanos(), 0);
        s.add_sample(Some(Instant::now() - Duration::from_micros(1)));
        assert!(s.total_nanos() >= 1000 * u64::from(TIMING_PERIOD));
    }

    #[test]
    fn stats_accumulate() {
        let s = OverheadStats::default();
        s.add_nanos(5);
        s.add_nanos(7);
        assert_eq!(s.count_operation(), 1);
        assert_eq!(
            s.snapshot(),
            Overhead {
                total: Duration::from_nanos(12),
                operations: 1
            }
        );
    }
}
