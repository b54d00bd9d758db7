//! Compliance and health as the live monitor keeps them: [`ironforge_report::health`]'s rule over the traces
//! decided since start, with the health gauges published on every change of a score (revisions included)
//! and each pipeline forgotten past the bound counted.

use std::sync::Arc;

use crate::verdict::TraceVerdict;
use ironforge_engine::ContractSet;
use ironforge_report::health::{HealthReport, Scorer, pipeline_name};
use ironforge_telemetry::Metrics;

/// Compliance state. It publishes the health gauges itself, so every change of a score reaches the metrics.
#[derive(Debug)]
pub struct Compliance {
    scorer: Scorer,
    metrics: Arc<Metrics>,
}

impl Compliance {
    pub fn new(contracts: &ContractSet, metrics: Arc<Metrics>) -> Self {
        Self {
            scorer: Scorer::new(contracts),
            metrics,
        }
    }

    /// Keeps the counts of contracts that remain, adds new ones at zero.
    pub fn set_contracts(&mut self, contracts: &ContractSet) {
        self.scorer.set_contracts(contracts);
    }

    pub fn record(&mut self, verdict: &TraceVerdict) {
        if let Some(forgotten) = self.scorer.record(verdict) {
            self.metrics.pipeline_forgotten(&forgotten);
        }
        self.publish(pipeline_name(verdict));
    }

    /// A decided trace got violations from late spans: see [`Scorer::revise`].
    pub fn revise(&mut self, verdict: &TraceVerdict, added: usize) {
        self.scorer.revise(verdict, added);
        self.publish(pipeline_name(verdict));
    }

    fn publish(&self, pipeline: &str) {
        self.metrics.health(self.scorer.health_score());
        if let Some(score) = self.scorer.pipeline_health_score(pipeline) {
            self.metrics.pipeline_health(pipeline, score);
        }
    }

    pub fn report(&self) -> HealthReport {
        self.scorer.report()
    }
}
