//! Time budgets, read from the duration contracts of the loaded contract set.

use ironforge_engine::ContractSet;
use ironforge_engine::config::{Comparison, MeasureConfig};
use ironforge_proto::semconv::{SpanKind, Stage};
use serde::Serialize;

/// The duration limits analysis measures against, in seconds; `None` where no contract sets one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Budgets {
    pub run_seconds: Option<f64>,
    pub session_seconds: Option<f64>,
}

impl Budgets {
    /// The tightest upper bound each `duration` contract (`lt`/`le`) puts on runs and on sessions.
    pub fn from_contracts(contracts: &ContractSet) -> Self {
        Self {
            run_seconds: limit(contracts, SpanKind::Run, None),
            session_seconds: limit(contracts, SpanKind::Session, None),
        }
    }

    /// A stage's budget: each of its sessions may take the session limit, one after another.
    pub fn stage_seconds(&self, sessions: u32) -> Option<f64> {
        self.session_seconds
            .filter(|_| sessions > 0)
            .map(|limit| limit * f64::from(sessions))
    }
}

fn limit(contracts: &ContractSet, kind: SpanKind, stage: Option<Stage>) -> Option<f64> {
    contracts
        .contracts()
        .iter()
        .filter(|contract| {
            let config = &contract.config;
            let scope = &config.scope;
            config.measure == MeasureConfig::Duration
                && matches!(config.comparison, Comparison::Lt | Comparison::Le)
                && (scope.kind == Some(kind) || scope.kinds.contains(&kind))
                && scope.stage.is_none_or(|s| Some(s) == stage)
        })
        .map(|contract| contract.config.threshold)
        .filter(|threshold| threshold.is_finite())
        .min_by(f64::total_cmp)
}
