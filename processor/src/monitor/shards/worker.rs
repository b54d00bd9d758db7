//! A shard's worker thread: takes the commands sent to it, writes batches to its log (one sync for all
//! waiting), evaluates them, and decides its traces as their deadlines come.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ironforge_engine::{ContractSet, Engine, EngineEvent, EngineStats, Now, Reservation};

use super::durable::{Ack, Logged, RecoveryGate, ShardRecovery};
use crate::durability::WalFailed;
use crate::model::SpanRecord;
use crate::monitor::events::RecoveryWritten;
use crate::verdict::Violation;
use ironforge_telemetry::InternalEvent;

/// A worker wakes at least this often, to report its counters even when idle.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// What a worker does with the engine's decisions and counters: the monitor's dispatch.
pub(crate) trait ShardOutput: Send + Sync + 'static {
    /// Called with each accepted span before it is evaluated, `now` being when its batch was taken.
    fn span(&self, span: &SpanRecord, now: Instant);
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

/// What a shard's worker is sent.
pub(super) enum Command {
    /// A share of a batch, where to say it is durable (with a log), and its request's reservation, given
    /// back once every share is evaluated.
    Ingest(Vec<SpanRecord>, Option<Ack>, Arc<Reservation>),
    Contracts(Arc<ContractSet>),
    /// Answers once everything sent before it was handled.
    Flush(mpsc::SyncSender<()>),
}

pub(super) struct Worker {
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
pub(super) struct PendingRecovery {
    recovery: ShardRecovery,
    /// Where the first attempt's outcome goes: the start waits for it.
    done: Option<mpsc::SyncSender<std::io::Result<()>>>,
    gate: Arc<RecoveryGate>,
    last_attempt: Instant,
}

impl PendingRecovery {
    /// `done` hears how the first attempt went.
    pub(super) fn new(
        recovery: ShardRecovery,
        done: mpsc::SyncSender<std::io::Result<()>>,
        gate: Arc<RecoveryGate>,
    ) -> Self {
        Self {
            recovery,
            done: Some(done),
            gate,
            last_attempt: Instant::now(),
        }
    }
}

/// How often a shard tries again to write what the last run left, after a full disk refused it.
const RECOVERY_RETRY: Duration = Duration::from_secs(1);

/// Commands taken in one go, so the batches among them share one sync.
const GROUP_COMMIT_MAX: usize = 256;

impl Worker {
    pub(super) fn new(
        engine: Arc<Mutex<Engine>>,
        inbox: Receiver<Command>,
        queued: Arc<AtomicUsize>,
        output: Arc<dyn ShardOutput>,
        log: Option<Logged>,
        recovery: Option<PendingRecovery>,
    ) -> Self {
        Self {
            engine,
            inbox,
            queued,
            output,
            reported: EngineStats::default(),
            log,
            recovery,
        }
    }

    /// Handles commands until every sender is gone, then closes the log.
    pub(super) fn run(mut self) {
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
                Command::Ingest(spans, ack, _) => Some((spans, ack)),
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
            Command::Ingest(spans, ack, reservation) => {
                let count = spans.len();
                if let Some(ack) = ack {
                    // Durable by now (`handle_all` wrote and committed it): the receiver may answer.
                    let _ = ack.send(Ok(()));
                }
                self.evaluate(spans);
                drop(reservation);
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
            engine.ingest_admitted(spans, now, |span| output.span(span, now.instant))
        };
        self.dispatch(events, now);
    }

    /// Hands the decisions on, leaving out violations already emitted (before a restart), and logs them.
    /// With a log, one trace's at a time: a crash in between repeats that trace's decisions after the
    /// restart instead of losing them, and a kill mid-batch repeats none of the traces already logged.
    fn dispatch(&mut self, events: Vec<EngineEvent>, now: Now) {
        let Some(log) = &mut self.log else {
            if !events.is_empty() {
                self.output.events(events, now);
            }
            return;
        };
        let mut events = events.into_iter().peekable();
        while let Some(first) = events.next() {
            let trace = first.trace_id();
            let mut group = vec![first];
            while let Some(event) = events.next_if(|event| event.trace_id() == trace) {
                group.push(event);
            }
            let emitted_before = log.decided(&mut group);
            if !emitted_before.is_empty() {
                self.output.relist(emitted_before);
            }
            if !group.is_empty() {
                self.output.events(group, now);
            }
            log.write_decided();
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
