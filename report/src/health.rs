//! The health rule, pure: compliance over the verdicts recorded, overall and per pipeline, and the health
//! derived from it. It keeps no metrics; the live monitor publishes its gauges from the scores it reads here.
//!
//! Health rule (documented in the README): each of the last `HEALTH_WINDOW` verdicts scores points —
//! pass 1, warn 0.75, incomplete 0.5, fail 0 — and the health score is their mean × 100 (100 before any
//! verdict). The status is RED when the score is under 60 or the latest verdict failed a blocking contract;
//! GREEN when the score is at least 90 and the latest verdict is production-ready (or there is none yet);
//! YELLOW otherwise.
//!
//! A verdict the engine decided early to make room (evicted) counts as `incomplete` but stays out of the
//! health window: it says the monitor was full, not that the pipeline failed, and a flood of traces that
//! never complete must not turn health RED for the runs that do. Evictions are counted on their own
//! (`traces_evicted`, and the `ironforge_processor_traces_evicted_total` metric).
//!
//! A pipeline is the `service.name` a verdict carries; a verdict without one counts under
//! [`UNKNOWN_SERVICE`], the name OpenTelemetry SDKs give a service that sets none.
//! Service names come from the wire, so at most [`MAX_PIPELINES`] are tracked: a new one beyond that replaces
//! the pipeline whose latest verdict is the oldest, and the forgotten one is counted.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::model::TraceId;
use crate::verdict::{Category, TraceVerdict, VerdictStatus, Violation};
use ironforge_engine::ContractSet;

/// Verdicts the health score looks back over, overall and per pipeline.
pub(crate) const HEALTH_WINDOW: usize = 20;

/// Pipelines tracked at once: service names come from the wire, so their number is bounded.
pub const MAX_PIPELINES: usize = 100;

/// Pipeline of a verdict whose spans carry no `service.name`: the name OpenTelemetry SDKs default to.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Pipeline health, traffic-light style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    /// The health rule over a score and the latest verdict of its window.
    fn of(score: f64, latest: Option<&Scored>) -> Self {
        let (production_ready, blocked) =
            latest.map_or((true, false), |l| (l.production_ready, l.blocked));
        if score < 60.0 || blocked {
            Health::Red
        } else if score >= 90.0 && production_ready {
            Health::Green
        } else {
            Health::Yellow
        }
    }
}

/// Per-contract counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractCompliance {
    pub contract_id: String,
    pub category: Category,
    /// Traces decided while this contract was in force.
    pub evaluated: u64,
    /// Violations of this contract in those traces.
    pub violations: u64,
    /// Traces with at least one violation of this contract.
    pub traces_violating: u64,
}

/// Decided traces by verdict status; first decisions only, so a revised trace is not counted twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    pub traces_total: u64,
    pub traces_passed: u64,
    pub traces_warned: u64,
    pub traces_failed: u64,
    pub traces_incomplete: u64,
    /// Of `traces_incomplete`, those decided early to make room (not scored in health).
    pub traces_evicted: u64,
}

/// Counts, score and health of the verdicts of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineCompliance {
    /// The pipeline's `service.name`, or [`UNKNOWN_SERVICE`].
    pub pipeline: String,
    #[serde(flatten)]
    pub counts: VerdictCounts,
    /// Share of decided traces that were production-ready, 0..1 (1 before any trace).
    pub compliance_ratio: f64,
    pub health_score: f64,
    pub health: Health,
}

/// The compliance summary the API serves: every pipeline together, then each on its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    #[serde(flatten)]
    pub counts: VerdictCounts,
    /// Share of decided traces that were production-ready, 0..1 (1 before any trace).
    pub compliance_ratio: f64,
    pub health_score: f64,
    pub health: Health,
    /// Over all pipelines.
    pub contracts: Vec<ContractCompliance>,
    /// By pipeline name.
    pub pipelines: Vec<PipelineCompliance>,
}

impl HealthReport {
    /// The report of one tracked pipeline: its counts, score and health, no per-contract counts (those are
    /// kept over all pipelines only), and `pipelines` holding it alone.
    pub fn pipeline(&self, name: &str) -> Option<HealthReport> {
        let one = self.pipelines.iter().find(|p| p.pipeline == name)?;
        Some(HealthReport {
            counts: one.counts,
            compliance_ratio: one.compliance_ratio,
            health_score: one.health_score,
            health: one.health,
            contracts: Vec::new(),
            pipelines: vec![one.clone()],
        })
    }
}

/// One verdict in a health window. The trace id lets a revision find its own entry.
#[derive(Debug, Clone, Copy)]
struct Scored {
    trace_id: TraceId,
    points: f64,
    production_ready: bool,
    blocked: bool,
}

