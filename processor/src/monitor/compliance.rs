//! Compliance over the traces decided since start, and the pipeline health derived from it.
//!
//! Health rule (documented in the README): each of the last [`HEALTH_WINDOW`] verdicts scores points —
//! pass 1, warn 0.75, incomplete 0.5, fail 0 — and the health score is their mean × 100 (100 before any
//! verdict). The status is RED when the score is under 60 or the latest verdict is not production-ready
//! because a blocking contract failed; GREEN when the score is at least 90 and the latest verdict is
//! production-ready; YELLOW otherwise.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::engine::ContractSet;
use crate::verdict::{Category, TraceVerdict, VerdictStatus};

/// Verdicts the health score looks back over.
pub const HEALTH_WINDOW: usize = 20;

/// Pipeline health, traffic-light style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Health {
    Green,
    Yellow,
    Red,
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

/// The compliance summary the API serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub traces_total: u64,
    pub traces_passed: u64,
    pub traces_warned: u64,
    pub traces_failed: u64,
    pub traces_incomplete: u64,
    /// Share of decided traces that were production-ready, 0..1 (1 before any trace).
    pub compliance_ratio: f64,
    pub health_score: f64,
    pub health: Health,
    pub contracts: Vec<ContractCompliance>,
}

#[derive(Debug)]
pub struct Compliance {
    by_status: BTreeMap<&'static str, u64>,
    production_ready: u64,
    contracts: Vec<ContractCompliance>,
    /// (points, blocked) of the latest verdicts, newest last.
    recent: VecDeque<(f64, bool)>,
}

impl Compliance {
    pub fn new(contracts: &ContractSet) -> Self {
        let mut compliance = Self {
            by_status: BTreeMap::new(),
            production_ready: 0,
            contracts: Vec::new(),
            recent: VecDeque::new(),
        };
        compliance.set_contracts(contracts);
        compliance
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

    pub fn record(&mut self, verdict: &TraceVerdict) {
        *self.by_status.entry(verdict.status.as_str()).or_default() += 1;
        if verdict.production_ready {
            self.production_ready += 1;
        }
        for contract in &mut self.contracts {
            contract.evaluated += 1;
        }
        self.count_violations(verdict, 0);
        self.recent
            .push_back((points(verdict.status), blocked(verdict)));
        if self.recent.len() > HEALTH_WINDOW {
            self.recent.pop_front();
        }
    }

    /// A decided trace got violations from late spans: count the new ones. The status counts stay with the
    /// first decision so traces are never counted twice; health looks at the revision.
    pub fn revise(&mut self, verdict: &TraceVerdict, added: usize) {
        self.count_violations(verdict, verdict.violations.len().saturating_sub(added));
        if let Some(last) = self.recent.back_mut() {
            *last = (points(verdict.status), blocked(verdict));
        }
    }

    /// Counts the violations from index `first_new` on; a trace counts as violating a contract the first
    /// time one of its violations names it.
    fn count_violations(&mut self, verdict: &TraceVerdict, first_new: usize) {
        let (old, new) = verdict
            .violations
            .split_at(first_new.min(verdict.violations.len()));
        for contract in &mut self.contracts {
            let names = |v: &&crate::verdict::Violation| v.contract_id == contract.contract_id;
            let count = new.iter().filter(names).count() as u64;
            contract.violations += count;
            if count > 0 && !old.iter().any(|v| names(&v)) {
                contract.traces_violating += 1;
            }
        }
    }

    pub fn report(&self) -> HealthReport {
        let count =
            |status: VerdictStatus| self.by_status.get(status.as_str()).copied().unwrap_or(0);
        let total: u64 = self.by_status.values().sum();
        let health_score = if self.recent.is_empty() {
            100.0
        } else {
            100.0 * self.recent.iter().map(|(points, _)| points).sum::<f64>()
                / self.recent.len() as f64
        };
        let latest_blocked = self.recent.back().is_some_and(|(_, blocked)| *blocked);
        let health = if health_score < 60.0 || latest_blocked {
            Health::Red
        } else if health_score >= 90.0 {
            Health::Green
        } else {
            Health::Yellow
        };
        HealthReport {
            traces_total: total,
            traces_passed: count(VerdictStatus::Pass),
            traces_warned: count(VerdictStatus::Warn),
            traces_failed: count(VerdictStatus::Fail),
            traces_incomplete: count(VerdictStatus::Incomplete),
            compliance_ratio: if total == 0 {
                1.0
            } else {
                self.production_ready as f64 / total as f64
            },
            health_score,
            health,
            contracts: self.contracts.clone(),
        }
    }
}

fn points(status: VerdictStatus) -> f64 {
    match status {
        VerdictStatus::Pass => 1.0,
        VerdictStatus::Warn => 0.75,
        VerdictStatus::Incomplete => 0.5,
        VerdictStatus::Fail => 0.0,
    }
}

fn blocked(verdict: &TraceVerdict) -> bool {
    verdict.violations.iter().any(|v| v.blocks_production)
}
