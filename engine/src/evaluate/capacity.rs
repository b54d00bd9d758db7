//! What all shards of one engine share: the memory budget and the count of traces in flight.
//!
//! Each shard owns its traces and counts what it holds here, so admission anywhere sees the whole engine.
//! Under pressure a batch is refused (the client retries); deciding the oldest idle traces early instead
//! is a policy that plugs in at [`Engine::admit`](super::Engine).

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct Capacity {
    bytes: AtomicUsize,
    traces: AtomicUsize,
}

impl Capacity {
    pub fn new() -> Self {
        Self::default()
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
