//! The engine split by trace id across worker threads, each owning its traces.
//!
//! Receivers hand each worker its share of a batch over a channel bounded in spans; a worker evaluates,
//! decides its traces when their deadlines come (it sleeps until the next one, so a verdict is not held back
//! by a polling interval), and hands what it decided to the monitor. A batch is admitted whole or refused
//! whole before any worker sees it, so a client's retry never duplicates spans.
//!
//! The trace and memory limits never refuse a batch that could fit: each worker's engine makes room by
//! evicting its own traces idle the longest (decided `incomplete`), so a flood of traces that never
//! complete cannot starve a real run. Only a batch whose share alone exceeds a worker's share of a limit,
//! or a full queue, is refused, with a retry delay.
//! With a write-ahead log, a worker writes the batches waiting for it, syncs once for all of them (group
//! commit), answers their receivers, and only then evaluates them; what it decides it logs before handing
//! it on (`durable`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use ironforge_engine::{Capacity, ContractSet, Engine, Overloaded, Reservation, batch_bytes};
use ironforge_wal::{Recovered, Wal};

use super::events::{RecoveryDeferred, WalAtCap};
use crate::ingest::Durable;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::TraceVerdict;
use ironforge_telemetry::InternalEvent;
use ironforge_wal::WalUsage;

mod durable;
mod worker;

use durable::{Logged, RecoveryGate, ShardRecovery};
pub(crate) use worker::ShardOutput;
use worker::{Command, PendingRecovery, Worker};

/// Spans queued for one worker at most; beyond it receivers answer UNAVAILABLE / 503 with a retry delay.
pub const QUEUE_SPANS_PER_SHARD: usize = 64 * 1024;

struct Shard {
    engine: Arc<Mutex<Engine>>,
    /// Verdicts given before the last restart, for reads.
    restored: Arc<RwLock<HashMap<TraceId, TraceVerdict>>>,
    commands: Sender<Command>,
    queued: Arc<AtomicUsize>,
    worker: Option<JoinHandle<()>>,
}

/// The shards of one processor.
pub(crate) struct Shards {
    shards: Vec<Shard>,
    capacity: Arc<Capacity>,
    /// Refusals since the last report, counted where admission happens.
    refused: AtomicUsize,
    /// The log's usage and bound, when there is a log.
    wal: Option<(Arc<WalUsage>, u64)>,
    /// Shards still to write what the last run left (a full disk at start-up): ingest waits for them.
    recovery: Arc<RecoveryGate>,
}

/// A log to write, and what the last run left in it.
#[derive(Debug)]
pub(crate) struct Durability<'a> {
    pub wal: &'a Wal,
    pub recovered: Recovered,
}

