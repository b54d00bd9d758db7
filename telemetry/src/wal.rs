//! The write-ahead log's metrics: what it holds, how long its fsyncs take, what the last start replayed.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::names::metric;
use super::registry::{register_default, register_with_unit};
use ironforge_wal::WalUsage;

/// From a fast SSD's tens of microseconds to a loaded disk's tenths of a second.
const FSYNC_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Debug)]
pub struct WalMetrics {
    bytes: Gauge,
    segments: Gauge,
    fsync: Histogram,
    replayed: Gauge,
    errors: Counter,
    corrupt_records: Counter,
    at_cap: Gauge,
}

impl WalMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            bytes: register_with_unit(
                registry,
                metric::WAL_BYTES,
                "Bytes the write-ahead log holds",
                Unit::Bytes,
                Gauge::default(),
            ),
            segments: register_default(
                registry,
                metric::WAL_SEGMENTS,
                "Span segments the write-ahead log holds",
            ),
            fsync: register_with_unit(
                registry,
                metric::WAL_FSYNC_DURATION,
                "Time of each fsync of the write-ahead log",
                Unit::Seconds,
                Histogram::new(FSYNC_BUCKETS.iter().copied()),
            ),
            replayed: register_default(
                registry,
                metric::WAL_REPLAYED_SPANS,
                "Spans read back from the write-ahead log and evaluated again at the last start",
            ),
            errors: register_default(
                registry,
                metric::WAL_ERRORS,
                "Failed writes, syncs and deletions of the write-ahead log",
            ),
            corrupt_records: register_default(
                registry,
                metric::WAL_CORRUPT_RECORDS,
                "Damaged records of the write-ahead log skipped at a start, with good records after them",
            ),
            at_cap: register_default(
                registry,
                metric::WAL_AT_CAP,
                "1 while the write-ahead log is at its cap and span batches are refused with a retry hint",
            ),
        }
    }

    /// Publishes the log's current figures and the fsyncs since the last call.
    pub fn observe(&self, usage: &WalUsage) {
        self.bytes
            .set(i64::try_from(usage.bytes()).unwrap_or(i64::MAX));
        self.segments
            .set(i64::try_from(usage.segments()).unwrap_or(i64::MAX));
        self.replayed
            .set(i64::try_from(usage.replayed_spans()).unwrap_or(i64::MAX));
        self.errors.inc_by(usage.take_failures());
        self.corrupt_records.inc_by(usage.take_corrupt_records());
        self.at_cap.set(i64::from(usage.is_full()));
        for took in usage.take_syncs() {
            self.fsync.observe(took.as_secs_f64());
        }
    }
}
