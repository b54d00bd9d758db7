//! The live processor: the engine behind a lock, fed by the receivers, ticked by a timer, its decisions
//! handed to the outputs.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::engine::{ContractSet, Engine, EngineEvent, Now, evaluate_batch};
use crate::ingest::{Overloaded, RequestReport, SpanSink};
use crate::internal_events::RequestAnswered;
use crate::model::{SpanRecord, TraceId};
use crate::outputs::Outputs;
use crate::telemetry::Transport;
use crate::verdict::{TraceVerdict, Violation};

mod compliance;

pub use compliance::{Compliance, ContractCompliance, Health, HealthReport};

/// The engine and everything its decisions feed.
#[derive(Debug)]
pub struct Monitor {
    engine: Mutex<Engine>,
    compliance: Mutex<Compliance>,
    outputs: Outputs,
}

impl Monitor {
    pub fn new(contracts: Arc<ContractSet>, outputs: Outputs) -> Self {
        let compliance = Compliance::new(&contracts);
        // The score is defined before the first verdict too (100), so dashboards and alerts never read a gap.
        outputs.metrics().health(compliance.report().health_score);
        Self {
            engine: Mutex::new(Engine::new(contracts)),
            compliance: Mutex::new(compliance),
            outputs,
        }
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn compliance_state(&self) -> MutexGuard<'_, Compliance> {
        self.compliance
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Decides the traces that are due. Called on a timer.
    pub fn tick(&self, now: Now) {
        let events = {
            let mut engine = self.engine();
            let events = engine.tick(now);
            self.outputs
                .metrics()
                .engine_stats(engine.stats(), engine.traces_in_flight());
            events
        };
        self.dispatch(events, now);
    }

    /// Swaps in new contracts; traces in flight are decided under them.
    pub fn set_contracts(&self, contracts: Arc<ContractSet>) {
        self.outputs.reconfigure(&contracts.file().events);
        self.compliance_state().set_contracts(&contracts);
        self.engine().set_contracts(contracts);
    }

    pub fn contracts(&self) -> Arc<ContractSet> {
        Arc::clone(self.engine().contracts())
    }

    pub fn verdict(&self, trace_id: &TraceId) -> Option<TraceVerdict> {
        self.engine().verdict(trace_id).cloned()
    }

    pub fn compliance(&self) -> HealthReport {
        self.compliance_state().report()
    }

    pub fn violations_since(&self, since_unix_nano: u64, limit: usize) -> Vec<Violation> {
        self.outputs.violations_since(since_unix_nano, limit)
    }

    /// Verdicts for spans taken as complete traces, outside the live state.
    pub fn evaluate(&self, spans: Vec<SpanRecord>) -> Vec<TraceVerdict> {
        evaluate_batch(self.contracts(), spans, Now::system())
    }

    fn dispatch(&self, events: Vec<EngineEvent>, now: Now) {
        for event in events {
            match event {
                EngineEvent::Violation(violation) => self.outputs.violation(violation, now.instant),
                EngineEvent::Verdict(verdict) => {
                    self.outputs.verdict(&verdict, false);
                    let report = {
                        let mut compliance = self.compliance_state();
                        compliance.record(&verdict);
                        compliance.report()
                    };
                    self.outputs.metrics().health(report.health_score);
                }
                EngineEvent::VerdictRevised { verdict, added } => {
                    self.outputs.verdict(&verdict, true);
                    self.compliance_state().revise(&verdict, added);
                }
            }
        }
    }
}

impl SpanSink for Monitor {
    fn submit(&self, spans: Vec<SpanRecord>) -> Result<(), Overloaded> {
        let now = Now::system();
        let metrics = self.outputs.metrics();
        let events = self
            .engine()
            .ingest_observed(spans, now, |span| metrics.span(span))?;
        self.dispatch(events, now);
        Ok(())
    }

    fn record_request(&self, report: RequestReport) {
        RequestAnswered { report }.emit(self.outputs.metrics());
    }

    fn record_metric_points(&self, transport: Transport, points: u64) {
        self.outputs
            .metrics()
            .metric_points_received(transport, points);
    }
}
