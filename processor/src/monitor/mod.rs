//! The live processor: the engine sharded by trace id across worker threads, fed by the receivers, its
//! decisions handed to compliance and the outputs.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ironforge_engine::plan::ReadPlan;
use ironforge_engine::{Capacity, EngineStats};
use ironforge_wal::{Recovered, Wal};

use crate::ingest::{Durable, Overloaded, RequestReport, Reservation, SpanSink};
use crate::model::{SpanRecord, TraceId};
use crate::outputs::Outputs;
use crate::verdict::{TraceVerdict, Violation};
use ironforge_engine::{ContractSet, EngineEvent, Now, evaluate_batch};
use ironforge_telemetry::{InternalEvent, MemoryUsage, Transport};
use ironforge_wal::WalUsage;

mod compliance;
pub(crate) mod events;

pub use compliance::Compliance;
pub use ironforge_report::health::{
    ContractCompliance, Health, HealthReport, PipelineCompliance, VerdictCounts,
};

mod resident;
mod shards;
mod unmonitored;

use events::{RecoveryCompleted, RequestAnswered, TracesEvicted};
pub use shards::QUEUE_SPANS_PER_SHARD;
use shards::{Durability, ShardOutput, Shards};
use unmonitored::UnmonitoredTraces;

/// Why a trace has no verdict to read.
#[derive(Debug, thiserror::Error)]
pub enum VerdictNotFound {
    #[error(
        "no verdict for trace {0}: it is still being assembled, was never seen, or was forgotten (and the run history, when kept, has none)"
    )]
    Unknown(TraceId),
    /// A web service's trace sent to the processor by mistake, typically.
    #[error(
        "trace {0} is not monitored: none of its {1} spans carries `ironforge.span.kind`, so no contract applies to it and it has no verdict"
    )]
    NotMonitored(TraceId, u32),
}

/// The engine shards and everything their decisions feed.
#[derive(Debug)]
pub struct Monitor {
    shards: Shards,
    dispatch: Arc<Dispatch>,
    contracts: RwLock<Arc<ContractSet>>,
}

/// Where the workers' decisions go: compliance and the outputs.
#[derive(Debug)]
struct Dispatch {
    compliance: Mutex<Compliance>,
    unmonitored: Mutex<UnmonitoredTraces>,
    outputs: Outputs,
    capacity: Arc<Capacity>,
    wal: Option<Arc<WalUsage>>,
}