impl Scored {
    fn of(verdict: &TraceVerdict) -> Self {
        Self {
            trace_id: verdict.trace_id,
            points: points(verdict.status),
            production_ready: verdict.production_ready,
            blocked: blocked(verdict),
        }
    }
}

/// Status counts and the health window of a set of verdicts.
#[derive(Debug, Default)]
struct Tally {
    counts: VerdictCounts,
    production_ready: u64,
    /// Newest last.
    recent: VecDeque<Scored>,
}

impl Tally {
    fn record(&mut self, verdict: &TraceVerdict) {
        let counts = &mut self.counts;
        let count = match verdict.status {
            VerdictStatus::Pass => &mut counts.traces_passed,
            VerdictStatus::Warn => &mut counts.traces_warned,
            VerdictStatus::Fail => &mut counts.traces_failed,
            VerdictStatus::Incomplete => &mut counts.traces_incomplete,
        };
        *count += 1;
        counts.traces_total += 1;
        if verdict.production_ready {
            self.production_ready += 1;
        }
        if verdict.evicted {
            counts.traces_evicted += 1;
            return;
        }
        self.recent.push_back(Scored::of(verdict));
        if self.recent.len() > HEALTH_WINDOW {
            self.recent.pop_front();
        }
    }

    /// Rescores the revised trace if it is still in the window.
    fn revise(&mut self, verdict: &TraceVerdict) {
        if let Some(entry) = self
            .recent
            .iter_mut()
            .find(|entry| entry.trace_id == verdict.trace_id)
        {
            *entry = Scored::of(verdict);
        }
    }

    fn compliance_ratio(&self) -> f64 {
        match self.counts.traces_total {
            0 => 1.0,
            total => self.production_ready as f64 / total as f64,
        }
    }

    fn health_score(&self) -> f64 {
        if self.recent.is_empty() {
            return 100.0;
        }
        100.0 * self.recent.iter().map(|entry| entry.points).sum::<f64>() / self.recent.len() as f64
    }

    fn health(&self) -> Health {
        Health::of(self.health_score(), self.recent.back())
    }

    fn pipeline(&self, name: &str) -> PipelineCompliance {
        PipelineCompliance {
            pipeline: name.to_owned(),
            counts: self.counts,
            compliance_ratio: self.compliance_ratio(),
            health_score: self.health_score(),
            health: self.health(),
        }
    }
}

#[derive(Debug, Default)]
struct Pipeline {
    tally: Tally,
    /// The value of [`Scorer::recorded`] at this pipeline's latest verdict.
    last_recorded: u64,
}

/// Compliance state: counts, health windows and scores, overall and per pipeline.
#[derive(Debug)]
pub struct Scorer {
    overall: Tally,
    contracts: Vec<ContractCompliance>,
    pipelines: BTreeMap<String, Pipeline>,
    /// Verdicts recorded so far: orders pipelines by how long they have been idle.
    recorded: u64,
}

impl Scorer {
    pub fn new(contracts: &ContractSet) -> Self {
        let mut scorer = Self {
            overall: Tally::default(),
            contracts: Vec::new(),
            pipelines: BTreeMap::new(),
            recorded: 0,
        };
        scorer.set_contracts(contracts);
        scorer
    }

    /// Keeps the counts of contracts that remain, adds new ones at zero.
    pub fn set_contracts(&mut self, contracts: &ContractSet) {
        let old = std::mem::take(&mut self.contracts);
        self.contracts = contracts
            .contracts()
            .iter()
            .map(|contract| {
                old.iter()
                    .find(|c| *c.contract_id == *contract.id)
                    .cloned()
                    .unwrap_or(ContractCompliance {
                        contract_id: contract.id.to_string(),
                        category: contract.category(),
                        evaluated: 0,
                        violations: 0,
                        traces_violating: 0,
                    })
            })
            .collect();
    }

    /// Counts and scores a first decision. A new pipeline beyond [`MAX_PIPELINES`] replaces the one idle
    /// longest, whose name is returned.
    pub fn record(&mut self, verdict: &TraceVerdict) -> Option<String> {
        self.overall.record(verdict);
        for contract in &mut self.contracts {
            contract.evaluated += 1;
        }
        self.count_violations(verdict, 0);
        self.recorded += 1;
        let name = pipeline_name(verdict);
        let forgotten = (!self.pipelines.contains_key(name)
            && self.pipelines.len() >= MAX_PIPELINES)
            .then(|| self.forget_idlest_pipeline())
            .flatten();
        let pipeline = self.pipelines.entry(name.to_owned()).or_default();
        pipeline.tally.record(verdict);
        pipeline.last_recorded = self.recorded;
        forgotten
    }

