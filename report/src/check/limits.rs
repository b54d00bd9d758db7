//! The limits a report's measurements are drawn against, read from the contracts in force: the HTML
//! pages draw them, and a check's report carries them so its pages need no contract file.

use ironforge_analysis::Budgets;
use ironforge_engine::ContractSet;

/// The contract whose threshold is the run's memory limit.
pub(crate) const MEMORY_CONTRACT: &str = "run_memory_peak";
/// The contract on the run's mean authenticity.
pub(crate) const MEAN_AUTHENTICITY_CONTRACT: &str = "run_mean_authenticity";
/// The contract on each scored session's or pattern's authenticity.
pub(crate) const AUTHENTICITY_CONTRACT: &str = "pattern_authenticity";

/// The limits the pages draw measurements against, read from the contracts in force.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// The run and session duration limits.
    pub budgets: Budgets,
    /// The run's peak memory limit in bytes, from `MEMORY_CONTRACT`.
    pub memory_bytes: Option<f64>,
    /// The authenticity floor, from `MEAN_AUTHENTICITY_CONTRACT` or else `AUTHENTICITY_CONTRACT`.
    pub authenticity: Option<f64>,
}

impl Limits {
    pub fn from_contracts(contracts: &ContractSet) -> Self {
        let threshold = |id: &str| {
            contracts
                .contracts()
                .iter()
                .find(|contract| &*contract.id == id)
                .map(|contract| contract.config.threshold)
                .filter(|threshold| threshold.is_finite())
        };
        Self {
            budgets: Budgets::from_contracts(contracts),
            memory_bytes: threshold(MEMORY_CONTRACT),
            authenticity: threshold(MEAN_AUTHENTICITY_CONTRACT)
                .or_else(|| threshold(AUTHENTICITY_CONTRACT)),
        }
    }
}