impl Monitor {
    /// A monitor with one shard per available core.
    pub fn new(contracts: Arc<ContractSet>, outputs: Outputs) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_shards(contracts, outputs, cores)
    }

    /// A monitor whose engine is split across `shards` worker threads (at least one).
    pub fn with_shards(
        contracts: Arc<ContractSet>,
        outputs: Outputs,
        shards: usize,
    ) -> std::io::Result<Self> {
        Self::start(contracts, outputs, shards, None)
    }

    /// A monitor that logs what it accepts and decides to `wal`, after taking up what the last run left
    /// (`recovered`): its traces in flight are evaluated again, its verdicts answer reads and count in
    /// compliance, and nothing it emitted is emitted again. `wal` then becomes the log a restart reads.
    pub fn durable(
        contracts: Arc<ContractSet>,
        outputs: Outputs,
        shards: usize,
        wal: &mut Wal,
        recovered: Recovered,
    ) -> std::io::Result<Self> {
        let verdicts = recovered.verdicts.clone();
        // What the API listed before the restart: the violations of the restored verdicts, by time.
        let mut violations: Vec<_> = verdicts
            .iter()
            .flat_map(|verdict| verdict.violations.iter().cloned())
            .collect();
        violations.sort_by_key(|violation| violation.time_unix_nano);
        outputs.restore_violations(violations);
        let monitor = Self::start(
            contracts,
            outputs,
            shards,
            Some(Durability {
                wal: &*wal,
                recovered,
            }),
        )?;
        let switch = wal.switch();
        if monitor.shards.accepts_batches() {
            switch.complete().map_err(std::io::Error::other)?;
        } else {
            // A full disk at start-up: the old generation stays the one a restart reads until every shard
            // has written its part to the new one.
            monitor.shards.when_recovered(move || {
                RecoveryCompleted {
                    switched: switch.complete(),
                }
                .emit();
            });
        }
        {
            let mut compliance = monitor.compliance_state();
            for verdict in &verdicts {
                compliance.record(verdict);
            }
        }
        // The recovered traces are evaluated before anything new is accepted.
        monitor.flush();
        Ok(monitor)
    }

    fn start(
        contracts: Arc<ContractSet>,
        outputs: Outputs,
        shards: usize,
        durability: Option<Durability<'_>>,
    ) -> std::io::Result<Self> {
        let compliance = Compliance::new(&contracts, Arc::clone(outputs.metrics()));
        outputs.metrics().contracts(&contracts);
        // The score is defined before the first verdict too (100), so dashboards and alerts never read a gap.
        outputs.metrics().health(compliance.report().health_score);
        // Each shard keeps to its share of the limits, so its evictions depend on its own spans alone.
        let capacity = Arc::new(Capacity::shared_by(shards.max(1)));
        let wal = durability
            .as_ref()
            .map(|durability| Arc::clone(durability.wal.usage()));
        let dispatch = Arc::new(Dispatch {
            compliance: Mutex::new(compliance),
            unmonitored: Mutex::default(),
            outputs,
            capacity: Arc::clone(&capacity),
            wal,
        });
        let output: Arc<dyn ShardOutput> = dispatch.clone();
        Ok(Self {
            shards: Shards::start(shards, &contracts, capacity, output, durability)?,
            dispatch,
            contracts: RwLock::new(contracts),
        })
    }

    /// Whether span batches are taken: not while what the last run left waits to be written to the log
    /// (a full disk at start-up).
    pub fn accepts_batches(&self) -> bool {
        self.shards.accepts_batches()
    }

    fn compliance_state(&self) -> MutexGuard<'_, Compliance> {
        self.dispatch.compliance()
    }

    pub fn outputs(&self) -> &Outputs {
        &self.dispatch.outputs
    }

    /// Waits until every span accepted before the call has been evaluated and its events dispatched, and
    /// the log synced: for a graceful shutdown, and for tests.
    pub fn flush(&self) {
        self.shards.flush();
        if let Some(analyst) = self.outputs().analysis() {
            analyst.flush();
        }
    }

    /// Swaps in new contracts. Traces in flight finish under the contracts they began with.
    pub fn set_contracts(&self, contracts: Arc<ContractSet>) {
        self.outputs().reconfigure(&contracts.file().events);
        if let Some(analyst) = self.outputs().analysis() {
            analyst.set_contracts(Arc::clone(&contracts));
        }
        self.compliance_state().set_contracts(&contracts);
        self.outputs().metrics().contracts(&contracts);
        self.shards.set_contracts(&contracts);
        *self
            .contracts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = contracts;
    }

    pub fn contracts(&self) -> Arc<ContractSet> {
        Arc::clone(
            &self
                .contracts
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    pub fn verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
        self.shards.verdict(trace_id)
    }

    /// The verdict of `trace_id`, or why there is none: the API's answer to a reader asking for one. A
    /// verdict the engine no longer keeps (forgotten for newer ones, under memory pressure, or decided before a
    /// restart and past what the log restores) is read from the run history, where it was kept with its run.
    pub fn find_verdict(&self, trace_id: &TraceId) -> Result<TraceVerdict, VerdictNotFound> {
        if let Some(verdict) = self.verdict(trace_id) {
            return Ok(verdict);
        }
        if let Some(verdict) = self
            .outputs()
            .analysis()
            .and_then(|analyst| analyst.stored_verdict(trace_id))
        {
            return Ok(verdict);
        }
        let unmonitored = self
            .dispatch
            .unmonitored
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .spans(trace_id);
        Err(match unmonitored {
            Some(spans) => VerdictNotFound::NotMonitored(*trace_id, spans),
            None => VerdictNotFound::Unknown(*trace_id),
        })
    }

    /// Samples the process's resident memory, for admission and its gauge, ten times a second
    /// until `stop` resolves. Where it cannot be read, admission goes by the counts alone.
    pub async fn sample_resident_memory(&self, stop: impl Future<Output = ()>) {
        let mut every = tokio::time::interval(resident::SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = every.tick() => {}
            }
            let Some(bytes) = resident::resident_bytes() else {
                return;
            };
            self.shards.capacity().set_resident(bytes);
            self.outputs().metrics().resident_memory(bytes);
        }
    }

    pub fn traces_in_flight(&self) -> usize {
        self.shards.capacity().traces()
    }

    pub fn compliance(&self) -> HealthReport {
        self.compliance_state().report()
    }

    pub fn violations_since(&self, since_unix_nano: u64, limit: usize) -> Vec<Violation> {
        self.outputs().violations_since(since_unix_nano, limit)
    }

    /// Verdicts for spans taken as complete traces, outside the live state.
    pub fn evaluate(&self, spans: Vec<SpanRecord>) -> Vec<TraceVerdict> {
        evaluate_batch(self.contracts(), spans, Now::system())
    }
}