    /// A decided trace got violations from late spans: count the new ones. The status counts stay with the
    /// first decision so traces are never counted twice; health rescores the trace's own window entry.
    pub fn revise(&mut self, verdict: &TraceVerdict, added: usize) {
        self.count_violations(verdict, verdict.violations.len().saturating_sub(added));
        self.overall.revise(verdict);
        let name = pipeline_name(verdict);
        if let Some(pipeline) = self.pipelines.get_mut(name) {
            pipeline.tally.revise(verdict);
        }
    }

    /// Removes the pipeline whose latest verdict is the oldest, and names it.
    fn forget_idlest_pipeline(&mut self) -> Option<String> {
        let idlest = self
            .pipelines
            .iter()
            .min_by_key(|(_, pipeline)| pipeline.last_recorded)
            .map(|(name, _)| name.clone())?;
        self.pipelines.remove(&idlest);
        Some(idlest)
    }

    /// The health score over every pipeline.
    pub fn health_score(&self) -> f64 {
        self.overall.health_score()
    }

    /// The health score of a tracked pipeline.
    pub fn pipeline_health_score(&self, pipeline: &str) -> Option<f64> {
        self.pipelines
            .get(pipeline)
            .map(|tracked| tracked.tally.health_score())
    }

    /// Counts the violations from index `first_new` on; a trace counts as violating a contract the first
    /// time one of its violations names it.
    fn count_violations(&mut self, verdict: &TraceVerdict, first_new: usize) {
        let (old, new) = verdict
            .violations
            .split_at(first_new.min(verdict.violations.len()));
        for contract in &mut self.contracts {
            let names = |v: &&Violation| v.contract_id == contract.contract_id;
            let count = new.iter().filter(names).count() as u64;
            contract.violations += count;
            if count > 0 && !old.iter().any(|v| names(&v)) {
                contract.traces_violating += 1;
            }
        }
    }

    pub fn report(&self) -> HealthReport {
        HealthReport {
            counts: self.overall.counts,
            compliance_ratio: self.overall.compliance_ratio(),
            health_score: self.overall.health_score(),
            health: self.overall.health(),
            contracts: self.contracts.clone(),
            pipelines: self
                .pipelines
                .iter()
                .map(|(name, pipeline)| pipeline.tally.pipeline(name))
                .collect(),
        }
    }
}

/// The pipeline a verdict counts under.
pub fn pipeline_name(verdict: &TraceVerdict) -> &str {
    verdict
        .service_name
        .as_deref()
        .filter(|name| !name.is_empty())
        .unwrap_or(UNKNOWN_SERVICE)
}

fn points(status: VerdictStatus) -> f64 {
    match status {
        VerdictStatus::Pass => 1.0,
        VerdictStatus::Warn => 0.75,
        VerdictStatus::Incomplete => 0.5,
        VerdictStatus::Fail => 0.0,
    }
}

/// Whether a blocking contract failed. A complete verdict that is not production-ready had one fail even when
/// the violation itself was left out of `violations` by a per-trace limit.
fn blocked(verdict: &TraceVerdict) -> bool {
    (verdict.status != VerdictStatus::Incomplete && !verdict.production_ready)
        || verdict.violations.iter().any(|v| v.blocks_production)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(production_ready: bool, blocked: bool) -> Scored {
        Scored {
            trace_id: TraceId([1; 16]),
            points: 0.0,
            production_ready,
            blocked,
        }
    }

    /// The rule at its boundaries, for each kind of latest verdict: pass and warn (production-ready),
    /// incomplete (never production-ready), a blocking fail, a non-blocking fail (production-ready) and
    /// a blocking warn.
    #[test]
    fn the_health_rule_at_its_boundaries() {
        use Health::{Green, Red, Yellow};
        let pass = latest(true, false);
        let incomplete = latest(false, false);
        let blocked = latest(false, true);
        let cases = [
            (59.9, None, Red),
            (60.0, None, Yellow),
            (89.9, None, Yellow),
            (90.0, None, Green),
            (100.0, None, Green),
            (59.9, Some(pass), Red),
            (60.0, Some(pass), Yellow),
            (89.9, Some(pass), Yellow),
            (90.0, Some(pass), Green),
            (59.9, Some(incomplete), Red),
            (60.0, Some(incomplete), Yellow),
            (89.9, Some(incomplete), Yellow),
            (90.0, Some(incomplete), Yellow),
            (100.0, Some(incomplete), Yellow),
            (59.9, Some(blocked), Red),
            (60.0, Some(blocked), Red),
            (90.0, Some(blocked), Red),
            (100.0, Some(blocked), Red),
        ];
        for (score, latest, expected) in cases {
            assert_eq!(
                Health::of(score, latest.as_ref()),
                expected,
                "score {score}, latest {latest:?}"
            );
        }
    }
}