/// How long a client waits when the log is full: segments free up as traces are decided.
const RETRY_WHEN_LOG_FULL: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards")
            .field("shards", &self.shards.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Shards {
    /// Starts `count` workers (at least one). With a log, each worker first writes what it recovered to
    /// its new log and syncs it; this returns once all have, with the recovered spans queued ahead of any
    /// new ones.
    pub(super) fn start(
        count: usize,
        contracts: &Arc<ContractSet>,
        capacity: Arc<Capacity>,
        output: Arc<dyn ShardOutput>,
        durability: Option<Durability<'_>>,
    ) -> std::io::Result<Self> {
        let count = count.max(1);
        let (wal, mut recoveries) = match durability {
            Some(Durability { wal, recovered }) => (
                Some(wal),
                ShardRecovery::split(recovered, count, |id| shard_index(id, count)),
            ),
            None => (None, Vec::new()),
        };
        let mut shards = Vec::new();
        let mut recovering = Vec::new();
        let gate = Arc::new(RecoveryGate::new(if wal.is_some() { count } else { 0 }));
        for index in 0..count {
            let restored = Arc::new(RwLock::new(HashMap::new()));
            let logged = match wal {
                Some(wal) => {
                    let (done, wait) = mpsc::sync_channel(1);
                    recovering.push(wait);
                    let recovery = recoveries.pop().unwrap_or_default();
                    let log = Logged::new(wal.shard_log(index)?, Arc::clone(&restored));
                    let pending = PendingRecovery::new(recovery, done, Arc::clone(&gate));
                    Some((log, pending))
                }
                None => None,
            };
            let engine = Engine::with_capacity(Arc::clone(contracts), Arc::clone(&capacity));
            shards.push(Shard::spawn(index, engine, restored, &output, logged)?);
        }
        let shards = Self {
            shards,
            capacity,
            refused: AtomicUsize::new(0),
            wal: wal.map(|wal| (Arc::clone(wal.usage()), wal.config().max_bytes)),
            recovery: gate,
        };
        wait_for_recovery(recovering)?;
        Ok(shards)
    }

    /// Runs `then` once every shard has written what the last run left to the new log: at once on a
    /// healthy start, later after a full disk at start-up frees.
    pub(super) fn when_recovered(&self, then: impl FnOnce() + Send + 'static) {
        self.recovery.then(then);
    }

    /// Whether batches are taken: not while a shard has yet to write what the last run left.
    pub(super) fn accepts_batches(&self) -> bool {
        !self.recovery.is_pending()
    }

    fn index(&self, trace_id: &TraceId) -> usize {
        shard_index(trace_id, self.shards.len())
    }

    /// A trace's verdict: decided in this run, or before the last restart.
    pub(super) fn verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
        let shard = &self.shards[self.index(trace_id)];
        if let Some(verdict) = shard
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .verdict(trace_id)
        {
            return Some(verdict.clone());
        }
        shard
            .restored
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(trace_id)
            .cloned()
    }

    /// Whether the log can take a batch: not while what the last run left waits to be written (a full disk
    /// at start-up), nor while the log is at its cap. Says when the cap is reached and left.
    fn log_takes_batches(&self) -> bool {
        if self.recovery.is_pending() {
            return false;
        }
        let Some((usage, max_bytes)) = &self.wal else {
            return true;
        };
        let bytes = usage.bytes();
        let full = bytes >= *max_bytes;
        if usage.set_full(full) {
            WalAtCap {
                full,
                bytes,
                max_bytes: *max_bytes,
            }
            .emit();
        }
        !full
    }

    /// Admits the batch whole and hands each worker its share, or refuses it whole. The reservation is
    /// given back once every worker has evaluated its share.
    pub(super) fn submit(
        &self,
        spans: Vec<SpanRecord>,
        reservation: Reservation,
        contracts: &ContractSet,
    ) -> Result<Durable, Overloaded> {
        if !self.log_takes_batches() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Overloaded {
                retry_after: RETRY_WHEN_LOG_FULL,
            });
        }
        let retry = Overloaded {
            retry_after: Duration::from_secs_f64(
                contracts.file().completion.grace_seconds.max(1.0),
            ),
        };
        let mut shares: Vec<Vec<SpanRecord>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for span in spans {
            let index = self.index(&span.trace_id);
            shares[index].push(span);
        }
        let too_large = shares
            .iter()
            .find_map(|share| self.too_large(share, contracts).err());
        let mut reserved = Vec::new();
        let mut refused = too_large.is_some();
        for (shard, share) in self.shards.iter().zip(&shares) {
            if refused || share.is_empty() {
                continue;
            }
            let fits = shard
                .queued
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    (queued + share.len() <= QUEUE_SPANS_PER_SHARD).then_some(queued + share.len())
                })
                .is_ok();
            if fits {
                reserved.push((shard, share.len()));
            } else {
                refused = true;
            }
        }
        if refused {
            for (shard, count) in reserved {
                shard.queued.fetch_sub(count, Ordering::AcqRel);
            }
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(too_large.unwrap_or(retry));
        }
        let mut durable = Durable::default();
        let reservation = Arc::new(reservation);
        for (shard, share) in self.shards.iter().zip(shares) {
            if !share.is_empty() {
                let ack = self.wal.is_some().then(|| {
                    let (ack, wait) = tokio::sync::oneshot::channel();
                    durable.and(wait);
                    ack
                });
                // A worker outlives every sender (it stops when they are dropped), so this cannot fail.
                let _ = shard
                    .commands
                    .send(Command::Ingest(share, ack, Arc::clone(&reservation)));
            }
        }
        Ok(durable)
    }

    /// Refuses a shard's share of a batch that could not fit its engine even with everything else evicted.
    /// Its distinct trace ids stand for the traces it starts (without taking the engine's lock): at most
    /// that many are new.
    fn too_large(&self, share: &[SpanRecord], contracts: &ContractSet) -> Result<(), Overloaded> {
        let mut traces: Vec<TraceId> = share.iter().map(|span| span.trace_id).collect();
        traces.sort_unstable();
        traces.dedup();
        self.capacity
            .admits(contracts, traces.len(), batch_bytes(share))
    }

    /// Refusals counted since the last call.
    pub(super) fn take_refused(&self) -> u64 {
        self.refused.swap(0, Ordering::Relaxed) as u64
    }

    pub(super) fn set_contracts(&self, contracts: &Arc<ContractSet>) {
        for shard in &self.shards {
            let _ = shard
                .commands
                .send(Command::Contracts(Arc::clone(contracts)));
        }
    }

    /// Waits until every worker has handled everything submitted before the call, and synced its log.
    pub(super) fn flush(&self) {
        let answers: Vec<_> = self
            .shards
            .iter()
            .filter_map(|shard| {
                let (done, wait) = mpsc::sync_channel(1);
                shard
                    .commands
                    .send(Command::Flush(done))
                    .ok()
                    .map(|()| wait)
            })
            .collect();
        for wait in answers {
            let _ = wait.recv();
        }
    }

    pub(super) fn capacity(&self) -> &Arc<Capacity> {
        &self.capacity
    }
}

