//! What the write-ahead log holds and how its syncs go: written by the log, read by whoever admits batches
//! (is the log at its cap?) and by whoever publishes metrics. Figures a reader reports as they come (failures,
//! damaged records, sync durations) are taken, so that each is reported once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The figures of one log, shared by its shard logs and its readers.
#[derive(Debug, Default)]
pub struct WalUsage {
    bytes: AtomicU64,
    segments: AtomicU64,
    replayed_spans: AtomicU64,
    /// Failed writes, syncs and deletions not yet reported to the metrics.
    failures: AtomicU64,
    /// Whether batches are being refused because the log is at its cap.
    full: AtomicBool,
    /// Damaged records skipped at the last start, not yet reported to the metrics.
    corrupt_records: AtomicU64,
    /// Sync durations not yet reported to the metrics.
    syncs: Mutex<Vec<Duration>>,
}

impl WalUsage {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn segments(&self) -> u64 {
        self.segments.load(Ordering::Relaxed)
    }

    pub fn replayed_spans(&self) -> u64 {
        self.replayed_spans.load(Ordering::Relaxed)
    }

    /// Failures since the last call.
    pub fn take_failures(&self) -> u64 {
        self.failures.swap(0, Ordering::Relaxed)
    }

    /// Counts a failed write, sync or deletion; called by the caller's reporting of the failure, which
    /// logs it too.
    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether batches are being refused because the log is at its cap.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Records whether the log is at its cap; returns whether that changed.
    pub fn set_full(&self, full: bool) -> bool {
        self.full.swap(full, Ordering::Relaxed) != full
    }

    /// Damaged records skipped since the last call.
    pub fn take_corrupt_records(&self) -> u64 {
        self.corrupt_records.swap(0, Ordering::Relaxed)
    }

    pub(crate) fn found_corrupt(&self, records: u64) {
        self.corrupt_records.fetch_add(records, Ordering::Relaxed);
    }

    /// Sync durations since the last call.
    pub fn take_syncs(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.syncs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn remove_bytes(&self, bytes: u64) {
        take_saturating(&self.bytes, bytes);
    }

    pub(crate) fn segment_opened(&self) {
        self.segments.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn segment_removed(&self, bytes: u64) {
        self.remove_bytes(bytes);
        take_saturating(&self.segments, 1);
    }

    pub(crate) fn replayed(&self, spans: u64) {
        self.replayed_spans.store(spans, Ordering::Relaxed);
    }

    /// Called by the shard logs after each fsync.
    pub fn synced(&self, took: Duration) {
        let mut syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner());
        // Metrics take these every few hundred milliseconds; a bound keeps a stalled reader harmless.
        if syncs.len() < 4096 {
            syncs.push(took);
        }
    }
}

/// Takes `amount` from `counter`, stopping at zero.
fn take_saturating(counter: &AtomicU64, amount: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
        Some(held.saturating_sub(amount))
    });
}
