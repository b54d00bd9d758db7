//! A worker's side of the write-ahead log: batches written and committed before they are acknowledged,
//! decisions logged as soon as they are handed on, and once across restarts: traces decided before a
//! restart are not decided again, and a violation already emitted (same trace, contract and span) is not
//! emitted again. A crash between handing a trace's decisions on and logging them repeats those after the
//! restart (its spans are evaluated again); it never loses them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ironforge_engine::{Engine, EngineEvent, Overloaded};
use ironforge_wal::{LogError, Recovered, ShardLog, ViolationKey};

use crate::durability::WalFailed;
use crate::model::{SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, Violation};
use ironforge_telemetry::InternalEvent;

/// Where a worker says a batch is durable, or could not be written.
pub(crate) type Ack = tokio::sync::oneshot::Sender<Result<(), Overloaded>>;

/// How long a client waits before retrying a batch the log could not write.
const RETRY_AFTER_WRITE_ERROR: Duration = Duration::from_secs(1);
/// How often decided segments are looked for and the decision file's size checked.
const MAINTAIN_EVERY: Duration = Duration::from_secs(1);
/// Recovered spans are written and evaluated in chunks of this many.
const RECOVERY_CHUNK: usize = 4096;

/// One shard's part of what the last run left.
#[derive(Debug, Default)]
pub(crate) struct ShardRecovery {
    spans: Vec<SpanRecord>,
    verdicts: Vec<TraceVerdict>,
    emitted: Vec<ViolationKey>,
}

impl ShardRecovery {
    /// Splits what was recovered by the shard that now owns each trace. Returned last shard first, for
    /// popping.
    pub(super) fn split(
        recovered: Recovered,
        shards: usize,
        index: impl Fn(&TraceId) -> usize,
    ) -> Vec<Self> {
        let mut parts: Vec<Self> = (0..shards).map(|_| Self::default()).collect();
        for span in recovered.spans {
            if let Some(part) = parts.get_mut(index(&span.trace_id)) {
                part.spans.push(span);
            }
        }
        for verdict in recovered.verdicts {
            if let Some(part) = parts.get_mut(index(&verdict.trace_id)) {
                part.verdicts.push(verdict);
            }
        }
        for key in recovered.emitted {
            if let Some(part) = parts.get_mut(index(&key.trace_id)) {
                part.emitted.push(key);
            }
        }
        parts.reverse();
        parts
    }

    /// The recovered spans, in the chunks they were written in, to evaluate again.
    pub(super) fn into_chunks(self) -> impl Iterator<Item = Vec<SpanRecord>> {
        let mut spans = self.spans.into_iter().peekable();
        std::iter::from_fn(move || {
            spans.peek()?;
            Some(spans.by_ref().take(RECOVERY_CHUNK).collect())
        })
    }
}

#[derive(Debug)]
pub(crate) struct Logged {
    pub log: ShardLog,
    /// Verdicts given before the restart (at most `decided_traces_kept`), shared with readers.
    restored: Arc<RwLock<HashMap<TraceId, TraceVerdict>>>,
    /// Violations emitted on traces still in flight, by trace: their [`ViolationKey`] fingerprints.
    emitted: HashMap<TraceId, HashSet<u64>>,
    last_maintained: Instant,
}

impl Logged {
    pub(super) fn new(
        log: ShardLog,
        restored: Arc<RwLock<HashMap<TraceId, TraceVerdict>>>,
    ) -> Self {
        Self {
            log,
            restored,
            emitted: HashMap::new(),
            last_maintained: Instant::now(),
        }
    }

    /// Writes what was recovered to this run's log, emptied first (a failed attempt may have left part of
    /// it), and syncs it; its spans are then evaluated again ([`ShardRecovery::into_chunks`]). The verdicts
    /// given before the restart are answered from the first attempt on, written or not.
    pub(super) fn recover(&mut self, recovery: &ShardRecovery, kept: usize) -> std::io::Result<()> {
        let written = self
            .log
            .reset()
            .and_then(|()| self.write_recovered(recovery, kept));
        if written.is_err() {
            // Left unwritten, the verdicts appended would be tried with every later decision.
            self.log.discard_pending();
        }
        Ok(written?)
    }

