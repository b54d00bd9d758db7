//! What all shards of one engine share: the memory budget and the count of traces in flight.
//!
//! Each shard owns its traces and counts what it holds here, so the gauges and admission see the whole
//! engine. Each shard keeps to its own share of the limits, evicting its own traces: its decisions then
//! depend on its own spans and times alone, so replaying a shard's accepted spans rebuilds them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::ContractSet;
use crate::Overloaded;
use crate::config::LimitsConfig;

#[derive(Debug)]
pub struct Capacity {
    bytes: AtomicUsize,
    traces: AtomicUsize,
    /// How many engines split the limits between them.
    shares: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self::shared_by(1)
    }
}

impl Capacity {
    /// The capacity of one engine alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// The capacity of `shares` engines (shards) that each hold an equal share of the limits.
    pub fn shared_by(shares: usize) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            traces: AtomicUsize::new(0),
            shares: shares.max(1),
        }
    }

    /// One engine's share of a limit, at least 1.
    pub fn share_of(&self, limit: usize) -> usize {
        limit.div_ceil(self.shares).max(1)
    }

    /// One engine's share of `max_traces_in_flight` and of `max_memory_bytes`.
    pub fn shares(&self, limits: &LimitsConfig) -> (usize, usize) {
        (
            self.share_of(limits.max_traces_in_flight),
            self.share_of(limits.max_memory_bytes),
        )
    }

    /// Whether one engine can take a batch that starts up to `new_traces` traces and keeps about `bytes`
    /// ([`batch_bytes`](super::batch_bytes)): anything it holds can be evicted to make room, so only a
    /// batch that alone exceeds the engine's share of a limit is refused, with the delay after which the
    /// client should retry.
    pub fn admits(
        &self,
        contracts: &ContractSet,
        new_traces: usize,
        bytes: usize,
    ) -> Result<(), Overloaded> {
        let (max_traces, max_bytes) = self.shares(&contracts.file().limits);
        if new_traces <= max_traces && bytes <= max_bytes {
            return Ok(());
        }
        // Split smaller, the batch would fit: an exporter retries it whole, so this is as much a hint to
        // the operator (`batches_refused`) as to the client.
        Err(Overloaded {
            retry_after: Duration::from_secs_f64(
                contracts.file().completion.grace_seconds.max(1.0),
            ),
        })
    }

    /// Bytes of engine state held: spans in flight, their violations, kept verdicts.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Traces being assembled across all shards.
    pub fn traces(&self) -> usize {
        self.traces.load(Ordering::Relaxed)
    }

    pub(crate) fn add_bytes(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn release_bytes(&self, bytes: usize) {
        // Saturating, so an estimate that differs on the way out can never wrap the counter.
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    pub(crate) fn add_trace(&self) {
        self.traces.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn release_trace(&self) {
        let _ = self
            .traces
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(1))
            });
    }
}
