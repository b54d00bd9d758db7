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
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ironforge_engine::{
    Capacity, ContractSet, Engine, EngineEvent, EngineStats, Now, Overloaded, batch_bytes,
};

use super::events::{RecoveryDeferred, RecoveryWritten, WalAtCap};
use crate::durability::events::WalFailed;
use crate::durability::{Recovered, Wal};
use crate::ingest::Durable;
use crate::model::{SpanRecord, TraceId};
use crate::telemetry::{InternalEvent, WalUsage};
use crate::verdict::{TraceVerdict, Violation};

mod durable;

use durable::{Ack, Logged, RecoveryGate, ShardRecovery};

/// Spans queued for one worker at most; beyond it receivers answer UNAVAILABLE / 503 with a retry delay.
pub const QUEUE_SPANS_PER_SHARD: usize = 64 * 1024;

/// A worker wakes at least this often, to report its counters even when idle.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// What a worker does with the engine's decisions and counters: the monitor's dispatch.
pub(crate) trait ShardOutput: Send + Sync + 'static {
    /// Called with each accepted span before it is evaluated.
    fn span(&self, span: &SpanRecord);
    fn events(&self, events: Vec<EngineEvent>, now: Now);
    /// Violations emitted before a restart and raised again as their trace is evaluated again: listed
    /// for the API, not sent again.
    fn relist(&self, violations: Vec<Violation>);
    /// What the shard's engine did since its last report.
    fn stats(&self, delta: &EngineStats);
    /// How long after their deadlines the shard's latest decisions came.
    fn decision_delays(&self, delays: &[Duration]);
    /// Whether each verdict should come with its trace's spans ([`EngineEvent::Decided`]), for analysis.
    fn wants_decided_traces(&self) -> bool;
}

