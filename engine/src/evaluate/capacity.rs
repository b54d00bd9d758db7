//! What all shards of one engine share: the memory budget and the count of traces in flight.
//!
//! Each shard owns its traces and counts what it holds here, so the gauges and admission see the whole
//! engine. Each shard keeps to its own share of the limits, evicting its own traces: its decisions then
//! depend on its own spans and times alone, so replaying a shard's accepted spans rebuilds them.
//!
//! Requests count against the same budget: a receiver reserves a request's bytes as it reads them, and
//! its decoded batch's estimated size once decoded ([`Reservation`]); the reservation is
//! given back once the batch's spans are evaluated. The budget is split once: reservations may take
//! 1/[`RESERVABLE_PART`] of it, 1/[`UNCOUNTED_PART`] is left to what neither counts, and the engines keep to
//! the rest, a share that does not move with the load
//! (one that shrank as requests came and went would evict traces only for the allocator to keep the room).
//! A reservation that does not fit is refused with a retry delay, the way load is shed.
//!
//! The counts are estimates of what the engine and the requests hold; what they set off besides (the
//! violations a request's spans yield on their way to the outputs, buffers, the allocator's own keeping)
//! is not in them. So the process's resident memory is sampled too ([`Capacity::set_resident`]): while it
//! is over the budget, requests are taken one at a time, each only when no other is reserved, until it is
//! back under.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::ContractSet;
use crate::Overloaded;
use crate::config::LimitsConfig;

#[derive(Debug)]
pub struct Capacity {
    bytes: AtomicUsize,
    traces: AtomicUsize,
    /// Bytes reserved by requests being read, decoded, or queued for evaluation.
    reserved: AtomicUsize,
    /// The process's resident memory as last sampled; 0 until it is.
    resident: AtomicUsize,
    /// How many engines split the limits between them.
    shares: usize,
}

/// Reservations hold at most 1/this of `max_memory_bytes` (a quarter).
pub const RESERVABLE_PART: usize = 4;
/// 1/this of `max_memory_bytes` (a quarter) is left to what neither the engines nor the reservations
/// count: the runtime, buffers, events on their way to the outputs, the allocator's own keeping. The
/// engines keep to the rest, half.
pub const UNCOUNTED_PART: usize = 4;

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
            reserved: AtomicUsize::new(0),
            resident: AtomicUsize::new(0),
            shares: shares.max(1),
        }
    }

    /// One engine's share of a limit, at least 1.
    pub fn share_of(&self, limit: usize) -> usize {
        limit.div_ceil(self.shares).max(1)
    }

    /// One engine's share of `max_traces_in_flight` and of `max_memory_bytes` less the part requests may
    /// reserve and the part left uncounted.
    pub fn shares(&self, limits: &LimitsConfig) -> (usize, usize) {
        let max_bytes = limits.max_memory_bytes;
        (
            self.share_of(limits.max_traces_in_flight),
            self.share_of(max_bytes - max_bytes / RESERVABLE_PART - max_bytes / UNCOUNTED_PART),
        )
    }

    /// Bytes reserved by requests not yet evaluated.
    pub fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Records the process's resident memory, sampled by whoever can read it.
    pub fn set_resident(&self, bytes: usize) {
        self.resident.store(bytes, Ordering::Relaxed);
    }

    /// The process's resident memory as last sampled; 0 until it is.
    pub fn resident(&self) -> usize {
        self.resident.load(Ordering::Relaxed)
    }

    /// Reserves `bytes` for a request against the budget of `contracts`, or refuses it with the delay after
    /// which the client should retry.
    pub fn reserve(
        self: &Arc<Self>,
        contracts: &ContractSet,
        bytes: usize,
    ) -> Result<Reservation, Overloaded> {
        let mut reservation = Reservation {
            capacity: Some(Arc::clone(self)),
            bytes: 0,
            max_bytes: contracts.file().limits.max_memory_bytes / RESERVABLE_PART,
            budget: contracts.file().limits.max_memory_bytes,
            retry: retry_delay(contracts),
        };
        reservation.grow(bytes)?;
        Ok(reservation)
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
        Err(retry_delay(contracts))
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

/// The delay a client refused for load waits before retrying: the completion grace, at least a second.
fn retry_delay(contracts: &ContractSet) -> Overloaded {
    Overloaded {
        retry_after: Duration::from_secs_f64(contracts.file().completion.grace_seconds.max(1.0)),
    }
}

/// Bytes a request holds against the memory budget, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    capacity: Option<Arc<Capacity>>,
    bytes: usize,
    /// What all reservations together may hold.
    max_bytes: usize,
    /// `max_memory_bytes`: past it, the process takes one request at a time.
    budget: usize,
    retry: Overloaded,
}