    fn write_recovered(&mut self, recovery: &ShardRecovery, kept: usize) -> Result<(), LogError> {
        let skip = recovery.verdicts.len().saturating_sub(kept);
        let mut restored = HashMap::new();
        for verdict in recovery.verdicts.iter().skip(skip) {
            self.log.append_verdict(verdict)?;
            restored.insert(verdict.trace_id, verdict.clone());
        }
        *self
            .restored
            .write()
            .unwrap_or_else(PoisonError::into_inner) = restored;
        for key in &recovery.emitted {
            self.log.append_emitted(key);
            self.emitted
                .entry(key.trace_id)
                .or_default()
                .insert(key.fingerprint);
        }
        for chunk in recovery.spans.chunks(RECOVERY_CHUNK) {
            self.log.append_spans(chunk)?;
        }
        self.log.sync()
    }

    /// Writes the batches and commits them with one sync. A batch that cannot be written is refused (its
    /// receiver answers with a retry) and emptied, so it is not evaluated; returns how many spans that was.
    pub(super) fn write<'a>(
        &mut self,
        batches: impl Iterator<Item = (&'a mut Vec<SpanRecord>, &'a mut Option<Ack>)>,
    ) -> usize {
        let mut written = Vec::new();
        let mut refused = 0;
        for (spans, ack) in batches {
            match self.log.append_spans(spans) {
                Ok(()) => written.push((spans, ack)),
                Err(err) => {
                    self.failed("write a batch (refused)", &err);
                    refused += spans.len();
                    spans.clear();
                    refuse(ack);
                }
            }
        }
        if let Err(err) = self.log.commit() {
            self.failed("sync (the batches are refused)", &err);
            for (spans, ack) in written {
                refused += spans.len();
                spans.clear();
                refuse(ack);
            }
        }
        refused
    }

    /// Syncs the log, and waits for the decided segments released so far to be deleted.
    pub(super) fn sync(&mut self) {
        if let Err(err) = self.log.sync() {
            self.failed("sync", &err);
        }
        self.log.settle();
    }

    /// Syncs whatever the policy left unsynced: the log is closed clean.
    pub(super) fn close(&mut self) {
        self.sync();
    }

    /// Spans of traces decided before the restart are late: the verdict stands and is not given again.
    pub(super) fn drop_decided_before_restart(&self, spans: &mut Vec<SpanRecord>) {
        let restored = self.restored.read().unwrap_or_else(PoisonError::into_inner);
        if !restored.is_empty() {
            spans.retain(|span| !restored.contains_key(&span.trace_id));
        }
    }

    /// Leaves out violations already emitted and adds the decisions to the log's pending records, to write
    /// once they are handed on ([`Logged::write_decided`]). A trace whose records pass the log's pending
    /// limit (a mebibyte) is written as it is added, before it is handed on: a crash in between loses its
    /// decisions instead of repeating them.
    ///
    /// Returns the violations left out, emitted before the restart: they are listed again, not sent again.
    pub(super) fn decided(&mut self, events: &mut Vec<EngineEvent>) -> Vec<Violation> {
        let mut emitted_before = Vec::new();
        events.retain(|event| match event {
            EngineEvent::Violation(violation) => {
                let key = ViolationKey::of(violation);
                let emitted = self.emitted.entry(key.trace_id).or_default();
                if !emitted.insert(key.fingerprint) {
                    emitted_before.push(violation.clone());
                    return false;
                }
                self.log.append_emitted(&key);
                true
            }
            EngineEvent::Verdict(verdict) | EngineEvent::VerdictRevised { verdict, .. } => {
                self.emitted.remove(&verdict.trace_id);
                if let Err(err) = self.log.append_verdict(verdict) {
                    self.failed("record a verdict", &err);
                }
                true
            }
            EngineEvent::Unmonitored { trace_id, .. } => {
                self.emitted.remove(trace_id);
                true
            }
            // Analysis of a trace whose verdict is logged: handed on once, with that verdict.
            EngineEvent::Decided(_) => true,
        });
        emitted_before
    }

    /// Writes the decisions handed on: from now on a restart neither decides their trace again nor emits
    /// their violations again. They were encoded before they were handed on, so that a crash between the
    /// two is as unlikely as it can be.
    pub(super) fn write_decided(&mut self) {
        if let Err(err) = self.log.write_decisions() {
            self.failed("record decisions", &err);
        }
    }

    /// Syncs when the interval is due; now and then deletes segments whose traces are all decided, and
    /// rewrites the decision file when it has grown.
    pub(super) fn maintain(&mut self, engine: &Engine) {
        if let Err(err) = self.log.sync_if_due() {
            self.failed("sync", &err);
        }
        if self.last_maintained.elapsed() < MAINTAIN_EVERY {
            return;
        }
        self.last_maintained = Instant::now();
        let in_flight = |id: &TraceId| engine.knows(id) && engine.verdict(id).is_none();
        if let Err(err) = self.log.release(in_flight) {
            self.failed("delete a decided segment", &err);
        }
        if self.log.wants_compaction() {
            let restored = self.restored.read().unwrap_or_else(PoisonError::into_inner);
            let verdicts = restored.values().chain(engine.verdicts());
            let emitted = self.emitted.iter().flat_map(|(trace_id, fingerprints)| {
                fingerprints.iter().map(|fingerprint| ViolationKey {
                    trace_id: *trace_id,
                    fingerprint: *fingerprint,
                })
            });
            if let Err(err) = self.log.compact(verdicts, emitted, in_flight) {
                WalFailed {
                    what: "rewrite the decision file",
                    error: &err,
                    usage: self.log.usage(),
                }
                .emit();
            }
        }
    }
}

