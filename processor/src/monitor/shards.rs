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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ironforge_engine::{
    Capacity, ContractSet, Engine, EngineEvent, EngineStats, Now, Overloaded, batch_bytes,
};

use crate::model::{SpanRecord, TraceId};

/// Spans queued for one worker at most; beyond it receivers answer UNAVAILABLE / 503 with a retry delay.
pub const QUEUE_SPANS_PER_SHARD: usize = 64 * 1024;

/// A worker wakes at least this often, to report its counters even when idle.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// What a worker does with the engine's decisions and counters: the monitor's dispatch.
pub(crate) trait ShardOutput: Send + Sync + 'static {
    /// Called with each accepted span before it is evaluated.
    fn span(&self, span: &SpanRecord);
    fn events(&self, events: Vec<EngineEvent>, now: Now);
    /// What the shard's engine did since its last report.
    fn stats(&self, delta: &EngineStats);
    /// How long after their deadlines the shard's latest decisions came.
    fn decision_delays(&self, delays: &[Duration]);
}

enum Command {
    Ingest(Vec<SpanRecord>),
    Contracts(Arc<ContractSet>),
    /// Answers once everything sent before it was handled.
    Flush(mpsc::SyncSender<()>),
}

struct Shard {
    engine: Arc<Mutex<Engine>>,
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
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards")
            .field("shards", &self.shards.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Shards {
    /// Starts `count` workers (at least one).
    pub fn start(
        count: usize,
        contracts: &Arc<ContractSet>,
        capacity: Arc<Capacity>,
        output: Arc<dyn ShardOutput>,
    ) -> std::io::Result<Self> {
        let mut shards = Vec::new();
        for index in 0..count.max(1) {
            let engine = Arc::new(Mutex::new(Engine::with_capacity(
                Arc::clone(contracts),
                Arc::clone(&capacity),
            )));
            let (commands, inbox) = mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(0));
            let worker = Worker {
                engine: Arc::clone(&engine),
                inbox,
                queued: Arc::clone(&queued),
                output: Arc::clone(&output),
                reported: EngineStats::default(),
            };
            let worker = std::thread::Builder::new()
                .name(format!("ironforge-shard-{index}"))
                .spawn(move || worker.run())?;
            shards.push(Shard {
                engine,
                commands,
                queued,
                worker: Some(worker),
            });
        }
        Ok(Self {
            shards,
            capacity,
            refused: AtomicUsize::new(0),
        })
    }

    fn index(&self, trace_id: &TraceId) -> usize {
        // Trace ids are random (W3C): their low bytes spread traces evenly without hashing.
        let [.., a, b, c, d] = trace_id.0;
        u32::from_le_bytes([a, b, c, d]) as usize % self.shards.len()
    }

    /// The engine that owns a trace, for reads.
    pub fn engine_of(&self, trace_id: &TraceId) -> MutexGuard<'_, Engine> {
        let shard = &self.shards[self.index(trace_id)];
        shard.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits the batch whole and hands each worker its share, or refuses it whole.
    pub fn submit(
        &self,
        spans: Vec<SpanRecord>,
        contracts: &ContractSet,
    ) -> Result<(), Overloaded> {
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
        for (shard, share) in self.shards.iter().zip(shares) {
            if !share.is_empty() {
                // A worker outlives every sender (it stops when they are dropped), so this cannot fail.
                let _ = shard.commands.send(Command::Ingest(share));
            }
        }
        Ok(())
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
    pub fn take_refused(&self) -> u64 {
        self.refused.swap(0, Ordering::Relaxed) as u64
    }

    pub fn set_contracts(&self, contracts: &Arc<ContractSet>) {
        for shard in &self.shards {
            let _ = shard
                .commands
                .send(Command::Contracts(Arc::clone(contracts)));
        }
    }

    /// Waits until every worker has handled everything submitted before the call.
    pub fn flush(&self) {
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

    pub fn capacity(&self) -> &Arc<Capacity> {
        &self.capacity
    }
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

struct Worker {
    engine: Arc<Mutex<Engine>>,
    inbox: Receiver<Command>,
    queued: Arc<AtomicUsize>,
    output: Arc<dyn ShardOutput>,
    reported: EngineStats,
}

impl Worker {
    fn run(mut self) {
        loop {
            let sleep = self
                .lock()
                .next_deadline()
                .map_or(MAX_SLEEP, |at| at.saturating_duration_since(Instant::now()))
                .min(MAX_SLEEP);
            match self.inbox.recv_timeout(sleep) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.tick();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Ingest(spans) => {
                let count = spans.len();
                let now = Now::system();
                let output = Arc::clone(&self.output);
                let events = {
                    let mut engine = self.lock();
                    // Admission happened in `Shards::submit`; the engine's own bounds were checked there
                    // against the same shared capacity.
                    engine.ingest_admitted(spans, now, |span| output.span(span))
                };
                self.queued.fetch_sub(count, Ordering::AcqRel);
                self.output.events(events, now);
            }
            Command::Contracts(contracts) => self.lock().set_contracts(contracts),
            Command::Flush(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Decides what is due and reports the counters.
    fn tick(&mut self) {
        let now = Now::system();
        let (events, stats, delays) = {
            let mut engine = self.lock();
            let events = engine.tick(now);
            (
                events,
                engine.stats().clone(),
                engine.take_decision_delays(),
            )
        };
        if !events.is_empty() {
            self.output.events(events, now);
        }
        if !delays.is_empty() {
            self.output.decision_delays(&delays);
        }
        let delta = stats.since(&self.reported);
        // Reported on every wake, changed or not, so the in-flight gauge follows traces leaving too.
        self.output.stats(&delta);
        self.reported = stats;
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use crate::config::ContractFile;
    use crate::model::SpanId;

    struct Discard;

    impl ShardOutput for Discard {
        fn span(&self, _: &SpanRecord) {}
        fn events(&self, _: Vec<EngineEvent>, _: Now) {}
        fn stats(&self, _: &EngineStats) {}
        fn decision_delays(&self, _: &[Duration]) {}
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
        let shards = Shards::start(1, &contracts, Arc::new(Capacity::new()), Arc::new(Discard))
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(shards.submit(vec![span(1, 2)], &contracts).is_ok());
        shards.flush();
        assert!(shards.submit(vec![span(2, 2)], &contracts).is_ok());
        shards.flush();
        assert_eq!(shards.capacity().traces(), 1);
        let engine = shards.engine_of(&TraceId([1; 16]));
        let evicted = engine
            .verdict(&TraceId([1; 16]))
            .unwrap_or_else(|| panic!("the oldest trace has a verdict"));
        assert!(evicted.evicted);
        drop(engine);
        assert!(
            shards
                .submit(vec![span(3, 2), span(4, 2)], &contracts)
                .is_err(),
            "a batch that alone exceeds the bound is refused"
        );
        assert_eq!(shards.take_refused(), 1);
    }
}