impl Shard {
    /// Starts shard `index`'s worker on `engine`, with its log and what the last run left for it.
    fn spawn(
        index: usize,
        mut engine: Engine,
        restored: Arc<RwLock<HashMap<TraceId, TraceVerdict>>>,
        output: &Arc<dyn ShardOutput>,
        logged: Option<(Logged, PendingRecovery)>,
    ) -> std::io::Result<Self> {
        engine.emit_decided_traces(output.wants_decided_traces());
        let engine = Arc::new(Mutex::new(engine));
        let (commands, inbox) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let (log, recovery) = logged.unzip();
        let worker = Worker::new(
            Arc::clone(&engine),
            inbox,
            Arc::clone(&queued),
            Arc::clone(output),
            log,
            recovery,
        );
        let worker = std::thread::Builder::new()
            .name(format!("ironforge-shard-{index}"))
            .spawn(move || worker.run())?;
        Ok(Self {
            engine,
            restored,
            commands,
            queued,
            worker: Some(worker),
        })
    }
}

/// Waits for each shard's first attempt to write what the last run left; one that failed (a full disk)
/// tries again on its own while the API serves what was recovered.
fn wait_for_recovery(recovering: Vec<mpsc::Receiver<std::io::Result<()>>>) -> std::io::Result<()> {
    let mut failed = 0;
    for wait in recovering {
        match wait.recv() {
            Ok(Ok(())) => {}
            Ok(Err(_)) => failed += 1,
            Err(_) => return Err(std::io::Error::other("a shard stopped while recovering")),
        }
    }
    if failed > 0 {
        RecoveryDeferred { shards: failed }.emit();
    }
    Ok(())
}

/// Trace ids are random (W3C): their low bytes spread traces evenly without hashing.
fn shard_index(trace_id: &TraceId, shards: usize) -> usize {
    let [.., a, b, c, d] = trace_id.0;
    u32::from_le_bytes([a, b, c, d]) as usize % shards.max(1)
}

impl Drop for Shards {
    /// Workers finish what was queued, then stop as their channel closes.
    fn drop(&mut self) {
        let workers: Vec<JoinHandle<()>> = self
            .shards
            .drain(..)
            .filter_map(|mut shard| shard.worker.take())
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use ironforge_engine::{EngineEvent, EngineStats, Now};

    use super::*;
    use crate::config::ContractFile;
    use crate::model::SpanId;
    use crate::verdict::Violation;

    struct Discard;

    impl ShardOutput for Discard {
        fn span(&self, _: &SpanRecord, _: std::time::Instant) {}
        fn events(&self, _: Vec<EngineEvent>, _: Now) {}
        fn relist(&self, _: Vec<Violation>) {}
        fn stats(&self, _: &EngineStats) {}
        fn decision_delays(&self, _: &[Duration]) {}
        fn wants_decided_traces(&self) -> bool {
            false
        }
    }

    fn span(trace: u8, id: u8) -> SpanRecord {
        let mut span = SpanRecord::new(TraceId([trace; 16]), SpanId([id; 8]), "session");
        span.parent_span_id = Some(SpanId([1; 8]));
        span.kind = Some(ironforge_proto::semconv::SpanKind::Session);
        span
    }

    #[test]
    fn at_the_trace_bound_a_new_trace_evicts_the_oldest_rather_than_being_refused() {
        let text = crate::config::DEFAULT_CONTRACTS_YAML
            .replace("max_traces_in_flight: 10000", "max_traces_in_flight: 1");
        let file = ContractFile::parse(&text, "test").unwrap_or_else(|err| panic!("{err}"));
        let contracts = Arc::new(ContractSet::new(file, None));
        let shards = Shards::start(
            1,
            &contracts,
            Arc::new(Capacity::new()),
            Arc::new(Discard),
            None,
        )
        .unwrap_or_else(|err| panic!("{err}"));
        assert!(
            shards
                .submit(vec![span(1, 2)], Reservation::none(), &contracts)
                .is_ok()
        );
        shards.flush();
        assert!(
            shards
                .submit(vec![span(2, 2)], Reservation::none(), &contracts)
                .is_ok()
        );
        shards.flush();
        assert_eq!(shards.capacity().traces(), 1);
        let evicted = shards
            .verdict(&TraceId([1; 16]))
            .unwrap_or_else(|| panic!("the oldest trace has a verdict"));
        assert!(evicted.evicted);
        assert!(
            shards
                .submit(
                    vec![span(3, 2), span(4, 2)],
                    Reservation::none(),
                    &contracts
                )
                .is_err(),
            "a batch that alone exceeds the bound is refused"
        );
        assert_eq!(shards.take_refused(), 1);
    }
}