impl Reservation {
    /// A reservation that counts against nothing, for sinks without a budget.
    pub fn none() -> Self {
        Self {
            capacity: None,
            bytes: 0,
            max_bytes: 0,
            budget: 0,
            retry: Overloaded {
                retry_after: Duration::from_secs(1),
            },
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `more` bytes besides, or fails holding what it held when all reservations would pass their
    /// part of the budget, or when the process is over the whole budget (unless nothing else is reserved).
    pub fn grow(&mut self, more: usize) -> Result<(), Overloaded> {
        let Some(capacity) = &self.capacity else {
            return Ok(());
        };
        let (max, own) = (self.max_bytes, self.bytes);
        let process_over = capacity.resident() > self.budget;
        capacity
            .reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                // One request alone always fits, so a budget smaller than a request still makes progress.
                held.checked_add(more)
                    .filter(|&total| (total <= max && !process_over) || held == own)
            })
            .map_err(|_| self.retry)?;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(capacity) = &self.capacity {
            let _ = capacity
                .reserved
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                    Some(held.saturating_sub(self.bytes))
                });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::ContractFile;

    fn contracts(max_memory_bytes: usize) -> ContractSet {
        let mut file = ContractFile::embedded_default().unwrap();
        file.limits.max_memory_bytes = max_memory_bytes;
        ContractSet::new(file, None)
    }

    #[test]
    fn reservations_hold_a_quarter_of_the_budget_and_the_engines_half() {
        let contracts = contracts(1000);
        let capacity = Arc::new(Capacity::shared_by(2));
        let limits = &contracts.file().limits;
        assert_eq!(capacity.shares(limits).1, 250);
        let mut first = capacity.reserve(&contracts, 150).unwrap();
        assert_eq!(capacity.shares(limits).1, 250);
        assert!(capacity.reserve(&contracts, 101).is_err());
        let second = capacity.reserve(&contracts, 100).unwrap();
        assert_eq!(capacity.reserved(), 250);
        assert!(first.grow(1).is_err());
        assert_eq!(first.bytes(), 150);
        drop(first);
        drop(second);
        assert_eq!(capacity.reserved(), 0);
        assert!(Reservation::none().grow(usize::MAX).is_ok());
        // Alone, a request larger than the reservable part is taken, and may grow.
        let mut alone = capacity.reserve(&contracts, 900).unwrap();
        assert!(alone.grow(50).is_ok());
        assert_eq!(capacity.reserved(), 950);
    }

    #[test]
    fn a_process_over_its_budget_takes_one_request_at_a_time_until_it_is_back_under() {
        let contracts = contracts(1000);
        let capacity = Arc::new(Capacity::shared_by(1));
        capacity.set_resident(1001);
        let mut alone = capacity.reserve(&contracts, 10).unwrap();
        assert!(alone.grow(10).is_ok(), "the one request may grow");
        assert!(capacity.reserve(&contracts, 10).is_err());
        drop(alone);
        let first = capacity.reserve(&contracts, 10).unwrap();
        capacity.set_resident(1000);
        let second = capacity.reserve(&contracts, 10).unwrap();
        assert_eq!(capacity.reserved(), 20);
        drop((first, second));
    }
}