enum Command {
    /// A share of a batch, and where to say it is durable (with a log).
    Ingest(Vec<SpanRecord>, Option<Ack>),
    Contracts(Arc<ContractSet>),
    /// Answers once everything sent before it was handled.
    Flush(mpsc::SyncSender<()>),
}

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
    pub fn start(
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
            let mut engine = Engine::with_capacity(Arc::clone(contracts), Arc::clone(&capacity));
            engine.emit_decided_traces(output.wants_decided_traces());
            let engine = Arc::new(Mutex::new(engine));
            let restored = Arc::new(RwLock::new(HashMap::new()));
            let (commands, inbox) = mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(0));
            let logged = match wal {
                Some(wal) => {
                    let (done, wait) = mpsc::sync_channel(1);
                    recovering.push(wait);
                    let recovery = recoveries.pop().unwrap_or_default();
                    let log = Logged::new(wal.shard_log(index)?, Arc::clone(&restored));
                    Some((log, recovery, done))
                }
                None => None,
            };
            let (log, recovery) = match logged {
                Some((log, recovery, done)) => {
                    let pending = PendingRecovery {
                        recovery,
                        done: Some(done),
                        gate: Arc::clone(&gate),
                        last_attempt: Instant::now(),
                    };
                    (Some(log), Some(pending))
                }
                None => (None, None),
            };
            let worker = Worker {
                engine: Arc::clone(&engine),
                inbox,
                queued: Arc::clone(&queued),
                output: Arc::clone(&output),
                reported: EngineStats::default(),
                log,
                recovery,
            };
            let worker = std::thread::Builder::new()
                .name(format!("ironforge-shard-{index}"))
                .spawn(move || worker.run())?;
            shards.push(Shard {
                engine,
                restored,
                commands,
                queued,
                worker: Some(worker),
            });
        }
        let shards = Self {
            shards,
            capacity,
            refused: AtomicUsize::new(0),
            wal: wal.map(|wal| (Arc::clone(wal.usage()), wal.config().max_bytes)),
            recovery: gate,
        };
        // Each shard's first attempt is waited for; one that failed (a full disk) tries again on its own
        // while the API serves what was recovered.
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
        Ok(shards)
    }

    /// Runs `then` once every shard has written what the last run left to the new log: at once on a
    /// healthy start, later after a full disk at start-up frees.
    pub fn when_recovered(&self, then: impl FnOnce() + Send + 'static) {
        self.recovery.then(then);
    }

    /// Whether batches are taken: not while a shard has yet to write what the last run left.
    pub fn accepts_batches(&self) -> bool {
        !self.recovery.is_pending()
    }

    fn index(&self, trace_id: &TraceId) -> usize {
        shard_index(trace_id, self.shards.len())
    }

    /// A trace's verdict: decided in this run, or before the last restart.
    pub fn verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
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

    /// Admits the batch whole and hands each worker its share, or refuses it whole.
    pub fn submit(
        &self,
        spans: Vec<SpanRecord>,
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
        for (shard, share) in self.shards.iter().zip(shares) {
            if !share.is_empty() {
                let ack = self.wal.is_some().then(|| {
                    let (ack, wait) = tokio::sync::oneshot::channel();
                    durable.and(wait);
                    ack
                });
                // A worker outlives every sender (it stops when they are dropped), so this cannot fail.
                let _ = shard.commands.send(Command::Ingest(share, ack));
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

    /// Waits until every worker has handled everything submitted before the call, and synced its log.
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

struct Worker {
    engine: Arc<Mutex<Engine>>,
    inbox: Receiver<Command>,
    queued: Arc<AtomicUsize>,
    output: Arc<dyn ShardOutput>,
    reported: EngineStats,
    log: Option<Logged>,
    /// What the last run left, until it is written to the new log.
    recovery: Option<PendingRecovery>,
}

/// A shard's part of what the last run left, not yet written to the new log.
struct PendingRecovery {
    recovery: ShardRecovery,
    /// Where the first attempt's outcome goes: the start waits for it.
    done: Option<mpsc::SyncSender<std::io::Result<()>>>,
    gate: Arc<RecoveryGate>,
    last_attempt: Instant,
}

/// How often a shard tries again to write what the last run left, after a full disk refused it.
const RECOVERY_RETRY: Duration = Duration::from_secs(1);

/// Commands taken in one go, so the batches among them share one sync.
const GROUP_COMMIT_MAX: usize = 256;

impl Worker {
    fn run(mut self) {
        self.recover();
        loop {
            let mut sleep = self
                .lock()
                .next_deadline()
                .map_or(MAX_SLEEP, |at| at.saturating_duration_since(Instant::now()))
                .min(MAX_SLEEP);
            if let Some(every) = self.log.as_ref().and_then(|log| log.log.sync_interval()) {
                sleep = sleep.min(every);
            }
            match self.inbox.recv_timeout(sleep) {
                Ok(command) => {
                    let mut commands = vec![command];
                    while commands.len() < GROUP_COMMIT_MAX {
                        match self.inbox.try_recv() {
                            Ok(command) => commands.push(command),
                            Err(_) => break,
                        }
                    }
                    self.handle_all(commands);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if let Some(log) = &mut self.log {
                        log.close();
                    }
                    return;
                }
            }
            self.tick();
            if self
                .recovery
                .as_ref()
                .is_some_and(|pending| pending.last_attempt.elapsed() >= RECOVERY_RETRY)
            {
                self.recover();
            }
        }
    }

    /// Writes what the last run left to the new log, says so, then evaluates it: its traces' deadlines
    /// run from now. When it cannot (a full disk), it is kept for another attempt.
    fn recover(&mut self) {
        let Some(mut pending) = self.recovery.take() else {
            return;
        };
        let Some(log) = &mut self.log else {
            return;
        };
        let kept = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contracts()
            .file()
            .limits
            .decided_traces_kept;
        if let Err(err) = log.recover(&pending.recovery, kept) {
            // Said once, at the first attempt; the retries that follow every second stay quiet.
            if let Some(done) = pending.done.take() {
                WalFailed {
                    what: "write what the last run left (ingest is refused until it can)",
                    error: &err,
                    usage: log.log.usage(),
                }
                .emit();
                let _ = done.send(Err(err));
            }
            pending.last_attempt = Instant::now();
            self.recovery = Some(pending);
            return;
        }
        // Counted before the start hears of it, so that a healthy start finds every shard written.
        pending.gate.shard_recovered();
        if let Some(done) = pending.done.take() {
            let _ = done.send(Ok(()));
        } else {
            RecoveryWritten.emit();
        }
        for chunk in pending.recovery.into_chunks() {
            self.evaluate(chunk);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle_all(&mut self, mut commands: Vec<Command>) {
        if let Some(log) = &mut self.log {
            let refused = log.write(commands.iter_mut().filter_map(|command| match command {
                Command::Ingest(spans, ack) => Some((spans, ack)),
                _ => None,
            }));
            self.queued.fetch_sub(refused, Ordering::AcqRel);
        }
        // A full inbox takes a while to evaluate: verdicts falling due meanwhile are given between
        // batches, not after all of them.
        for command in commands {
            self.handle(command);
            if self
                .lock()
                .next_deadline()
                .is_some_and(|at| at <= Instant::now())
            {
                self.decide_due();
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Ingest(spans, ack) => {
                let count = spans.len();
                if let Some(ack) = ack {
                    // Durable by now (`handle_all` wrote and committed it): the receiver may answer.
                    let _ = ack.send(Ok(()));
                }
                self.evaluate(spans);
                self.queued.fetch_sub(count, Ordering::AcqRel);
            }
            Command::Contracts(contracts) => self.lock().set_contracts(contracts),
            Command::Flush(done) => {
                if let Some(log) = &mut self.log {
                    log.sync();
                }
                let _ = done.send(());
            }
        }
    }

    fn evaluate(&mut self, mut spans: Vec<SpanRecord>) {
        if let Some(log) = &self.log {
            log.drop_decided_before_restart(&mut spans);
        }
        if spans.is_empty() {
            return;
        }
        let now = Now::system();
        let output = Arc::clone(&self.output);
        let events = {
            let mut engine = self.lock();
            // Admission happened in `Shards::submit`; the engine's own bounds were checked there
            // against the same shared capacity.
            engine.ingest_admitted(spans, now, |span| output.span(span))
        };
        self.dispatch(events, now);
    }

    /// Logs the decisions, leaving out violations already emitted (before a restart), then hands them on.
    fn dispatch(&mut self, mut events: Vec<EngineEvent>, now: Now) {
        if let Some(log) = &mut self.log {
            let emitted_before = log.decided(&mut events);
            if !emitted_before.is_empty() {
                self.output.relist(emitted_before);
            }
        }
        if !events.is_empty() {
            self.output.events(events, now);
        }
    }

    /// Decides what is due and hands the decisions on.
    fn decide_due(&mut self) {
        let now = Now::system();
        let (events, delays) = {
            let mut engine = self.lock();
            let events = engine.tick(now);
            (events, engine.take_decision_delays())
        };
        self.dispatch(events, now);
        if !delays.is_empty() {
            self.output.decision_delays(&delays);
        }
    }

    /// Decides what is due, reports the counters, and lets the log sync and drop what is decided.
    fn tick(&mut self) {
        self.decide_due();
        let stats = self.lock().stats().clone();
        let delta = stats.since(&self.reported);
        // Reported on every wake, changed or not, so the in-flight gauge follows traces leaving too.
        self.output.stats(&delta);
        self.reported = stats;
        if let Some(log) = &mut self.log {
            let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            log.maintain(&engine);
        }
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
        assert!(shards.submit(vec![span(1, 2)], &contracts).is_ok());
        shards.flush();
        assert!(shards.submit(vec![span(2, 2)], &contracts).is_ok());
        shards.flush();
        assert_eq!(shards.capacity().traces(), 1);
        let evicted = shards
            .verdict(&TraceId([1; 16]))
            .unwrap_or_else(|| panic!("the oldest trace has a verdict"));
        assert!(evicted.evicted);
        assert!(
            shards
                .submit(vec![span(3, 2), span(4, 2)], &contracts)
                .is_err(),
            "a batch that alone exceeds the bound is refused"
        );
        assert_eq!(shards.take_refused(), 1);
    }
}