impl Logged {
    fn failed(&self, what: &'static str, error: &LogError) {
        WalFailed {
            what,
            error,
            usage: self.log.usage(),
        }
        .emit();
    }
}

fn refuse(ack: &mut Option<Ack>) {
    if let Some(ack) = ack.take() {
        let _ = ack.send(Err(Overloaded {
            retry_after: RETRY_AFTER_WRITE_ERROR,
        }));
    }
}

/// What runs once the last shard has written its part of what the last run left.
type OnRecovered = Box<dyn FnOnce() + Send>;

/// The shards whose part of what the last run left is not yet in the new log. Ingest is refused while any
/// is (a full disk at start-up): the API answers from the recovered verdicts meanwhile, and each shard tries
/// again every second.
pub(crate) struct RecoveryGate {
    /// Read on every batch, so it is not behind the lock.
    pending: AtomicBool,
    state: Mutex<GateState>,
}

struct GateState {
    shards: usize,
    then: Option<OnRecovered>,
}

impl std::fmt::Debug for RecoveryGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryGate")
            .field("pending", &self.is_pending())
            .finish_non_exhaustive()
    }
}

impl RecoveryGate {
    pub(super) fn new(shards: usize) -> Self {
        Self {
            pending: AtomicBool::new(shards > 0),
            state: Mutex::new(GateState { shards, then: None }),
        }
    }

    pub(super) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One shard has written its part; the last one runs what [`RecoveryGate::then`] left.
    pub(super) fn shard_recovered(&self) {
        let then = {
            let mut state = self.lock();
            state.shards = state.shards.saturating_sub(1);
            if state.shards > 0 {
                return;
            }
            state.then.take()
        };
        if let Some(then) = then {
            then();
        }
        self.pending.store(false, Ordering::Release);
    }

    /// Runs `then` once every shard has written its part: now, when they all have.
    pub(super) fn then(&self, then: impl FnOnce() + Send + 'static) {
        let mut state = self.lock();
        if state.shards == 0 {
            drop(state);
            then();
        } else {
            state.then = Some(Box::new(then));
        }
    }
}