impl Dispatch {
    fn compliance(&self) -> MutexGuard<'_, Compliance> {
        self.compliance
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl ShardOutput for Dispatch {
    fn span(&self, span: &SpanRecord, now: Instant) {
        self.outputs.metrics().span(span, now);
    }

    fn relist(&self, violations: Vec<Violation>) {
        self.outputs.restore_violations(violations);
    }

    fn events(&self, events: Vec<EngineEvent>, now: Now) {
        for event in events {
            match event {
                EngineEvent::Violation(violation) => self.outputs.violation(violation, now.instant),
                // Compliance counts a verdict before the outputs publish it, so whoever has read a verdict
                // finds it in the health and compliance answers too. Compliance sets the health gauges itself.
                EngineEvent::Verdict(verdict) => {
                    self.compliance().record(&verdict);
                    self.outputs.verdict(&verdict, false);
                }
                EngineEvent::VerdictRevised { verdict, added } => {
                    self.compliance().revise(&verdict, added);
                    self.outputs.verdict(&verdict, true);
                    if let Some(analyst) = self.outputs.analysis() {
                        analyst.revise(&verdict);
                    }
                }
                EngineEvent::Unmonitored { trace_id, spans } => {
                    self.outputs.metrics().trace_unmonitored();
                    self.unmonitored
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .record(trace_id, spans);
                }
                EngineEvent::Decided(trace) => {
                    if let Some(analyst) = self.outputs.analysis() {
                        analyst.submit(trace);
                    }
                }
            }
        }
    }

    fn wants_decided_traces(&self) -> bool {
        self.outputs.analysis().is_some()
    }

    fn decision_delays(&self, delays: &[Duration]) {
        for delay in delays {
            self.outputs.metrics().decision_delay(delay.as_secs_f64());
        }
    }

    fn stats(&self, delta: &EngineStats) {
        if delta.traces_evicted > 0 {
            TracesEvicted {
                count: delta.traces_evicted,
                metrics: self.outputs.metrics(),
            }
            .emit();
        }
        let metrics = self.outputs.metrics();
        metrics.engine_stats(delta, self.capacity.traces());
        metrics.memory(MemoryUsage {
            engine: self.capacity.bytes(),
            requests: self.capacity.reserved(),
        });
        if let Some(wal) = &self.wal {
            self.outputs.metrics().wal().observe(wal);
        }
    }
}

impl Monitor {
    /// Counts requests refused for load, where admission or a reservation refused them.
    fn count_refused(&self, batches_refused: u64) {
        let delta = EngineStats {
            batches_refused,
            ..EngineStats::default()
        };
        self.dispatch.stats(&delta);
    }
}

impl SpanSink for Monitor {
    fn submit(
        &self,
        spans: Vec<SpanRecord>,
        reservation: Reservation,
    ) -> Result<Durable, Overloaded> {
        let contracts = self.contracts();
        let refused = self.shards.submit(spans, reservation, &contracts);
        if refused.is_err() {
            self.count_refused(self.shards.take_refused());
        }
        refused
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Overloaded> {
        let reserved = self.shards.capacity().reserve(&self.contracts(), bytes);
        if reserved.is_err() {
            self.count_refused(1);
        }
        reserved
    }

    fn read_plan(&self) -> Arc<ReadPlan> {
        Arc::clone(self.contracts().plan())
    }

    fn record_request(&self, report: RequestReport) {
        RequestAnswered {
            report,
            metrics: self.outputs().metrics(),
        }
        .emit();
    }

    fn record_metric_points(&self, transport: Transport, points: u64) {
        self.outputs()
            .metrics()
            .metric_points_received(transport, points);
    }
}
